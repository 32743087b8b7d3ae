//! The invariants of SES feedback, checked on every input of the `feedback_body` target.
//! Compiled into the fuzz crate and, through `#[path]`, into `core/tests/fuzz_regressions.rs`,
//! which replays the seeds and past crashes on stable, and `core/tests/feedback.rs`, which runs
//! the same checks on generated and mutated notifications. Needs only mailroom-core and serde_json.
//!
//! For any text: parsing never panics and is deterministic; an error has a short message. For
//! text that parses:
//! - the feedback written in the core's JSON form reads back equal;
//! - the same notification in an SNS notification, and in a Lambda SNS event, reads the same
//!   (but for the envelope and the SNS message id);
//! - the status the event implies joins as a semilattice with every status, and every
//!   recipient gets that status, keyed by a normalized address;
//! - a history holds the notification once however often it is recorded, and reads back;
//! - suppressions, by several policies and prior bounces, name each affected recipient once,
//!   by its normalized address, for the reason the event gives, and expire as the policy says.

use std::collections::BTreeMap;

use mailroom_core::Timestamp;
use mailroom_core::feedback::{
    BounceType, DeliveryStatus, Feedback, FeedbackEnvelope, FeedbackError, FeedbackEvent, History,
    HistoryEntry, Suppression, SuppressionPolicy, SuppressionReason, normalize_address,
    suppression_for, transient_bounce_addresses,
};
use serde_json::json;

/// Longest error message a host should have to log.
const MAX_ERROR_CHARS: usize = 600;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// Checks every invariant for one body.
pub fn check_body(body: &str) -> Result<(), String> {
    let first = Feedback::parse(body);
    if Feedback::parse(body) != first {
        return Err("parsing the same body twice gave different results".into());
    }
    match first {
        Ok(feedback) => check_feedback(body, &feedback),
        Err(error) => check_error(&error),
    }
}

/// An error's message is non-empty and short enough to log.
pub fn check_error(error: &FeedbackError) -> Result<(), String> {
    let message = error.to_string();
    if message.trim().is_empty() {
        return Err(format!("{error:?} has an empty message"));
    }
    let chars = message.chars().count();
    if chars > MAX_ERROR_CHARS {
        return Err(format!("an error message of {chars} characters: {error:?}"));
    }
    Ok(())
}

/// Every invariant of a body that parsed.
pub fn check_feedback(body: &str, feedback: &Feedback) -> Result<(), String> {
    if feedback.ses_message_id.is_empty() {
        return Err("an empty SES message id".into());
    }
    check_round_trip(feedback)?;
    check_envelopes(body, feedback)?;
    check_status(feedback)?;
    check_history(feedback)?;
    check_suppressions(feedback)
}

fn check_round_trip(feedback: &Feedback) -> Result<(), String> {
    let text = serde_json::to_string(feedback).map_err(|e| format!("not serializable: {e}"))?;
    let back: Feedback =
        serde_json::from_str(&text).map_err(|e| format!("{text} does not read back: {e}"))?;
    if &back != feedback {
        return Err(format!("{text} reads back as {back:?}"));
    }
    Ok(())
}

/// A notification read from the body itself reads the same through SNS and Lambda.
fn check_envelopes(body: &str, feedback: &Feedback) -> Result<(), String> {
    if feedback.envelope != FeedbackEnvelope::Raw {
        return Ok(());
    }
    let sns = json!({"Type": "Notification", "MessageId": "fuzz-sns", "Message": body});
    let lambda = json!({"Records": [{"EventSource": "aws:sns", "Sns": sns.clone()}]});
    for (wrapped, envelope) in [
        (sns, FeedbackEnvelope::Sns),
        (lambda, FeedbackEnvelope::LambdaSns),
    ] {
        let mut expected = feedback.clone();
        expected.envelope = envelope;
        expected.sns_message_id = Some("fuzz-sns".into());
        match Feedback::parse(&wrapped.to_string()) {
            Ok(got) if got == expected => {}
            other => {
                return Err(format!(
                    "in {envelope:?} the notification reads as {other:?}"
                ));
            }
        }
    }
    Ok(())
}

fn check_status(feedback: &Feedback) -> Result<(), String> {
    let status = feedback.event.status();
    if status.is_none() != matches!(feedback.event, FeedbackEvent::Unknown(_)) {
        return Err(format!("{:?} implies status {status:?}", feedback.event));
    }
    if let Some(status) = status {
        check_join(status)?;
    }
    let statuses = feedback.recipient_statuses();
    for (index, (address, got)) in statuses.iter().enumerate() {
        if Some(*got) != status {
            return Err(format!(
                "{address} gets {got:?}, the event implies {status:?}"
            ));
        }
        if address.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(format!("the ledger key {address:?} is not in lower case"));
        }
        if statuses[..index]
            .iter()
            .any(|(earlier, _)| earlier == address)
        {
            return Err(format!("{address} has two statuses"));
        }
    }
    if status.is_none() && !statuses.is_empty() {
        return Err("recipients got a status from an event that implies none".into());
    }
    Ok(())
}

/// `merge` is an upper bound, commutative, idempotent and associative around `status`.
pub fn check_join(status: DeliveryStatus) -> Result<(), String> {
    if status.merge(status) != status {
        return Err(format!("{status:?} merged with itself changes"));
    }
    for other in DeliveryStatus::ALL {
        let joined = status.merge(other);
        if joined != other.merge(status) {
            return Err(format!(
                "merging {status:?} and {other:?} depends on the order"
            ));
        }
        if joined < status || joined < other {
            return Err(format!("{status:?} merged with {other:?} gives {joined:?}"));
        }
        for third in DeliveryStatus::ALL {
            if joined.merge(third) != status.merge(other.merge(third)) {
                return Err(format!(
                    "merging {status:?}, {other:?}, {third:?} is not associative"
                ));
            }
        }
    }
    Ok(())
}

fn check_history(feedback: &Feedback) -> Result<(), String> {
    let entry = HistoryEntry::of(feedback);
    if entry.at != feedback.occurred_at() {
        return Err("a history entry is not dated when the event occurred".into());
    }
    let once = History::new().record(entry.clone(), 4);
    let twice = once.clone().record(entry.clone(), 4);
    if once != twice || once.entries() != [entry] {
        return Err(format!("recording a notification twice gives {twice:?}"));
    }
    if History::new().record(HistoryEntry::of(feedback), 0) != History::new() {
        return Err("a history with a limit of 0 keeps an entry".into());
    }
    let text = serde_json::to_string(&once).map_err(|e| format!("history: {e}"))?;
    let back: History = serde_json::from_str(&text).map_err(|e| format!("{text}: {e}"))?;
    if back != once {
        return Err(format!("the history {text} reads back as {back:?}"));
    }
    Ok(())
}

fn check_suppressions(feedback: &Feedback) -> Result<(), String> {
    let at = feedback.occurred_at();
    let recipients: Vec<String> = feedback
        .recipients()
        .into_iter()
        .filter_map(normalize_address)
        .collect();
    let counted = transient_bounce_addresses(feedback);
    // Prior soft bounces: none; two recent ones under the address in upper case (which must
    // not matter) and this bounce itself (a redelivery, which must not count twice); and an
    // old one only. Every policy's window holds the recent ones; only the unbounded window
    // holds the old one, and that policy needs more bounces than there can be.
    let none = BTreeMap::new();
    let recent: BTreeMap<String, Vec<Timestamp>> = counted
        .iter()
        .map(|address| {
            let times = vec![later(at, -DAY_MS), later(at, -2 * DAY_MS), at];
            (address.to_ascii_uppercase(), times)
        })
        .collect();
    let old: BTreeMap<String, Vec<Timestamp>> = counted
        .iter()
        .map(|address| (address.clone(), vec![later(at, -60 * DAY_MS)]))
        .collect();
    let policies = [
        SuppressionPolicy::default(),
        SuppressionPolicy {
            transient_bounces: 1,
            window_seconds: 30 * 24 * 3600,
            transient_expiry_seconds: None,
        },
        SuppressionPolicy {
            transient_bounces: 0,
            ..SuppressionPolicy::default()
        },
        SuppressionPolicy {
            transient_bounces: u32::MAX,
            window_seconds: u64::MAX,
            transient_expiry_seconds: Some(u64::MAX),
        },
    ];
    let now = later(at, 3600 * 1000);
    for policy in &policies {
        for (priors, prior_count) in [(&none, 0), (&recent, 2), (&old, 0)] {
            let suppressions = suppression_for(feedback, policy, priors, now);
            if suppression_for(feedback, policy, priors, now) != suppressions {
                return Err("suppression_for is not deterministic".into());
            }
            check_suppression_list(
                feedback,
                policy,
                &recipients,
                &suppressions,
                now,
                prior_count,
            )
            .map_err(|violation| format!("{policy:?}, {prior_count} priors: {violation}"))?;
        }
    }
    Ok(())
}

fn check_suppression_list(
    feedback: &Feedback,
    policy: &SuppressionPolicy,
    recipients: &[String],
    suppressions: &[Suppression],
    now: Timestamp,
    prior_count: u32,
) -> Result<(), String> {
    for (index, suppression) in suppressions.iter().enumerate() {
        let address = &suppression.address;
        if normalize_address(address).as_deref() != Some(address.as_str()) {
            return Err(format!("{address:?} is not a normalized address"));
        }
        if address
            .chars()
            .any(|c| c.is_ascii_uppercase() || c.is_whitespace())
        {
            return Err(format!("{address:?} has upper case or white space"));
        }
        if !recipients.contains(address) {
            return Err(format!("{address} is not a recipient of the event"));
        }
        if suppressions[..index].iter().any(|s| &s.address == address) {
            return Err(format!("{address} is suppressed twice"));
        }
        let expected_expiry = match (&feedback.event, suppression.reason) {
            (
                FeedbackEvent::Bounce {
                    bounce_type: BounceType::Permanent,
                    ..
                },
                SuppressionReason::PermanentBounce,
            ) => None,
            (FeedbackEvent::Complaint { .. }, SuppressionReason::Complaint) => None,
            (
                FeedbackEvent::Bounce {
                    bounce_type: BounceType::Transient | BounceType::Undetermined,
                    ..
                },
                SuppressionReason::TransientBounces { count },
            ) => {
                if count < policy.transient_bounces.max(1) || count > 1 + prior_count {
                    return Err(format!("{count} soft bounces counted by {policy:?}"));
                }
                policy.transient_expiry_seconds.map(|seconds| {
                    let millis = i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
                    later(now, millis)
                })
            }
            (event, reason) => return Err(format!("{reason:?} from {}", event.name())),
        };
        if suppression.expires_at != expected_expiry {
            return Err(format!(
                "{address} expires at {:?}, not {expected_expiry:?}",
                suppression.expires_at
            ));
        }
    }
    // What must be suppressed is: every recipient of a hard bounce or a complaint (but
    // `not-spam`), and with one soft bounce enough, every recipient of a soft one.
    let must = match &feedback.event {
        FeedbackEvent::Bounce {
            bounce_type: BounceType::Permanent,
            ..
        } => true,
        FeedbackEvent::Complaint { feedback_type, .. } => !feedback_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("not-spam")),
        FeedbackEvent::Bounce { .. } => policy.transient_bounces == 1,
        _ => false,
    };
    if must {
        for recipient in recipients {
            if !suppressions.iter().any(|s| &s.address == recipient) {
                return Err(format!("{recipient} is not suppressed"));
            }
        }
    } else if matches!(feedback.event, FeedbackEvent::Bounce { .. }) {
        // A soft bounce: suppressed exactly when enough bounces were counted.
        let count = 1 + prior_count;
        let expected = policy.transient_bounces > 0 && count >= policy.transient_bounces;
        if !expected && !suppressions.is_empty() {
            return Err(format!(
                "{} suppressed after {count} soft bounces",
                suppressions.len()
            ));
        }
        if expected && suppressions.len() != transient_bounce_addresses(feedback).len() {
            return Err(format!("after {count} soft bounces, only {suppressions:?}"));
        }
    } else if !suppressions.is_empty() {
        return Err(format!(
            "{} suppresses {suppressions:?}",
            feedback.event.name()
        ));
    }
    Ok(())
}

fn later(at: Timestamp, millis: i64) -> Timestamp {
    Timestamp::from_millis(at.as_millis().saturating_add(millis))
}
