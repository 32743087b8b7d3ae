//! Idempotency keys: the same event for the same route always gives the same key.
//!
//! SES has no idempotency token, and the same event reaches the queue more than once: SQS
//! redelivers, and SNS, EventBridge and Shopify retry, which gives a new SQS message id. So the
//! key never uses the SQS message id.
//!
//! **The key identifies an event, not an entity**: redeliveries of one event always share it,
//! and two different events never do, even when they concern the same thing (a Shopify order's
//! `orders/create` and `orders/paid` carry the same order `id`). It is derived from the first
//! identity the event has, in this order:
//!
//! 1. `X-Shopify-Event-Id` of a Shopify webhook: Shopify's documented de-duplication key, one per
//!    webhook event;
//! 2. the event's own `eventId`, with the event type;
//! 3. the EventBridge event `id`: one per event, kept by EventBridge's retries;
//! 4. the SNS `MessageId`: one per publish, kept by SNS's retries;
//! 5. the event's own `id`, with the event type: `id` is often the entity's (the order's), so
//!    only with the type does it name one event;
//! 6. otherwise a SHA-256 of the event's canonical JSON (keys sorted) and its type.
//!
//! Identities the producer writes into the event (2 and 5) carry the event type, because nothing
//! but the producer's care keeps them unique across types; the ones the infrastructure assigns (1,
//! 3, 4) are unique per event already and keep their keys. (Keys from `eventId` and `id` changed
//! when the type joined them; a redelivery across that upgrade can be sent once more.)
//!
//! The key is `hex(SHA-256("mailroom/v1", route, source, identity))`, truncated to 32 hex
//! digits (128 bits), so different routes for one event get different keys.
//!
//! That key is the **email's**, unchanged since before there were other channels, so the keys
//! existing deployments have stored still stop the same redeliveries. Every other channel's
//! message gets the key with its channel as a suffix ([`channel_key`]: `<key>:sms`): each
//! channel is claimed, sent and completed on its own.

use sha2::{Digest, Sha256};

use crate::envelope::{Unwrapped, text_at};
use crate::json::JsonRef;

/// Which identity a key was derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeySource {
    /// `X-Shopify-Event-Id`.
    ShopifyEventId,
    /// The event's `eventId`.
    EventId,
    /// The EventBridge `id`.
    EventbridgeId,
    /// The SNS `MessageId`.
    SnsMessageId,
    /// The event's `id`.
    Id,
    /// The event's content.
    ContentHash,
}

impl KeySource {
    fn label(self) -> &'static str {
        match self {
            Self::ShopifyEventId => "shopify-event-id",
            Self::EventId => "event-id",
            Self::EventbridgeId => "eventbridge-id",
            Self::SnsMessageId => "sns-message-id",
            Self::Id => "id",
            Self::ContentHash => "content-hash",
        }
    }
}

/// The key of one record's email ([`crate::Mailroom::idempotency_key`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailKey {
    /// The route that sends the email.
    pub route: String,
    /// The event's type, when it has one.
    pub event_type: Option<String>,
    /// The idempotency key.
    pub key: String,
    /// Which identity of the event it was derived from.
    pub source: KeySource,
}

/// The idempotency key of `unwrapped` for `route`, and where it came from.
#[must_use]
pub fn key_for(route: &str, unwrapped: &Unwrapped) -> (String, KeySource) {
    let ids = &unwrapped.ids;
    let with_type =
        |id: String| format!("{}\u{0}{id}", unwrapped.event_type.as_deref().unwrap_or(""));
    let found = ids
        .shopify_event_id
        .clone()
        .map(|id| (id, KeySource::ShopifyEventId))
        .or_else(|| {
            text_at(&unwrapped.event, "eventId").map(|id| (with_type(id), KeySource::EventId))
        })
        .or_else(|| {
            ids.eventbridge_id
                .clone()
                .map(|id| (id, KeySource::EventbridgeId))
        })
        .or_else(|| {
            ids.sns_message_id
                .clone()
                .map(|id| (id, KeySource::SnsMessageId))
        })
        .or_else(|| text_at(&unwrapped.event, "id").map(|id| (with_type(id), KeySource::Id)));
    let (identity, source) = match found {
        Some(found) => found,
        None => (
            content_identity(&unwrapped.event, unwrapped.event_type.as_deref()),
            KeySource::ContentHash,
        ),
    };
    let mut hasher = Sha256::new();
    for part in ["mailroom/v1", route, source.label(), &identity] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    (hex_prefix(&hasher.finalize(), 16), source)
}

/// The idempotency key of `channel`'s message for the event whose email key is `email_key`:
/// the email's own key for the email, `<email_key>:<channel>` for any other.
#[must_use]
pub fn channel_key(email_key: &str, channel: crate::channel::Channel) -> String {
    match channel {
        crate::channel::Channel::Email => email_key.to_owned(),
        other => format!("{email_key}:{other}"),
    }
}

/// The event's canonical JSON: objects enumerate their keys in sorted order, so serialising
/// the event gives the same bytes for the same content whatever order the producer wrote the
/// keys in.
fn content_identity(event: &JsonRef, event_type: Option<&str>) -> String {
    let json = serde_json::to_string(&event.to_value()).unwrap_or_default();
    let mut hasher = Sha256::new();
    hasher.update(event_type.unwrap_or("").as_bytes());
    hasher.update([0]);
    hasher.update(json.as_bytes());
    hex_prefix(&hasher.finalize(), 32)
}

fn hex_prefix(bytes: &[u8], count: usize) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(count * 2);
    for byte in bytes.iter().take(count) {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}
