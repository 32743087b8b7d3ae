//! A rendered [`Email`] as an RFC 5322 message: what the outbox writes and a mail client opens.
//!
//! The MIME work is lettre's: `multipart/alternative` with the text part first and the HTML
//! part last (the one clients prefer), RFC 2047 encoded words for non-ASCII subjects and display
//! names, quoted-printable or base64 bodies as the content needs.
//!
//! Files are deterministic: `Date` is the host's clock (`--now`), `Message-ID` and the MIME
//! boundary derive from the idempotency key, so a redelivery writes the same bytes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox as MimeMailbox, MultiPart, SinglePart};
use lettre::{Address, Message};
use mailroom_core::{Email, Mailbox, Timestamp};

/// Why an email could not be written as MIME. The core validated every address, so this only
/// happens if lettre's address rules are stricter than the core's.
#[derive(Debug, thiserror::Error)]
pub enum EmlError {
    /// lettre refused an address.
    #[error("address {address:?} is not accepted by the MIME writer: {reason}")]
    Address {
        /// The address.
        address: String,
        /// lettre's reason.
        reason: String,
    },
    /// lettre refused the message as a whole.
    #[error("the message could not be built: {0}")]
    Build(String),
}

/// The SES header that carries message tags for raw sends, so an `.eml` keeps its tags.
const SES_TAGS_HEADER: &str = "X-SES-MESSAGE-TAGS";

/// The message as bytes (CRLF line endings).
pub fn to_eml(email: &Email, now: Timestamp) -> Result<Vec<u8>, EmlError> {
    let sender_domain = email
        .from
        .address()
        .rsplit('@')
        .next()
        .unwrap_or("mailroom.invalid");
    let mut builder = Message::builder()
        .from(mime_mailbox(&email.from)?)
        .subject(email.subject.as_str())
        .date(system_time(now))
        .message_id(Some(format!("<{}@{sender_domain}>", email.idempotency_key)));
    for to in &email.to {
        builder = builder.to(mime_mailbox(to)?);
    }
    if let Some(reply_to) = &email.reply_to {
        builder = builder.reply_to(mime_mailbox(reply_to)?);
    }
    if !email.tags.is_empty() {
        // Tag names and values are limited to [A-Za-z0-9_.@-] by the core: header-safe.
        let tags = email
            .tags
            .iter()
            .map(|tag| format!("{}={}", tag.name, tag.value))
            .collect::<Vec<_>>()
            .join(", ");
        builder = builder.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str(SES_TAGS_HEADER),
            tags,
        ));
    }
    let body = MultiPart::alternative()
        .boundary(format!("=_mailroom_{}", email.idempotency_key))
        .singlepart(SinglePart::plain(email.text.clone()))
        .singlepart(SinglePart::html(email.html.clone()));
    builder
        .multipart(body)
        .map(|message| message.formatted())
        .map_err(|error| EmlError::Build(error.to_string()))
}

fn mime_mailbox(mailbox: &Mailbox) -> Result<MimeMailbox, EmlError> {
    let address: Address =
        mailbox
            .address()
            .parse()
            .map_err(|error: lettre::address::AddressError| EmlError::Address {
                address: mailbox.address().to_owned(),
                reason: error.to_string(),
            })?;
    Ok(MimeMailbox::new(mailbox.name().map(str::to_owned), address))
}

fn system_time(now: Timestamp) -> SystemTime {
    let millis = now.as_millis();
    if millis >= 0 {
        UNIX_EPOCH + Duration::from_millis(millis.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_millis(millis.unsigned_abs())
    }
}
