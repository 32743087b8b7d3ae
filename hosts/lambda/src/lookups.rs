//! Lookups: the items a batch's records name by id, read before anything is sent.
//!
//! The core hands out a round of reads at a time ([`Batch::lookups`], deduplicated across the
//! batch's records); [`answer_all`] answers each round, from the [`LookupCache`] where the
//! lookup allows it and through a [`LookupReader`] otherwise, until the core asks for nothing
//! more (a lookup whose key reads another's result comes in a later round). [`DynamoDbReader`]
//! reads a round with as few `BatchGetItem` calls as DynamoDB allows, concurrently.
//!
//! Every read is answered by the time the handler gives the lookups: a read without an answer
//! then fails (`Unavailable`), and the records that need it are retried, like any other
//! failure on our side.

pub mod attributes;
pub mod cache;
pub mod dynamodb;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Instant;

use mailroom_core::{Batch, LookupAnswer, LookupFailure, LookupPurpose, LookupRequest, Timestamp};

pub use cache::LookupCache;
pub use dynamodb::DynamoDbReader;

use crate::budget::within;
use crate::mailer::Mailer;
use crate::telemetry::mask_text;

/// Reads items for lookup requests. Never errors: a read that fails is answered
/// [`LookupAnswer::Failed`], which the core turns into a retry of the records that need it.
pub trait LookupReader {
    /// Reads every request, giving up at `until`; one answer per request, in order.
    fn read(
        &self,
        requests: &[LookupRequest],
        until: Instant,
    ) -> impl Future<Output = Reads> + Send;
}

/// What a [`LookupReader`] found.
#[derive(Debug, Clone, Default)]
pub struct Reads {
    /// One per request, in the requests' order.
    pub answers: Vec<LookupAnswer>,
    /// Calls made to the table's service (retries of unprocessed keys included).
    pub calls: u32,
}

/// What the lookups of one batch came to, for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LookupCounts {
    /// Rounds the core asked for.
    pub rounds: u32,
    /// Requests answered by the table (found or not).
    pub read: u32,
    /// Of those, no item had the key.
    pub not_found: u32,
    /// Requests that failed (throttled, unavailable, no answer in time).
    pub failed: u32,
    /// Of those, throttled.
    pub throttled: u32,
    /// Requests answered from the cache.
    pub cache_hits: u32,
    /// Calls made to the table's service.
    pub calls: u32,
}

/// Answers every lookup `batch` asks for, round after round, by `until`; found items go into
/// `cache` for the lookups that allow it. `now_ms` reads the host clock; `now` is the batch's
/// time, at which suppressions' expiries are judged.
///
/// When `mailer` can ([`Mailer::checks_suppression`]), a round's suppression checks are not
/// read: the mailer makes them conditions of the call that claims the idempotency keys of the
/// emails they hold, concurrently with the round's reads, so the delivery ledger costs a
/// batch no call and no round trip of its own.
pub async fn answer_all<R: LookupReader, M: Mailer>(
    batch: &mut Batch,
    reader: &R,
    mailer: &M,
    cache: &Mutex<LookupCache>,
    until: Instant,
    now_ms: impl Fn() -> u64,
    now: Timestamp,
) -> LookupCounts {
    let mut counts = LookupCounts::default();
    loop {
        let round = batch.lookups();
        if round.is_empty() {
            break;
        }
        counts.rounds += 1;
        let (hits, misses) = split_cached(round, cache, now_ms());
        counts.cache_hits += u32::try_from(hits.len()).unwrap_or(u32::MAX);
        for (request, answer) in hits {
            answer_one(batch, &request, answer);
        }
        if misses.is_empty() {
            continue;
        }
        let (checks, reads): (Vec<LookupRequest>, Vec<LookupRequest>) =
            if mailer.checks_suppression() {
                misses
                    .into_iter()
                    .partition(|request| request.purpose == LookupPurpose::SuppressionCheck)
            } else {
                (Vec::new(), misses)
            };
        let held = if checks.is_empty() {
            Vec::new()
        } else {
            batch.emails_held_by_checks()
        };
        // With no time left the table is not called at all: the records are retried.
        let out_of_time = Instant::now() >= until;
        let read = async {
            let unanswered = || Reads {
                answers: vec![no_answer(); reads.len()],
                calls: 0,
            };
            if reads.is_empty() || out_of_time {
                unanswered()
            } else {
                within(until, reader.read(&reads, until), unanswered).await
            }
        };
        let checked = async {
            let unanswered = || vec![no_answer(); checks.len()];
            if checks.is_empty() || out_of_time {
                unanswered()
            } else {
                within(
                    until,
                    mailer.check_and_claim(&checks, &held, now),
                    unanswered,
                )
                .await
            }
        };
        let (read, checked) = futures_util::future::join(read, checked).await;
        counts.calls += read.calls;
        let read_at = now_ms();
        let mut failures: BTreeMap<(&str, String), (u32, &LookupRequest)> = BTreeMap::new();
        // A reader that answered too few: the rest failed (and are retried).
        let answered = reads
            .iter()
            .zip(
                read.answers
                    .into_iter()
                    .chain(std::iter::repeat_with(no_answer)),
            )
            .chain(
                checks
                    .iter()
                    .zip(checked.into_iter().chain(std::iter::repeat_with(no_answer))),
            );
        for (request, answer) in answered {
            match &answer {
                LookupAnswer::Found(item) => {
                    counts.read += 1;
                    if let Ok(mut cache) = cache.lock() {
                        cache.put(
                            &request.table,
                            &request.key,
                            request.cache_seconds,
                            item,
                            read_at,
                        );
                    }
                }
                LookupAnswer::NotFound => {
                    counts.read += 1;
                    counts.not_found += 1;
                }
                LookupAnswer::Failed(failure) => {
                    counts.failed += 1;
                    let detail = match failure {
                        LookupFailure::Throttled(detail) => {
                            counts.throttled += 1;
                            detail
                        }
                        LookupFailure::Unavailable(detail) => detail,
                    };
                    failures
                        .entry((request.table.as_str(), detail.clone()))
                        .or_insert((0, request))
                        .0 += 1;
                }
            }
            answer_one(batch, request, answer);
        }
        // One line per table and cause, not per key: a throttled table fails many at once.
        for ((table, detail), (count, example)) in failures {
            tracing::warn!(
                table,
                lookup = example.lookup.as_str(),
                key = mask_text(&example.key_text()),
                failed = count,
                detail = mask_text(&detail),
                "lookups failed; the records that need them are retried"
            );
        }
    }
    counts
}

/// The round's requests answered by the cache, and those left to read.
fn split_cached(
    round: Vec<LookupRequest>,
    cache: &Mutex<LookupCache>,
    now_ms: u64,
) -> (Vec<(LookupRequest, LookupAnswer)>, Vec<LookupRequest>) {
    let Ok(cache) = cache.lock() else {
        return (Vec::new(), round);
    };
    let mut hits = Vec::new();
    let mut misses = Vec::new();
    for request in round {
        match cache.get(&request.table, &request.key, request.cache_seconds, now_ms) {
            Some(item) => hits.push((request, LookupAnswer::Found(item))),
            None => misses.push(request),
        }
    }
    (hits, misses)
}

fn answer_one(batch: &mut Batch, request: &LookupRequest, answer: LookupAnswer) {
    if let Err(error) = batch.answer_lookup(request.id, answer) {
        // Each request is answered once, with the id the batch gave: a bug if not.
        tracing::error!(%error, "the batch refused a lookup answer");
    }
}

fn no_answer() -> LookupAnswer {
    LookupAnswer::Failed(LookupFailure::Unavailable(
        "no answer before the invocation's deadline".to_owned(),
    ))
}
