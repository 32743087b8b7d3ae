//! What a Lambda invocation carries: an SQS batch, or the notification of an SNS topic that
//! invokes the function directly.
//!
//! A direct SNS invocation (`{"Records": [{"EventSource": "aws:sns", "Sns": {...}}]}`, one record
//! in practice) carries either a business event or SES feedback. [`Invocation::from_json`] tells
//! them apart by the one rule of [`crate::feedback::is_ses_notification`], and turns a business
//! event into an [`SqsRecord`] whose body is the SNS notification, so the decision is the one
//! every SQS record gets (the envelope is unwrapped as for SNS into SQS). What differs is the
//! answer: SNS retries an asynchronous invocation only when it fails, so a host fails the
//! invocation for a retry, and moves a reject to its dead-letter queue itself.
//!
//! ```
//! use mailroom_core::invocation::{Invocation, SnsMessage};
//!
//! let event = r#"{"Records": [{"EventSource": "aws:sns", "EventSubscriptionArn": "arn:aws:sns:us-east-1:1:t:s",
//!     "Sns": {"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:1:t",
//!             "Message": "{\"eventType\": \"EnrollmentNotification\", \"mailto\": \"dana@example.com\"}",
//!             "Timestamp": "2026-11-23T10:00:00.000Z", "MessageAttributes": {}}}]}"#;
//! let Invocation::Sns(messages) = Invocation::from_json(event)? else { panic!() };
//! let [SnsMessage::Event(record)] = messages.as_slice() else { panic!() };
//! assert_eq!(record.message_id, "m-1");
//! assert_eq!(record.event_source_arn, "arn:aws:sns:us-east-1:1:t");
//! # Ok::<(), mailroom_core::EventError>(())
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::error::EventError;
use crate::record::{SqsEvent, SqsRecord};

/// What one invocation brought.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// An SQS batch, from an event source mapping.
    Sqs(SqsEvent),
    /// An SNS topic's notification(s), invoked directly.
    Sns(Vec<SnsMessage>),
}

/// One notification of a direct SNS invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum SnsMessage {
    /// A business event, as the record the batch decides.
    Event(SqsRecord),
    /// An SES notification.
    Feedback {
        /// The SNS message id.
        message_id: String,
        /// The SNS notification's JSON, as [`crate::feedback::Feedback::parse`] reads it.
        body: String,
    },
}

/// Only what tells the two apart: each record's `EventSource` (SNS's capitalisation; SQS
/// records have `eventSource`). Everything else is skipped without being built.
#[derive(Deserialize)]
struct Peek {
    #[serde(rename = "Records", default)]
    records: Vec<PeekRecord>,
}

#[derive(Deserialize)]
struct PeekRecord {
    #[serde(rename = "EventSource", default)]
    event_source: Option<Value>,
}

#[derive(Deserialize)]
struct SnsEnvelope {
    #[serde(rename = "Records", default)]
    records: Vec<Value>,
}

impl Invocation {
    /// Reads the invocation's JSON. An event whose records come from SNS (`EventSource`
    /// `aws:sns`) is an SNS invocation; any other is read as an SQS batch.
    pub fn from_json(json: &str) -> Result<Self, EventError> {
        let json_error = |error: serde_json::Error| EventError::Json {
            line: error.line(),
            column: error.column(),
            message: error.to_string(),
        };
        // A skim first, so an SQS batch (up to megabytes) is parsed once into its records.
        // Anything the skim cannot read is no SNS invocation: the SQS reading reports it.
        let Ok(peek) = serde_json::from_str::<Peek>(json) else {
            return SqsEvent::from_json(json).map(Self::Sqs);
        };
        let from_sns = |record: &PeekRecord| {
            record.event_source.as_ref().and_then(Value::as_str) == Some("aws:sns")
        };
        if peek.records.is_empty() || !peek.records.iter().all(from_sns) {
            return SqsEvent::from_json(json).map(Self::Sqs);
        }
        let envelope: SnsEnvelope = serde_json::from_str(json).map_err(json_error)?;
        envelope
            .records
            .iter()
            .enumerate()
            .map(|(index, record)| sns_message(index, record))
            .collect::<Result<Vec<_>, _>>()
            .map(Self::Sns)
    }
}

fn sns_message(index: usize, record: &Value) -> Result<SnsMessage, EventError> {
    let sns = record.get("Sns").filter(|sns| sns.is_object());
    let message_id = sns
        .and_then(|sns| sns.get("MessageId"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(sns) = sns.filter(|_| !message_id.is_empty()) else {
        return Err(EventError::EmptyMessageId { index });
    };
    // The Lambda event's `Sns` object is the SNS notification as SQS would receive it.
    let body = sns.to_string();
    if crate::feedback::is_ses_notification(&body) {
        return Ok(SnsMessage::Feedback {
            message_id: message_id.to_owned(),
            body,
        });
    }
    let text = |name: &str| {
        sns.get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Ok(SnsMessage::Event(SqsRecord {
        message_id: message_id.to_owned(),
        receipt_handle: String::new(),
        body,
        // SNS retries an invocation that failed (twice, by default): each try is new to the
        // function, so every one is a first receive.
        attributes: BTreeMap::from([("ApproximateReceiveCount".to_owned(), "1".to_owned())]),
        message_attributes: BTreeMap::new(),
        event_source_arn: text("TopicArn"),
        event_source: "aws:sns".to_owned(),
        aws_region: String::new(),
        md5_of_body: String::new(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sns_event(message: &str) -> String {
        serde_json::json!({ "Records": [{ "EventSource": "aws:sns", "Sns": {
            "Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:1:t",
            "Message": message, "Timestamp": "2026-11-23T10:00:00.000Z",
            "MessageAttributes": { "eventType": { "Type": "String", "Value": "EnrollmentNotification" } } } }] })
        .to_string()
    }

    #[test]
    fn an_sqs_batch_is_an_sqs_batch() {
        let event = r#"{"Records": [{"messageId": "a", "body": "{}", "eventSource": "aws:sqs"}]}"#;
        assert!(
            matches!(Invocation::from_json(event), Ok(Invocation::Sqs(e)) if e.records.len() == 1)
        );
    }

    #[test]
    fn an_sns_business_event_becomes_the_record_an_sns_subscribed_queue_would_deliver() {
        let Ok(Invocation::Sns(messages)) =
            Invocation::from_json(&sns_event(r#"{"mailto": "d@example.com"}"#))
        else {
            panic!("an SNS invocation")
        };
        let [SnsMessage::Event(record)] = messages.as_slice() else {
            panic!("{messages:?}")
        };
        let body: Value = serde_json::from_str(&record.body).unwrap();
        assert_eq!(body["Type"], "Notification");
        assert_eq!(
            body["MessageAttributes"]["eventType"]["Value"],
            "EnrollmentNotification"
        );
        assert_eq!(record.receive_count(), 1);
        let unwrapped = crate::envelope::unwrap(record).unwrap();
        assert_eq!(
            unwrapped.event_type.as_deref(),
            Some("EnrollmentNotification")
        );
    }

    #[test]
    fn an_ses_notification_through_sns_is_feedback() {
        let ses = r#"{"eventType": "Delivery", "mail": {"messageId": "s", "timestamp": "2026-11-23T10:00:00Z", "destination": []}, "delivery": {"recipients": []}}"#;
        let Ok(Invocation::Sns(messages)) = Invocation::from_json(&sns_event(ses)) else {
            panic!("an SNS invocation")
        };
        let [SnsMessage::Feedback { body, .. }] = messages.as_slice() else {
            panic!("{messages:?}")
        };
        assert!(crate::feedback::Feedback::parse(body).is_ok());
    }

    #[test]
    fn an_sns_record_without_a_message_id_cannot_be_taken() {
        let event = r#"{"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "{}"}}]}"#;
        assert_eq!(
            Invocation::from_json(event),
            Err(EventError::EmptyMessageId { index: 0 })
        );
    }
}
