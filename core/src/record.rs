//! The SQS event and record shapes exactly as Lambda delivers them.
//!
//! These are the core's own types rather than `aws_lambda_events` so that the core stays free of
//! AWS crates and builds for wasm. Every field a producer may leave out has a default: a record
//! is only unusable when it has no `messageId`, because without one it cannot even be reported.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::EventError;

/// A point in time as milliseconds since the Unix epoch, passed in by the host.
///
/// The core never reads a clock; everything time-dependent takes one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// From milliseconds since the Unix epoch.
    #[must_use]
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the Unix epoch.
    #[must_use]
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Parses an RFC 3339 timestamp such as `2026-11-23T10:00:00Z`.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let parsed =
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .ok()?;
        let millis = parsed.unix_timestamp_nanos() / 1_000_000;
        i64::try_from(millis).ok().map(Self)
    }

    /// Formats as RFC 3339 in UTC with millisecond precision.
    #[must_use]
    pub fn to_rfc3339(self) -> String {
        let nanos = i128::from(self.0) * 1_000_000;
        time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default()
    }
}

/// A Lambda SQS event: `{"Records": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SqsEvent {
    /// The records of the batch, in the order SQS delivered them.
    #[serde(rename = "Records", default)]
    pub records: Vec<SqsRecord>,
}

impl SqsEvent {
    /// Parses a Lambda SQS event from its JSON text.
    ///
    /// A failure here concerns the batch as a whole (the host should fail the invocation so
    /// that every record is retried); problems inside one record's body are decided per record.
    pub fn from_json(json: &str) -> Result<Self, EventError> {
        serde_json::from_str(json).map_err(|source| EventError::Json {
            line: source.line(),
            column: source.column(),
            message: source.to_string(),
        })
    }

    /// Whether the event can be reported on record by record: every record needs a message
    /// id, because the batch response names failed records by it. Anything else is decided
    /// per record.
    pub fn validate(&self) -> Result<(), EventError> {
        match self.records.iter().position(|r| r.message_id.is_empty()) {
            Some(index) => Err(EventError::EmptyMessageId { index }),
            None => Ok(()),
        }
    }
}

/// One SQS record as Lambda delivers it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsRecord {
    /// The SQS message id; the item identifier of the batch response.
    pub message_id: String,
    /// Needed by hosts to change visibility or delete the message.
    #[serde(default)]
    pub receipt_handle: String,
    /// The message body, usually JSON; decided per record.
    #[serde(default)]
    pub body: String,
    /// System attributes (`ApproximateReceiveCount`, `SentTimestamp`, `MessageGroupId`, ...).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// User message attributes.
    #[serde(default)]
    pub message_attributes: BTreeMap<String, MessageAttribute>,
    /// The queue ARN; FIFO queues end in `.fifo`.
    #[serde(default, rename = "eventSourceARN")]
    pub event_source_arn: String,
    /// Always `aws:sqs` from Lambda; kept so a record round-trips.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub event_source: String,
    /// The region of the queue.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub aws_region: String,
    /// MD5 of the body, as SQS computed it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub md5_of_body: String,
}

/// A user message attribute of an SQS record, in Lambda's lower-camel-case form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageAttribute {
    /// `String`, `Number`, `Binary`, or one of those with a custom suffix.
    #[serde(default)]
    pub data_type: String,
    /// Present for `String` and `Number` attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    /// Base64, present for `Binary` attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_value: Option<String>,
}

impl SqsRecord {
    /// `ApproximateReceiveCount`, at least 1 (SQS starts counting at 1).
    #[must_use]
    pub fn receive_count(&self) -> u32 {
        self.attributes
            .get("ApproximateReceiveCount")
            .and_then(|count| count.trim().parse::<u32>().ok())
            .unwrap_or(1)
            .max(1)
    }

    /// `SentTimestamp`: when SQS accepted the message.
    #[must_use]
    pub fn sent_at(&self) -> Option<Timestamp> {
        self.attributes
            .get("SentTimestamp")
            .and_then(|millis| millis.trim().parse::<i64>().ok())
            .map(Timestamp)
    }

    /// Whether the record comes from a FIFO queue.
    #[must_use]
    pub fn is_fifo(&self) -> bool {
        self.event_source_arn.ends_with(".fifo")
    }

    /// The FIFO message group, when the queue is FIFO.
    #[must_use]
    pub fn message_group_id(&self) -> Option<&str> {
        if !self.is_fifo() {
            return None;
        }
        Some(
            self.attributes
                .get("MessageGroupId")
                .map_or("", String::as_str),
        )
    }

    /// The string value of a user message attribute.
    #[must_use]
    pub fn string_attribute(&self, name: &str) -> Option<&str> {
        self.message_attributes
            .get(name)
            .and_then(|attribute| attribute.string_value.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_through_rfc3339() {
        let t = Timestamp::parse_rfc3339("2026-11-23T10:00:00.250Z").unwrap();
        assert_eq!(t.as_millis(), 1_795_428_000_250);
        assert_eq!(t.to_rfc3339(), "2026-11-23T10:00:00.25Z");
        assert_eq!(
            Timestamp::parse_rfc3339("2026-11-23T11:00:00+01:00"),
            Timestamp::parse_rfc3339("2026-11-23T10:00:00Z")
        );
        assert_eq!(Timestamp::parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn receive_count_defaults_to_one_and_never_zero() {
        let mut record = SqsRecord::default();
        assert_eq!(record.receive_count(), 1);
        record
            .attributes
            .insert("ApproximateReceiveCount".into(), "0".into());
        assert_eq!(record.receive_count(), 1);
        record
            .attributes
            .insert("ApproximateReceiveCount".into(), "7".into());
        assert_eq!(record.receive_count(), 7);
    }

    #[test]
    fn a_missing_message_id_fails_the_event_with_a_location() {
        let error = SqsEvent::from_json(r#"{"Records":[{"body":"{}"}]}"#).unwrap_err();
        assert!(error.to_string().contains("messageId"), "{error}");
    }
}
