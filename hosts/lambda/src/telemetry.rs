//! Logs and metrics.
//!
//! Logs are JSON lines from `tracing` (one per record, plus start-up and template events).
//! Recipient addresses are masked before they reach a log. Metrics are CloudWatch embedded
//! metric format lines on stdout: CloudWatch turns them into metrics without any API call.

use std::io::Write;

use mailroom_core::Counts;
use serde_json::{Value, json};

use crate::lookups::LookupCounts;

/// JSON logs on stdout. The level comes from `AWS_LAMBDA_LOG_LEVEL` (Lambda's advanced logging
/// controls) or `RUST_LOG`, default `info`; the SDK's own logs stay quiet below `warn`.
pub fn init_logging() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned())
        .to_ascii_lowercase();
    let filter = tracing_subscriber::EnvFilter::try_new(format!(
        "aws_smithy_runtime=warn,aws_config=warn,{level}"
    ))
    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .init();
}

/// `ana.nunez@example.org` → `a***@example.org`: enough to tell recipients apart in an
/// investigation, not enough to collect addresses from logs.
pub fn mask_address(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

/// Masks a phone number for logs: the `+`, the first two digits (enough to tell the country
/// apart) and the last two; the rest is personal.
pub fn mask_phone(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 6 {
        return "***".to_owned();
    }
    let head: String = digits[..2].iter().collect();
    let tail: String = digits[digits.len() - 2..].iter().collect();
    format!("+{head}***{tail}")
}

/// Masks every address in a free-text detail (a reason's detail, a lookup's key): the run of
/// address characters around each `@`, wherever it sits in its word (`PK=USER#ana@x.org`).
pub fn mask_text(text: &str) -> String {
    let in_address = |c: char| c.is_alphanumeric() || "._-+".contains(c);
    text.split(' ')
        .map(|word| {
            let Some(at) = word.find('@') else {
                return word.to_owned();
            };
            let start = word[..at]
                .rfind(|c: char| !in_address(c))
                .map_or(0, |i| i + 1);
            let end = word[at + 1..]
                .find(|c: char| !in_address(c))
                .map_or(word.len(), |i| at + 1 + i);
            let address = &word[start..end];
            // A trailing dot ends the sentence, not the domain.
            let address = address.trim_end_matches('.');
            let end = start + address.len();
            format!(
                "{}{}{}",
                &word[..start],
                mask_address(address),
                &word[end..]
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The counters of one batch: the core's counts of its decisions, and this host's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchMetrics {
    /// How the records ended.
    pub counts: Counts,
    /// CodeCommit calls made for templates.
    pub template_fetches: u32,
    /// What the lookups came to.
    pub lookups: LookupCounts,
    /// Milliseconds from the start of the invocation to the response.
    pub batch_duration_ms: u64,
}

/// The embedded metric format document for one batch.
pub fn emf_document(
    namespace: &str,
    function_name: &str,
    metrics: &BatchMetrics,
    timestamp_ms: u64,
) -> Value {
    let decided = &metrics.counts;
    let counts = [
        ("Sent", decided.sent),
        ("Duplicates", decided.duplicates),
        ("Retried", decided.retried),
        ("Rejected", decided.rejected),
        ("Parked", decided.parked),
        ("Throttled", decided.throttled),
        ("SuppressedRecords", decided.suppressed),
        ("TemplateFetches", metrics.template_fetches),
        ("Records", decided.records),
        ("LookupRounds", metrics.lookups.rounds),
        ("LookupReads", metrics.lookups.read),
        ("LookupsNotFound", metrics.lookups.not_found),
        ("LookupsFailed", metrics.lookups.failed),
        ("LookupsThrottled", metrics.lookups.throttled),
        ("LookupCacheHits", metrics.lookups.cache_hits),
        ("LookupCalls", metrics.lookups.calls),
    ];
    emf(
        namespace,
        function_name,
        timestamp_ms,
        &counts,
        ("BatchDuration", metrics.batch_duration_ms),
    )
}

/// One embedded-metric-format document: `counts` as Count metrics and `duration` in
/// milliseconds, by function name.
fn emf(
    namespace: &str,
    function_name: &str,
    timestamp_ms: u64,
    counts: &[(&str, u32)],
    duration: (&str, u64),
) -> Value {
    let mut definitions: Vec<Value> = counts
        .iter()
        .map(|(name, _)| json!({"Name": name, "Unit": "Count"}))
        .collect();
    definitions.push(json!({"Name": duration.0, "Unit": "Milliseconds"}));
    let mut document = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["FunctionName"]],
                "Metrics": definitions,
            }],
        },
        "FunctionName": function_name,
    });
    if let Some(object) = document.as_object_mut() {
        object.insert(duration.0.to_owned(), json!(duration.1));
        for (name, value) in counts {
            object.insert((*name).to_owned(), json!(value));
        }
    }
    document
}

/// The counters of one batch of SES feedback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedbackMetrics {
    /// Notifications by what they reported.
    pub sends: u32,
    /// See `sends`.
    pub delivered: u32,
    /// Bounces of each type.
    pub bounced_permanent: u32,
    /// See `bounced_permanent`.
    pub bounced_transient: u32,
    /// See `bounced_permanent`.
    pub bounced_undetermined: u32,
    /// See `sends`.
    pub complained: u32,
    /// See `sends`.
    pub delayed: u32,
    /// Rejects and rendering failures: SES sent nothing.
    pub not_sent: u32,
    /// Opens, clicks, subscriptions and types this version does not know.
    pub other: u32,
    /// Addresses newly suppressed.
    pub suppressed: u32,
    /// Notifications that could not be read (acknowledged).
    pub unreadable: u32,
    /// Notifications the ledger could not take (retried).
    pub failed: u32,
    /// Milliseconds for the batch.
    pub duration_ms: u64,
}

impl FeedbackMetrics {
    /// Counts one recorded notification.
    pub fn count(&mut self, event: &mailroom_core::feedback::FeedbackEvent, suppressed: usize) {
        use mailroom_core::feedback::{BounceType, DeliveryStatus, FeedbackEvent};
        let counter = match event {
            FeedbackEvent::Send => &mut self.sends,
            FeedbackEvent::Delivery { .. } => &mut self.delivered,
            FeedbackEvent::Bounce { bounce_type, .. } => match bounce_type {
                BounceType::Permanent => &mut self.bounced_permanent,
                BounceType::Transient => &mut self.bounced_transient,
                BounceType::Undetermined => &mut self.bounced_undetermined,
            },
            // A `not-spam` report is no complaint against the account's rate.
            FeedbackEvent::Complaint { .. }
                if event.implied_status() == Some(DeliveryStatus::Complained) =>
            {
                &mut self.complained
            }
            FeedbackEvent::Complaint { .. } => &mut self.other,
            FeedbackEvent::DeliveryDelay { .. } => &mut self.delayed,
            FeedbackEvent::Reject { .. } | FeedbackEvent::RenderingFailure { .. } => {
                &mut self.not_sent
            }
            FeedbackEvent::Open { .. }
            | FeedbackEvent::Click { .. }
            | FeedbackEvent::Subscription { .. }
            | FeedbackEvent::Unknown(_) => &mut self.other,
        };
        *counter += 1;
        self.suppressed += u32::try_from(suppressed).unwrap_or(u32::MAX);
    }
}

/// The embedded metric format document for one batch of feedback.
pub fn feedback_emf_document(
    namespace: &str,
    function_name: &str,
    metrics: &FeedbackMetrics,
    timestamp_ms: u64,
) -> Value {
    let counts = [
        ("FeedbackSends", metrics.sends),
        ("Delivered", metrics.delivered),
        ("BouncedPermanent", metrics.bounced_permanent),
        ("BouncedTransient", metrics.bounced_transient),
        ("BouncedUndetermined", metrics.bounced_undetermined),
        ("Complained", metrics.complained),
        ("Delayed", metrics.delayed),
        ("NotSentBySes", metrics.not_sent),
        ("FeedbackOther", metrics.other),
        ("Suppressed", metrics.suppressed),
        ("FeedbackUnreadable", metrics.unreadable),
        ("FeedbackFailed", metrics.failed),
    ];
    emf(
        namespace,
        function_name,
        timestamp_ms,
        &counts,
        ("FeedbackDuration", metrics.duration_ms),
    )
}

/// Writes one EMF line to stdout.
pub fn emit_metrics(document: &Value) {
    let mut stdout = std::io::stdout().lock();
    // A lost metrics line must never fail a batch.
    let _ = writeln!(stdout, "{document}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_masked() {
        assert_eq!(mask_address("ana.nunez@example.org"), "a***@example.org");
        assert_eq!(mask_address("nobody"), "***");
        assert_eq!(
            mask_text("PK=USER#ana.nunez@example.org, SK=PROFILE"),
            "PK=USER#a***@example.org, SK=PROFILE"
        );
        assert_eq!(
            mask_text("rejected <ana.nunez@example.org>. (\"dana@x.org\")"),
            "rejected <a***@example.org>. (\"d***@x.org\")"
        );
    }

    #[test]
    fn only_complaints_against_the_email_count_as_complained() {
        use mailroom_core::feedback::FeedbackEvent;
        let complaint = |feedback_type: Option<&str>| FeedbackEvent::Complaint {
            recipients: vec!["ana@example.org".into()],
            feedback_type: feedback_type.map(str::to_owned),
            sub_type: None,
            timestamp: None,
            feedback_id: None,
        };
        let mut metrics = FeedbackMetrics::default();
        metrics.count(&complaint(Some("abuse")), 1);
        metrics.count(&complaint(None), 0);
        // The reporter says the email is wanted: not a complaint against the account's rate.
        metrics.count(&complaint(Some("not-spam")), 0);
        assert_eq!(
            (metrics.complained, metrics.other, metrics.suppressed),
            (2, 1, 1)
        );
    }

    #[test]
    fn the_emf_document_declares_every_metric_it_carries() {
        let metrics = BatchMetrics {
            counts: Counts {
                records: 3,
                sent: 1,
                retried: 1,
                rejected: 1,
                throttled: 1,
                ..Counts::default()
            },
            template_fetches: 4,
            lookups: LookupCounts {
                rounds: 2,
                read: 5,
                not_found: 1,
                failed: 2,
                throttled: 2,
                cache_hits: 3,
                calls: 2,
            },
            batch_duration_ms: 12,
        };
        let document = emf_document("Mailroom", "notifier", &metrics, 1_795_428_000_000);
        let declared = &document["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], "Mailroom");
        for definition in declared["Metrics"].as_array().unwrap() {
            let name = definition["Name"].as_str().unwrap();
            assert!(document[name].is_u64(), "{name} has no value");
        }
        assert_eq!(document["Throttled"], 1);
        assert_eq!(
            (
                &document["LookupReads"],
                &document["LookupsNotFound"],
                &document["LookupsFailed"],
                &document["LookupCacheHits"],
                &document["LookupCalls"]
            ),
            (&json!(5), &json!(1), &json!(2), &json!(3), &json!(2))
        );
        assert_eq!(document["BatchDuration"], 12);
        assert_eq!(document["FunctionName"], "notifier");
    }
}
