//! Lifting a suppression: an operator decides that an address may be mailed again (the
//! mailbox was fixed, the complaint was a mistake).
//!
//! A lift is written once, here, so every host lifts the same way: the suppression is cleared
//! and the lift is kept in the entry ([`Lift`]: when, why, and what it lifted), because
//! [`AddressEntry::updated`] reads it. Events that happened at or before the lift call for no
//! suppression any more: SNS and SQS redeliver, and a bounce notification delivered again after
//! the lift must not suppress the address again. A bounce or complaint after the lift does.
//!
//! The host writes the lifted entry as it writes the intake's: on the condition that the
//! entry's version did not change since it was read, so a lift never overwrites feedback
//! recorded meanwhile.
//!
//! ```
//! use mailroom_core::Timestamp;
//! use mailroom_core::feedback::{AddressEntry, LiftError, Suppression, SuppressionReason};
//!
//! let entry = AddressEntry {
//!     suppression: Some(Suppression {
//!         address: "ana@example.com".to_owned(),
//!         reason: SuppressionReason::PermanentBounce,
//!         expires_at: None,
//!     }),
//!     ..AddressEntry::default()
//! };
//! let now = Timestamp::parse_rfc3339("2026-11-24T09:00:00Z").unwrap();
//! let lifted = entry.lifted("mailbox fixed, ticket 4711", now)?;
//! assert!(lifted.suppression.is_none());
//! assert_eq!(lifted.lifts[0].reason, "mailbox fixed, ticket 4711");
//! assert_eq!(lifted.clone().lifted("again", now), Err(LiftError::NotSuppressed));
//! # Ok::<(), LiftError>(())
//! ```

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ledger::AddressEntry;
use super::suppression::Suppression;
use crate::record::Timestamp;

/// Lifts an entry keeps: enough to see an address lifted and suppressed again and again,
/// small enough that an entry stays far below DynamoDB's 400 KB item size.
pub const MAX_LIFTS: usize = 10;

/// The longest reason a lift records, in characters.
pub const MAX_LIFT_REASON: usize = 500;

/// One lift of a suppression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lift {
    /// When it was lifted (the host's clock).
    #[serde(with = "super::time::rfc3339")]
    pub at: Timestamp,
    /// Why, as the operator gave it.
    pub reason: String,
    /// The suppression it lifted.
    pub lifted: Suppression,
}

/// Why a lift was refused. Every variant is the request's fault: the same request is refused
/// the same way every time.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LiftError {
    /// The address has no suppression (none ever, or lifted already).
    #[error("the address is not suppressed: there is nothing to lift")]
    NotSuppressed,
    /// The reason is empty or only spaces.
    #[error("a lift needs a reason (who asked, a ticket): it is kept in the address's entry")]
    NoReason,
    /// The reason is longer than [`MAX_LIFT_REASON`] characters.
    #[error("the reason has {length} characters; at most {MAX_LIFT_REASON} are kept")]
    ReasonTooLong {
        /// Its length in characters.
        length: usize,
    },
    /// The reason holds control characters (line breaks included), which would garble the
    /// entry's listings.
    #[error("the reason holds control characters (line breaks, tabs); give it on one line")]
    ReasonNotOneLine,
}

impl AddressEntry {
    /// This entry with its suppression lifted at `now` for `reason` (trimmed): the suppression
    /// is cleared and the lift recorded, the last [`MAX_LIFTS`] kept. An expired suppression
    /// can be lifted too (it clears the record of it).
    pub fn lifted(self, reason: &str, now: Timestamp) -> Result<Self, LiftError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(LiftError::NoReason);
        }
        let length = reason.chars().count();
        if length > MAX_LIFT_REASON {
            return Err(LiftError::ReasonTooLong { length });
        }
        if reason.chars().any(char::is_control) {
            return Err(LiftError::ReasonNotOneLine);
        }
        let Some(lifted) = self.suppression else {
            return Err(LiftError::NotSuppressed);
        };
        let mut lifts = self.lifts;
        lifts.push(Lift {
            at: now,
            reason: reason.to_owned(),
            lifted,
        });
        let excess = lifts.len().saturating_sub(MAX_LIFTS);
        lifts.drain(..excess);
        Ok(Self {
            history: self.history,
            suppression: None,
            lifts,
        })
    }

    /// When the suppression was last lifted, if ever.
    #[must_use]
    pub fn last_lifted_at(&self) -> Option<Timestamp> {
        self.lifts.iter().map(|lift| lift.at).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feedback::{
        Feedback, LedgerLimits, SuppressionPolicy, SuppressionReason, ledger_addresses,
    };

    const ADDRESS: &str = "ana@example.com";

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    fn bounce(kind: &str, when: &str) -> Feedback {
        Feedback::parse(&format!(
            r#"{{"eventType": "Bounce",
                "bounce": {{"bounceType": "{kind}", "bounceSubType": "General",
                    "bouncedRecipients": [{{"emailAddress": "Ana@Example.com"}}],
                    "timestamp": "{when}"}},
                "mail": {{"messageId": "ses-{when}", "timestamp": "{when}",
                    "destination": ["Ana@Example.com"]}}}}"#
        ))
        .unwrap()
    }

    fn apply(entry: Option<AddressEntry>, feedback: &Feedback, now: &str) -> AddressEntry {
        assert_eq!(ledger_addresses(feedback), [ADDRESS]);
        AddressEntry::updated(
            entry,
            ADDRESS,
            feedback,
            &SuppressionPolicy::default(),
            at(now),
            LedgerLimits::default(),
        )
    }

    fn suppressed() -> AddressEntry {
        apply(
            None,
            &bounce("Permanent", "2026-11-23T10:00:03Z"),
            "2026-11-23T10:00:05Z",
        )
    }

    #[test]
    fn a_lift_clears_the_suppression_and_records_why_when_and_what() {
        let entry = suppressed();
        let was = entry.suppression.clone().unwrap();
        let lifted = entry
            .clone()
            .lifted("  mailbox fixed, ticket 4711 ", at("2026-11-24T09:00:00Z"))
            .unwrap();
        assert_eq!(lifted.suppression, None);
        assert!(!lifted.is_suppressed(at("2026-11-24T09:00:01Z")));
        assert_eq!(
            lifted.lifts,
            [Lift {
                at: at("2026-11-24T09:00:00Z"),
                reason: "mailbox fixed, ticket 4711".to_owned(),
                lifted: was,
            }]
        );
        // What was sent and what became of it stays.
        assert_eq!(lifted.history, entry.history);
        assert_eq!(lifted.last_lifted_at(), Some(at("2026-11-24T09:00:00Z")));
    }

    #[test]
    fn only_a_suppressed_address_with_a_one_line_reason_is_lifted() {
        let now = at("2026-11-24T09:00:00Z");
        assert_eq!(
            AddressEntry::default().lifted("fixed", now),
            Err(LiftError::NotSuppressed)
        );
        assert_eq!(suppressed().lifted(" \t ", now), Err(LiftError::NoReason));
        assert_eq!(
            suppressed().lifted("fixed\nreally", now),
            Err(LiftError::ReasonNotOneLine)
        );
        let long = "x".repeat(MAX_LIFT_REASON + 1);
        assert_eq!(
            suppressed().lifted(&long, now),
            Err(LiftError::ReasonTooLong {
                length: MAX_LIFT_REASON + 1
            })
        );
        assert!(
            suppressed()
                .lifted(&"é".repeat(MAX_LIFT_REASON), now)
                .is_ok()
        );
        // Lifted once, there is nothing left to lift.
        let lifted = suppressed().lifted("fixed", now).unwrap();
        assert_eq!(lifted.lifted("again", now), Err(LiftError::NotSuppressed));
    }

    #[test]
    fn a_redelivered_bounce_from_before_the_lift_does_not_suppress_again() {
        let lifted = suppressed()
            .lifted("fixed", at("2026-11-24T09:00:00Z"))
            .unwrap();
        let again = apply(
            Some(lifted.clone()),
            &bounce("Permanent", "2026-11-23T10:00:03Z"),
            "2026-11-24T09:05:00Z",
        );
        assert_eq!(again.suppression, None);
        assert_eq!(again.lifts, lifted.lifts);
    }

    #[test]
    fn a_bounce_after_the_lift_suppresses_again() {
        let lifted = suppressed()
            .lifted("fixed", at("2026-11-24T09:00:00Z"))
            .unwrap();
        let again = apply(
            Some(lifted),
            &bounce("Permanent", "2026-11-25T08:00:00Z"),
            "2026-11-25T08:00:02Z",
        );
        assert_eq!(
            again.suppression.map(|s| s.reason),
            Some(SuppressionReason::PermanentBounce)
        );
        assert_eq!(again.lifts.len(), 1, "the lift stays on record");
    }

    #[test]
    fn soft_bounces_before_the_lift_are_not_counted_again() {
        let mut entry = None;
        for when in [
            "2026-11-20T10:00:00Z",
            "2026-11-21T10:00:00Z",
            "2026-11-22T10:00:00Z",
        ] {
            entry = Some(apply(entry, &bounce("Transient", when), when));
        }
        let entry = entry.unwrap();
        assert!(matches!(
            entry.suppression.as_ref().map(|s| s.reason),
            Some(SuppressionReason::TransientBounces { count: 3 })
        ));
        let lifted = entry
            .lifted("mailbox emptied", at("2026-11-22T12:00:00Z"))
            .unwrap();
        // One more soft bounce: one after the lift, under the policy's three.
        let after = apply(
            Some(lifted),
            &bounce("Transient", "2026-11-23T10:00:00Z"),
            "2026-11-23T10:00:00Z",
        );
        assert_eq!(after.suppression, None);
    }

    #[test]
    fn only_the_last_lifts_are_kept() {
        let mut entry = suppressed();
        for day in 10..10 + MAX_LIFTS + 2 {
            let now = at(&format!("2026-12-{day:02}T09:00:00Z"));
            entry = entry.lifted(&format!("lift {day}"), now).unwrap();
            entry.suppression = suppressed().suppression;
        }
        assert_eq!(entry.lifts.len(), MAX_LIFTS);
        assert_eq!(entry.lifts[0].reason, "lift 12");
        assert_eq!(entry.lifts[MAX_LIFTS - 1].reason, "lift 21");
    }

    #[test]
    fn an_entry_never_lifted_is_stored_as_before_and_old_entries_read() {
        let entry = suppressed();
        let json = serde_json::to_value(&entry).unwrap();
        assert!(json.get("lifts").is_none());
        let back: AddressEntry = serde_json::from_value(json).unwrap();
        assert_eq!(back, entry);
        let lifted = entry.lifted("fixed", at("2026-11-24T09:00:00Z")).unwrap();
        let back: AddressEntry =
            serde_json::from_str(&serde_json::to_string(&lifted).unwrap()).unwrap();
        assert_eq!(back, lifted);
    }
}
