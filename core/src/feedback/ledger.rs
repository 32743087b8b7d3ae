//! The delivery ledger: what a host stores about every email and every address, and how one
//! notification changes it.
//!
//! The ledger has two kinds of entries, both plain data a host stores as they serialise:
//!
//! - an [`EmailEntry`] per email, under [`LedgerKey::of`] (the idempotency key mailroom tagged
//!   the email with; the SES message id for notifications without tags): status per recipient
//!   and overall, the route and event type, when SES accepted it, when each kind of event first
//!   happened, the most decisive bounce's details and a bounded [`History`];
//! - an [`AddressEntry`] per recipient address ([`normalize_address`]): the address's last
//!   events (what was sent to it and what became of it) and its [`Suppression`], if any.
//!
//! A host applies a notification with [`EmailEntry::updated`] and [`AddressEntry::updated`]:
//! read the stored entry (if any), call, write the result back on the condition that the entry
//! did not change meanwhile, and on a conflict read and call again. Every field is a join (a
//! maximum, a minimum, a union trimmed by a fixed rule), so the entries come out the same
//! whatever order notifications arrive in, however often each arrives, and however two writers
//! interleave: the retry loop cannot lose an event, only apply it twice, which changes nothing.
//!
//! ```
//! use mailroom_core::Timestamp;
//! use mailroom_core::feedback::{
//!     AddressEntry, DeliveryStatus, EmailEntry, Feedback, LedgerKey, LedgerLimits,
//!     SuppressionPolicy,
//! };
//!
//! let send = Feedback::parse(r#"{"eventType": "Send", "send": {},
//!     "mail": {"messageId": "ses-1", "timestamp": "2026-11-23T10:00:01Z",
//!         "destination": ["Ana@Example.com"],
//!         "tags": {"idempotency_key": ["5d1f0c8e9a7b6c4d3e2f1a0b9c8d7e6f"], "route": ["welcome"]}}}"#)?;
//! let bounce = Feedback::parse(r#"{"eventType": "Bounce",
//!     "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
//!         "bouncedRecipients": [{"emailAddress": "ana@example.com"}],
//!         "timestamp": "2026-11-23T10:00:03Z"},
//!     "mail": {"messageId": "ses-1", "timestamp": "2026-11-23T10:00:01Z",
//!         "destination": ["Ana@Example.com"],
//!         "tags": {"idempotency_key": ["5d1f0c8e9a7b6c4d3e2f1a0b9c8d7e6f"], "route": ["welcome"]}}}"#)?;
//! let limits = LedgerLimits::default();
//! let key = LedgerKey::of(&bounce);
//! assert_eq!(key, LedgerKey::of(&send));
//!
//! // The bounce arrives first; the send after it does not un-bounce the email.
//! let entry = EmailEntry::updated(None, &bounce, limits);
//! let entry = EmailEntry::updated(Some(entry), &send, limits);
//! assert_eq!(entry.status, Some(DeliveryStatus::Bounced(mailroom_core::feedback::BounceType::Permanent)));
//! assert_eq!(entry.route.as_deref(), Some("welcome"));
//!
//! // The address is suppressed for good.
//! let now = Timestamp::parse_rfc3339("2026-11-23T10:00:05Z").unwrap();
//! let address = AddressEntry::updated(None, "ana@example.com", &bounce, &SuppressionPolicy::default(), now, limits);
//! assert!(address.suppression.is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::lift::Lift;
use super::suppression::{
    Suppression, SuppressionPolicy, SuppressionReason, normalize_address, suppression_for,
};
use super::{BounceType, DeliveryStatus, Feedback, FeedbackEvent, History, HistoryEntry};
use crate::record::Timestamp;

/// Where a notification's email is kept in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum LedgerKey {
    /// The email's idempotency key, from its `idempotency_key` tag: the key the idempotency
    /// store claims, so a ledger entry and a claim of one email share it.
    IdempotencyKey(String),
    /// The SES message id, for notifications without mailroom's tags (identity
    /// notifications, emails sent by something else).
    SesMessageId(String),
}

impl LedgerKey {
    /// The key of the email `feedback` is about.
    #[must_use]
    pub fn of(feedback: &Feedback) -> Self {
        match &feedback.tags.idempotency_key {
            Some(key) => Self::IdempotencyKey(key.clone()),
            None => Self::SesMessageId(feedback.ses_message_id.clone()),
        }
    }

    /// The key as one string, for a store with a single partition key that may hold other
    /// items too (the idempotency store's claims, keyed by the bare idempotency key):
    /// `email#` and the idempotency key, or `email#ses#` and the SES message id.
    #[must_use]
    pub fn storage_key(&self) -> String {
        match self {
            Self::IdempotencyKey(key) => format!("email#{key}"),
            Self::SesMessageId(id) => format!("email#ses#{id}"),
        }
    }
}

/// The storage key of an address's entry: `address#` and the normalized address, beside the
/// emails' keys in one table.
#[must_use]
pub fn address_storage_key(normalized_address: &str) -> String {
    format!("{ADDRESS_KEY_PREFIX}{normalized_address}")
}

/// What an address entry's storage key starts with.
pub const ADDRESS_KEY_PREFIX: &str = "address#";

/// The attribute a ledger item's storage key is in (the table's partition key). The core reads
/// ledger items itself (the suppression check, through the lookups), so the names of what it
/// reads are the core's, and the stores that write the items take them from here.
pub const LEDGER_KEY_ATTRIBUTE: &str = "pk";

/// The attribute a ledger item's entry is in, as the entry's JSON ([`EmailEntry`],
/// [`AddressEntry`]).
pub const LEDGER_ENTRY_ATTRIBUTE: &str = "entry";

/// The addresses whose entries a notification changes: those it concerns
/// ([`Feedback::recipients`]) as [`normalize_address`] writes them, each once. Text the core
/// could never send to has no entry.
#[must_use]
pub fn ledger_addresses(feedback: &Feedback) -> Vec<String> {
    let mut addresses: Vec<String> = Vec::new();
    for address in feedback
        .recipients()
        .into_iter()
        .filter_map(normalize_address)
    {
        if !addresses.contains(&address) {
            addresses.push(address);
        }
    }
    addresses
}

/// How much history entries keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LedgerLimits {
    /// Events kept per email. Default 20: a send, a delivery and a few opens and clicks.
    pub email_history: usize,
    /// Events kept per address. Default 50: enough to count soft bounces over the policy's
    /// window and to answer "what was sent to this address lately".
    pub address_history: usize,
}

impl Default for LedgerLimits {
    fn default() -> Self {
        Self {
            email_history: 20,
            address_history: 50,
        }
    }
}

/// What the ledger knows about one email.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailEntry {
    /// The SES message id.
    pub ses_message_id: Option<String>,
    /// The route that sent it (its tag).
    pub route: Option<String>,
    /// The event type that caused it (its tag).
    pub event_type: Option<String>,
    /// When SES accepted it.
    #[serde(default, with = "super::time::rfc3339_option")]
    pub sent_at: Option<Timestamp>,
    /// The overall status: the most decisive of the recipients' ([`DeliveryStatus::merge`]).
    pub status: Option<DeliveryStatus>,
    /// Each recipient's status, by normalized address.
    pub recipients: BTreeMap<String, DeliveryStatus>,
    /// When each kind of event ([`FeedbackEvent::name`]) first happened.
    pub first_seen: BTreeMap<String, TimeText>,
    /// The most decisive bounce: permanent over undetermined over transient, then the later.
    pub bounce: Option<BounceDetail>,
    /// The last events.
    pub history: History,
}

/// A timestamp as RFC 3339 text, for maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimeText(#[serde(with = "super::time::rfc3339")] pub Timestamp);

/// What an operator needs of a bounce.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BounceDetail {
    /// Permanent, transient or undetermined.
    pub bounce_type: BounceType,
    /// When it was reported.
    #[serde(with = "super::time::rfc3339")]
    pub at: Timestamp,
    /// SES's `bounceSubType`.
    pub sub_type: Option<String>,
    /// The first bounced recipient's DSN status and diagnostic, e.g. `5.1.1`,
    /// `smtp; 550 5.1.1 user unknown`.
    pub status: Option<String>,
    /// See `status`.
    pub diagnostic: Option<String>,
}

impl EmailEntry {
    /// `stored` (the entry as read, `None` when there is none yet) with `feedback` applied.
    #[must_use]
    pub fn updated(stored: Option<Self>, feedback: &Feedback, limits: LedgerLimits) -> Self {
        stored
            .unwrap_or_default()
            .merge(Self::of(feedback, limits), limits)
    }

    /// The entry one notification alone gives.
    fn of(feedback: &Feedback, limits: LedgerLimits) -> Self {
        let recipients: BTreeMap<String, DeliveryStatus> =
            feedback.recipient_statuses().into_iter().collect();
        let bounce = match &feedback.event {
            FeedbackEvent::Bounce {
                bounce_type,
                sub_type,
                recipients,
                ..
            } => Some(BounceDetail {
                bounce_type: *bounce_type,
                at: feedback.occurred_at(),
                sub_type: sub_type.clone(),
                status: recipients.first().and_then(|r| r.status.clone()),
                diagnostic: recipients.first().and_then(|r| r.diagnostic_code.clone()),
            }),
            _ => None,
        };
        Self {
            ses_message_id: Some(feedback.ses_message_id.clone()),
            route: feedback.tags.route.clone(),
            event_type: feedback.tags.event_type.clone(),
            sent_at: Some(feedback.sent_at),
            status: feedback.event.status(),
            recipients,
            first_seen: BTreeMap::from([(
                feedback.event.name().to_owned(),
                TimeText(feedback.occurred_at()),
            )]),
            bounce,
            history: History::new().record(HistoryEntry::of(feedback), limits.email_history),
        }
    }

    /// The join of two entries of one email: what both together say.
    #[must_use]
    pub fn merge(self, other: Self, limits: LedgerLimits) -> Self {
        let mut recipients = self.recipients;
        for (address, status) in other.recipients {
            recipients
                .entry(address)
                .and_modify(|known| *known = known.merge(status))
                .or_insert(status);
        }
        let mut first_seen = self.first_seen;
        for (name, at) in other.first_seen {
            first_seen
                .entry(name)
                .and_modify(|known| *known = (*known).min(at))
                .or_insert(at);
        }
        Self {
            ses_message_id: join_text(self.ses_message_id, other.ses_message_id),
            route: join_text(self.route, other.route),
            event_type: join_text(self.event_type, other.event_type),
            sent_at: join_min(self.sent_at, other.sent_at),
            status: self.status.max(other.status),
            recipients,
            first_seen,
            bounce: self.bounce.max(other.bounce),
            history: self.history.merge(other.history, limits.email_history),
        }
    }

    /// Whether SES has this email: any event at all, since SES reports only emails it
    /// accepted. A redelivery that finds the email's claim expired acknowledges instead of
    /// sending again when this holds.
    #[must_use]
    pub fn ses_has_it(&self) -> bool {
        self.status.is_some() || !self.history.entries().is_empty()
    }

    /// Bounced or complained: what the ledger's "recent bounces and complaints" index lists,
    /// with the time of the most recent such event.
    #[must_use]
    pub fn attention(&self) -> Option<(Attention, Timestamp)> {
        let latest = |name: &str| {
            self.history
                .entries()
                .iter()
                .filter(|entry| entry.event.name() == name)
                .map(|entry| entry.at)
                .max()
        };
        match self.status? {
            DeliveryStatus::Complained => latest("Complaint").map(|at| (Attention::Complaint, at)),
            DeliveryStatus::Bounced(_) => self.bounce.as_ref().map(|b| (Attention::Bounce, b.at)),
            _ => None,
        }
    }
}

/// Why an email needs an operator's attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attention {
    /// It bounced.
    Bounce,
    /// A recipient complained.
    Complaint,
}

impl Attention {
    /// The name the ledger's index uses.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Bounce => "bounce",
            Self::Complaint => "complaint",
        }
    }
}

/// What the ledger knows about one address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressEntry {
    /// The last events of emails to this address.
    pub history: History,
    /// Whether mailroom stops sending to it.
    pub suppression: Option<Suppression>,
    /// The operators' lifts of its suppressions, oldest first, the last
    /// [`MAX_LIFTS`](super::MAX_LIFTS) ([`AddressEntry::lifted`]). Left out of the JSON when
    /// empty, so entries that were never lifted are stored as they always were.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lifts: Vec<Lift>,
}

impl AddressEntry {
    /// `stored` with `feedback` applied for `address` (normalized): the event joins the
    /// history, and the suppression is the stronger of the stored one and the one the event
    /// calls for by `policy` (soft bounces counted from the history).
    ///
    /// After a lift ([`AddressEntry::lifted`]), events that happened at or before it call for
    /// no suppression and soft bounces before it are not counted: a redelivered bounce
    /// notification (SNS and SQS deliver at least once) must not undo the operator's decision;
    /// a new bounce suppresses again.
    #[must_use]
    pub fn updated(
        stored: Option<Self>,
        address: &str,
        feedback: &Feedback,
        policy: &SuppressionPolicy,
        now: Timestamp,
        limits: LedgerLimits,
    ) -> Self {
        let stored = stored.unwrap_or_default();
        let lifted_at = stored.last_lifted_at();
        let after_lift = |at: Timestamp| lifted_at.is_none_or(|lifted| at > lifted);
        let prior: Vec<Timestamp> = stored
            .history
            .entries()
            .iter()
            .filter(|entry| {
                matches!(
                    entry.event,
                    FeedbackEvent::Bounce {
                        bounce_type: BounceType::Transient | BounceType::Undetermined,
                        ..
                    }
                )
            })
            .map(|entry| entry.at)
            .filter(|at| after_lift(*at))
            .collect();
        let called_for = suppression_for(
            feedback,
            policy,
            &BTreeMap::from([(address.to_owned(), prior)]),
            now,
        )
        .into_iter()
        .find(|suppression| suppression.address == address)
        .filter(|_| after_lift(feedback.occurred_at()));
        Self {
            history: stored
                .history
                .record(HistoryEntry::of(feedback), limits.address_history),
            suppression: stronger(stored.suppression, called_for),
            lifts: stored.lifts,
        }
    }

    /// Whether a send to this address at `now` is suppressed.
    #[must_use]
    pub fn is_suppressed(&self, now: Timestamp) -> bool {
        self.suppression
            .as_ref()
            .is_some_and(|suppression| suppression.in_force(now))
    }
}

/// The stronger of two suppressions of one address: one for good beats one that expires, a
/// later expiry beats an earlier one; equal expiries keep the more serious reason.
fn stronger(a: Option<Suppression>, b: Option<Suppression>) -> Option<Suppression> {
    let rank = |s: &Suppression| {
        (
            s.expires_at.map_or(i64::MAX, |t| t.as_millis()),
            match s.reason {
                SuppressionReason::TransientBounces { count } => (0, count),
                SuppressionReason::PermanentBounce => (1, 0),
                SuppressionReason::Complaint => (2, 0),
            },
        )
    };
    match (a, b) {
        (Some(a), Some(b)) => Some(if rank(&b) > rank(&a) { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// Two readings of one fact (an email has one route): the smaller when both are known, so the
/// result does not depend on which was read first.
fn join_text(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn join_min(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
