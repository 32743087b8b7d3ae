//! The SQS side of a batch: back-off for retried records, the dead-letter queue for rejected
//! ones, explicit deletes for the compatibility mode. Behind the [`Queue`] trait so the handler
//! can be tested without SQS; [`SqsQueue`] is the SDK implementation.

use std::future::Future;

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageAttributeValue, SendMessageBatchRequestEntry,
};
use mailroom_core::decision::MAX_VISIBILITY_SECONDS;
use mailroom_core::{BatchError, ParkRequest};
use thiserror::Error;

/// SQS batch calls take at most this many entries.
const SQS_BATCH_LIMIT: usize = 10;

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

/// The SQS calls the function makes. Each returns one result per entry, in order.
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

fn string_attribute(value: &str) -> Option<MessageAttributeValue> {
    MessageAttributeValue::builder()
        .data_type("String")
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

/// Runs a batch operation over `items` in calls of at most [`SQS_BATCH_LIMIT`] entries and
/// returns one result per item, in order. `entry` builds the request entry of an item, given
/// its id (its position in the call); `send` makes one call with up to ten entries.
async fn in_batches<T, Entry, Output, Error, Sent>(
    operation: &'static str,
    items: &[T],
    entry: impl Fn(String, &T) -> Result<Entry, aws_sdk_sqs::error::BuildError>,
    mut send: impl FnMut(Vec<Entry>) -> Sent,
) -> Vec<Result<(), QueueError>>
where
    Sent: Future<Output = Result<Output, Error>>,
    Output: FailedEntries,
    Error: std::error::Error + 'static,
{
    let mut results = Vec::with_capacity(items.len());
    for chunk in items.chunks(SQS_BATCH_LIMIT) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(index, item)| entry(index.to_string(), item))
            .collect::<Result<Vec<_>, _>>();
        // An entry that cannot be built fails its whole call rather than going missing.
        let answer = match entries {
            Ok(entries) => send(entries)
                .await
                .map(|output| output.failed_entries())
                .map_err(|error| aws_sdk_sqs::error::DisplayErrorContext(error).to_string()),
            Err(error) => Err(error.to_string()),
        };
        results.extend(per_entry(operation, chunk.len(), answer));
    }
    results
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
        in_batches("ChangeMessageVisibilityBatch", delays, entry, |entries| {
            request.clone().set_entries(Some(entries)).send()
        })
        .await
    }

    async fn park(&self, dlq_url: &str, parcels: &[ParkRequest]) -> Vec<Result<(), QueueError>> {
        let fifo = dlq_url.ends_with(".fifo");
        let entry = |id, parcel: &ParkRequest| dead_letter_entry(id, parcel, fifo);
        let request = self.client.send_message_batch().queue_url(dlq_url);
        in_batches("SendMessageBatch", parcels, entry, |entries| {
            request.clone().set_entries(Some(entries)).send()
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
        in_batches("DeleteMessageBatch", receipt_handles, entry, |entries| {
            request.clone().set_entries(Some(entries)).send()
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
    let attributes = [
        ("mailroom.reason", parcel.reason.as_str()),
        ("mailroom.detail", truncate(&parcel.detail, 1024)),
        ("mailroom.sourceMessageId", parcel.message_id.as_str()),
        ("mailroom.sourceQueue", parcel.queue_arn.as_str()),
    ]
    .into_iter()
    .filter(|(_, value)| !value.is_empty())
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

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate("ééé", 3), "é");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
