//! Unwrapping the event from whatever delivered it: raw, SNS, EventBridge, or SNS carrying
//! EventBridge, with Shopify webhooks through EventBridge as a special case of the latter.
//!
//! The template sees the event's own fields, so the envelope is peeled off here, and what the
//! envelope knows (the event type, the ids that survive producer retries) is kept beside it.

use serde::Serialize;

use crate::error::MessageFault;
use crate::json::{JsonDocument, JsonKind, JsonRef};
use crate::record::SqsRecord;

/// How the event reached the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EnvelopeKind {
    /// The body is the event itself (SNS raw delivery, or a direct `SendMessage`).
    Raw,
    /// An SNS notification with the event in `Message`.
    Sns,
    /// An EventBridge event with the event in `detail`.
    #[serde(rename = "eventbridge")]
    EventBridge,
    /// An SNS notification whose `Message` is an EventBridge event.
    #[serde(rename = "sns+eventbridge")]
    SnsEventBridge,
}

impl EnvelopeKind {
    /// The name shown to templates as `mailroom.envelope`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Sns => "sns",
            Self::EventBridge => "eventbridge",
            Self::SnsEventBridge => "sns+eventbridge",
        }
    }
}

/// The ids an envelope carries that identify the event across redeliveries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvelopeIds {
    /// `X-Shopify-Event-Id` of a Shopify webhook (Shopify's documented de-duplication key).
    pub shopify_event_id: Option<String>,
    /// The EventBridge event `id`.
    pub eventbridge_id: Option<String>,
    /// The SNS `MessageId` (stable across SNS delivery retries).
    pub sns_message_id: Option<String>,
}

/// The event with its envelope removed.
#[derive(Debug, Clone)]
pub struct Unwrapped {
    /// What the template sees: always an object.
    pub event: JsonRef,
    /// How it was delivered.
    pub kind: EnvelopeKind,
    /// The event type, if any source named one.
    pub event_type: Option<String>,
    /// Envelope ids for the idempotency key.
    pub ids: EnvelopeIds,
}

/// Parses the record's body and unwraps its envelope.
pub fn unwrap(record: &SqsRecord) -> Result<Unwrapped, MessageFault> {
    let body = JsonDocument::parse(&record.body)
        .map_err(|error| MessageFault::MalformedBody(format!("the body is not JSON: {error}")))?;
    let mut ids = EnvelopeIds::default();
    let mut kind = EnvelopeKind::Raw;
    let mut sns_event_type = None;

    let mut current = body;
    if let Some(message) = sns_message(&current) {
        kind = EnvelopeKind::Sns;
        ids.sns_message_id = text_at(&current, "MessageId");
        sns_event_type = current
            .get("MessageAttributes")
            .and_then(|attributes| attributes.get("eventType"))
            .and_then(|attribute| text_at(&attribute, "Value"));
        current = JsonDocument::parse(message).map_err(|error| {
            MessageFault::MalformedBody(format!("the SNS Message is not JSON: {error}"))
        })?;
    }

    let mut eventbridge_type = None;
    let mut shopify_topic = None;
    if let Some(detail) = eventbridge_detail(&current) {
        kind = match kind {
            EnvelopeKind::Sns => EnvelopeKind::SnsEventBridge,
            _ => EnvelopeKind::EventBridge,
        };
        ids.eventbridge_id = text_at(&current, "id");
        eventbridge_type = text_at(&current, "detail-type");
        current = if eventbridge_type.as_deref() == Some("shopifyWebhook") {
            let metadata = detail.get("metadata");
            let header = |name| {
                metadata
                    .as_ref()
                    .and_then(|headers| headers.get_ignore_ascii_case(name))
                    .and_then(|value| json_text(&value))
            };
            shopify_topic = header("X-Shopify-Topic");
            ids.shopify_event_id = header("X-Shopify-Event-Id");
            match detail.get("payload") {
                Some(payload) if payload.kind() == JsonKind::Object => payload,
                _ => detail,
            }
        } else {
            detail
        };
    }

    if current.kind() != JsonKind::Object {
        return Err(MessageFault::MalformedBody(format!(
            "the event is a JSON {}, not an object",
            current.kind().name()
        )));
    }

    let event_type = record
        .string_attribute("eventType")
        .map(str::to_owned)
        .or(sns_event_type)
        .or(shopify_topic)
        .or(eventbridge_type)
        .or_else(|| text_at(&current, "eventType"))
        .or_else(|| text_at(&current, "type"))
        .filter(|event_type| !event_type.trim().is_empty());

    Ok(Unwrapped {
        event: current,
        kind,
        event_type,
        ids,
    })
}

/// The `Message` of an SNS notification (`"Type": "Notification"` with a string message).
fn sns_message(value: &JsonRef) -> Option<&str> {
    if value.get_str("Type")? != "Notification" {
        return None;
    }
    value.get_str("Message")
}

/// The `detail` of an EventBridge event (a string `detail-type` and an object `detail`).
fn eventbridge_detail(value: &JsonRef) -> Option<JsonRef> {
    value.get("detail-type")?.as_str()?;
    value
        .get("detail")
        .filter(|detail| detail.kind() == JsonKind::Object)
}

/// A non-empty string (or number, as text) at `key` of an object.
pub(crate) fn text_at(value: &JsonRef, key: &str) -> Option<String> {
    json_text(&value.get(key)?)
}

/// The text of a string or number; `None` for anything else or an empty string.
fn json_text(value: &JsonRef) -> Option<String> {
    match value.kind() {
        JsonKind::String => value.as_str().filter(|s| !s.is_empty()).map(str::to_owned),
        JsonKind::Number => Some(value.to_value().to_string()),
        _ => None,
    }
}
