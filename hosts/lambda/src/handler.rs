//! One invocation: templates from the cache, decisions from the core, lookups through the
//! [`LookupReader`], sends through the [`Mailer`], then the queue work (back-off, dead-letter queue, compatibility deletes), one log
//! line per record, the metrics line, and the partial batch response.
//!
//! Every call to AWS has a share of the invocation's time, so that a service that does not
//! answer cannot keep the invocation past its deadline (Lambda would then retry the whole
//! batch, records already moved to the dead-letter queue included):
//!
//! * the template refresh: [`TEMPLATE_REFRESH_SHARE`] of the time left at the start, then the
//!   cached templates (or, with none, every record retried);
//! * the lookups, every round together: [`LOOKUP_SHARE`] of the time left until sends stop
//!   starting, so that at least as much is left for the sends; a read without an answer by then
//!   fails, and the records that need it are retried;
//! * the sends: see [`crate::dispatch`];
//! * the SQS calls after the sends: together, what is left until a quarter of
//!   `DEADLINE_MARGIN_MS` before the deadline (the rest is for the logs and the response).
//!
//! A call without an answer in time counts as failed, as a call that failed does.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use mailroom_core::decision::jitter_seed;
use mailroom_core::{
    BatchReport, BatchResponse, Disposition, EventError, RecordReport, ServiceFault, SqsEvent,
    SqsRecord, Timestamp,
};
use thiserror::Error;
use tokio::sync::Mutex;

use crate::dispatch::{SendWindow, send_all};
use crate::feedback::{Intake, IntakeSettings, LedgerStore, NoLedger, take_in};
use crate::lookups::{LookupCache, LookupCounts, LookupReader, answer_all};
use crate::mailer::Mailer;
use crate::queue::{Delay, Queue, QueueError, SQS_BATCH_LIMIT, dead_letter_batches, queue_url};
use crate::settings::Settings;
use crate::telemetry::{
    BatchMetrics, FeedbackMetrics, emf_document, emit_metrics, feedback_emf_document, mask_address,
    mask_phone, mask_text,
};
use crate::templates::{TemplateCache, TemplateSource};
use crate::{timestamp, unix_millis};
use mailroom_core::invocation::{Invocation as Payload, SnsMessage};

/// The template refresh may use a third of the time left when the invocation starts: a
/// CodeCommit that does not answer still leaves two thirds for the sends with the cached copy,
/// and a cold load of a template folder takes well under that.
pub const TEMPLATE_REFRESH_SHARE: u32 = 3;

/// The lookups may use half the time left until sends stop starting: a table that does not
/// answer still leaves the other half for the records that need no lookup, and a round of
/// `BatchGetItem` calls takes milliseconds.
pub const LOOKUP_SHARE: u32 = 2;

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
    /// A direct SNS invocation that must be tried again (SNS retries an asynchronous
    /// invocation only when it fails) or that could not be settled here: a retry, a reject
    /// without a dead-letter queue to move it to, feedback the ledger did not take.
    #[error("the SNS message {message_id} is not settled: {why}")]
    NotSettled {
        /// The SNS message id.
        message_id: String,
        /// The decision or the failure.
        why: String,
    },
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(error: HandlerError) -> Self {
        let error_type = match error {
            HandlerError::Event(_) => "Mailroom.InvalidEvent",
            HandlerError::RecordsToRetry { .. } => "Mailroom.RecordsToRetry",
            HandlerError::NotSettled { .. } => "Mailroom.NotSettled",
        };
        Self {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// What the runtime tells about one invocation, and what the host's clock and entropy give
/// the core for it.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// When Lambda stops the invocation.
    pub deadline: Instant,
    /// The request id, for logs.
    pub request_id: String,
    /// The time the core decides at.
    pub now: Timestamp,
    /// The retry jitter's seed: the clock mixed with the request id, so two invocations at the
    /// same millisecond still spread their retries differently.
    pub seed: u64,
}

impl Invocation {
    /// From the runtime's context (deadline in Unix milliseconds).
    pub fn from_context(context: &lambda_runtime::Context) -> Self {
        let now = unix_millis();
        let remaining = context.deadline.saturating_sub(now);
        Self {
            deadline: Instant::now() + Duration::from_millis(remaining),
            request_id: context.request_id.clone(),
            now: timestamp(now),
            seed: jitter_seed(now, &context.request_id),
        }
    }
}

/// The function: settings, the AWS clients behind their traits, the template and lookup
/// caches, and the feedback intake when the function also serves a feedback queue.
pub struct Notifier<M, Q, S, L, F = NoLedger> {
    settings: Settings,
    mailer: M,
    queue: Q,
    templates: Mutex<TemplateCache<S>>,
    reader: L,
    lookup_cache: std::sync::Mutex<LookupCache>,
    function_name: String,
    feedback: Option<FeedbackIntake<F>>,
}

/// The feedback queues' records go to the ledger instead of being decided as events.
pub struct FeedbackIntake<F> {
    /// The ledger table.
    pub ledger: F,
    /// The ARNs of the queues whose records are SES feedback.
    pub queue_arns: Vec<String>,
    /// Suppression policy and history limits.
    pub settings: IntakeSettings,
}

impl<M: Mailer, Q: Queue, S: TemplateSource, L: LookupReader> Notifier<M, Q, S, L> {
    /// Assembles the function; nothing is called until the first invocation.
    pub fn new(
        settings: Settings,
        mailer: M,
        queue: Q,
        templates: TemplateCache<S>,
        reader: L,
        function_name: String,
    ) -> Self {
        let lookup_cache = std::sync::Mutex::new(LookupCache::new(settings.lookup_cache_bytes));
        Self {
            settings,
            mailer,
            queue,
            templates: Mutex::new(templates),
            reader,
            lookup_cache,
            function_name,
            feedback: None,
        }
    }

    /// The same function, also taking in SES feedback when `intake` is given: records from
    /// its `queue_arns` are written to the ledger.
    pub fn with_feedback<F: LedgerStore>(
        self,
        intake: Option<FeedbackIntake<F>>,
    ) -> Notifier<M, Q, S, L, F> {
        Notifier {
            settings: self.settings,
            mailer: self.mailer,
            queue: self.queue,
            templates: self.templates,
            reader: self.reader,
            lookup_cache: self.lookup_cache,
            function_name: self.function_name,
            feedback: intake,
        }
    }
}

impl<M: Mailer, Q: Queue, S: TemplateSource, L: LookupReader, F: LedgerStore>
    Notifier<M, Q, S, L, F>
{
    /// Handles one batch: the partial batch response the core computed, or, in the
    /// compatibility mode, an error when records must be retried.
    pub async fn handle(
        &self,
        mut event: SqsEvent,
        invocation: &Invocation,
    ) -> Result<BatchResponse, HandlerError> {
        // An event source mapping serves one queue, so a batch is all feedback or all events;
        // a mixed one (a test, a hand-made event) is split all the same.
        if let Some(intake) = &self.feedback {
            let (feedback, events): (Vec<SqsRecord>, Vec<SqsRecord>) = event
                .records
                .into_iter()
                .partition(|record| intake.queue_arns.contains(&record.event_source_arn));
            event.records = events;
            if !feedback.is_empty() {
                let mut failed = Box::pin(self.take_feedback(intake, &feedback, invocation)).await;
                if !event.records.is_empty() {
                    let response = Box::pin(self.handle_events(event, invocation)).await?;
                    failed.extend(
                        response
                            .batch_item_failures
                            .into_iter()
                            .map(|failure| failure.item_identifier),
                    );
                }
                return Ok(BatchResponse::from_failures(
                    failed.iter().map(String::as_str),
                ));
            }
        }
        // Boxed: the event path's future is large, and the feedback path beside it would
        // otherwise make the invocation's future deeper than the compiler lays out.
        Box::pin(self.handle_events(event, invocation)).await
    }

    /// Handles one invocation, whatever invoked the function: the partial batch response of an
    /// SQS batch, or, for a direct SNS invocation, `{}` once every message is settled (sent,
    /// suppressed, parked, or feedback recorded) and an error otherwise, so that SNS retries.
    pub async fn handle_invocation(
        &self,
        payload: Payload,
        invocation: &Invocation,
    ) -> Result<serde_json::Value, HandlerError> {
        let messages = match payload {
            Payload::Sqs(event) => {
                let response = self.handle(event, invocation).await?;
                return Ok(serde_json::to_value(response).unwrap_or_default());
            }
            Payload::Sns(messages) => messages,
        };
        for message in messages {
            match message {
                SnsMessage::Event(record) => {
                    let message_id = record.message_id.clone();
                    let event = SqsEvent {
                        records: vec![record],
                    };
                    let report = Box::pin(self.process(event, invocation)).await?;
                    if let Some(failed) = report.records.iter().find(|r| r.disposition.is_failure())
                    {
                        return Err(HandlerError::NotSettled {
                            message_id,
                            why: match failed.disposition.reason() {
                                Some(reason) => {
                                    format!("{} {reason}", failed.disposition.kind())
                                }
                                None => failed.disposition.kind().to_owned(),
                            },
                        });
                    }
                }
                SnsMessage::Feedback { message_id, body } => {
                    let Some(intake) = &self.feedback else {
                        return Err(HandlerError::NotSettled {
                            message_id,
                            why: "SES feedback, and no ledger is configured (LEDGER_TABLE)".into(),
                        });
                    };
                    let record = SqsRecord {
                        message_id: message_id.clone(),
                        body,
                        ..SqsRecord::default()
                    };
                    let failed = Box::pin(self.take_feedback(intake, &[record], invocation)).await;
                    if !failed.is_empty() {
                        return Err(HandlerError::NotSettled {
                            message_id,
                            why: "the ledger did not take the feedback".into(),
                        });
                    }
                }
            }
        }
        Ok(serde_json::json!({}))
    }

    /// Writes each feedback record to the ledger; the ids of those to retry.
    async fn take_feedback(
        &self,
        intake: &FeedbackIntake<F>,
        records: &[SqsRecord],
        invocation: &Invocation,
    ) -> Vec<String> {
        let started = Instant::now();
        // Every record at once: each is a few small reads and writes of its own entries.
        let outcomes = futures_util::future::join_all(records.iter().map(|record| {
            take_in(
                &intake.ledger,
                &record.body,
                intake.settings,
                invocation.now,
            )
        }))
        .await;
        let mut failed = Vec::new();
        let mut metrics = FeedbackMetrics::default();
        for (record, outcome) in records.iter().zip(outcomes) {
            match outcome {
                Intake::Applied { event, suppressed } => {
                    tracing::info!(
                        message_id = record.message_id,
                        feedback = event.name(),
                        suppressed,
                        "feedback recorded"
                    );
                    metrics.count(&event, suppressed);
                }
                Intake::Unreadable(error) => {
                    // The notification's fault, forever: acknowledged, never retried.
                    tracing::warn!(
                        message_id = record.message_id,
                        error = mask_text(&error.to_string()),
                        "feedback unreadable; acknowledged"
                    );
                    metrics.unreadable += 1;
                }
                Intake::Failed(error) => {
                    tracing::warn!(
                        message_id = record.message_id,
                        %error,
                        "feedback not recorded; the queue will deliver it again"
                    );
                    metrics.failed += 1;
                    failed.push(record.message_id.clone());
                }
            }
        }
        metrics.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        emit_metrics(&feedback_emf_document(
            &self.settings.metrics_namespace,
            &self.function_name,
            &metrics,
            unix_millis(),
        ));
        failed
    }

    async fn handle_events(
        &self,
        event: SqsEvent,
        invocation: &Invocation,
    ) -> Result<BatchResponse, HandlerError> {
        let report = self.process(event, invocation).await?;
        let failed = report.batch_response.batch_item_failures.len();
        if self.settings.delete_processed && failed > 0 {
            return Err(HandlerError::RecordsToRetry {
                failed,
                total: report.records.len(),
            });
        }
        Ok(report.batch_response)
    }

    /// Everything one batch makes the function do (sends, dead-letter moves, back-off,
    /// compatibility deletes, logs and metrics), and the core's report of it.
    pub async fn process(
        &self,
        event: SqsEvent,
        invocation: &Invocation,
    ) -> Result<BatchReport, HandlerError> {
        let started = Instant::now();
        let refresh_by = started
            + invocation.deadline.saturating_duration_since(started) / TEMPLATE_REFRESH_SHARE;
        // The SQS calls after the sends share what is left until then; the last quarter of the
        // margin is for the logs, the metrics and the response.
        let queue_by = invocation
            .deadline
            .checked_sub(self.settings.deadline_margin / 4)
            .unwrap_or(started);
        let loaded = self.templates.lock().await.get(started, refresh_by).await;
        let mut lookups = LookupCounts::default();
        let report = match &loaded.mailroom {
            Some(mailroom) => {
                let mut batch = mailroom.start_batch(event, invocation.now, invocation.seed)?;
                let window = SendWindow {
                    deadline: invocation.deadline,
                    margin: self.settings.deadline_margin,
                    max_concurrent: self.settings.max_concurrent_sends,
                };
                let lookups_by = lookup_deadline(&window);
                lookups = answer_all(
                    &mut batch,
                    &self.reader,
                    &self.mailer,
                    &self.lookup_cache,
                    lookups_by,
                    unix_millis,
                    invocation.now,
                )
                .await;
                send_all(&mut batch, &self.mailer, window).await;
                // Completion writes of the idempotency store, within what is left.
                self.mailer.settle(window.answer_by()).await;
                if let Some(dlq_url) = &self.settings.dlq_url {
                    let parcels = batch.to_park();
                    for call in dead_letter_batches(&parcels) {
                        let park = self.queue.park(dlq_url, call);
                        let results = within(queue_by, "SendMessageBatch", call.len(), park).await;
                        for (parcel, result) in call.iter().zip(results) {
                            let parked = result.and_then(|()| {
                                batch.mark_parked(parcel.id).map_err(QueueError::protocol)
                            });
                            if let Err(error) = parked {
                                tracing::warn!(
                                    message_id = %parcel.message_id,
                                    %error,
                                    "could not move the record to the dead-letter queue; reporting it failed for the redrive policy"
                                );
                            }
                        }
                    }
                }
                batch.finish()
            }
            None => {
                let problem = loaded.problem.clone().unwrap_or_default();
                let fault = ServiceFault::TemplatesUnavailable(problem);
                BatchReport::retry_all(event, &fault, invocation.seed)?
            }
        };
        self.delay_retries(&report.records, queue_by).await;
        if self.settings.delete_processed {
            self.delete_processed(&report.records, queue_by).await;
        }
        log_records(&report.records);
        let metrics = BatchMetrics {
            counts: report.counts(),
            template_fetches: loaded.calls,
            lookups,
            batch_duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        emit_metrics(&emf_document(
            &self.settings.metrics_namespace,
            &self.function_name,
            &metrics,
            unix_millis(),
        ));
        Ok(report)
    }

    /// Sets each retried record's visibility timeout to the core's back-off, by `until`.
    async fn delay_retries(&self, records: &[RecordReport], until: Instant) {
        let by_queue = self.by_queue(records, |record| match &record.disposition {
            Disposition::Retry {
                retry_after_seconds,
                ..
            } => Some(Delay {
                receipt_handle: record.receipt_handle.clone(),
                seconds: *retry_after_seconds,
            }),
            _ => None,
        });
        for (url, delays) in by_queue {
            for call in delays.chunks(SQS_BATCH_LIMIT) {
                let change = self.queue.change_visibility(&url, call);
                let results = within(until, "ChangeMessageVisibilityBatch", call.len(), change);
                for error in results.await.into_iter().filter_map(Result::err) {
                    tracing::warn!(%error, "back-off not set; the queue's visibility timeout applies");
                }
            }
        }
    }

    /// Compatibility mode: deletes every record that needs no retry, by `until`.
    async fn delete_processed(&self, records: &[RecordReport], until: Instant) {
        let by_queue = self.by_queue(records, |record| {
            (!record.disposition.is_failure()).then(|| record.receipt_handle.clone())
        });
        for (url, handles) in by_queue {
            for call in handles.chunks(SQS_BATCH_LIMIT) {
                let delete = self.queue.delete(&url, call);
                let results = within(until, "DeleteMessageBatch", call.len(), delete);
                for error in results.await.into_iter().filter_map(Result::err) {
                    tracing::warn!(%error, "a processed message could not be deleted and will be delivered again");
                }
            }
        }
    }

    /// What `pick` takes of each record, grouped by the URL of the queue the record came from
    /// (records of a queue whose URL cannot be told are left out: SQS cannot be called for them).
    fn by_queue<T>(
        &self,
        records: &[RecordReport],
        pick: impl Fn(&RecordReport) -> Option<T>,
    ) -> BTreeMap<String, Vec<T>> {
        let mut by_queue: BTreeMap<String, Vec<T>> = BTreeMap::new();
        for record in records {
            if let Some(item) = pick(record)
                && let Some(url) = self.queue_url_of(record)
            {
                by_queue.entry(url).or_default().push(item);
            }
        }
        by_queue
    }

    fn queue_url_of(&self, record: &RecordReport) -> Option<String> {
        queue_url(&record.queue_arn, self.settings.sqs_url.as_deref())
    }
}

/// When the lookups must be answered: [`LOOKUP_SHARE`] of the time left until sends stop
/// starting.
fn lookup_deadline(window: &SendWindow) -> Instant {
    let now = Instant::now();
    let sends_stop = window.deadline.checked_sub(window.margin).unwrap_or(now);
    now + sends_stop.saturating_duration_since(now) / LOOKUP_SHARE
}

/// One SQS call with `entries` entries, answered by `until` or failed for every entry: the
/// caller then treats those records as it treats any failed call (nothing is lost), and the
/// invocation ends in time.
async fn within(
    until: Instant,
    operation: &'static str,
    entries: usize,
    call: impl Future<Output = Vec<Result<(), QueueError>>>,
) -> Vec<Result<(), QueueError>> {
    crate::budget::within(until, call, || {
        let error = QueueError {
            operation,
            detail: "no answer before the invocation's deadline".to_owned(),
        };
        vec![Err(error); entries]
    })
    .await
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
                sms,
            } => {
                let to: Vec<String> = email
                    .to()
                    .iter()
                    .map(|m| mask_address(m.address()))
                    .collect();
                tracing::info!(
                    message_id,
                    decision = "send",
                    route,
                    event_type,
                    to = to.join(", "),
                    ses_message_id = provider_message_id.as_deref().unwrap_or_default(),
                    duplicate,
                    sms_to = sms
                        .as_ref()
                        .map(|d| mask_phone(d.sms.to().as_str()))
                        .unwrap_or_default(),
                    sms_segments = sms.as_ref().map_or(0, |d| d.sms.segments()),
                    sms_encoding = sms
                        .as_ref()
                        .map(|d| d.sms.encoding().to_string())
                        .unwrap_or_default(),
                    sns_message_id = sms
                        .as_ref()
                        .and_then(|d| d.provider_message_id.as_deref())
                        .unwrap_or_default(),
                    sms_duplicate = sms.as_ref().is_some_and(|d| d.duplicate),
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
            Disposition::Suppressed { recipients } => {
                let masked: Vec<String> = recipients.iter().map(|a| mask_address(a)).collect();
                tracing::info!(
                    message_id,
                    decision = "suppressed",
                    route,
                    event_type,
                    to = masked.join(", "),
                    "every recipient is suppressed; not sent"
                );
            }
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

#[cfg(test)]
#[path = "handler_tests.rs"]
mod tests;
