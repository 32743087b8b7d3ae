//! Outcomes: reason codes, the per-record disposition and the retry back-off.

use serde::{Deserialize, Serialize};

use crate::email::Email;

/// Why a record was retried or rejected. Stable, snake_case on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Reject: the body is not JSON, or not an object after unwrapping its envelope.
    MalformedBody,
    /// Reject: no route for the event type and no default route.
    NoRoute,
    /// Reject: the recipient field is missing, null or empty.
    MissingRecipient,
    /// Reject: not a deliverable address, or more than 50 recipients.
    InvalidRecipient,
    /// Reject: SES refused the message for good.
    SesRejected,
    /// Retry: the route's template is not loaded.
    TemplateMissing,
    /// Retry: the template does not compile or failed to render.
    TemplateError,
    /// Retry: SES throttled the send.
    Throttled,
    /// Retry: 5xx, timeout, network, or an unknown SES error.
    Transient,
    /// Retry slowly: our SES sender is not ready.
    SenderNotReady,
    /// Retry: an earlier record of the same FIFO group failed.
    GroupBlocked,
    /// Retry: the invocation deadline came first.
    Deadline,
    /// Retry: another invocation is sending this email.
    InProgress,
    /// Reject: a lookup's key reads a field the event lacks.
    MissingField,
    /// Reject: a lookup's key renders to something DynamoDB cannot take.
    InvalidLookupKey,
    /// Reject (or retry, as the lookup's `onMissing` says): no item has the lookup's key.
    LookupMissing,
    /// Retry: a lookup's read failed.
    LookupFailed,
    /// Reject: the rendered SMS text is empty.
    SmsEmpty,
    /// Reject: the SMS text takes more segments than its route allows.
    SmsTooLong,
    /// Reject: the phone number opted out of SMS.
    OptedOut,
    /// Reject: SNS refused the SMS for good.
    SmsRejected,
}

impl Reason {
    /// The wire name, e.g. `malformed_body`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MalformedBody => "malformed_body",
            Self::NoRoute => "no_route",
            Self::MissingRecipient => "missing_recipient",
            Self::InvalidRecipient => "invalid_recipient",
            Self::SesRejected => "ses_rejected",
            Self::TemplateMissing => "template_missing",
            Self::TemplateError => "template_error",
            Self::Throttled => "throttled",
            Self::Transient => "transient",
            Self::SenderNotReady => "sender_not_ready",
            Self::GroupBlocked => "group_blocked",
            Self::Deadline => "deadline",
            Self::InProgress => "in_progress",
            Self::MissingField => "missing_field",
            Self::InvalidLookupKey => "invalid_lookup_key",
            Self::LookupMissing => "lookup_missing",
            Self::LookupFailed => "lookup_failed",
            Self::SmsEmpty => "sms_empty",
            Self::SmsTooLong => "sms_too_long",
            Self::OptedOut => "opted_out",
            Self::SmsRejected => "sms_rejected",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens to one record, as the batch finally reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "camelCase")]
#[must_use]
pub enum Disposition {
    /// The email was accepted (or had been accepted before: `duplicate`), and so was the text of a
    /// route that texts too. The record is done.
    #[serde(rename = "send", rename_all = "camelCase")]
    Sent {
        /// The rendered email.
        email: std::sync::Arc<Email>,
        /// The id the sender returned, when it returned one.
        #[serde(skip_serializing_if = "Option::is_none")]
        provider_message_id: Option<String>,
        /// An earlier delivery already sent it; nothing was sent this time.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        duplicate: bool,
        /// The text sent beside the email, for a route that texts too.
        #[serde(skip_serializing_if = "Option::is_none")]
        sms: Option<crate::channel::SmsDelivery>,
    },
    /// Our side could not do it now; the record stays on the queue for `retry_after_seconds`.
    #[serde(rename = "retry", rename_all = "camelCase")]
    Retry {
        /// The reason code.
        reason: Reason,
        /// What went wrong, for logs.
        detail: String,
        /// The visibility timeout to set before the next attempt.
        retry_after_seconds: u32,
    },
    /// Every recipient is suppressed (they bounced or complained, [`crate::suppress`]): nothing
    /// was sent, and nothing will be. The record is done.
    #[serde(rename = "suppressed", rename_all = "camelCase")]
    Suppressed {
        /// The suppressed recipients, normalized.
        recipients: Vec<String>,
    },
    /// The message can never succeed; it belongs in the dead-letter queue.
    #[serde(rename = "reject", rename_all = "camelCase")]
    Reject {
        /// The reason code.
        reason: Reason,
        /// What went wrong, for the dead-letter queue and logs.
        detail: String,
        /// The host moved it to the dead-letter queue itself, so it is acknowledged.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        parked: bool,
    },
}

impl Disposition {
    /// Whether the record must be listed in `batchItemFailures`.
    #[must_use]
    pub fn is_failure(&self) -> bool {
        match self {
            Self::Sent { .. } | Self::Suppressed { .. } => false,
            Self::Retry { .. } => true,
            Self::Reject { parked, .. } => !parked,
        }
    }

    /// The reason code, for retries and rejects.
    #[must_use]
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Self::Sent { .. } | Self::Suppressed { .. } => None,
            Self::Retry { reason, .. } | Self::Reject { reason, .. } => Some(*reason),
        }
    }

    /// `send`, `suppressed`, `retry` or `reject`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Sent { .. } => "send",
            Self::Suppressed { .. } => "suppressed",
            Self::Retry { .. } => "retry",
            Self::Reject { .. } => "reject",
        }
    }
}

/// How long a retried record waits before SQS delivers it again.
///
/// The delay doubles with each receive (`base_seconds * 2^(receive_count - 1)`) up to
/// `max_seconds`, and "equal jitter" spreads it between half and all of that, so a burst of
/// throttled records does not come back at the same instant. Our-configuration faults
/// (`sender_not_ready`) wait `slow_seconds` so the redrive policy parks them after a few tries
/// instead of burning through receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// The delay after the first receive, before jitter.
    pub base_seconds: u32,
    /// The cap on the exponential delay.
    pub max_seconds: u32,
    /// The delay for `sender_not_ready`.
    pub slow_seconds: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base_seconds: 30,
            max_seconds: 900,
            slow_seconds: 3600,
        }
    }
}

/// SQS refuses visibility timeouts above 12 hours; no back-off is ever longer.
pub const MAX_VISIBILITY_SECONDS: u32 = 43_200;

impl RetryPolicy {
    /// The visibility timeout for a retry of `reason` on the record's `receive_count`-th receive.
    ///
    /// `jitter_seed` comes from the host (and is mixed with the message id by the batch), so the
    /// same inputs always give the same delay.
    #[must_use]
    pub fn backoff(&self, reason: Reason, receive_count: u32, jitter_seed: u64) -> u32 {
        let ceiling = match reason {
            // Nothing about the message made it fail: try again at once.
            Reason::Deadline | Reason::GroupBlocked => return 0,
            Reason::SenderNotReady => self.slow_seconds,
            _ => {
                let doublings = receive_count.saturating_sub(1).min(31);
                self.base_seconds
                    .saturating_mul(1u32 << doublings)
                    .min(self.max_seconds)
            }
        }
        .min(MAX_VISIBILITY_SECONDS);
        let half = ceiling / 2;
        let spread = u64::from(ceiling - half) + 1;
        let jitter = u32::try_from(splitmix64(jitter_seed) % spread).unwrap_or(0);
        half + jitter
    }
}

/// Mixes a host's entropy (a seed, a clock reading) with a label (a message id, a request id)
/// into a jitter seed: FNV-1a over the label, folded into `entropy`. The batch mixes every
/// record's message id into the host's seed this way, so records of one batch get different
/// back-offs; hosts use it to turn a request id into their seed.
#[must_use]
pub fn jitter_seed(entropy: u64, label: &str) -> u64 {
    let hash = label.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    entropy ^ hash
}

/// A record's decision before anything is sent, from [`crate::Mailroom::decide`]: send this
/// email, or the retry or reject a batch would report for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[must_use]
pub struct RecordDecision {
    /// The SQS message id.
    pub message_id: String,
    /// The event type, when the body could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// The route taken, when one matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// Send, or the retry or reject.
    #[serde(flatten)]
    pub decision: Decision,
}

/// Send, retry or reject, before sending. Serialized like [`Disposition`], without what only a
/// send can tell (the provider's id).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "camelCase")]
pub enum Decision {
    /// The email to send.
    #[serde(rename = "send")]
    Send {
        /// The rendered email.
        email: std::sync::Arc<Email>,
        /// The text to send beside it, for a route that texts too.
        #[serde(skip_serializing_if = "Option::is_none")]
        sms: Option<std::sync::Arc<crate::sms::Sms>>,
    },
    /// Not now: our side could not do it.
    #[serde(rename = "retry", rename_all = "camelCase")]
    Retry {
        /// The reason code.
        reason: Reason,
        /// What went wrong, for logs.
        detail: String,
        /// The visibility timeout to set before the next attempt.
        retry_after_seconds: u32,
    },
    /// Never: the message itself is at fault.
    #[serde(rename = "reject")]
    Reject {
        /// The reason code.
        reason: Reason,
        /// What went wrong.
        detail: String,
    },
    /// Nothing to send: every recipient is suppressed.
    #[serde(rename = "suppressed")]
    Suppressed {
        /// The suppressed recipients, normalized.
        recipients: Vec<String>,
    },
}

impl Decision {
    /// The decision a disposition that is not a send stands for.
    pub(crate) fn settled(disposition: Disposition) -> Self {
        match disposition {
            Disposition::Sent { email, sms, .. } => Self::Send {
                email,
                sms: sms.map(|delivery| delivery.sms),
            },
            Disposition::Retry {
                reason,
                detail,
                retry_after_seconds,
            } => Self::Retry {
                reason,
                detail,
                retry_after_seconds,
            },
            Disposition::Reject { reason, detail, .. } => Self::Reject { reason, detail },
            Disposition::Suppressed { recipients } => Self::Suppressed { recipients },
        }
    }
}

/// A well-known 64-bit mixer: a deterministic stand-in for randomness, since the core has none.
pub(crate) fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_receive_count_and_is_capped() {
        let policy = RetryPolicy::default();
        let ceilings: Vec<u32> = (1..=8)
            .map(|count| {
                (0..200)
                    .map(|seed| policy.backoff(Reason::Throttled, count, seed))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        assert!(
            ceilings.windows(2).all(|pair| pair[0] <= pair[1]),
            "{ceilings:?}"
        );
        assert!(ceilings[0] <= 30 && ceilings[0] >= 15);
        assert!(
            (850..=900).contains(ceilings.last().unwrap()),
            "{ceilings:?}"
        );
        for seed in 0..200 {
            let delay = policy.backoff(Reason::Transient, 1, seed);
            assert!((15..=30).contains(&delay), "{delay}");
        }
    }

    #[test]
    fn backoff_is_deterministic_for_a_seed_and_varies_across_seeds() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.backoff(Reason::Throttled, 3, 42),
            policy.backoff(Reason::Throttled, 3, 42)
        );
        let distinct: std::collections::BTreeSet<u32> = (0..50)
            .map(|seed| policy.backoff(Reason::Throttled, 3, seed))
            .collect();
        assert!(distinct.len() > 10);
    }

    #[test]
    fn sender_not_ready_waits_long_and_never_beyond_the_sqs_limit() {
        let policy = RetryPolicy {
            slow_seconds: 100_000,
            ..RetryPolicy::default()
        };
        let delay = policy.backoff(Reason::SenderNotReady, 1, 7);
        assert!((21_600..=43_200).contains(&delay), "{delay}");
        assert_eq!(policy.backoff(Reason::Deadline, 9, 7), 0);
    }
}
