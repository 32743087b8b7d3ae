//! What a finished batch reports: every record's disposition, with what the host needs for its
//! SQS calls, the counts for logs and metrics, and the Lambda partial batch response.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::batch::retry_disposition;
use crate::decision::{Disposition, Reason, RetryPolicy};
use crate::error::{EventError, ServiceFault};
use crate::record::{SqsEvent, SqsRecord};

/// Everything the batch decided, in record order, and the Lambda response.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[must_use]
pub struct BatchReport {
    /// One report per record, in the order of the event.
    pub records: Vec<RecordReport>,
    /// What the Lambda returns, as it is.
    pub batch_response: BatchResponse,
}

impl BatchReport {
    pub(crate) fn new(records: Vec<RecordReport>) -> Self {
        let batch_response = BatchResponse::from_failures(
            records
                .iter()
                .filter(|r| r.disposition.is_failure())
                .map(|r| r.message_id.as_str()),
        );
        Self {
            records,
            batch_response,
        }
    }

    /// Every record retried for `fault`, with the default back-off: what a host reports when it
    /// cannot decide at all (its templates or routes could not be loaded). Nothing is decided,
    /// nothing is lost; the event is checked as [`crate::Mailroom::start_batch`] checks it.
    pub fn retry_all(event: SqsEvent, fault: &ServiceFault, seed: u64) -> Result<Self, EventError> {
        event.validate()?;
        let policy = RetryPolicy::default();
        let records = event
            .records
            .into_iter()
            .map(|record| {
                let disposition = retry_disposition(policy, &record, fault.clone(), seed);
                RecordReport::new(record, None, None, disposition)
            })
            .collect();
        Ok(Self::new(records))
    }

    /// The reports of several parts of one event, in order: a standard-queue event decided in
    /// parts (the CLI does, one per core) reports exactly as if it were decided whole, because
    /// each record's decision depends on that record alone.
    pub fn concat(parts: impl IntoIterator<Item = Self>) -> Self {
        Self::new(parts.into_iter().flat_map(|part| part.records).collect())
    }

    /// The records' decisions, counted.
    #[must_use]
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for record in &self.records {
            counts.add(&record.disposition);
        }
        counts
    }
}

/// The final disposition of one record.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordReport {
    /// The SQS message id.
    pub message_id: String,
    /// For the host's SQS calls (visibility, deletes); not part of reports.
    #[serde(skip)]
    pub receipt_handle: String,
    /// The queue the record came from (`eventSourceARN`), for the host's SQS calls; not part of
    /// reports.
    #[serde(skip)]
    pub queue_arn: String,
    /// The event type, when the body could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// The route taken, when one matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// Send, retry or reject, with its details.
    #[serde(flatten)]
    pub disposition: Disposition,
}

impl RecordReport {
    pub(crate) fn new(
        record: SqsRecord,
        event_type: Option<String>,
        route: Option<String>,
        disposition: Disposition,
    ) -> Self {
        Self {
            message_id: record.message_id,
            receipt_handle: record.receipt_handle,
            queue_arn: record.event_source_arn,
            event_type,
            route,
            disposition,
        }
    }
}

/// How many records ended each way: for summaries, logs and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Records in the batch.
    pub records: u32,
    /// Records sent now, or found sent by an earlier delivery.
    pub sent: u32,
    /// Of `sent`, those an earlier delivery had sent (nothing was sent this time).
    pub duplicates: u32,
    /// Records left on the queue for a later attempt.
    pub retried: u32,
    /// Of `retried`, those SES throttled.
    pub throttled: u32,
    /// Records that can never succeed.
    pub rejected: u32,
    /// Of `rejected`, those the host moved to its dead-letter queue.
    pub parked: u32,
    /// Records not sent because every recipient is suppressed (acknowledged).
    pub suppressed: u32,
}

impl Counts {
    /// Counts one more record.
    pub fn add(&mut self, disposition: &Disposition) {
        self.records += 1;
        match disposition {
            Disposition::Sent { duplicate, .. } => {
                self.sent += 1;
                self.duplicates += u32::from(*duplicate);
            }
            Disposition::Retry { reason, .. } => {
                self.retried += 1;
                self.throttled += u32::from(*reason == Reason::Throttled);
            }
            Disposition::Reject { parked, .. } => {
                self.rejected += 1;
                self.parked += u32::from(*parked);
            }
            Disposition::Suppressed { .. } => self.suppressed += 1,
        }
    }
}

/// The Lambda partial batch response (`ReportBatchItemFailures`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    /// The records to retry. Empty means the whole batch succeeded.
    pub batch_item_failures: Vec<BatchItemFailure>,
}

/// One failed record of the partial batch response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchItemFailure {
    /// The SQS message id.
    pub item_identifier: String,
}

impl BatchResponse {
    /// A response listing each of `message_ids` once, in first-seen order, skipping empty ids
    /// (Lambda fails the whole batch for an empty identifier).
    #[must_use]
    pub fn from_failures<'a>(message_ids: impl IntoIterator<Item = &'a str>) -> Self {
        let mut seen = BTreeSet::new();
        let batch_item_failures = message_ids
            .into_iter()
            .filter(|id| !id.is_empty() && seen.insert(*id))
            .map(|id| BatchItemFailure {
                item_identifier: id.to_owned(),
            })
            .collect();
        Self {
            batch_item_failures,
        }
    }
}
