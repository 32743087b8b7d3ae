//! One invocation: templates from the cache, decisions from the core, sends through the
//! [`Mailer`], then the queue work (back-off, dead-letter queue, compatibility deletes), one log
//! line per record, the metrics line, and the partial batch response.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mailroom_core::{
    BatchResponse, Disposition, EventError, Reason, RecordReport, RetryPolicy, SqsEvent, SqsRecord,
};
use thiserror::Error;
use tokio::sync::Mutex;

use crate::dispatch::{SendWindow, send_all};
use crate::mailer::Mailer;
use crate::queue::{Delay, Parcel, Queue, queue_url};
use crate::settings::Settings;
use crate::telemetry::{BatchMetrics, emf_document, emit_metrics, mask_address};
use crate::templates::{TemplateCache, TemplateSource};
use crate::unix_millis;

/// Why an invocation fails as a whole (Lambda then retries every record of the batch).
#[derive(Debug, Error)]
pub enum HandlerError {
    /// The input: the event cannot be reported on record by record.
    #[error(transparent)]
    Event(#[from] EventError),
    /// Compatibility mode: processed messages were deleted; failing the invocation is how an
    /// event source mapping without `ReportBatchItemFailures` keeps the others.
    #[error("{failed} of {total} records must be retried; the processed ones were deleted")]
    RecordsToRetry {
        /// Records left on the queue.
        failed: usize,
        /// Records in the batch.
        total: usize,
    },
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(error: HandlerError) -> Self {
        let error_type = match error {
            HandlerError::Event(_) => "Mailroom.InvalidEvent",
            HandlerError::RecordsToRetry { .. } => "Mailroom.RecordsToRetry",
        };
        Self {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// What the runtime tells about one invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// When Lambda stops the invocation.
    pub deadline: Instant,
    /// The request id, mixed into the retry jitter.
    pub request_id: String,
}

impl Invocation {
    /// From the runtime's context (deadline in Unix milliseconds).
    pub fn from_context(context: &lambda_runtime::Context) -> Self {
        let remaining = context.deadline.saturating_sub(unix_millis());
        Self {
            deadline: Instant::now() + Duration::from_millis(remaining),
            request_id: context.request_id.clone(),
        }
    }
}

/// The function: settings, the AWS clients behind their traits, and the template cache.
pub struct Notifier<M, Q, S> {
    settings: Settings,
    mailer: M,
    queue: Q,
    templates: Mutex<TemplateCache<S>>,
    function_name: String,
}

impl<M: Mailer, Q: Queue, S: TemplateSource> Notifier<M, Q, S> {
    /// Assembles the function; nothing is called until the first invocation.
    pub fn new(
        settings: Settings,
        mailer: M,
        queue: Q,
        templates: TemplateCache<S>,
        function_name: String,
    ) -> Self {
        Self {
            settings,
            mailer,
            queue,
            templates: Mutex::new(templates),
            function_name,
        }
    }

    /// Handles one batch.
    pub async fn handle(
        &self,
        event: &SqsEvent,
        invocation: &Invocation,
    ) -> Result<BatchResponse, HandlerError> {
        let started = Instant::now();
        let lookup = self.templates.lock().await.get(started).await;
        let now = unix_millis();
        let seed = now ^ fnv1a(invocation.request_id.as_bytes());
        let records = match &lookup.mailroom {
            Some(mailroom) => {
                let mut batch = mailroom.start_batch(event, crate::timestamp(now), seed)?;
                let window = SendWindow {
                    deadline: invocation.deadline,
                    margin: self.settings.deadline_margin,
                    max_concurrent: self.settings.max_concurrent_sends,
                };
                send_all(&mut batch, &self.mailer, window).await;
                if let Some(dlq_url) = &self.settings.dlq_url {
                    let rejected: Vec<_> = batch
                        .rejected()
                        .filter_map(|(id, disposition)| {
                            Some((id, parcel(event.records.get(id.0)?, disposition)?))
                        })
                        .collect();
                    let parcels: Vec<Parcel> =
                        rejected.iter().map(|(_, parcel)| parcel.clone()).collect();
                    let results = self.queue.park(dlq_url, &parcels).await;
                    for ((id, parcel), result) in rejected.into_iter().zip(results) {
                        match result {
                            Ok(()) => batch.mark_parked(id),
                            Err(error) => tracing::warn!(
                                message_id = %parcel.source_message_id,
                                %error,
                                "could not move the record to the dead-letter queue; reporting it failed for the redrive policy"
                            ),
                        }
                    }
                }
                batch.finish().records
            }
            None => retry_everything(event, lookup.problem.as_deref().unwrap_or_default(), seed)?,
        };
        self.delay_retries(event, &records).await;
        if self.settings.delete_processed {
            self.delete_processed(event, &records).await;
        }
        let response = BatchResponse::from_failures(
            records
                .iter()
                .filter(|r| r.disposition.is_failure())
                .map(|r| r.message_id.as_str()),
        );
        log_records(&records);
        let mut metrics = count(&records);
        metrics.template_fetches = lookup.calls;
        metrics.batch_duration_ms =
            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        emit_metrics(&emf_document(
            &self.settings.metrics_namespace,
            &self.function_name,
            &metrics,
            unix_millis(),
        ));
        let failed = response.batch_item_failures.len();
        if self.settings.delete_processed && failed > 0 {
            return Err(HandlerError::RecordsToRetry {
                failed,
                total: records.len(),
            });
        }
        Ok(response)
    }

    /// Sets each retried record's visibility timeout to the core's back-off.
    async fn delay_retries(&self, event: &SqsEvent, records: &[RecordReport]) {
        let mut by_queue: BTreeMap<String, Vec<Delay>> = BTreeMap::new();
        for (record, report) in event.records.iter().zip(records) {
            if let Disposition::Retry {
                retry_after_seconds,
                ..
            } = &report.disposition
                && let Some(url) = self.queue_url_of(record)
            {
                by_queue.entry(url).or_default().push(Delay {
                    receipt_handle: record.receipt_handle.clone(),
                    seconds: *retry_after_seconds,
                });
            }
        }
        for (url, delays) in by_queue {
            for error in self
                .queue
                .change_visibility(&url, &delays)
                .await
                .into_iter()
                .filter_map(Result::err)
            {
                tracing::warn!(%error, "back-off not set; the queue's visibility timeout applies");
            }
        }
    }

    /// Compatibility mode: deletes every record that needs no retry.
    async fn delete_processed(&self, event: &SqsEvent, records: &[RecordReport]) {
        let mut by_queue: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (record, report) in event.records.iter().zip(records) {
            if !report.disposition.is_failure()
                && let Some(url) = self.queue_url_of(record)
            {
                by_queue
                    .entry(url)
                    .or_default()
                    .push(record.receipt_handle.clone());
            }
        }
        for (url, handles) in by_queue {
            for error in self
                .queue
                .delete(&url, &handles)
                .await
                .into_iter()
                .filter_map(Result::err)
            {
                tracing::warn!(%error, "a processed message could not be deleted and will be delivered again");
            }
        }
    }

    fn queue_url_of(&self, record: &SqsRecord) -> Option<String> {
        queue_url(&record.event_source_arn, self.settings.sqs_url.as_deref())
    }
}

/// Nothing to render with: every record stays on the queue, nothing is decided or lost.
fn retry_everything(
    event: &SqsEvent,
    problem: &str,
    seed: u64,
) -> Result<Vec<RecordReport>, EventError> {
    if let Some(index) = event.records.iter().position(|r| r.message_id.is_empty()) {
        return Err(EventError::EmptyMessageId { index });
    }
    let policy = RetryPolicy::default();
    Ok(event
        .records
        .iter()
        .map(|record| RecordReport {
            message_id: record.message_id.clone(),
            receipt_handle: record.receipt_handle.clone(),
            event_type: None,
            route: None,
            disposition: Disposition::Retry {
                reason: Reason::TemplateMissing,
                detail: format!("templates unavailable: {problem}"),
                retry_after_seconds: policy.backoff(
                    Reason::TemplateMissing,
                    record.receive_count(),
                    seed ^ fnv1a(record.message_id.as_bytes()),
                ),
            },
        })
        .collect())
}

fn parcel(record: &SqsRecord, disposition: &Disposition) -> Option<Parcel> {
    let Disposition::Reject { reason, detail, .. } = disposition else {
        return None;
    };
    // SQS refuses empty bodies; such a record is left to the redrive policy.
    if record.body.is_empty() {
        return None;
    }
    Some(Parcel {
        body: record.body.clone(),
        reason: reason.as_str().to_owned(),
        detail: detail.clone(),
        source_message_id: record.message_id.clone(),
        source_queue_arn: record.event_source_arn.clone(),
        group: record.message_group_id().map(str::to_owned),
    })
}

fn log_records(records: &[RecordReport]) {
    for record in records {
        let message_id = record.message_id.as_str();
        let route = record.route.as_deref().unwrap_or_default();
        let event_type = record.event_type.as_deref().unwrap_or_default();
        match &record.disposition {
            Disposition::Sent {
                email,
                provider_message_id,
                duplicate,
            } => {
                let to: Vec<String> = email.to.iter().map(|m| mask_address(m.address())).collect();
                tracing::info!(
                    message_id,
                    decision = "send",
                    route,
                    event_type,
                    to = to.join(", "),
                    ses_message_id = provider_message_id.as_deref().unwrap_or_default(),
                    duplicate,
                    "record sent"
                );
            }
            Disposition::Retry {
                reason,
                detail,
                retry_after_seconds,
            } => tracing::warn!(
                message_id,
                decision = "retry",
                reason = reason.as_str(),
                detail = mask_text(detail),
                retry_after_seconds,
                route,
                event_type,
                "record retried"
            ),
            Disposition::Reject {
                reason,
                detail,
                parked,
            } => tracing::warn!(
                message_id,
                decision = "reject",
                reason = reason.as_str(),
                detail = mask_text(detail),
                dead_letter_queue = parked,
                route,
                event_type,
                "record rejected"
            ),
        }
    }
}

/// Masks every address-like word of a free-text detail.
fn mask_text(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.contains('@') {
                let core = word.trim_matches(|c: char| {
                    !c.is_alphanumeric() && c != '@' && c != '.' && c != '-' && c != '_'
                });
                word.replace(core, &mask_address(core))
            } else {
                word.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn count(records: &[RecordReport]) -> BatchMetrics {
    let mut metrics = BatchMetrics {
        records: u32::try_from(records.len()).unwrap_or(u32::MAX),
        ..BatchMetrics::default()
    };
    for record in records {
        match &record.disposition {
            Disposition::Sent { .. } => metrics.sent += 1,
            Disposition::Retry { reason, .. } => {
                metrics.retried += 1;
                if *reason == Reason::Throttled {
                    metrics.throttled += 1;
                }
            }
            Disposition::Reject { .. } => metrics.rejected += 1,
        }
    }
    metrics
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
#[path = "handler_tests.rs"]
mod tests;
