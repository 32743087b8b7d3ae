//! Unwrapping the event from whatever delivered it: raw, SNS, EventBridge, or SNS carrying
//! EventBridge, with Shopify webhooks through EventBridge as a special case of the latter.
//!
//! The template sees the event's own fields, so the envelope is peeled off here, and what the
//! envelope knows (the event type, the ids that survive producer retries) is kept beside it.

use minijinja::Value;
use minijinja::value::ValueKind;
use serde::Serialize;

use crate::error::MessageFault;
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
    /// What the template sees: always a map.
    pub event: Value,
    /// How it was delivered.
    pub kind: EnvelopeKind,
    /// The event type, if any source named one.
    pub event_type: Option<String>,
    /// Envelope ids for the idempotency key.
    pub ids: EnvelopeIds,
}

/// Parses the record's body and unwraps its envelope.
pub fn unwrap(record: &SqsRecord) -> Result<Unwrapped, MessageFault> {
    let body: Value = serde_json::from_str(&record.body)
        .map_err(|error| MessageFault::MalformedBody(format!("the body is not JSON: {error}")))?;
    let mut ids = EnvelopeIds::default();
    let mut kind = EnvelopeKind::Raw;
    let mut sns_event_type = None;

    let mut current = body;
    if is_sns_notification(&current) {
        kind = EnvelopeKind::Sns;
        ids.sns_message_id = string_at(&current, "MessageId");
        sns_event_type = current
            .get_attr("MessageAttributes")
            .ok()
            .and_then(|attributes| attributes.get_attr("eventType").ok())
            .and_then(|attribute| string_at(&attribute, "Value"));
        let message = string_at(&current, "Message").unwrap_or_default();
        current = serde_json::from_str(&message).map_err(|error| {
            MessageFault::MalformedBody(format!("the SNS Message is not JSON: {error}"))
        })?;
    }

    let mut eventbridge_type = None;
    let mut shopify_topic = None;
    if is_eventbridge_event(&current) {
        kind = match kind {
            EnvelopeKind::Sns => EnvelopeKind::SnsEventBridge,
            _ => EnvelopeKind::EventBridge,
        };
        ids.eventbridge_id = string_at(&current, "id");
        eventbridge_type = string_at(&current, "detail-type");
        let detail = current.get_attr("detail").unwrap_or_default();
        current = if eventbridge_type.as_deref() == Some("shopifyWebhook") {
            let metadata = detail.get_attr("metadata").unwrap_or_default();
            shopify_topic = header_at(&metadata, "X-Shopify-Topic");
            ids.shopify_event_id = header_at(&metadata, "X-Shopify-Event-Id");
            let payload = detail.get_attr("payload").unwrap_or_default();
            if payload.kind() == ValueKind::Map {
                payload
            } else {
                detail
            }
        } else {
            detail
        };
    }

    if current.kind() != ValueKind::Map {
        return Err(MessageFault::MalformedBody(format!(
            "the event is a JSON {}, not an object",
            json_kind_name(&current)
        )));
    }

    let event_type = record
        .string_attribute("eventType")
        .map(str::to_owned)
        .or(sns_event_type)
        .or(shopify_topic)
        .or(eventbridge_type)
        .or_else(|| string_at(&current, "eventType"))
        .or_else(|| string_at(&current, "type"))
        .filter(|event_type| !event_type.trim().is_empty());

    Ok(Unwrapped {
        event: current,
        kind,
        event_type,
        ids,
    })
}

fn is_sns_notification(value: &Value) -> bool {
    string_at(value, "Type").as_deref() == Some("Notification")
        && value
            .get_attr("Message")
            .is_ok_and(|message| message.kind() == ValueKind::String)
}

fn is_eventbridge_event(value: &Value) -> bool {
    value
        .get_attr("detail-type")
        .is_ok_and(|detail_type| detail_type.kind() == ValueKind::String)
        && value
            .get_attr("detail")
            .is_ok_and(|detail| detail.kind() == ValueKind::Map)
}

/// A non-empty string (or number, as text) at `key` of a map.
pub(crate) fn string_at(value: &Value, key: &str) -> Option<String> {
    let found = value.get_attr(key).ok()?;
    scalar_text(&found)
}

/// The text of a string or number value; `None` for anything else or an empty string.
pub(crate) fn scalar_text(value: &Value) -> Option<String> {
    match value.kind() {
        ValueKind::String => value.as_str().filter(|s| !s.is_empty()).map(str::to_owned),
        ValueKind::Number => Some(value.to_string()),
        _ => None,
    }
}

/// HTTP header names are case-insensitive; EventBridge keeps whatever case Shopify sent.
fn header_at(headers: &Value, name: &str) -> Option<String> {
    if let Some(found) = string_at(headers, name) {
        return Some(found);
    }
    let keys = headers.try_iter().ok()?;
    for key in keys {
        if key
            .as_str()
            .is_some_and(|key| key.eq_ignore_ascii_case(name))
        {
            return headers.get_item(&key).ok().and_then(|v| scalar_text(&v));
        }
    }
    None
}

fn json_kind_name(value: &Value) -> &'static str {
    match value.kind() {
        ValueKind::Seq => "array",
        ValueKind::String => "string",
        ValueKind::Number => "number",
        ValueKind::Bool => "boolean",
        ValueKind::None | ValueKind::Undefined => "null",
        _ => "value",
    }
}
