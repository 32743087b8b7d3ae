//! SES's wire format: the envelopes a notification comes in, and the notification's JSON.
//!
//! The text is parsed once into a `serde_json::Value`; each part a notification's type needs
//! is then read on its own, so a part the type does not use can hold anything, and an error
//! names the part it is in.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::{FeedbackError, Layer};
use super::{
    BounceType, CONFIGURATION_SET_TAG, EVENT_TYPE_TAG, Feedback, FeedbackEnvelope, FeedbackEvent,
    FeedbackOrigin, IDEMPOTENCY_KEY_TAG, MailroomTags, ROUTE_TAG, RecipientReport,
};
use crate::record::Timestamp;

/// Longest detail kept from a serde error: they can quote the input.
const MAX_DETAIL_CHARS: usize = 200;

/// The `notificationType` of SES's notice that a topic was subscribed to an identity.
const SUBSCRIPTION_SUCCEEDED: &str = "AmazonSnsSubscriptionSucceeded";

pub(super) fn parse(text: &str) -> Result<Feedback, FeedbackError> {
    let body = json(text, Layer::Body)?;
    let Value::Object(body) = body else {
        return Err(not_an_object(&body, Layer::Body));
    };
    if is_notification(&body) {
        return notification(&body, FeedbackEnvelope::Raw, None);
    }
    if let Some(records) = body.get("Records") {
        let sns = lambda_sns(records)?;
        return sns_notification(sns, FeedbackEnvelope::LambdaSns);
    }
    if body.get("Type").is_some_and(Value::is_string) {
        return sns_notification(&body, FeedbackEnvelope::Sns);
    }
    Err(FeedbackError::NotANotification)
}

fn is_notification(object: &Map<String, Value>) -> bool {
    object.contains_key("eventType") || object.contains_key("notificationType")
}

/// The `Sns` object of a Lambda SNS event's only record.
fn lambda_sns(records: &Value) -> Result<&Map<String, Value>, FeedbackError> {
    let Value::Array(records) = records else {
        return Err(invalid("Records", "not an array"));
    };
    let [record] = records.as_slice() else {
        return Err(FeedbackError::RecordCount {
            count: records.len(),
        });
    };
    match record.get("Sns") {
        Some(Value::Object(sns)) => Ok(sns),
        Some(Value::Null) | None if record.get("body").is_some() => Err(invalid(
            "Records[0]",
            "an SQS record, not an SNS one: pass each record's body",
        )),
        Some(Value::Null) | None => Err(FeedbackError::MissingField {
            field: "Records[0].Sns",
        }),
        Some(_) => Err(invalid("Records[0].Sns", "not an object")),
    }
}

fn sns_notification(
    sns: &Map<String, Value>,
    envelope: FeedbackEnvelope,
) -> Result<Feedback, FeedbackError> {
    match sns.get("Type") {
        Some(Value::String(kind)) if kind == "Notification" => {}
        Some(Value::String(kind)) => {
            return Err(FeedbackError::SnsControl {
                kind: truncate(kind),
            });
        }
        Some(Value::Null) | None => return Err(FeedbackError::MissingField { field: "Type" }),
        Some(_) => return Err(invalid("Type", "not a string")),
    }
    let sns_message_id = match sns.get("MessageId") {
        Some(Value::String(id)) if !id.is_empty() => Some(id.clone()),
        _ => None,
    };
    let message = match sns.get("Message") {
        Some(Value::String(text)) => json(text, Layer::SnsMessage)?,
        // Not what SNS sends, but what a hand-written test message often is.
        Some(object @ Value::Object(_)) => object.clone(),
        Some(Value::Null) | None => return Err(FeedbackError::MissingField { field: "Message" }),
        Some(_) => return Err(invalid("Message", "neither a string nor an object")),
    };
    let Value::Object(message) = message else {
        return Err(not_an_object(&message, Layer::SnsMessage));
    };
    if !is_notification(&message) {
        return Err(FeedbackError::NotANotification);
    }
    notification(&message, envelope, sns_message_id)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireMail {
    message_id: String,
    timestamp: String,
    source: Option<String>,
    destination: Option<Vec<String>>,
    tags: Option<Value>,
}

fn notification(
    object: &Map<String, Value>,
    envelope: FeedbackEnvelope,
    sns_message_id: Option<String>,
) -> Result<Feedback, FeedbackError> {
    // `eventType` wins: SES names the field so when event publishing sent the notification.
    let (origin, event_type) = match (object.get("eventType"), object.get("notificationType")) {
        (Some(Value::String(name)), _) => (FeedbackOrigin::EventPublishing, name),
        (Some(Value::Null) | None, Some(Value::String(name))) => {
            (FeedbackOrigin::IdentityNotification, name)
        }
        (Some(Value::Null) | None, Some(Value::Null) | None) => {
            return Err(FeedbackError::NotANotification);
        }
        (Some(Value::Null) | None, Some(_)) => {
            return Err(invalid("notificationType", "not a string"));
        }
        (Some(_), _) => return Err(invalid("eventType", "not a string")),
    };
    if origin == FeedbackOrigin::IdentityNotification && event_type == SUBSCRIPTION_SUCCEEDED {
        return Err(FeedbackError::SubscriptionNotice {
            notification_type: event_type.clone(),
        });
    }
    let mail: WireMail =
        read(object, "mail")?.ok_or(FeedbackError::MissingField { field: "mail" })?;
    if mail.message_id.is_empty() {
        return Err(invalid("mail.messageId", "empty"));
    }
    let sent_at = instant("mail.timestamp", &mail.timestamp)?;
    Ok(Feedback {
        envelope,
        origin,
        sns_message_id,
        ses_message_id: mail.message_id,
        sent_at,
        source: mail.source,
        destination: mail.destination.unwrap_or_default(),
        tags: tags(mail.tags.as_ref()),
        event: event(object, event_type)?,
    })
}

fn event(object: &Map<String, Value>, event_type: &str) -> Result<FeedbackEvent, FeedbackError> {
    Ok(match event_type {
        "Send" => FeedbackEvent::Send,
        "Delivery" => delivery(required(object, "delivery")?)?,
        "Bounce" => bounce(required(object, "bounce")?)?,
        "Complaint" => complaint(required(object, "complaint")?)?,
        "Reject" => {
            let reject: Option<WireReject> = read(object, "reject")?;
            FeedbackEvent::Reject {
                reason: reject.and_then(|r| r.reason),
            }
        }
        "DeliveryDelay" => delivery_delay(required(object, "deliveryDelay")?)?,
        // SES writes it with a space; the form without one is accepted too.
        "Rendering Failure" | "RenderingFailure" => {
            let failure: WireFailure = read(object, "failure")?.unwrap_or_default();
            FeedbackEvent::RenderingFailure {
                template_name: failure.template_name,
                error_message: failure.error_message,
            }
        }
        "Open" => {
            let open: WireOpen = read(object, "open")?.unwrap_or_default();
            FeedbackEvent::Open {
                timestamp: timestamp("open.timestamp", open.timestamp)?,
            }
        }
        "Click" => {
            let click: WireClick = read(object, "click")?.unwrap_or_default();
            FeedbackEvent::Click {
                link: click.link,
                link_tags: tag_lists(click.link_tags.as_ref()),
                timestamp: timestamp("click.timestamp", click.timestamp)?,
            }
        }
        "Subscription" => subscription(read(object, "subscription")?.unwrap_or_default())?,
        other => FeedbackEvent::Unknown(truncate(other)),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireDelivery {
    recipients: Vec<String>,
    timestamp: Option<String>,
    smtp_response: Option<String>,
    processing_time_millis: Option<u64>,
    #[serde(rename = "reportingMTA")]
    reporting_mta: Option<String>,
}

fn delivery(delivery: WireDelivery) -> Result<FeedbackEvent, FeedbackError> {
    Ok(FeedbackEvent::Delivery {
        recipients: delivery.recipients,
        timestamp: timestamp("delivery.timestamp", delivery.timestamp)?,
        smtp_response: delivery.smtp_response,
        processing_time_ms: delivery.processing_time_millis,
        reporting_mta: delivery.reporting_mta,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireRecipient {
    email_address: String,
    action: Option<String>,
    status: Option<String>,
    diagnostic_code: Option<String>,
}

impl From<WireRecipient> for RecipientReport {
    fn from(recipient: WireRecipient) -> Self {
        Self {
            address: recipient.email_address,
            action: recipient.action,
            status: recipient.status,
            diagnostic_code: recipient.diagnostic_code,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireBounce {
    bounce_type: Option<String>,
    bounce_sub_type: Option<String>,
    bounced_recipients: Vec<WireRecipient>,
    timestamp: Option<String>,
    feedback_id: Option<String>,
    #[serde(rename = "reportingMTA")]
    reporting_mta: Option<String>,
}

fn bounce(bounce: WireBounce) -> Result<FeedbackEvent, FeedbackError> {
    let bounce_type = match bounce.bounce_type.as_deref() {
        Some("Permanent") => BounceType::Permanent,
        Some("Transient") => BounceType::Transient,
        // `Undetermined`, and anything SES may add: the reading that neither suppresses an
        // address for good nor ignores the bounce (see `suppression`).
        _ => BounceType::Undetermined,
    };
    Ok(FeedbackEvent::Bounce {
        bounce_type,
        sub_type: bounce.bounce_sub_type,
        recipients: bounce
            .bounced_recipients
            .into_iter()
            .map(Into::into)
            .collect(),
        timestamp: timestamp("bounce.timestamp", bounce.timestamp)?,
        feedback_id: bounce.feedback_id,
        reporting_mta: bounce.reporting_mta,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireAddress {
    email_address: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireComplaint {
    complained_recipients: Vec<WireAddress>,
    complaint_feedback_type: Option<String>,
    complaint_sub_type: Option<String>,
    timestamp: Option<String>,
    feedback_id: Option<String>,
}

fn complaint(complaint: WireComplaint) -> Result<FeedbackEvent, FeedbackError> {
    Ok(FeedbackEvent::Complaint {
        recipients: complaint
            .complained_recipients
            .into_iter()
            .map(|r| r.email_address)
            .collect(),
        feedback_type: complaint.complaint_feedback_type,
        sub_type: complaint.complaint_sub_type,
        timestamp: timestamp("complaint.timestamp", complaint.timestamp)?,
        feedback_id: complaint.feedback_id,
    })
}

#[derive(Deserialize)]
struct WireReject {
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireDelay {
    delay_type: Option<String>,
    delayed_recipients: Vec<WireRecipient>,
    expiration_time: Option<String>,
    timestamp: Option<String>,
}

fn delivery_delay(delay: WireDelay) -> Result<FeedbackEvent, FeedbackError> {
    Ok(FeedbackEvent::DeliveryDelay {
        delay_type: delay.delay_type,
        recipients: delay
            .delayed_recipients
            .into_iter()
            .map(Into::into)
            .collect(),
        expiration_time: timestamp("deliveryDelay.expirationTime", delay.expiration_time)?,
        timestamp: timestamp("deliveryDelay.timestamp", delay.timestamp)?,
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct WireFailure {
    template_name: Option<String>,
    error_message: Option<String>,
}

#[derive(Deserialize, Default)]
struct WireOpen {
    timestamp: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct WireClick {
    link: Option<String>,
    link_tags: Option<Value>,
    timestamp: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct WireSubscription {
    contact_list: Option<String>,
    source: Option<String>,
    timestamp: Option<String>,
    new_topic_preferences: Option<WireTopicPreferences>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireTopicPreferences {
    unsubscribe_all: Option<bool>,
    topic_subscription_status: Option<Vec<WireTopicStatus>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireTopicStatus {
    topic_name: Option<String>,
    subscription_status: Option<String>,
}

fn subscription(subscription: WireSubscription) -> Result<FeedbackEvent, FeedbackError> {
    let preferences = subscription.new_topic_preferences;
    let opted_out_topics = preferences
        .as_ref()
        .and_then(|p| p.topic_subscription_status.as_ref())
        .into_iter()
        .flatten()
        .filter(|topic| topic.subscription_status.as_deref() == Some("OptOut"))
        .filter_map(|topic| topic.topic_name.clone())
        .collect();
    Ok(FeedbackEvent::Subscription {
        contact_list: subscription.contact_list,
        source: subscription.source,
        unsubscribe_all: preferences.and_then(|p| p.unsubscribe_all),
        opted_out_topics,
        timestamp: timestamp("subscription.timestamp", subscription.timestamp)?,
    })
}

/// The tags mailroom reads back. Tags are looked at leniently: a tag mailroom does not set can
/// hold anything without making the feedback unreadable.
fn tags(tags: Option<&Value>) -> MailroomTags {
    let Some(Value::Object(tags)) = tags else {
        return MailroomTags::default();
    };
    let tag = |name: &str| tags.get(name).and_then(first_text);
    MailroomTags {
        idempotency_key: tag(IDEMPOTENCY_KEY_TAG),
        route: tag(ROUTE_TAG),
        event_type: tag(EVENT_TYPE_TAG),
        configuration_set: tag(CONFIGURATION_SET_TAG),
    }
}

/// A tag's value: the first non-empty text of SES's list, or a lone text.
fn first_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Array(values) => values.iter().find_map(|v| match v {
            Value::String(text) if !text.is_empty() => Some(text.clone()),
            _ => None,
        }),
        _ => None,
    }
}

/// Every tag of a map of lists, keeping the text values.
fn tag_lists(tags: Option<&Value>) -> BTreeMap<String, Vec<String>> {
    let Some(Value::Object(tags)) = tags else {
        return BTreeMap::new();
    };
    tags.iter()
        .map(|(name, values)| {
            let values = match values {
                Value::String(text) => vec![text.clone()],
                Value::Array(values) => values
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            };
            (name.clone(), values)
        })
        .collect()
}

/// Reads the part `name` of the notification, `None` when absent or `null`.
fn read<T: for<'de> Deserialize<'de>>(
    object: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<T>, FeedbackError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => T::deserialize(value)
            .map(Some)
            .map_err(|error| invalid(name, &error.to_string())),
    }
}

/// Reads the part `name` the type cannot do without.
fn required<T: for<'de> Deserialize<'de>>(
    object: &Map<String, Value>,
    name: &'static str,
) -> Result<T, FeedbackError> {
    read(object, name)?.ok_or(FeedbackError::MissingField { field: name })
}

fn timestamp(
    field: &'static str,
    text: Option<String>,
) -> Result<Option<Timestamp>, FeedbackError> {
    text.map(|text| instant(field, &text)).transpose()
}

fn instant(field: &'static str, text: &str) -> Result<Timestamp, FeedbackError> {
    super::time::parse(text).ok_or_else(|| {
        invalid(
            field,
            &format!("{:?} is not an RFC 3339 timestamp", truncate(text)),
        )
    })
}

fn json(text: &str, layer: Layer) -> Result<Value, FeedbackError> {
    serde_json::from_str(text).map_err(|error| FeedbackError::NotJson {
        layer,
        detail: truncate(&error.to_string()),
    })
}

fn not_an_object(value: &Value, layer: Layer) -> FeedbackError {
    let found = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    FeedbackError::NotAnObject { layer, found }
}

fn invalid(field: &'static str, reason: &str) -> FeedbackError {
    FeedbackError::InvalidField {
        field,
        reason: truncate(reason),
    }
}

fn truncate(text: &str) -> String {
    if text.chars().count() <= MAX_DETAIL_CHARS {
        return text.to_owned();
    }
    let mut kept: String = text.chars().take(MAX_DETAIL_CHARS).collect();
    kept.push('…');
    kept
}
