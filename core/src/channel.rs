//! Channels: one record can be told by email and by SMS, and every channel's message is a send
//! of its own, with its own idempotency key and its own outcome.
//!
//! A route always sends its email; its `sms` block, when present, adds a text to the same
//! record ([`crate::config`]). The batch hands out each channel's message as a separate
//! [`crate::SendRequest`] and acknowledges the record only once every channel is sent (or was
//! sent by an earlier delivery): a record whose email went and whose text was throttled is
//! retried, and on redelivery the host's idempotency store answers `AlreadySent` for the email,
//! so only the text goes.

use std::sync::Arc;

use serde::Serialize;

use crate::email::Email;
use crate::sms::Sms;

/// How a message reaches its recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// Through SES (or the outbox's `.eml` files).
    Email,
    /// Through SNS `Publish` to a phone number (or the outbox's `.sms.json` files).
    Sms,
}

impl Channel {
    /// `email` or `sms`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
        }
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How answers given in advance name one send (the CLI's `--outcomes`, the test vectors'
/// `outcomes`): the record's message id for its email, `<messageId>/sms` for its text. So
/// existing answer files, written when every send was an email, keep their meaning.
#[must_use]
pub fn answer_key(message_id: &str, channel: Channel) -> String {
    match channel {
        Channel::Email => message_id.to_owned(),
        other => format!("{message_id}/{other}"),
    }
}

/// The message id an [`answer_key`] names, and the channel.
#[must_use]
pub fn parse_answer_key(key: &str) -> (&str, Channel) {
    match key.strip_suffix("/sms") {
        Some(message_id) => (message_id, Channel::Sms),
        None => (key, Channel::Email),
    }
}

/// One channel's message, as the batch hands it to the host.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// An email, for SES.
    Email(Arc<Email>),
    /// A text message, for SNS.
    Sms(Arc<Sms>),
}

impl Message {
    /// The channel it goes by.
    #[must_use]
    pub fn channel(&self) -> Channel {
        match self {
            Self::Email(_) => Channel::Email,
            Self::Sms(_) => Channel::Sms,
        }
    }

    /// The key an idempotency store claims before sending it: the email's key for the email,
    /// the key with the channel's suffix for the text, so the two go once each.
    #[must_use]
    pub fn idempotency_key(&self) -> &str {
        match self {
            Self::Email(email) => email.idempotency_key(),
            Self::Sms(sms) => sms.idempotency_key(),
        }
    }

    /// The email, when it is one.
    #[must_use]
    pub fn as_email(&self) -> Option<&Arc<Email>> {
        match self {
            Self::Email(email) => Some(email),
            Self::Sms(_) => None,
        }
    }

    /// The text, when it is one.
    #[must_use]
    pub fn as_sms(&self) -> Option<&Arc<Sms>> {
        match self {
            Self::Sms(sms) => Some(sms),
            Self::Email(_) => None,
        }
    }
}

/// A text that was sent, as a record's report shows it beside its email.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SmsDelivery {
    /// The text.
    #[serde(flatten)]
    pub sms: Arc<Sms>,
    /// The id SNS returned, when it returned one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    /// An earlier delivery already sent it; nothing was sent this time.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}
