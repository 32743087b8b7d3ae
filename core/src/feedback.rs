//! SES feedback: what became of each email SES accepted, read from the notifications SES
//! publishes, for a delivery ledger.
//!
//! SES reports every email's fate as notifications. **Event publishing** (a configuration set
//! with an event destination) names the event in `eventType` and carries the message tags
//! mailroom sent in `mail.tags`; the older **identity notifications** name it in
//! `notificationType` (bounces, complaints and deliveries only) and carry no tags. Either
//! reaches a host through SNS: into SQS as the record's body (an SNS notification whose
//! `Message` is the SES notification, or the notification itself with raw message delivery),
//! or as the Lambda event of a function SNS invokes directly. [`Feedback::parse`] takes all of
//! these and says which it was given.
//!
//! ```
//! use mailroom_core::Timestamp;
//! use mailroom_core::feedback::{
//!     BounceType, DeliveryStatus, Feedback, FeedbackEnvelope, FeedbackEvent, SuppressionPolicy,
//!     SuppressionReason, suppression_for,
//! };
//!
//! let notification = r#"{"eventType": "Bounce",
//!     "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
//!         "bouncedRecipients": [{"emailAddress": "Ana@Example.com", "status": "5.1.1",
//!             "action": "failed", "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
//!         "timestamp": "2026-11-23T10:00:03.112Z", "feedbackId": "fb-1"},
//!     "mail": {"messageId": "ses-1", "timestamp": "2026-11-23T10:00:01.250Z",
//!         "destination": ["Ana@Example.com"],
//!         "tags": {"route": ["welcome"], "ses:configuration-set": ["mailroom"]}}}"#;
//! // Through SNS into SQS: the record's body is the SNS notification.
//! let body = serde_json::json!({"Type": "Notification", "MessageId": "sns-1",
//!     "Message": notification}).to_string();
//!
//! let feedback = Feedback::parse(&body)?;
//! assert_eq!(feedback.envelope, FeedbackEnvelope::Sns);
//! assert_eq!(feedback.ses_message_id, "ses-1");
//! assert_eq!(feedback.tags.route.as_deref(), Some("welcome"));
//! let FeedbackEvent::Bounce { bounce_type, recipients, .. } = &feedback.event else { panic!() };
//! assert_eq!(*bounce_type, BounceType::Permanent);
//! assert_eq!(recipients[0].status.as_deref(), Some("5.1.1"));
//!
//! // The ledger: a bounce outranks a delivery, whichever arrives first.
//! let status = feedback.event.status().unwrap();
//! assert_eq!(status, DeliveryStatus::Bounced(BounceType::Permanent));
//! assert_eq!(DeliveryStatus::Delivered.merge(status), status);
//!
//! // A permanent bounce suppresses the address for good.
//! let now = Timestamp::parse_rfc3339("2026-11-23T10:00:06Z").unwrap();
//! let suppressions = suppression_for(&feedback, &SuppressionPolicy::default(), &Default::default(), now);
//! assert_eq!(suppressions[0].address, "ana@example.com");
//! assert_eq!(suppressions[0].reason, SuppressionReason::PermanentBounce);
//! assert_eq!(suppressions[0].expires_at, None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Tolerance
//!
//! SES adds fields without notice, so unknown fields are ignored everywhere, and an event type
//! this module does not know is [`FeedbackEvent::Unknown`], never an error. What is read is
//! checked: a notification without `mail.messageId` or `mail.timestamp`, a bounce without
//! `bouncedRecipients`, a timestamp that is not RFC 3339, or a known field of the wrong type is
//! a [`FeedbackError`]. Optional details (DSN fields, SMTP responses, feedback types) are
//! `None` when SES leaves them out or sends `null`.
//!
//! Not kept: headers, the recipients' IP addresses and user agents of opens and clicks
//! (personal data a ledger does not need), and the sender's identity ARNs.
//!
//! # The ledger
//!
//! [`DeliveryStatus`] orders what an event says about a recipient so that
//! [`DeliveryStatus::merge`] gives the same status whatever order notifications arrive in (SES
//! makes no ordering promise, SNS and SQS deliver at least once); [`History`] keeps the last
//! events of a message or address, in the same order-independent way. [`suppression_for`] says
//! which addresses to stop sending to, by [`SuppressionPolicy`]. [`EmailEntry`] and
//! [`AddressEntry`] are what a host stores per email and per address, and how one notification
//! changes them (the `ledger` module's docs).

mod error;
mod ledger;
mod lift;
mod status;
mod suppression;
mod time;
mod wire;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::record::Timestamp;

pub use error::{FeedbackError, Layer};
pub use ledger::{
    ADDRESS_KEY_PREFIX, AddressEntry, Attention, BounceDetail, EmailEntry, LEDGER_ENTRY_ATTRIBUTE,
    LEDGER_KEY_ATTRIBUTE, LedgerKey, LedgerLimits, TimeText, address_storage_key, ledger_addresses,
};
pub use lift::{Lift, LiftError, MAX_LIFT_REASON, MAX_LIFTS};
pub use status::{DeliveryStatus, History, HistoryEntry};
pub use suppression::vars as suppression_vars;
pub use suppression::{
    Suppression, SuppressionPolicy, SuppressionPolicyError, SuppressionReason, normalize_address,
    suppression_for, transient_bounce_addresses,
};

/// The message tag mailroom puts the route's name in.
pub const ROUTE_TAG: &str = "route";
/// The message tag mailroom puts the event's type in (`none` when the event has none).
pub const EVENT_TYPE_TAG: &str = "event_type";
/// The message tag mailroom puts the email's idempotency key in
/// ([`crate::idempotency`]), which ties feedback to the event that caused the email.
pub const IDEMPOTENCY_KEY_TAG: &str = "idempotency_key";
/// The tag SES adds with the configuration set the email was sent with.
pub const CONFIGURATION_SET_TAG: &str = "ses:configuration-set";

/// One SES notification about one email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    /// How the notification reached the host.
    pub envelope: FeedbackEnvelope,
    /// Which SES feature published it.
    pub origin: FeedbackOrigin,
    /// The SNS `MessageId`, when it came through SNS: the same for SNS's redeliveries of one
    /// notification.
    pub sns_message_id: Option<String>,
    /// `mail.messageId`: the id SES returned when the email was sent.
    pub ses_message_id: String,
    /// `mail.timestamp`: when SES accepted the email.
    #[serde(with = "time::rfc3339")]
    pub sent_at: Timestamp,
    /// `mail.source`: the envelope sender.
    pub source: Option<String>,
    /// `mail.destination`: every recipient of the email, as sent.
    pub destination: Vec<String>,
    /// The message tags mailroom reads back (none for identity notifications).
    pub tags: MailroomTags,
    /// What happened.
    pub event: FeedbackEvent,
}

/// How a notification reached the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeedbackEnvelope {
    /// The notification itself: an SQS body with SNS raw message delivery on.
    Raw,
    /// An SNS notification with the notification as its `Message`: an SQS body.
    Sns,
    /// The Lambda event of a function SNS invokes directly (`Records[0].Sns`).
    LambdaSns,
}

/// Which SES feature published a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeedbackOrigin {
    /// A configuration set's event destination (`eventType`, with message tags).
    EventPublishing,
    /// An identity's feedback notifications (`notificationType`, no tags).
    IdentityNotification,
}

/// The message tags mailroom sets on every email and reads back from feedback. A tag that
/// is absent, empty or not text is `None`; SES gives each tag as a list, and the first value
/// is taken.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailroomTags {
    /// [`IDEMPOTENCY_KEY_TAG`].
    pub idempotency_key: Option<String>,
    /// [`ROUTE_TAG`].
    pub route: Option<String>,
    /// [`EVENT_TYPE_TAG`].
    pub event_type: Option<String>,
    /// [`CONFIGURATION_SET_TAG`].
    pub configuration_set: Option<String>,
}

/// What a notification reports. Timestamps are the event's own (when SES or the recipient's
/// server reported it); events without one happened when the email was sent
/// ([`Feedback::occurred_at`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "details", rename_all = "snake_case")]
pub enum FeedbackEvent {
    /// SES accepted the send request and will try to deliver the email.
    Send,
    /// The recipients' server accepted the email.
    Delivery {
        /// The recipients this delivery is for.
        recipients: Vec<String>,
        /// When the server accepted it.
        #[serde(with = "time::rfc3339_option")]
        timestamp: Option<Timestamp>,
        /// The server's SMTP answer, e.g. `250 2.0.0 OK`.
        smtp_response: Option<String>,
        /// From SES accepting the request to the server accepting the email.
        processing_time_ms: Option<u64>,
        /// The SES server that delivered it.
        reporting_mta: Option<String>,
    },
    /// The email bounced: SES gave up on these recipients.
    Bounce {
        /// Hard, soft (after SES stopped retrying) or unknown.
        bounce_type: BounceType,
        /// `bounceSubType`. Known values: with `Permanent`, `General`, `NoEmail` (the address
        /// does not exist), `Suppressed` (on SES's global suppression list) and
        /// `OnAccountSuppressionList` (on the account's list; SES did not try to send); with
        /// `Transient`, `General`, `MailboxFull`, `MessageTooLarge`, `ContentRejected` and
        /// `AttachmentRejected`; with `Undetermined`, `Undetermined`.
        sub_type: Option<String>,
        /// The recipients that bounced, with the DSN's details when there was one.
        recipients: Vec<RecipientReport>,
        /// When the bounce was reported.
        #[serde(with = "time::rfc3339_option")]
        timestamp: Option<Timestamp>,
        /// SES's id of this bounce.
        feedback_id: Option<String>,
        /// The DSN's `Reporting-MTA`.
        reporting_mta: Option<String>,
    },
    /// A recipient (or their mailbox provider) reported the email as unwanted.
    Complaint {
        /// The recipients the complaint may be from. Most providers redact the complainant, so
        /// SES lists every recipient on the complaining domain.
        recipients: Vec<String>,
        /// The feedback report's `Feedback-Type` (`abuse`, `auth-failure`, `fraud`,
        /// `not-spam`, `other`, `virus`), when a report was attached.
        feedback_type: Option<String>,
        /// `complaintSubType`: `null` or `OnAccountSuppressionList` (SES did not send, the
        /// address being on the account's suppression list for an earlier complaint).
        sub_type: Option<String>,
        /// When the complaint was reported.
        #[serde(with = "time::rfc3339_option")]
        timestamp: Option<Timestamp>,
        /// SES's id of this complaint.
        feedback_id: Option<String>,
    },
    /// SES accepted the email, found a virus in it, and did not try to deliver it.
    Reject {
        /// `Bad content`, the only reason SES documents.
        reason: Option<String>,
    },
    /// SES could not deliver yet and keeps trying until `expiration_time`.
    DeliveryDelay {
        /// `InternalFailure`, `General`, `MailboxFull`, `SpamDetected`, `RecipientServerError`,
        /// `IPFailure`, `TransientCommunicationFailure`, `BYOIPHostNameLookupUnavailable`,
        /// `Undetermined` or `SendingDeferral`.
        delay_type: Option<String>,
        /// The delayed recipients.
        recipients: Vec<RecipientReport>,
        /// When SES stops trying.
        #[serde(with = "time::rfc3339_option")]
        expiration_time: Option<Timestamp>,
        /// When the delay was reported.
        #[serde(with = "time::rfc3339_option")]
        timestamp: Option<Timestamp>,
    },
    /// An SES template could not be rendered; nothing was sent.
    RenderingFailure {
        /// The template.
        template_name: Option<String>,
        /// What SES said.
        error_message: Option<String>,
    },
    /// A recipient opened the email (SES does not say which recipient).
    Open {
        /// When.
        #[serde(with = "time::rfc3339_option")]
        timestamp: Option<Timestamp>,
    },
    /// A recipient followed a link of the email.
    Click {
        /// The link's URL.
        link: Option<String>,
        /// The tags of the link (`ses:tags`), each a list as SES gives them.
        link_tags: BTreeMap<String, Vec<String>>,
        /// When.
        #[serde(with = "time::rfc3339_option")]
        timestamp: Option<Timestamp>,
    },
    /// A recipient changed their subscription through the email (SES contact lists).
    Subscription {
        /// The contact list.
        contact_list: Option<String>,
        /// How: `UnsubscribeHeader`, `UnsubscribeLink`, ...
        source: Option<String>,
        /// Whether the recipient now opts out of every topic of the list.
        unsubscribe_all: Option<bool>,
        /// The topics the recipient is now opted out of.
        opted_out_topics: Vec<String>,
        /// When.
        #[serde(with = "time::rfc3339_option")]
        timestamp: Option<Timestamp>,
    },
    /// An event type this version does not know, by the name SES gave it.
    Unknown(String),
}

/// Whether SES will keep failing to deliver to an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BounceType {
    /// A soft bounce SES stopped retrying (mailbox full, message too large, ...): a later
    /// email may get through.
    Transient,
    /// SES could not tell. A missing or unknown `bounceType` is read as this too.
    Undetermined,
    /// A hard bounce: the address does not exist or is suppressed; it never will work.
    Permanent,
}

/// One recipient of a bounce or delivery delay, with the delivery status notification's
/// fields when the receiving server sent one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RecipientReport {
    /// `emailAddress`: the DSN's `Final-Recipient` when there is one.
    pub address: String,
    /// The DSN's `Action`, e.g. `failed`.
    pub action: Option<String>,
    /// The DSN's `Status`, e.g. `5.1.1`.
    pub status: Option<String>,
    /// The DSN's `Diagnostic-Code`, e.g. `smtp; 550 5.1.1 user unknown`.
    pub diagnostic_code: Option<String>,
}

/// Whether `text` is an SES notification, raw or in an SNS notification: a JSON object with a
/// `mail` object and an `eventType` or `notificationType`. The one rule that tells feedback from
/// business events where both arrive the same way (a direct SNS invocation); whether it then
/// reads is [`Feedback::parse`]'s to say.
#[must_use]
pub fn is_ses_notification(text: &str) -> bool {
    use serde_json::Value;
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    let inner = match value.get("Message").and_then(Value::as_str) {
        Some(message) if value.get("Type").and_then(Value::as_str) == Some("Notification") => {
            serde_json::from_str(message).unwrap_or(Value::Null)
        }
        _ => value,
    };
    let is_text = |name: &str| inner.get(name).is_some_and(Value::is_string);
    inner.get("mail").is_some_and(Value::is_object)
        && (is_text("eventType") || is_text("notificationType"))
}

impl Feedback {
    /// Reads a notification from the text a host received: the notification itself, an SNS
    /// notification carrying it (an SQS record's body), or the Lambda event of a function SNS
    /// invokes directly (one record).
    ///
    /// An error is the notification's fault and will not go away: acknowledge it and log it
    /// ([`FeedbackError`]).
    pub fn parse(text: &str) -> Result<Self, FeedbackError> {
        wire::parse(text)
    }

    /// When the event happened: its own timestamp, else when the email was sent (a send, a
    /// reject, a rendering failure, or an event without one).
    #[must_use]
    pub fn occurred_at(&self) -> Timestamp {
        self.event.timestamp().unwrap_or(self.sent_at)
    }

    /// The addresses this event concerns, as SES wrote them: the recipients it names, or for
    /// events about the whole email (send, reject, rendering failure, open, click,
    /// subscription, unknown types) every destination.
    #[must_use]
    pub fn recipients(&self) -> Vec<&str> {
        match self.event.named_recipients() {
            Some(named) => named,
            None => self.destination.iter().map(String::as_str).collect(),
        }
    }

    /// The status this event gives each address it concerns ([`Feedback::recipients`]), keyed
    /// by [`normalize_address`] (or, for an address the core could never send to, the text
    /// trimmed and in lower case), each address once.
    #[must_use]
    pub fn recipient_statuses(&self) -> Vec<(String, DeliveryStatus)> {
        let Some(status) = self.event.status() else {
            return Vec::new();
        };
        let mut seen = Vec::new();
        for address in self.recipients() {
            let key =
                normalize_address(address).unwrap_or_else(|| address.trim().to_ascii_lowercase());
            if !seen.iter().any(|(known, _)| *known == key) {
                seen.push((key, status));
            }
        }
        seen
    }
}

impl FeedbackEvent {
    /// The status this event implies for its email, by the table of [`DeliveryStatus`]
    /// (`None` for an event type this version does not know). A `not-spam` complaint implies
    /// `Delivered`, not `Complained`: the reporter says the email is wanted.
    #[must_use]
    pub fn implied_status(&self) -> Option<DeliveryStatus> {
        status::implied(self)
    }

    /// The event's own timestamp, if it has one.
    #[must_use]
    pub fn timestamp(&self) -> Option<Timestamp> {
        match self {
            Self::Delivery { timestamp, .. }
            | Self::Bounce { timestamp, .. }
            | Self::Complaint { timestamp, .. }
            | Self::DeliveryDelay { timestamp, .. }
            | Self::Open { timestamp }
            | Self::Click { timestamp, .. }
            | Self::Subscription { timestamp, .. } => *timestamp,
            Self::Send | Self::Reject { .. } | Self::RenderingFailure { .. } | Self::Unknown(_) => {
                None
            }
        }
    }

    /// The status the event implies for each address it concerns; `None` for an unknown type,
    /// which says nothing a ledger can rely on. See [`DeliveryStatus`] for the order.
    #[must_use]
    pub fn status(&self) -> Option<DeliveryStatus> {
        status::implied(self)
    }

    /// The recipients named by events about particular recipients.
    fn named_recipients(&self) -> Option<Vec<&str>> {
        match self {
            Self::Delivery { recipients, .. } | Self::Complaint { recipients, .. } => {
                Some(recipients.iter().map(String::as_str).collect())
            }
            Self::Bounce { recipients, .. } | Self::DeliveryDelay { recipients, .. } => {
                Some(recipients.iter().map(|r| r.address.as_str()).collect())
            }
            _ => None,
        }
    }

    /// The name SES gives this type of event (`eventType`).
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::Send => "Send",
            Self::Delivery { .. } => "Delivery",
            Self::Bounce { .. } => "Bounce",
            Self::Complaint { .. } => "Complaint",
            Self::Reject { .. } => "Reject",
            Self::DeliveryDelay { .. } => "DeliveryDelay",
            Self::RenderingFailure { .. } => "Rendering Failure",
            Self::Open { .. } => "Open",
            Self::Click { .. } => "Click",
            Self::Subscription { .. } => "Subscription",
            Self::Unknown(name) => name,
        }
    }
}
