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

/// Names of the variables that set a [`SuppressionPolicy`].
pub mod vars {
    /// [`SuppressionPolicy::transient_bounces`](super::SuppressionPolicy::transient_bounces):
    /// soft bounces within the window that suppress an address (`0`: never for soft bounces).
    pub const SUPPRESSION_TRANSIENT_BOUNCES: &str = "SUPPRESSION_TRANSIENT_BOUNCES";
    /// [`SuppressionPolicy::window_seconds`](super::SuppressionPolicy::window_seconds).
    pub const SUPPRESSION_WINDOW_SECONDS: &str = "SUPPRESSION_WINDOW_SECONDS";
    /// [`SuppressionPolicy::transient_expiry_seconds`](super::SuppressionPolicy::transient_expiry_seconds):
    /// seconds, or `never` for a suppression that does not expire.
    pub const SUPPRESSION_TRANSIENT_EXPIRY_SECONDS: &str = "SUPPRESSION_TRANSIENT_EXPIRY_SECONDS";
}

/// A suppression variable that does not hold what it must: our side's configuration, found
/// when the host starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} is invalid: expected {expected} (got {value:?})")]
pub struct SuppressionPolicyError {
    /// The variable.
    pub name: &'static str,
    /// What it holds.
    pub value: String,
    /// What it may hold.
    pub expected: &'static str,
}

/// The longest window and expiry: ten years, beyond which "for good" says it better.
const LONGEST_SECONDS: u64 = 10 * 365 * 24 * 3600;

impl SuppressionPolicy {
    /// The policy the variables describe (`lookup` reads one, as `std::env::var(..).ok()`
    /// does); a variable unset or empty keeps its default. Every host that takes in feedback
    /// reads its policy here, so that they all suppress alike.
    ///
    /// ```
    /// use mailroom_core::feedback::SuppressionPolicy;
    ///
    /// let variables = [("SUPPRESSION_TRANSIENT_BOUNCES", "5"), ("SUPPRESSION_TRANSIENT_EXPIRY_SECONDS", "never")];
    /// let lookup = |name: &str| variables.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string());
    /// let policy = SuppressionPolicy::from_variables(lookup)?;
    /// assert_eq!(policy.transient_bounces, 5);
    /// assert_eq!(policy.window_seconds, SuppressionPolicy::default().window_seconds);
    /// assert_eq!(policy.transient_expiry_seconds, None);
    /// # Ok::<(), mailroom_core::feedback::SuppressionPolicyError>(())
    /// ```
    pub fn from_variables(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SuppressionPolicyError> {
        let get = |name: &str| {
            lookup(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let invalid = |name, value: String, expected| SuppressionPolicyError {
            name,
            value,
            expected,
        };
        let defaults = Self::default();
        let transient_bounces = match get(vars::SUPPRESSION_TRANSIENT_BOUNCES) {
            None => defaults.transient_bounces,
            Some(value) => value
                .parse::<u32>()
                .ok()
                .filter(|n| *n <= 1000)
                .ok_or_else(|| {
                    invalid(
                        vars::SUPPRESSION_TRANSIENT_BOUNCES,
                        value,
                        "a whole number from 0 (never) to 1000",
                    )
                })?,
        };
        let window_seconds = match get(vars::SUPPRESSION_WINDOW_SECONDS) {
            None => defaults.window_seconds,
            Some(value) => value
                .parse::<u64>()
                .ok()
                .filter(|seconds| (60..=LONGEST_SECONDS).contains(seconds))
                .ok_or_else(|| {
                    invalid(
                        vars::SUPPRESSION_WINDOW_SECONDS,
                        value,
                        "a whole number of seconds from 60 to 315360000",
                    )
                })?,
        };
        let transient_expiry_seconds = match get(vars::SUPPRESSION_TRANSIENT_EXPIRY_SECONDS) {
            None => defaults.transient_expiry_seconds,
            Some(value) if value.eq_ignore_ascii_case("never") => None,
            Some(value) => Some(
                value
                    .parse::<u64>()
                    .ok()
                    .filter(|seconds| (60..=LONGEST_SECONDS).contains(seconds))
                    .ok_or_else(|| {
                        invalid(
                            vars::SUPPRESSION_TRANSIENT_EXPIRY_SECONDS,
                            value,
                            "a whole number of seconds from 60 to 315360000, or never",
                        )
                    })?,
            ),
        };
        Ok(Self {
            transient_bounces,
            window_seconds,
            transient_expiry_seconds,
        })
    }
}

/// An address to stop sending to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Suppression {
    /// The address, as [`normalize_address`] writes it.
    pub address: String,
    /// Why.
    pub reason: SuppressionReason,
    /// Until when; `None` for good.
    #[serde(with = "super::time::rfc3339_option")]
    pub expires_at: Option<Timestamp>,
}

impl Suppression {
    /// Whether it still stops sending at `now`: until its expiry, for good without one.
    #[must_use]
    pub fn in_force(&self, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|until| until > now)
    }
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

impl SuppressionReason {
    /// The reason's name in stores and indexes (its `kind`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::PermanentBounce => "permanent_bounce",
            Self::Complaint => "complaint",
            Self::TransientBounces { .. } => "transient_bounces",
        }
    }
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

#[cfg(test)]
mod policy_tests {
    use super::*;

    fn policy(variables: &[(&str, &str)]) -> Result<SuppressionPolicy, SuppressionPolicyError> {
        SuppressionPolicy::from_variables(|name| {
            variables
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn unset_or_empty_variables_keep_the_defaults() {
        assert_eq!(policy(&[]), Ok(SuppressionPolicy::default()));
        assert_eq!(
            policy(&[(vars::SUPPRESSION_WINDOW_SECONDS, "  ")]),
            Ok(SuppressionPolicy::default())
        );
    }

    #[test]
    fn each_variable_sets_its_field() {
        let set = policy(&[
            (vars::SUPPRESSION_TRANSIENT_BOUNCES, "0"),
            (vars::SUPPRESSION_WINDOW_SECONDS, "86400"),
            (vars::SUPPRESSION_TRANSIENT_EXPIRY_SECONDS, "3600"),
        ])
        .unwrap();
        assert_eq!(
            set,
            SuppressionPolicy {
                transient_bounces: 0,
                window_seconds: 86_400,
                transient_expiry_seconds: Some(3600),
            }
        );
        let forever = policy(&[(vars::SUPPRESSION_TRANSIENT_EXPIRY_SECONDS, "Never")]).unwrap();
        assert_eq!(forever.transient_expiry_seconds, None);
    }

    #[test]
    fn a_bad_value_names_its_variable_and_what_it_may_hold() {
        let error = policy(&[(vars::SUPPRESSION_WINDOW_SECONDS, "7d")]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "SUPPRESSION_WINDOW_SECONDS is invalid: expected a whole number of seconds from 60 to 315360000 (got \"7d\")"
        );
        for (name, value) in [
            (vars::SUPPRESSION_TRANSIENT_BOUNCES, "-1"),
            (vars::SUPPRESSION_TRANSIENT_BOUNCES, "three"),
            (vars::SUPPRESSION_WINDOW_SECONDS, "59"),
            (vars::SUPPRESSION_TRANSIENT_EXPIRY_SECONDS, "forever"),
        ] {
            assert_eq!(policy(&[(name, value)]).unwrap_err().name, name);
        }
    }
}
