//! Why a text is not SES feedback.

use std::fmt;

use thiserror::Error;

/// A text that is not SES feedback mailroom can record.
///
/// **Every variant is the message's fault**: reading feedback does no IO and needs no
/// configuration, so nothing on our side can fail, and the same text fails the same way every
/// time. Hosts must acknowledge such a message (delete it from the queue, return success to
/// SNS) and log it; retrying only delays the feedback behind it, and a queue's redrive would
/// park it in the dead-letter queue for nothing. [`FeedbackError::is_notice`] tells the
/// expected notices of setting up a subscription from malformed feedback, so that only the
/// latter is logged as a warning.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FeedbackError {
    /// Not JSON at all.
    #[error("the {layer} is not JSON: {detail}")]
    NotJson {
        /// Which text.
        layer: Layer,
        /// What serde_json reported.
        detail: String,
    },
    /// JSON, but not an object.
    #[error("the {layer} is a JSON {found}, not an object")]
    NotAnObject {
        /// Which text.
        layer: Layer,
        /// What it is: `array`, `string`, ...
        found: &'static str,
    },
    /// An object, but neither an SES notification nor an envelope carrying one.
    #[error(
        "not an SES notification: it has neither `eventType` nor `notificationType` \
         (nor is it an SNS notification or SNS Lambda event carrying one)"
    )]
    NotANotification,
    /// An SNS message that is not a notification (`SubscriptionConfirmation`,
    /// `UnsubscribeConfirmation`): SNS sends one when a subscription is set up or removed.
    #[error("an SNS {kind} message, not a notification")]
    SnsControl {
        /// The SNS `Type`.
        kind: String,
    },
    /// SES's notice that an SNS topic now receives an identity's notifications
    /// (`AmazonSnsSubscriptionSucceeded`): it concerns no email.
    #[error("SES confirms a notification subscription ({notification_type}); it concerns no email")]
    SubscriptionNotice {
        /// The `notificationType`.
        notification_type: String,
    },
    /// A Lambda SNS event with other than one record (SNS invokes a function with one).
    #[error("the SNS Lambda event has {count} records; SNS invokes a function with exactly one")]
    RecordCount {
        /// How many records it had.
        count: usize,
    },
    /// A field feedback cannot be recorded without is absent (or `null`).
    #[error("`{field}` is missing")]
    MissingField {
        /// The field, as a path from the notification (`mail`, `bounce`) or the envelope
        /// (`Message`, `Records[0].Sns`).
        field: &'static str,
    },
    /// A field that is read holds something unusable: the wrong type, an empty id, a
    /// timestamp that is not RFC 3339.
    #[error("`{field}` is invalid: {reason}")]
    InvalidField {
        /// The field or the object it is in (`mail`, `bounce`, `mail.messageId`).
        field: &'static str,
        /// What is wrong, naming the inner field where there is one.
        reason: String,
    },
}

impl FeedbackError {
    /// Whether this is an expected notice of a subscription being set up or removed rather
    /// than malformed feedback. Both are acknowledged; only malformed feedback deserves a
    /// warning.
    #[must_use]
    pub fn is_notice(&self) -> bool {
        matches!(
            self,
            Self::SnsControl { .. } | Self::SubscriptionNotice { .. }
        )
    }
}

/// Which text a [`FeedbackError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// The text handed to [`super::Feedback::parse`].
    Body,
    /// The `Message` of an SNS notification.
    SnsMessage,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Body => "body",
            Self::SnsMessage => "SNS Message",
        })
    }
}
