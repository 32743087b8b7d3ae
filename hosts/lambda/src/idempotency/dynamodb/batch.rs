//! A batch's claims in one `TransactWriteItems`, its completions in one `BatchWriteItem`.
//!
//! **Claims.** Each claim is the single claim's conditional put, with the same item and owner
//! token; only the condition is split in two, because a transaction does not return the items it
//! replaced and the mailer must know a takeover (it asks the ledger then):
//!
//! 1. One transaction puts every key on the condition *no live item*
//!    ([`FRESH_CONDITION`]). Normally every key is new and this is the only call.
//! 2. If it is cancelled, DynamoDB names the refused puts and returns their items
//!    (`ReturnValuesOnConditionCheckFailure`): a completed key or a live claim is answered from
//!    the item, as the single claim answers it; an expired claim is taken over by a second
//!    transaction, on the condition that it is still the claim that was seen
//!    ([`TAKEOVER_CONDITION`]), together with the puts the first one did not refuse.
//! 3. Whatever is still open (a second cancellation, a transaction conflict with another
//!    writer, a key twice in the batch) is claimed one key at a time, which is always correct.
//!
//! A transaction is all or nothing, so no claim is ever half made; the owner tokens make an SDK
//! retry of a transaction that landed come back as our own claims (see `interpret`).
//!
//! **Completions** overwrite the claim with the completed item, exactly as the single
//! `UpdateItem` does (unconditionally: the email went, whoever holds the key now), 25 items per
//! call; items DynamoDB leaves unprocessed are written again after a back-off.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Put, PutRequest,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, WriteRequest,
};
use mailroom_ledger_dynamodb::unsuppressed_condition;

use super::{COMPLETED, DynamoDbStore, IN_PROGRESS, TTL_ATTRIBUTE, interpret, number, unavailable};
use crate::idempotency::{
    AddressCheck, CheckedClaims, Claim, Completion, IdempotencyStore, Lease, Standing, StoreError,
};
use crate::lookups::attributes::{item_from_sdk, item_to_sdk};

/// DynamoDB's limit of items per `TransactWriteItems`.
pub const MAX_CLAIMS_PER_CALL: usize = 100;

/// DynamoDB's limit of items per `BatchWriteItem`.
pub const MAX_COMPLETIONS_PER_CALL: usize = 25;

/// Attempts at a completion write that DynamoDB leaves unprocessed, the first call included.
const COMPLETION_ATTEMPTS: u32 = 4;

/// The first transaction's condition: no item, or one past its TTL (DynamoDB deletes those
/// only eventually).
const FRESH_CONDITION: &str = "attribute_not_exists(pk) OR #expires_at < :now_s";

/// A takeover's condition: the expired claim that the first transaction found is still there
/// (or its item has passed its TTL since).
const TAKEOVER_CONDITION: &str =
    "(#state = :in_progress AND #owner = :seen_owner AND #lease < :now_ms) OR #expires_at < :now_s";

/// What a put in a claim transaction expects to find.
#[derive(Debug, Clone)]
enum Expect {
    /// No live item: the claim is [`Claim::Acquired`].
    Fresh,
    /// The expired claim of this owner: the claim is [`Claim::TakenOver`].
    Expired { owner: String },
}

/// One call's share of a checked claim: where its checks start among all, its checks, its
/// puts.
type CallPart<'c, 'a> = (usize, &'c [AddressCheck<'a>], Vec<(usize, Expect)>);

/// How a claim transaction ended.
enum Transacted {
    /// Every put landed.
    Landed,
    /// Cancelled: one reason per put, in order.
    Cancelled(Vec<CancellationReason>),
}

impl DynamoDbStore {
    /// Claims the leases at the `puts`' positions in one transaction, each put expecting what its
    /// [`Expect`] says, on the condition that every one of `checks` holds. A cancellation's
    /// reasons name the checks first, then the puts.
    async fn transact_claims(
        &self,
        checks: &[AddressCheck<'_>],
        leases: &[Lease<'_>],
        puts: &[(usize, Expect)],
        attempt: u32,
    ) -> Result<Transacted, StoreError> {
        let mut items = Vec::with_capacity(checks.len() + puts.len());
        for check in checks {
            let condition = unsuppressed_condition(check.now);
            let mut built = ConditionCheck::builder()
                .table_name(check.table)
                .set_key(Some(item_to_sdk(check.key)))
                .condition_expression(condition.expression)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            for (name, attribute) in condition.names {
                built = built.expression_attribute_names(name, attribute);
            }
            for (name, value) in condition.values {
                built = built.expression_attribute_values(name, value);
            }
            let built = built.build().map_err(|error| StoreError::Unavailable {
                operation: "TransactWriteItems",
                detail: error.to_string(),
            })?;
            items.push(TransactWriteItem::builder().condition_check(built).build());
        }
        for (position, expect) in puts {
            let lease = &leases[*position];
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(self.claim_item(lease)))
                .expression_attribute_names("#expires_at", TTL_ATTRIBUTE)
                .expression_attribute_values(":now_s", number(lease.now_ms / 1000))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            let put = match expect {
                Expect::Fresh => put.condition_expression(FRESH_CONDITION),
                Expect::Expired { owner } => put
                    .condition_expression(TAKEOVER_CONDITION)
                    .expression_attribute_names("#state", "state")
                    .expression_attribute_names("#owner", "owner")
                    .expression_attribute_names("#lease", "leaseExpiresMs")
                    .expression_attribute_values(
                        ":in_progress",
                        AttributeValue::S(IN_PROGRESS.to_owned()),
                    )
                    .expression_attribute_values(":seen_owner", AttributeValue::S(owner.clone()))
                    .expression_attribute_values(":now_ms", number(lease.now_ms)),
            };
            let put = put.build().map_err(|error| StoreError::Unavailable {
                operation: "TransactWriteItems",
                detail: error.to_string(),
            })?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        // The token makes an SDK retry of a transaction that landed succeed again instead of
        // failing its conditions. Owner tokens are unique per claim, so the first put's owner
        // and the attempt name this transaction (a second attempt has other puts, and DynamoDB
        // refuses a token reused for other content).
        // A transaction of checks alone writes nothing: repeating it needs no token.
        let token = puts
            .first()
            .map(|(position, _)| request_token(attempt, leases[*position].owner));
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .set_client_request_token(token)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(Transacted::Landed),
            Err(SdkError::ServiceError(service)) => match service.err() {
                TransactWriteItemsError::TransactionCanceledException(cancelled) => Ok(
                    Transacted::Cancelled(cancelled.cancellation_reasons().to_vec()),
                ),
                _ => Err(unavailable(
                    "TransactWriteItems",
                    &SdkError::ServiceError(service),
                )),
            },
            Err(error) => Err(unavailable("TransactWriteItems", &error)),
        }
    }

    /// The completed item of a key, as the single completion leaves it.
    fn completed_item(&self, done: &Completion<'_>) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (
                "pk".to_owned(),
                AttributeValue::S(done.lease.key.to_owned()),
            ),
            ("state".to_owned(), AttributeValue::S(COMPLETED.to_owned())),
            (
                "owner".to_owned(),
                AttributeValue::S(done.lease.owner.to_owned()),
            ),
            (
                "messageId".to_owned(),
                AttributeValue::S(done.message_id.to_owned()),
            ),
            (TTL_ATTRIBUTE.to_owned(), self.expires_at(done.lease.now_ms)),
        ])
    }

    /// Writes one call's worth of completed items, again for what DynamoDB leaves unprocessed.
    async fn write_completed(&self, completions: &[Completion<'_>]) -> Result<(), StoreError> {
        let mut requests: Vec<WriteRequest> = Vec::with_capacity(completions.len());
        for done in completions {
            let put = PutRequest::builder()
                .set_item(Some(self.completed_item(done)))
                .build()
                .map_err(|error| StoreError::Unavailable {
                    operation: "BatchWriteItem",
                    detail: error.to_string(),
                })?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        let mut attempts = 0;
        while !requests.is_empty() {
            if attempts > 0 {
                tokio::time::sleep(crate::aws::unprocessed_backoff(attempts)).await;
            }
            attempts += 1;
            let output = self
                .client
                .batch_write_item()
                .request_items(&self.table, requests)
                .send()
                .await
                .map_err(|error| unavailable("BatchWriteItem", &error))?;
            requests = output
                .unprocessed_items
                .and_then(|mut left| left.remove(&self.table))
                .unwrap_or_default();
            if !requests.is_empty() && attempts >= COMPLETION_ATTEMPTS {
                return Err(StoreError::Unavailable {
                    operation: "BatchWriteItem",
                    detail: format!(
                        "{} items still unprocessed after {attempts} calls",
                        requests.len()
                    ),
                });
            }
        }
        Ok(())
    }
}

/// A `ClientRequestToken` (at most 36 characters) for attempt `attempt` of the transaction
/// whose first claim is `owner`'s.
fn request_token(attempt: u32, owner: &str) -> String {
    let prefix = format!("{attempt}-");
    let room = 36usize.saturating_sub(prefix.len());
    let skip = owner.chars().count().saturating_sub(room);
    // The end of an owner token is its per-claim counter: keep it when the token is long.
    prefix + &owner.chars().skip(skip).collect::<String>()
}

/// What a refused put's item says.
enum Refusal {
    /// The claim's answer, as the single claim gives it.
    Answered(Result<Claim, StoreError>),
    /// An expired claim: take it over.
    TakeOver(Expect),
}

/// What a refused put's item means; `None` when the put was not refused for its condition, or
/// no item came back.
fn refused(lease: &Lease<'_>, reason: &CancellationReason) -> Option<Refusal> {
    if reason.code() != Some("ConditionalCheckFailed") {
        return None;
    }
    let item = reason.item()?;
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.as_str()),
        _ => None,
    };
    let lease_ms = match item.get("leaseExpiresMs") {
        Some(AttributeValue::N(value)) => value.parse::<u64>().ok(),
        _ => None,
    };
    match (text("state"), text("owner"), lease_ms) {
        (Some(IN_PROGRESS), Some(owner), Some(lease_ms))
            if owner != lease.owner && lease_ms < lease.now_ms =>
        {
            Some(Refusal::TakeOver(Expect::Expired {
                owner: owner.to_owned(),
            }))
        }
        _ => Some(Refusal::Answered(interpret(lease, item))),
    }
}

impl DynamoDbStore {
    /// [`IdempotencyStore::claim_all`] in as few transactions as the items allow.
    pub(super) async fn claim_batch(&self, leases: &[Lease<'_>]) -> Vec<Result<Claim, StoreError>> {
        let mut answers: Vec<Option<Result<Claim, StoreError>>> = vec![None; leases.len()];
        let round = first_leases(leases);
        for chunk in round.chunks(MAX_CLAIMS_PER_CALL) {
            self.transact_rounds(leases, chunk.to_vec(), 1, &mut answers)
                .await;
        }
        self.claim_open(leases, &mut answers, |_| true).await;
        answers.into_iter().map(unanswered_claim).collect()
    }

    /// [`IdempotencyStore::claim_all_checked`]: the checks and the claims share transactions
    /// (at most [`MAX_CLAIMS_PER_CALL`] items each, the checks spread over them first, the
    /// calls concurrent). A transaction that lands has cleared its checks and made its claims;
    /// one cancelled names each check's result, and if its checks all held, its claims go on
    /// as [`claim_batch`](Self::claim_batch)'s do after a cancellation; if one failed, they
    /// are not made.
    pub(super) async fn claim_batch_checked(
        &self,
        leases: &[Lease<'_>],
        checks: &[AddressCheck<'_>],
    ) -> CheckedClaims {
        let puts = first_leases(leases);
        let parts: Vec<CallPart<'_, '_>> = split_calls(checks.len(), puts.len())
            .into_iter()
            .map(|(checks_range, puts_range)| {
                let from = checks_range.start;
                (from, &checks[checks_range], puts[puts_range].to_vec())
            })
            .collect();
        let results = futures_util::future::join_all(parts.into_iter().map(
            |(offset, checks, puts)| async move {
                let mut answers: Vec<Option<Result<Claim, StoreError>>> = vec![None; leases.len()];
                let (standings, cleared) =
                    self.checked_call(leases, checks, puts, &mut answers).await;
                (offset, standings, cleared, answers)
            },
        ))
        .await;
        let mut standings: Vec<Result<Standing, StoreError>> = vec![
            Err(StoreError::Unavailable {
                operation: "TransactWriteItems",
                detail: "no answer for a check".to_owned(),
            });
            checks.len()
        ];
        let mut answers: Vec<Option<Result<Claim, StoreError>>> = vec![None; leases.len()];
        let mut cleared_positions = HashSet::new();
        for (offset, call_standings, cleared, call_answers) in results {
            for (index, standing) in call_standings.into_iter().enumerate() {
                standings[offset + index] = standing;
            }
            cleared_positions.extend(cleared);
            for (position, answer) in call_answers.into_iter().enumerate() {
                if answer.is_some() {
                    answers[position] = answer;
                }
            }
        }
        // What is open beside cleared checks is claimed one key at a time; a key whose checks
        // failed, or a key twice in the batch, is left for its send to claim.
        self.claim_open(leases, &mut answers, |position| {
            cleared_positions.contains(&position)
        })
        .await;
        CheckedClaims {
            checks: standings,
            claims: answers,
        }
    }

    /// One checked transaction and, if its checks held, what follows for its claims: the
    /// checks' results and the positions of the leases whose checks cleared.
    async fn checked_call(
        &self,
        leases: &[Lease<'_>],
        checks: &[AddressCheck<'_>],
        puts: Vec<(usize, Expect)>,
        answers: &mut [Option<Result<Claim, StoreError>>],
    ) -> (Vec<Result<Standing, StoreError>>, Vec<usize>) {
        let positions: Vec<usize> = puts.iter().map(|(position, _)| *position).collect();
        match self.transact_claims(checks, leases, &puts, 1).await {
            Ok(Transacted::Landed) => {
                for (position, _) in puts {
                    answers[position] = Some(Ok(Claim::Acquired));
                }
                (vec![Ok(Standing::Clear); checks.len()], positions)
            }
            Ok(Transacted::Cancelled(reasons)) => {
                let standings: Vec<Result<Standing, StoreError>> = (0..checks.len())
                    .map(|index| {
                        reasons.get(index).map_or_else(
                            || {
                                Err(StoreError::Unavailable {
                                    operation: "TransactWriteItems",
                                    detail: "no cancellation reason for a check".to_owned(),
                                })
                            },
                            standing,
                        )
                    })
                    .collect();
                if standings
                    .iter()
                    .any(|standing| !matches!(standing, Ok(Standing::Clear)))
                {
                    return (standings, Vec::new());
                }
                let put_reasons = reasons.get(checks.len()..).unwrap_or_default().to_vec();
                let again = after_cancellation(leases, puts, put_reasons, answers);
                self.transact_rounds(leases, again, 2, answers).await;
                (standings, positions)
            }
            Err(error) => (vec![Err(error); checks.len()], Vec::new()),
        }
    }

    /// Claims `puts` in transactions from attempt `attempt` on (two at the most), filling in
    /// `answers`; what is left open is for the single claims.
    async fn transact_rounds(
        &self,
        leases: &[Lease<'_>],
        mut puts: Vec<(usize, Expect)>,
        attempt: u32,
        answers: &mut [Option<Result<Claim, StoreError>>],
    ) {
        for attempt in attempt..=2 {
            if puts.len() < 2 {
                break;
            }
            match self.transact_claims(&[], leases, &puts, attempt).await {
                Ok(Transacted::Landed) => {
                    for (position, expect) in puts.drain(..) {
                        answers[position] = Some(Ok(match expect {
                            Expect::Fresh => Claim::Acquired,
                            Expect::Expired { .. } => Claim::TakenOver,
                        }));
                    }
                }
                Ok(Transacted::Cancelled(reasons)) => {
                    puts = after_cancellation(leases, std::mem::take(&mut puts), reasons, answers);
                }
                Err(error) => {
                    for (position, _) in puts.drain(..) {
                        answers[position] = Some(Err(error.clone()));
                    }
                }
            }
        }
    }

    /// Claims one at a time every lease still without an answer that `claimable` allows.
    async fn claim_open(
        &self,
        leases: &[Lease<'_>],
        answers: &mut [Option<Result<Claim, StoreError>>],
        claimable: impl Fn(usize) -> bool,
    ) {
        let open: Vec<usize> = (0..leases.len())
            .filter(|position| answers[*position].is_none() && claimable(*position))
            .collect();
        for position in open {
            answers[position] = Some(self.claim(&leases[position]).await);
        }
    }

    /// [`IdempotencyStore::complete_all`]: 25 items per call, the calls concurrent.
    pub(super) async fn complete_batch(
        &self,
        completions: &[Completion<'_>],
    ) -> Vec<Result<(), StoreError>> {
        // One call may not name an item twice: a repeated key's later completions go alone.
        let mut seen = HashSet::new();
        let (mut batched, mut alone) = (Vec::new(), Vec::new());
        for (position, done) in completions.iter().enumerate() {
            if seen.insert(done.lease.key) {
                batched.push(position);
            } else {
                alone.push(position);
            }
        }
        let chunks: Vec<Vec<usize>> = batched
            .chunks(MAX_COMPLETIONS_PER_CALL)
            .map(<[usize]>::to_vec)
            .collect();
        let written = futures_util::future::join_all(chunks.iter().map(|chunk| async move {
            let items: Vec<Completion<'_>> = chunk
                .iter()
                .map(|position| completions[*position].clone())
                .collect();
            self.write_completed(&items).await
        }))
        .await;
        let mut answers: Vec<Result<(), StoreError>> = vec![Ok(()); completions.len()];
        for (chunk, result) in chunks.iter().zip(written) {
            for position in chunk {
                answers[*position] = result.clone();
            }
        }
        for position in alone {
            let done = &completions[position];
            answers[position] = self.complete(&done.lease, done.message_id).await;
        }
        answers
    }
}

/// How `checks` checks and `puts` claims share transactions: as few calls as
/// [`MAX_CLAIMS_PER_CALL`] allows (at least one, which a batch of checks alone needs), each
/// with an even share of both, as ranges into the two lists. Each share is rounded up, so the
/// fewest calls are those whose two rounded shares still fit one call.
fn split_calls(checks: usize, puts: usize) -> Vec<(Range<usize>, Range<usize>)> {
    let mut calls = (checks + puts).div_ceil(MAX_CLAIMS_PER_CALL).max(1);
    while checks.div_ceil(calls) + puts.div_ceil(calls) > MAX_CLAIMS_PER_CALL {
        calls += 1;
    }
    let (checks_per_call, puts_per_call) = (checks.div_ceil(calls), puts.div_ceil(calls));
    let share = |call: usize, per_call: usize, total: usize| {
        let from = (call * per_call).min(total);
        from..(from + per_call).min(total)
    };
    (0..calls)
        .map(|call| {
            (
                share(call, checks_per_call, checks),
                share(call, puts_per_call, puts),
            )
        })
        .collect()
}

/// The first lease of each key, each expecting a fresh item: a transaction may touch an item
/// once, so a key's later leases are claimed one by one after the rest, and find it held.
fn first_leases(leases: &[Lease<'_>]) -> Vec<(usize, Expect)> {
    let mut seen = HashSet::new();
    leases
        .iter()
        .enumerate()
        .filter(|(_, lease)| seen.insert(lease.key))
        .map(|(position, _)| (position, Expect::Fresh))
        .collect()
}

/// Answers the puts a cancelled transaction refused from their items; returns the ones to try
/// again (takeovers of expired claims, and puts that were not refused).
fn after_cancellation(
    leases: &[Lease<'_>],
    puts: Vec<(usize, Expect)>,
    reasons: Vec<CancellationReason>,
    answers: &mut [Option<Result<Claim, StoreError>>],
) -> Vec<(usize, Expect)> {
    let mut again = Vec::new();
    for ((position, expect), reason) in puts.into_iter().zip(reasons) {
        match refused(&leases[position], &reason) {
            Some(Refusal::Answered(answer)) => answers[position] = Some(answer),
            Some(Refusal::TakeOver(takeover)) => again.push((position, takeover)),
            // Not refused: it would have landed, and goes again. Refused without an item (a
            // conflict with another writer): the single claim decides it.
            None if reason.code() == Some("None") => again.push((position, expect)),
            None => {}
        }
    }
    again
}

/// What a check's cancellation reason says: `None` (it held), the item it failed on, or
/// anything else (a conflict with another writer, no item returned) as a failure, so the
/// records it guards are retried rather than sent unchecked.
fn standing(reason: &CancellationReason) -> Result<Standing, StoreError> {
    match (reason.code(), reason.item()) {
        (Some("None"), _) => Ok(Standing::Clear),
        (Some("ConditionalCheckFailed"), Some(item)) => {
            Ok(Standing::Held(item_from_sdk(item.clone())))
        }
        (code, _) => Err(StoreError::Unavailable {
            operation: "TransactWriteItems",
            detail: format!(
                "the address check was cancelled: {} {}",
                code.unwrap_or("(no code)"),
                reason.message().unwrap_or_default()
            ),
        }),
    }
}

/// A claim the batch left without an answer: a failure, so its record is retried.
fn unanswered_claim(answer: Option<Result<Claim, StoreError>>) -> Result<Claim, StoreError> {
    answer.unwrap_or_else(|| {
        Err(StoreError::Unavailable {
            operation: "TransactWriteItems",
            detail: "no answer for a claim".to_owned(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::{MAX_CLAIMS_PER_CALL, request_token, split_calls};

    #[test]
    fn checked_claims_split_into_calls_within_the_limit_covering_everything_once() {
        for checks in 0..=260 {
            for puts in 0..=260 {
                let calls = split_calls(checks, puts);
                assert!(!calls.is_empty());
                let (mut next_check, mut next_put) = (0, 0);
                for (checked, claimed) in &calls {
                    assert!(
                        checked.len() + claimed.len() <= MAX_CLAIMS_PER_CALL,
                        "{checks} checks, {puts} puts: a call of {} items",
                        checked.len() + claimed.len()
                    );
                    assert_eq!((checked.start, claimed.start), (next_check, next_put));
                    (next_check, next_put) = (checked.end, claimed.end);
                }
                assert_eq!((next_check, next_put), (checks, puts));
                if checks + puts <= MAX_CLAIMS_PER_CALL {
                    assert_eq!(
                        calls.len(),
                        1,
                        "{checks} checks, {puts} puts fit in one call"
                    );
                }
            }
        }
    }

    #[test]
    fn request_tokens_fit_dynamodb_and_differ_per_attempt() {
        assert_eq!(
            request_token(1, "4711-18c3f0a2b1c-17"),
            "1-4711-18c3f0a2b1c-17"
        );
        assert_ne!(request_token(1, "a-1"), request_token(2, "a-1"));
        let long = format!("{}-99", "x".repeat(60));
        let token = request_token(2, &long);
        assert_eq!(token.len(), 36);
        assert!(token.starts_with("2-") && token.ends_with("-99"));
    }
}
