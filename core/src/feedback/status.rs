//! The ledger's status of an email for one recipient, and the history of its events.
//!
//! SES promises no order between notifications, SNS and SQS deliver each at least once, and a
//! recipient can get a `Delivery` and later a `Bounce` for one email. So a status is never
//! "the latest event": it is the join of every event's status in a fixed order, and the
//! history is the union of the events, trimmed by a fixed rule. Either comes out the same
//! whatever order the notifications arrive in, however often each arrives, and however the
//! work is split between hosts whose results are merged later.

use serde::{Deserialize, Serialize};

use super::{BounceType, Feedback, FeedbackEvent};
use crate::record::Timestamp;

/// What the ledger knows of an email's fate for one recipient, from least to most decisive.
///
/// [`DeliveryStatus::merge`] keeps the later of two in this order (the declaration order):
///
/// | status | from | why it ranks there |
/// | --- | --- | --- |
/// | `Sent` | `Send` | SES accepted the email; anything else SES says is news |
/// | `Delayed` | `DeliveryDelay` | SES is still trying: more than "sent", less than any outcome |
/// | `Delivered` | `Delivery`, `Open`, `Click`, `Subscription`, a `not-spam` complaint | the recipient's server took the email (an open, click or unsubscribe proves as much) |
/// | `RenderingFailed` | `Rendering Failure` | SES sent nothing, so a delivery can only be a mix-up |
/// | `Rejected` | `Reject` | SES sent nothing, it found a virus: the stronger of the two |
/// | `Bounced(Transient)` | soft bounce SES stopped retrying | a server that accepted an email can still bounce it later (an asynchronous bounce), while nothing is delivered after SES gives up: **a bounce outranks a delivery**, so a delivery after a bounce does not un-bounce |
/// | `Bounced(Undetermined)` | bounce of unknown kind | may be permanent: ranks above a soft bounce |
/// | `Bounced(Permanent)` | hard bounce | the address will never work |
/// | `Complained` | `Complaint` | the recipient got the email and called it unwanted: the most urgent thing to act on (complaint rates of 0.1% put an account under review, bounces at 5%), so it outranks everything, a delivery before it included |
///
/// Why a transient bounce outranks a delivery, thinking as an operator: a `Delivery` only says
/// that the receiving server accepted the email; a later bounce says the email still did not
/// reach the mailbox, and the reverse (a real delivery after SES gave up) does not happen.
/// Showing "delivered" for an email that bounced would hide the one fact worth acting on.
///
/// A complaint of feedback type `not-spam` is a provider saying the email is *not* spam, so it
/// counts as delivered and suppresses nothing. Unknown event types give no status.
///
/// The order is total, so `merge` (the maximum) is commutative, associative and idempotent: a
/// join-semilattice, whose join of a set of events does not depend on their order, repeats or
/// grouping. `Option<DeliveryStatus>` (`None` for "no event yet") joins with `Option::max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// SES accepted the email.
    Sent,
    /// SES keeps trying.
    Delayed,
    /// The recipient's server accepted the email.
    Delivered,
    /// SES could not render its template; nothing was sent.
    RenderingFailed,
    /// SES refused to send the email (a virus).
    Rejected,
    /// SES gave up on the recipient.
    Bounced(BounceType),
    /// The recipient reported the email as unwanted.
    Complained,
}

impl DeliveryStatus {
    /// Every status, in the order of [`DeliveryStatus::merge`].
    pub const ALL: [Self; 9] = [
        Self::Sent,
        Self::Delayed,
        Self::Delivered,
        Self::RenderingFailed,
        Self::Rejected,
        Self::Bounced(BounceType::Transient),
        Self::Bounced(BounceType::Undetermined),
        Self::Bounced(BounceType::Permanent),
        Self::Complained,
    ];

    /// The status that both `self` and `other` lead to: the more decisive of the two.
    #[must_use]
    pub fn merge(self, other: Self) -> Self {
        self.max(other)
    }

    /// The join of any number of statuses; `None` for none.
    pub fn merge_all(statuses: impl IntoIterator<Item = Self>) -> Option<Self> {
        statuses.into_iter().reduce(Self::merge)
    }
}

/// The status an event implies (the table of [`DeliveryStatus`]).
pub(super) fn implied(event: &FeedbackEvent) -> Option<DeliveryStatus> {
    Some(match event {
        FeedbackEvent::Send => DeliveryStatus::Sent,
        FeedbackEvent::DeliveryDelay { .. } => DeliveryStatus::Delayed,
        FeedbackEvent::Delivery { .. }
        | FeedbackEvent::Open { .. }
        | FeedbackEvent::Click { .. }
        | FeedbackEvent::Subscription { .. } => DeliveryStatus::Delivered,
        FeedbackEvent::Complaint { feedback_type, .. } if is_not_spam(feedback_type.as_deref()) => {
            DeliveryStatus::Delivered
        }
        FeedbackEvent::Complaint { .. } => DeliveryStatus::Complained,
        FeedbackEvent::RenderingFailure { .. } => DeliveryStatus::RenderingFailed,
        FeedbackEvent::Reject { .. } => DeliveryStatus::Rejected,
        FeedbackEvent::Bounce { bounce_type, .. } => DeliveryStatus::Bounced(*bounce_type),
        FeedbackEvent::Unknown(_) => return None,
    })
}

/// RFC 5965's `not-spam`: the reporter does not consider the email spam.
pub(super) fn is_not_spam(feedback_type: Option<&str>) -> bool {
    feedback_type.is_some_and(|kind| kind.eq_ignore_ascii_case("not-spam"))
}

/// One event of a [`History`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When it happened ([`Feedback::occurred_at`]).
    #[serde(with = "super::time::rfc3339")]
    pub at: Timestamp,
    /// The email it is about.
    pub ses_message_id: String,
    /// What happened.
    pub event: FeedbackEvent,
}

impl HistoryEntry {
    /// The entry of a notification. Two deliveries of one notification (through SNS and raw,
    /// or redelivered) give the same entry: the envelope is not part of it.
    #[must_use]
    pub fn of(feedback: &Feedback) -> Self {
        Self {
            at: feedback.occurred_at(),
            ses_message_id: feedback.ses_message_id.clone(),
            event: feedback.event.clone(),
        }
    }
}

/// The last events of an email or an address, oldest first, each once.
///
/// Entries are ordered by time, and entries of the same millisecond by their content (message
/// id, then event), so the order never depends on arrival. Recording and merging keep the
/// `limit` greatest entries of the union in that order: taking the top `limit` of a union is
/// commutative, associative and idempotent, so histories merged in any order or grouping, with
/// any notification repeated, come out identical.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<HistoryEntry>", into = "Vec<HistoryEntry>")]
pub struct History {
    entries: Vec<HistoryEntry>,
}

impl History {
    /// An empty history.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// The entries, oldest first.
    #[must_use]
    pub fn entries(&self) -> &[HistoryEntry] {
        &self.entries
    }

    /// This history with one more entry, keeping the last `limit`.
    #[must_use]
    pub fn record(self, entry: HistoryEntry, limit: usize) -> Self {
        self.merge(
            Self {
                entries: vec![entry],
            },
            limit,
        )
    }

    /// Both histories' entries, each once, keeping the last `limit`.
    #[must_use]
    pub fn merge(self, other: Self, limit: usize) -> Self {
        let mut entries = self.entries;
        entries.extend(other.entries);
        Self::normalized(entries, limit)
    }

    fn normalized(mut entries: Vec<HistoryEntry>, limit: usize) -> Self {
        entries.sort_unstable();
        entries.dedup();
        let excess = entries.len().saturating_sub(limit);
        entries.drain(..excess);
        Self { entries }
    }
}

/// Stored histories are put back in order (and de-duplicated) as they are read, whatever
/// wrote them; the limit is the one the next `record` or `merge` applies.
impl From<Vec<HistoryEntry>> for History {
    fn from(entries: Vec<HistoryEntry>) -> Self {
        Self::normalized(entries, usize::MAX)
    }
}

impl From<History> for Vec<HistoryEntry> {
    fn from(history: History) -> Self {
        history.entries
    }
}
