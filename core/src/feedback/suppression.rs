//! Which addresses to stop sending to, from bounces and complaints.
//!
//! SES keeps an account-level suppression list of its own, but only for hard bounces and
//! complaints, and sending to an address on it still counts against the account. Mailroom
//! keeps its own list so that it does not send at all, and adds soft bounces that repeat.
//!
//! | feedback | suppression |
//! | --- | --- |
//! | permanent bounce | every bounced recipient, for good |
//! | complaint | every complained recipient, for good (except `not-spam` feedback) |
//! | transient bounce | the recipient, once it has bounced `transient_bounces` times within `window_seconds` (this bounce included), until `transient_expiry_seconds` from now |
//! | undetermined bounce | counted as a transient bounce: SES could not tell whether the address is dead, so it is neither suppressed for good on one bounce nor ignored |
//! | anything else | nothing |
//!
//! Addresses are compared as [`normalize_address`] writes them, which is also how the core
//! de-duplicates recipients before sending: checking a recipient against the list means
//! normalizing it the same way.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::status::is_not_spam;
use super::{BounceType, Feedback, FeedbackEvent};
use crate::address::Mailbox;
use crate::record::Timestamp;

/// When soft bounces suppress an address. Read from configuration, a field left out takes
/// its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SuppressionPolicy {
    /// How many transient (or undetermined) bounces within the window suppress an address; 0
    /// never suppresses for soft bounces. Default 3: each one already means SES retried for
    /// hours and gave up.
    pub transient_bounces: u32,
    /// The window, in seconds back from now. Default 7 days.
    pub window_seconds: u64,
    /// How long a suppression for soft bounces lasts, in seconds from now; `None` keeps it
    /// for good. Default 30 days: a full mailbox is often emptied again.
    pub transient_expiry_seconds: Option<u64>,
}

impl Default for SuppressionPolicy {
    fn default() -> Self {
        Self {
            transient_bounces: 3,
            window_seconds: 7 * 24 * 3600,
            transient_expiry_seconds: Some(30 * 24 * 3600),
        }
    }
}

/// An address to stop sending to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// The address, as [`normalize_address`] writes it.
    pub address: String,
    /// Why.
    pub reason: SuppressionReason,
    /// Until when; `None` for good.
    #[serde(with = "super::time::rfc3339_option")]
    pub expires_at: Option<Timestamp>,
}

/// Why an address is suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SuppressionReason {
    /// A hard bounce.
    PermanentBounce,
    /// A complaint.
    Complaint,
    /// Repeated soft bounces.
    TransientBounces {
        /// How many within the window, this one included.
        count: u32,
    },
}

/// The address as mailroom compares addresses: the core's parsing (IDN domains in punycode,
/// display names dropped) in ASCII lower case, as the core de-duplicates recipients. `None`
/// for text the core would refuse as a recipient: it can never be sent to, so it needs no
/// suppression.
#[must_use]
pub fn normalize_address(text: &str) -> Option<String> {
    Mailbox::parse(text)
        .ok()
        .map(|mailbox| mailbox.dedupe_key())
}

/// The addresses whose earlier soft bounces [`suppression_for`] counts for this feedback
/// (normalized, each once): what a host looks up in its ledger before calling it. Empty
/// unless the feedback is a transient or undetermined bounce.
#[must_use]
pub fn transient_bounce_addresses(feedback: &Feedback) -> Vec<String> {
    match &feedback.event {
        FeedbackEvent::Bounce {
            bounce_type: BounceType::Transient | BounceType::Undetermined,
            recipients,
            ..
        } => normalized(recipients.iter().map(|r| r.address.as_str())),
        _ => Vec::new(),
    }
}

/// The suppressions this feedback calls for, by `policy`.
///
/// `prior_transient_bounces` holds, per address, when it bounced softly before (as the host's
/// ledger has it; keys are normalized here, so raw addresses do too). Times before
/// `now - window_seconds` are not counted; nor is a prior time equal to this bounce's, which
/// is this bounce recorded before (a redelivered notification is not counted twice).
#[must_use]
pub fn suppression_for(
    feedback: &Feedback,
    policy: &SuppressionPolicy,
    prior_transient_bounces: &BTreeMap<String, Vec<Timestamp>>,
    now: Timestamp,
) -> Vec<Suppression> {
    let forever = |reason| {
        move |address| Suppression {
            address,
            reason,
            expires_at: None,
        }
    };
    match &feedback.event {
        FeedbackEvent::Bounce {
            bounce_type: BounceType::Permanent,
            recipients,
            ..
        } => normalized(recipients.iter().map(|r| r.address.as_str()))
            .into_iter()
            .map(forever(SuppressionReason::PermanentBounce))
            .collect(),
        FeedbackEvent::Complaint {
            recipients,
            feedback_type,
            ..
        } if !is_not_spam(feedback_type.as_deref()) => {
            normalized(recipients.iter().map(String::as_str))
                .into_iter()
                .map(forever(SuppressionReason::Complaint))
                .collect()
        }
        FeedbackEvent::Bounce { .. } if policy.transient_bounces > 0 => {
            let since = now
                .as_millis()
                .saturating_sub(seconds_to_millis(policy.window_seconds));
            let bounced_at = feedback.occurred_at();
            let expires_at = policy.transient_expiry_seconds.map(|seconds| {
                Timestamp(now.as_millis().saturating_add(seconds_to_millis(seconds)))
            });
            transient_bounce_addresses(feedback)
                .into_iter()
                .filter_map(|address| {
                    let mut times: BTreeSet<Timestamp> = prior_transient_bounces
                        .iter()
                        .filter(|(key, _)| normalize_address(key).as_deref() == Some(&address))
                        .flat_map(|(_, times)| times.iter().copied())
                        .filter(|time| time.as_millis() >= since)
                        .collect();
                    times.insert(bounced_at);
                    let count = u32::try_from(times.len()).unwrap_or(u32::MAX);
                    (count >= policy.transient_bounces).then_some(Suppression {
                        address,
                        reason: SuppressionReason::TransientBounces { count },
                        expires_at,
                    })
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Normalized addresses, each once, in the order given; text that is no address is left out.
fn normalized<'a>(addresses: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen = Vec::new();
    for address in addresses.filter_map(normalize_address) {
        if !seen.contains(&address) {
            seen.push(address);
        }
    }
    seen
}

fn seconds_to_millis(seconds: u64) -> i64 {
    i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX)
}
