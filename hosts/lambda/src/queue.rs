//! The SQS side of a batch: back-off for retried records, the dead-letter queue for rejected
//! ones, explicit deletes for the compatibility mode. Behind the [`Queue`] trait so the handler
//! can be tested without SQS; [`SqsQueue`] is the SDK implementation.
//!
//! Each [`Queue`] call is one SQS batch call: the handler splits the entries ([`batches`],
//! [`dead_letter_batches`]) so that it can give every call its own share of the time left, and
//! a call without an answer fails only its own entries.

use std::future::Future;

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageAttributeValue, SendMessageBatchRequestEntry,
};
use mailroom_core::decision::MAX_VISIBILITY_SECONDS;
use mailroom_core::{BatchError, ParkRequest};
use thiserror::Error;

/// SQS batch calls take at most this many entries.
pub const SQS_BATCH_LIMIT: usize = 10;

/// The most payload one `SendMessageBatch` call carries: its entries' bodies and message
/// attributes together. SQS's rule is that a batch's total payload may not exceed the message
/// size limit, 1 MiB (1,048,576 bytes; DOMAIN.md; both were 256 KiB until 2025). A single
/// message is held to the same limit, so one that fits no batch would not fit `SendMessage`.
pub const SQS_PAYLOAD_LIMIT: usize = 1_048_576;

/// One entry of a batch call failed, or the whole call did.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("SQS {operation} failed: {detail}")]
pub struct QueueError {
    /// The SQS operation.
    pub operation: &'static str,
    /// The error code and message.
    pub detail: String,
}

impl QueueError {
    /// The batch refused what the queue work reported: a bug of this host, surfaced in the same
    /// log line as a failed call.
    pub fn protocol(error: BatchError) -> Self {
        Self {
            operation: "batch protocol",
            detail: error.to_string(),
        }
    }
}

/// A retried record's next delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delay {
    /// The record's receipt handle.
    pub receipt_handle: String,
    /// Seconds until it is visible again.
    pub seconds: u32,
}

/// The SQS calls the function makes. Each is one batch call, given entries that fit one (see
/// [`batches`]), and returns one result per entry, in order.
pub trait Queue {
    /// `ChangeMessageVisibilityBatch`.
    fn change_visibility(
        &self,
        queue_url: &str,
        delays: &[Delay],
    ) -> impl Future<Output = Vec<Result<(), QueueError>>> + Send;
    /// `SendMessageBatch` to the dead-letter queue, the reason as message attributes.
    fn park(
        &self,
        dlq_url: &str,
        parcels: &[ParkRequest],
    ) -> impl Future<Output = Vec<Result<(), QueueError>>> + Send;
    /// `DeleteMessageBatch`.
    fn delete(
        &self,
        queue_url: &str,
        receipt_handles: &[String],
    ) -> impl Future<Output = Vec<Result<(), QueueError>>> + Send;
}

/// Splits `items` into consecutive groups that one batch call takes: at most
/// [`SQS_BATCH_LIMIT`] entries and at most [`SQS_PAYLOAD_LIMIT`] bytes as `size` counts them.
/// The order is kept (a FIFO dead-letter queue keeps a group's order). An item over the limit
/// on its own gets a group of its own: SQS refuses that call, and only that item fails.
pub fn batches<T>(items: &[T], size: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut groups = Vec::new();
    let mut start = 0;
    let mut bytes = 0usize;
    for (index, item) in items.iter().enumerate() {
        let item_bytes = size(item);
        let full = index - start == SQS_BATCH_LIMIT
            || bytes.saturating_add(item_bytes) > SQS_PAYLOAD_LIMIT;
        if index > start && full {
            groups.push(&items[start..index]);
            start = index;
            bytes = 0;
        }
        bytes = bytes.saturating_add(item_bytes);
    }
    if start < items.len() {
        groups.push(&items[start..]);
    }
    groups
}

/// Rejected records in `SendMessageBatch` calls SQS accepts: by count and by payload.
pub fn dead_letter_batches(parcels: &[ParkRequest]) -> Vec<&[ParkRequest]> {
    batches(parcels, dead_letter_size)
}

fn dead_letter_size(parcel: &ParkRequest) -> usize {
    payload_size(&parcel.body, &dead_letter_attributes(parcel))
}

/// The payload SQS counts for a message: the body, and each message attribute's name, data type
/// and value (all of ours are strings).
fn payload_size(body: &str, string_attributes: &[(&str, &str)]) -> usize {
    let attributes: usize = string_attributes
        .iter()
        .map(|(name, value)| name.len() + STRING_TYPE.len() + value.len())
        .sum();
    body.len() + attributes
}

/// The queue URL of a queue ARN (`arn:aws:sqs:REGION:ACCOUNT:NAME`). `known` (the configured
/// `SQS_URL`) wins when it names the same queue, so custom endpoints keep working.
pub fn queue_url(arn: &str, known: Option<&str>) -> Option<String> {
    let mut parts = arn.split(':');
    let (Some("arn"), Some(partition), Some("sqs"), Some(region), Some(account), Some(name)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    if let Some(known) = known
        && known.trim_end_matches('/').rsplit('/').next() == Some(name)
    {
        return Some(known.to_owned());
    }
    let domain = if partition == "aws-cn" {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Some(format!("https://sqs.{region}.{domain}/{account}/{name}"))
}

/// [`Queue`] over the SQS API.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
}

impl SqsQueue {
    /// A queue client.
    pub fn new(client: aws_sdk_sqs::Client) -> Self {
        Self { client }
    }
}

/// The data type of every attribute the function sets.
const STRING_TYPE: &str = "String";

fn string_attribute(value: &str) -> Option<MessageAttributeValue> {
    MessageAttributeValue::builder()
        .data_type(STRING_TYPE)
        .string_value(value)
        .build()
        .ok()
}

/// Maps a batch call's answer to one result per entry (ids are the entries' positions).
fn per_entry<E: std::fmt::Display>(
    operation: &'static str,
    count: usize,
    answer: Result<Vec<(String, String)>, E>,
) -> Vec<Result<(), QueueError>> {
    match answer {
        Ok(failed) => (0..count)
            .map(
                |index| match failed.iter().find(|(id, _)| *id == index.to_string()) {
                    Some((_, detail)) => Err(QueueError {
                        operation,
                        detail: detail.clone(),
                    }),
                    None => Ok(()),
                },
            )
            .collect(),
        Err(error) => {
            let error = QueueError {
                operation,
                detail: error.to_string(),
            };
            vec![Err(error); count]
        }
    }
}

/// The three batch outputs all list their failed entries the same way.
trait FailedEntries {
    fn failed_entries(&self) -> Vec<(String, String)>;
}

macro_rules! failed_entries_of {
    ($($output:ty),*) => {$(
        impl FailedEntries for $output {
            fn failed_entries(&self) -> Vec<(String, String)> {
                self.failed()
                    .iter()
                    .map(|e| (e.id().to_owned(), format!("{}: {}", e.code(), e.message().unwrap_or_default())))
                    .collect()
            }
        }
    )*};
}

failed_entries_of!(
    aws_sdk_sqs::operation::change_message_visibility_batch::ChangeMessageVisibilityBatchOutput,
    aws_sdk_sqs::operation::send_message_batch::SendMessageBatchOutput,
    aws_sdk_sqs::operation::delete_message_batch::DeleteMessageBatchOutput
);

/// Makes one batch call with an entry per item (ids are the items' positions) and returns one
/// result per item, in order. `entry` builds the request entry of an item, given its id.
async fn batch_call<T, Entry, Output, Error, Sent>(
    operation: &'static str,
    items: &[T],
    entry: impl Fn(String, &T) -> Result<Entry, aws_sdk_sqs::error::BuildError>,
    send: impl FnOnce(Vec<Entry>) -> Sent,
) -> Vec<Result<(), QueueError>>
where
    Sent: Future<Output = Result<Output, Error>>,
    Output: FailedEntries,
    Error: std::error::Error + 'static,
{
    let entries = items
        .iter()
        .enumerate()
        .map(|(index, item)| entry(index.to_string(), item))
        .collect::<Result<Vec<_>, _>>();
    // An entry that cannot be built fails the whole call rather than going missing.
    let answer = match entries {
        Ok(entries) => send(entries)
            .await
            .map(|output| output.failed_entries())
            .map_err(|error| aws_sdk_sqs::error::DisplayErrorContext(error).to_string()),
        Err(error) => Err(error.to_string()),
    };
    per_entry(operation, items.len(), answer)
}

impl Queue for SqsQueue {
    async fn change_visibility(
        &self,
        queue_url: &str,
        delays: &[Delay],
    ) -> Vec<Result<(), QueueError>> {
        let entry = |id, delay: &Delay| {
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id(id)
                .receipt_handle(&delay.receipt_handle)
                .visibility_timeout(
                    i32::try_from(delay.seconds.min(MAX_VISIBILITY_SECONDS)).unwrap_or(i32::MAX),
                )
                .build()
        };
        let request = self
            .client
            .change_message_visibility_batch()
            .queue_url(queue_url);
        batch_call("ChangeMessageVisibilityBatch", delays, entry, |entries| {
            request.set_entries(Some(entries)).send()
        })
        .await
    }

    async fn park(&self, dlq_url: &str, parcels: &[ParkRequest]) -> Vec<Result<(), QueueError>> {
        let fifo = dlq_url.ends_with(".fifo");
        let entry = |id, parcel: &ParkRequest| dead_letter_entry(id, parcel, fifo);
        let request = self.client.send_message_batch().queue_url(dlq_url);
        batch_call("SendMessageBatch", parcels, entry, |entries| {
            request.set_entries(Some(entries)).send()
        })
        .await
    }

    async fn delete(
        &self,
        queue_url: &str,
        receipt_handles: &[String],
    ) -> Vec<Result<(), QueueError>> {
        let entry = |id, handle: &String| {
            DeleteMessageBatchRequestEntry::builder()
                .id(id)
                .receipt_handle(handle)
                .build()
        };
        let request = self.client.delete_message_batch().queue_url(queue_url);
        batch_call("DeleteMessageBatch", receipt_handles, entry, |entries| {
            request.set_entries(Some(entries)).send()
        })
        .await
    }
}

/// A rejected record as a dead-letter message: the original body, the reason and where it came
/// from as message attributes, and on a FIFO queue its group (deduplicated by its message id).
fn dead_letter_entry(
    id: String,
    parcel: &ParkRequest,
    fifo: bool,
) -> Result<SendMessageBatchRequestEntry, aws_sdk_sqs::error::BuildError> {
    let attributes = dead_letter_attributes(parcel)
        .into_iter()
        .filter_map(|(name, value)| Some((name.to_owned(), string_attribute(value)?)))
        .collect();
    let mut entry = SendMessageBatchRequestEntry::builder()
        .id(id)
        .message_body(&parcel.body)
        .set_message_attributes(Some(attributes));
    if fifo {
        entry = entry
            .message_group_id(parcel.group.as_deref().unwrap_or("mailroom-rejected"))
            .message_deduplication_id(&parcel.message_id);
    }
    entry.build()
}

/// A dead-letter message's attributes: the reason and where the record came from (SQS refuses
/// empty attribute values, so those are left out).
fn dead_letter_attributes(parcel: &ParkRequest) -> Vec<(&'static str, &str)> {
    [
        ("mailroom.reason", parcel.reason.as_str()),
        ("mailroom.detail", truncate(&parcel.detail, 1024)),
        ("mailroom.sourceMessageId", parcel.message_id.as_str()),
        ("mailroom.sourceQueue", parcel.queue_arn.as_str()),
    ]
    .into_iter()
    .filter(|(_, value)| !value.is_empty())
    .collect()
}

/// At most `max` bytes, cut on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_urls_come_from_arns_and_prefer_the_configured_one() {
        let arn = "arn:aws:sqs:eu-west-1:123456789012:orders.fifo";
        assert_eq!(
            queue_url(arn, None).as_deref(),
            Some("https://sqs.eu-west-1.amazonaws.com/123456789012/orders.fifo")
        );
        let local = "http://127.0.0.1:5000/123456789012/orders.fifo";
        assert_eq!(queue_url(arn, Some(local)).as_deref(), Some(local));
        assert_eq!(
            queue_url(arn, Some("http://127.0.0.1:5000/123456789012/other")).as_deref(),
            Some("https://sqs.eu-west-1.amazonaws.com/123456789012/orders.fifo")
        );
        assert_eq!(queue_url("not an arn", None), None);
    }

    #[test]
    fn batch_answers_map_to_entries_by_position() {
        let answer: Result<_, String> = Ok(vec![(
            "1".to_owned(),
            "ReceiptHandleIsInvalid: gone".to_owned(),
        )]);
        let results = per_entry("DeleteMessageBatch", 3, answer);
        assert!(results[0].is_ok() && results[2].is_ok());
        assert_eq!(
            results[1].as_ref().unwrap_err().detail,
            "ReceiptHandleIsInvalid: gone"
        );
        let all_failed =
            per_entry::<String>("DeleteMessageBatch", 2, Err("AccessDenied".to_owned()));
        assert!(all_failed.iter().all(Result::is_err));
    }

    fn lengths<T>(groups: &[&[T]]) -> Vec<usize> {
        groups.iter().map(|group| group.len()).collect()
    }

    #[test]
    fn batches_hold_at_most_ten_entries() {
        let items = [0u8; 23];
        assert_eq!(lengths(&batches(&items, |_| 1)), [10, 10, 3]);
        assert!(batches(&[0u8; 0], |_| 1).is_empty());
    }

    #[test]
    fn batches_hold_at_most_the_payload_limit_and_keep_the_order() {
        // 800 000 | 900 000 (a third would pass 1 MiB) | 1 048 576 exactly | 1
        let sizes = [400_000, 400_000, 300_000, 600_000, 448_576, 600_000, 1];
        let groups = batches(&sizes, |size| *size);
        assert_eq!(lengths(&groups), [2, 2, 2, 1]);
        for group in &groups {
            assert!(
                group.iter().sum::<usize>() <= SQS_PAYLOAD_LIMIT,
                "{group:?}"
            );
        }
        assert_eq!(
            groups.concat(),
            sizes,
            "every item once, in order: exactly at the limit still fits"
        );
    }

    #[test]
    fn a_message_over_the_limit_goes_alone_so_only_it_fails() {
        let sizes = [10, SQS_PAYLOAD_LIMIT + 1, 10];
        let groups = batches(&sizes, |size| *size);
        assert_eq!(lengths(&groups), [1, 1, 1]);
        assert_eq!(groups[1], [SQS_PAYLOAD_LIMIT + 1]);
    }

    #[test]
    fn the_payload_counts_the_body_and_each_attributes_name_type_and_value() {
        let attributes = [("mailroom.reason", "malformed_body"), ("a", "é")];
        assert_eq!(
            payload_size("{}", &attributes),
            2 + (15 + 6 + 14) + (1 + 6 + 2),
            "bytes, not characters"
        );
    }

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate("ééé", 3), "é");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
