//! [`LookupReader`] over DynamoDB `BatchGetItem`.
//!
//! A round's requests are grouped by table and read consistency and packed into as few calls as
//! DynamoDB takes: at most [`MAX_KEYS_PER_CALL`] keys per call, each table once per call (its
//! `ConsistentRead` is per table), several tables in one call when they fit. The calls run
//! concurrently. Returned items are matched to requests by their key attributes (DynamoDB
//! returns them in no particular order); a key neither returned nor left unprocessed has no
//! item. Keys DynamoDB leaves unprocessed (throughput, or the 16 MB response limit) are asked
//! for again after a short jittered back-off, as long as the time allows.
//!
//! Answers: found, not found, `Throttled` (the SDK's retries of a throttling error ran out, or
//! keys were still unprocessed when time or attempts ran out), `Unavailable` (5xx, timeouts,
//! network, access denied, a table that does not exist, a key that does not match the table's
//! schema: nothing the message can change).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemError, BatchGetItemOutput};
use aws_sdk_dynamodb::types::KeysAndAttributes;
use futures_util::future::join_all;
use mailroom_core::lookup::Item;
use mailroom_core::{LookupAnswer, LookupFailure, LookupItem, LookupRequest};

use super::attributes::{item_from_sdk, item_to_sdk, key_identity};
use super::{LookupReader, Reads};

/// DynamoDB's limit of keys per `BatchGetItem` call.
pub const MAX_KEYS_PER_CALL: usize = 100;

/// Calls for one group of keys at most, unprocessed-key retries included.
pub const MAX_ATTEMPTS: u32 = 8;

/// Error codes DynamoDB throttles with.
const THROTTLING: [&str; 3] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
];

/// One item to read: what a [`LookupRequest`] asks of the table.
#[derive(Debug, Clone, Copy)]
pub struct KeyRead<'a> {
    /// The table (name or ARN).
    pub table: &'a str,
    /// The full primary key.
    pub key: &'a Item,
    /// Strongly consistent.
    pub consistent_read: bool,
}

impl<'a> From<&'a LookupRequest> for KeyRead<'a> {
    fn from(request: &'a LookupRequest) -> Self {
        Self {
            table: &request.table,
            key: &request.key,
            consistent_read: request.consistent_read,
        }
    }
}

/// Reads lookups with `BatchGetItem`.
#[derive(Debug, Clone)]
pub struct DynamoDbReader {
    client: aws_sdk_dynamodb::Client,
}

impl DynamoDbReader {
    /// A reader over `client` (see [`crate::aws::dynamodb_lookup_client`]).
    #[must_use]
    pub fn new(client: aws_sdk_dynamodb::Client) -> Self {
        Self { client }
    }

    /// Reads every key by `until`: one answer per read, in order, and the calls made.
    pub async fn read_keys(&self, reads: &[KeyRead<'_>], until: Instant) -> Reads {
        let calls = plan(reads);
        let done = join_all(calls.into_iter().map(|call| self.run(reads, call, until))).await;
        let mut answers: Vec<Option<LookupAnswer>> = vec![None; reads.len()];
        let mut made = 0;
        for (answered, calls) in done {
            made += calls;
            for (position, answer) in answered {
                if let Some(slot) = answers.get_mut(position) {
                    *slot = Some(answer);
                }
            }
        }
        Reads {
            answers: answers
                .into_iter()
                .map(|answer| {
                    answer.unwrap_or_else(|| {
                        LookupAnswer::Failed(LookupFailure::Unavailable(
                            "BatchGetItem: the key was not read".to_owned(),
                        ))
                    })
                })
                .collect(),
            calls: made,
        }
    }

    /// One call's keys: the call, then again for its unprocessed keys while time and attempts
    /// allow. Returns an answer per position and the calls made.
    async fn run(
        &self,
        reads: &[KeyRead<'_>],
        mut pending: Call,
        until: Instant,
    ) -> (Vec<(usize, LookupAnswer)>, u32) {
        let mut answers = Vec::new();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let request = self
                .client
                .batch_get_item()
                .set_request_items(Some(request_items(reads, &pending)));
            let sent = tokio::time::timeout_at(until.into(), request.send()).await;
            let output = match sent {
                Ok(Ok(output)) => output,
                Ok(Err(error)) => {
                    let failure = failure(&error);
                    answers.extend(pending.positions().map(|p| (p, failed(&failure))));
                    return (answers, attempts);
                }
                Err(_) => {
                    let failure = LookupFailure::Unavailable(
                        "BatchGetItem: no answer before the invocation's deadline".to_owned(),
                    );
                    answers.extend(pending.positions().map(|p| (p, failed(&failure))));
                    return (answers, attempts);
                }
            };
            let unprocessed = settle(reads, &pending, output, &mut answers);
            if unprocessed.is_empty() {
                return (answers, attempts);
            }
            let pause = crate::aws::unprocessed_backoff(attempts);
            if attempts >= MAX_ATTEMPTS || Instant::now() + pause >= until {
                let failure = LookupFailure::Throttled(format!(
                    "BatchGetItem left {} keys unprocessed after {attempts} calls",
                    unprocessed.len()
                ));
                answers.extend(unprocessed.positions().map(|p| (p, failed(&failure))));
                return (answers, attempts);
            }
            tokio::time::sleep(pause).await;
            pending = unprocessed;
        }
    }
}

impl LookupReader for DynamoDbReader {
    async fn read(&self, requests: &[LookupRequest], until: Instant) -> Reads {
        let reads: Vec<KeyRead<'_>> = requests.iter().map(KeyRead::from).collect();
        self.read_keys(&reads, until).await
    }
}

/// One `BatchGetItem` call: per table, its read consistency and the positions of the reads
/// it asks for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Call {
    /// Table to (consistent read, positions in the round).
    pub tables: BTreeMap<String, (bool, Vec<usize>)>,
}

impl Call {
    /// Keys the call asks for.
    #[must_use]
    pub fn len(&self) -> usize {
        self.tables
            .values()
            .map(|(_, positions)| positions.len())
            .sum()
    }

    /// Whether it asks for nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn positions(&self) -> impl Iterator<Item = usize> + '_ {
        self.tables
            .values()
            .flat_map(|(_, positions)| positions.iter().copied())
    }
}

/// The calls that read `reads`: grouped by table and consistency, at most
/// [`MAX_KEYS_PER_CALL`] keys each, a table at most once per call.
#[must_use]
pub fn plan(reads: &[KeyRead<'_>]) -> Vec<Call> {
    let mut groups: BTreeMap<(&str, bool), Vec<usize>> = BTreeMap::new();
    for (position, read) in reads.iter().enumerate() {
        groups
            .entry((read.table, read.consistent_read))
            .or_default()
            .push(position);
    }
    let mut calls = Vec::new();
    let mut current = Call::default();
    for ((table, consistent), positions) in groups {
        let mut rest = positions.as_slice();
        while !rest.is_empty() {
            if current.len() == MAX_KEYS_PER_CALL || current.tables.contains_key(table) {
                calls.push(std::mem::take(&mut current));
            }
            let take = rest.len().min(MAX_KEYS_PER_CALL - current.len());
            current
                .tables
                .insert(table.to_owned(), (consistent, rest[..take].to_vec()));
            rest = &rest[take..];
        }
    }
    if !current.is_empty() {
        calls.push(current);
    }
    calls
}

/// The call's keys by table. A key asked for twice (`N "1.5"` and `N "1.50"` are one key to
/// DynamoDB, two requests to the core) goes once: DynamoDB refuses a call with a duplicate key.
fn request_items(reads: &[KeyRead<'_>], call: &Call) -> HashMap<String, KeysAndAttributes> {
    call.tables
        .iter()
        .filter_map(|(table, (consistent, positions))| {
            let mut seen = HashSet::new();
            let keys = positions
                .iter()
                .filter_map(|&p| reads.get(p))
                .filter(|read| seen.insert(identity(read.key)))
                .map(|read| item_to_sdk(read.key))
                .collect();
            // Building fails only without keys, and a planned table always has some.
            let keys = KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(*consistent)
                .build()
                .ok()?;
            Some((table.clone(), keys))
        })
        .collect()
}

/// A whole key's identity (every attribute of it).
fn identity(key: &Item) -> Option<String> {
    key_identity(key, key.keys().map(String::as_str))
}

/// Matches what one call returned to its reads: found items and misses go into `answers`;
/// returns the reads left unprocessed.
fn settle(
    reads: &[KeyRead<'_>],
    call: &Call,
    output: BatchGetItemOutput,
    answers: &mut Vec<(usize, LookupAnswer)>,
) -> Call {
    let mut waiting: BTreeMap<&str, KeyIndex> = call
        .tables
        .iter()
        .map(|(table, (_, positions))| (table.as_str(), KeyIndex::new(reads, positions)))
        .collect();
    for (table, items) in output.responses.unwrap_or_default() {
        let Some(index) = waiting.get_mut(table.as_str()) else {
            continue;
        };
        for item in items {
            let item = item_from_sdk(item);
            let positions = index.take(&item);
            if !positions.is_empty() {
                let found = LookupItem::from_attributes(&item);
                answers.extend(
                    positions
                        .into_iter()
                        .map(|p| (p, LookupAnswer::Found(found.clone()))),
                );
            }
        }
    }
    let mut unprocessed = Call::default();
    for (table, keys) in output.unprocessed_keys.unwrap_or_default() {
        let Some(index) = waiting.get_mut(table.as_str()) else {
            continue;
        };
        let positions: Vec<usize> = keys
            .keys
            .into_iter()
            .flat_map(|key| index.take(&item_from_sdk(key)))
            .collect();
        if !positions.is_empty() {
            let consistent = call.tables.get(&table).is_some_and(|(c, _)| *c);
            unprocessed.tables.insert(table, (consistent, positions));
        }
    }
    for index in waiting.into_values() {
        answers.extend(index.rest().map(|p| (p, LookupAnswer::NotFound)));
    }
    unprocessed
}

/// A table's reads of one call by key identity, so that returned items find their reads.
struct KeyIndex {
    /// The key attribute names of the reads (one list per key schema; a table has one).
    schemas: Vec<Vec<String>>,
    by_identity: HashMap<String, Vec<usize>>,
}

impl KeyIndex {
    fn new(reads: &[KeyRead<'_>], positions: &[usize]) -> Self {
        let mut schemas: Vec<Vec<String>> = Vec::new();
        let mut by_identity: HashMap<String, Vec<usize>> = HashMap::new();
        for &position in positions {
            let Some(read) = reads.get(position) else {
                continue;
            };
            if let Some(identity) = identity(read.key) {
                by_identity.entry(identity).or_default().push(position);
            }
            let names: Vec<String> = read.key.keys().cloned().collect();
            if !schemas.contains(&names) {
                schemas.push(names);
            }
        }
        Self {
            schemas,
            by_identity,
        }
    }

    /// The reads whose key `item` has (none, or all that asked for that key), once.
    fn take(&mut self, item: &Item) -> Vec<usize> {
        self.schemas
            .iter()
            .find_map(|names| {
                let identity = key_identity(item, names.iter().map(String::as_str))?;
                self.by_identity.remove(&identity)
            })
            .unwrap_or_default()
    }

    fn rest(self) -> impl Iterator<Item = usize> {
        self.by_identity.into_values().flatten()
    }
}

fn failed(failure: &LookupFailure) -> LookupAnswer {
    LookupAnswer::Failed(failure.clone())
}

/// What a failed call means for its reads.
fn failure(
    error: &SdkError<BatchGetItemError, aws_smithy_runtime_api::http::Response>,
) -> LookupFailure {
    match error {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let throttled = matches!(
                inner,
                BatchGetItemError::ProvisionedThroughputExceededException(_)
                    | BatchGetItemError::ThrottlingException(_)
                    | BatchGetItemError::RequestLimitExceeded(_)
            ) || inner.code().is_some_and(|code| THROTTLING.contains(&code));
            let detail = match inner.code() {
                Some(code) => format!(
                    "BatchGetItem: {code}: {}",
                    inner.message().unwrap_or_default()
                ),
                None => format!("BatchGetItem: {}", DisplayErrorContext(inner)),
            };
            if throttled {
                LookupFailure::Throttled(detail)
            } else {
                LookupFailure::Unavailable(detail)
            }
        }
        SdkError::TimeoutError(_) => {
            LookupFailure::Unavailable("BatchGetItem: no answer in time".to_owned())
        }
        other => {
            LookupFailure::Unavailable(format!("BatchGetItem: {}", DisplayErrorContext(other)))
        }
    }
}

#[cfg(test)]
mod tests;
