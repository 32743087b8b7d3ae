//! An SMS ready to send: the number, the text and its shape, and what SNS needs beside them.
//!
//! Only the core builds one ([`crate::Mailroom`] composes it from a route's `sms` block), so an
//! [`Sms`] that exists has a valid E.164 number, a text within its route's segment limit, and a
//! valid sender id: a host only hands it to its provider.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Encoding, PhoneNumber, SmsShape};

/// How SNS routes a text: `Transactional` (one-time codes, order updates; the default) is
/// delivered with priority, `Promotional` at the lowest cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SmsType {
    /// Critical messages: delivered with priority (`AWS.SNS.SMS.SMSType = Transactional`).
    #[default]
    Transactional,
    /// Marketing messages: lowest cost (`AWS.SNS.SMS.SMSType = Promotional`).
    Promotional,
}

impl SmsType {
    /// The value of the `AWS.SNS.SMS.SMSType` message attribute.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Transactional => "Transactional",
            Self::Promotional => "Promotional",
        }
    }

    /// Parses `Transactional` or `Promotional` (any case), as configuration writes it.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "transactional" => Some(Self::Transactional),
            "promotional" => Some(Self::Promotional),
            _ => None,
        }
    }
}

impl fmt::Display for SmsType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name a text shows as its sender (`AWS.SNS.SMS.SenderID`): 3 to 11 letters and digits,
/// at least one a letter, as carriers accept it. Countries that do not support sender ids
/// (the US, for one) ignore it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct SenderId(String);

impl SenderId {
    /// A sender id, or why it is not one.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let valid = (3..=11).contains(&text.len())
            && text.chars().all(|c| c.is_ascii_alphanumeric())
            && text.chars().any(|c| c.is_ascii_alphabetic());
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err("a sender id is 3 to 11 letters and digits, at least one a letter".to_owned())
        }
    }

    /// The id as SNS takes it.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A rendered text message, ready to publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sms {
    pub(crate) to: PhoneNumber,
    pub(crate) text: String,
    #[serde(serialize_with = "encoding_name")]
    pub(crate) encoding: Encoding,
    pub(crate) segments: u32,
    pub(crate) characters: usize,
    pub(crate) sms_type: SmsType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sender_id: Option<SenderId>,
    pub(crate) idempotency_key: String,
}

impl Sms {
    pub(crate) fn new(
        to: PhoneNumber,
        text: String,
        shape: SmsShape,
        sms_type: SmsType,
        sender_id: Option<SenderId>,
        idempotency_key: String,
    ) -> Self {
        Self {
            to,
            text,
            encoding: shape.encoding,
            segments: shape.segments,
            characters: shape.characters,
            sms_type,
            sender_id,
            idempotency_key,
        }
    }

    /// The recipient, in E.164.
    #[must_use]
    pub fn to(&self) -> &PhoneNumber {
        &self.to
    }

    /// The text, as it is sent.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// GSM-7 or UCS-2.
    #[must_use]
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Segments the text is sent (and billed) as.
    #[must_use]
    pub fn segments(&self) -> u32 {
        self.segments
    }

    /// Unicode scalar values in the text.
    #[must_use]
    pub fn characters(&self) -> usize {
        self.characters
    }

    /// Transactional or promotional.
    #[must_use]
    pub fn sms_type(&self) -> SmsType {
        self.sms_type
    }

    /// The sender id, when configured.
    #[must_use]
    pub fn sender_id(&self) -> Option<&SenderId> {
        self.sender_id.as_ref()
    }

    /// The key that makes this text go once: its email's key with the channel's suffix
    /// ([`crate::idempotency::channel_key`]).
    #[must_use]
    pub fn idempotency_key(&self) -> &str {
        &self.idempotency_key
    }
}

fn encoding_name<S: serde::Serializer>(
    encoding: &Encoding,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(encoding)
}
