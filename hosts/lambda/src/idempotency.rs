//! At most one email per idempotency key, even though SQS delivers at least once.
//!
//! SES `SendEmail` has no idempotency token, the same event reaches the queue more than once
//! (SQS redelivers; SNS, EventBridge and Shopify retry), and Lambda can stop between SES
//! accepting an email and the record being acknowledged. So before sending, the function
//! *claims* the email's idempotency key in a store, and after SES accepts it marks the key
//! *completed* with the SES message id:
//!
//! * key unknown, or its claim expired → claimed, the email is sent;
//! * key completed → not sent again, the record is acknowledged ([`SendOutcome::AlreadySent`]);
//! * key claimed by another invocation that may still be running → the record is retried
//!   later ([`SendOutcome::InProgressElsewhere`]).
//!
//! A claim lasts until the claiming invocation's deadline (Lambda stops it then at the latest),
//! so a key left behind by a killed invocation is taken over by the next delivery. That is the
//! one window in which an email can go twice: SES accepted it, and the function died before
//! marking the key completed. Without the store every redelivery could send again.
//!
//! [`IdempotentMailer`] wraps any [`Mailer`] with a store; [`dynamodb::DynamoDbStore`] is the
//! DynamoDB implementation.

pub mod completions;
pub mod dynamodb;

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mailroom_core::feedback::{EmailEntry, LedgerKey};
use mailroom_core::{
    LookupAnswer, LookupFailure, LookupItem, LookupRequest, Message, SendFailure, SendOutcome,
    Timestamp,
};
use thiserror::Error;

use crate::feedback::{LedgerStore, NoLedger, read_entry};
use crate::mailer::Mailer;
use crate::unix_millis;
use completions::{Completions, PendingCompletion};

/// Variable names of the idempotency settings.
pub mod vars {
    /// DynamoDB table of idempotency keys. Unset: no idempotency store (every delivery sends).
    pub const IDEMPOTENCY_TABLE: &str = "IDEMPOTENCY_TABLE";
    /// How long a completed key is kept (DynamoDB TTL), in seconds. Default 1,209,600 (14 days,
    /// the longest an SQS message can be retained, so no redelivery outlives its key).
    pub const IDEMPOTENCY_TTL_SECONDS: &str = "IDEMPOTENCY_TTL_SECONDS";
    /// How long an unfinished claim outlives the invocation that made it, in seconds. Default
    /// 120 ([`super::LEASE_GRACE`]); it must exceed the queue's visibility timeout plus the
    /// first back-off, or a lost answer's retry takes the key over and sends again.
    pub const IDEMPOTENCY_LEASE_GRACE_SECONDS: &str = "IDEMPOTENCY_LEASE_GRACE_SECONDS";
}

/// Default retention of completed keys: SQS's maximum message retention.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(14 * 24 * 3600);

/// The idempotency settings, read with the function's other settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencySettings {
    /// The DynamoDB table.
    pub table: String,
    /// How long completed keys are kept.
    pub retention: Duration,
    /// How long an unfinished claim outlives its invocation's deadline.
    pub lease_grace: Duration,
}

/// A bad idempotency setting; stops the function at init like the other settings do.
#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "{name} is invalid: expected a whole number of seconds from {min} to {max} (got {value:?})"
)]
pub struct IdempotencySettingsError {
    /// The variable.
    pub name: &'static str,
    /// The value found.
    pub value: String,
    /// The smallest value allowed.
    pub min: u64,
    /// The largest value allowed.
    pub max: u64,
}

impl IdempotencySettings {
    /// `None` when `IDEMPOTENCY_TABLE` is unset or empty.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, IdempotencySettingsError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let Some(table) = get(vars::IDEMPOTENCY_TABLE) else {
            return Ok(None);
        };
        let seconds = |name: &'static str, default: Duration, min: u64, max: u64| match get(name) {
            None => Ok(default),
            Some(value) => match value.parse::<u64>() {
                Ok(seconds) if (min..=max).contains(&seconds) => Ok(Duration::from_secs(seconds)),
                _ => Err(IdempotencySettingsError {
                    name,
                    value,
                    min,
                    max,
                }),
            },
        };
        let retention = seconds(
            vars::IDEMPOTENCY_TTL_SECONDS,
            DEFAULT_RETENTION,
            60,
            31_536_000,
        )?;
        // Up to an hour: longer only delays the email of a claimer that crashed.
        let lease_grace = seconds(vars::IDEMPOTENCY_LEASE_GRACE_SECONDS, LEASE_GRACE, 1, 3600)?;
        Ok(Some(Self {
            table,
            retention,
            lease_grace,
        }))
    }
}

/// What the store says about a key the function wants to send under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is ours until the lease expires: send.
    Acquired,
    /// The key is ours, taken over from an earlier claim whose lease ran out without
    /// completing: that claimer may have sent the email (it died, or froze, after SES
    /// accepted). Send unless the delivery ledger says SES has the email.
    TakenOver,
    /// An earlier delivery sent this email.
    Completed {
        /// The SES message id of that send, when recorded.
        message_id: Option<String>,
    },
    /// Another invocation claimed the key and its lease has not expired.
    HeldElsewhere {
        /// When that claim expires (Unix milliseconds).
        lease_expires_ms: u64,
    },
}

/// The store failed; the send does not happen and the record is retried.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum StoreError {
    /// Our side: the store could not be reached or refused the call.
    #[error("idempotency store {operation} failed: {detail}")]
    Unavailable {
        /// The store operation.
        operation: &'static str,
        /// The error code and message.
        detail: String,
    },
    /// The store holds an item this code does not understand (written by another version?).
    #[error("idempotency key {key} has an unreadable item: {detail}")]
    Unreadable {
        /// The key.
        key: String,
        /// What is wrong with the item.
        detail: String,
    },
}

/// One claim: who claims which key until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease<'a> {
    /// The idempotency key.
    pub key: &'a str,
    /// Unique per claim attempt, so only the claimer can release its claim.
    pub owner: &'a str,
    /// Now (Unix milliseconds).
    pub now_ms: u64,
    /// The claim expires at this time (Unix milliseconds).
    pub expires_ms: u64,
}

/// A claim whose email SES accepted: the key to mark completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion<'a> {
    /// The claim.
    pub lease: Lease<'a>,
    /// SES's message id for the email.
    pub message_id: &'a str,
}

/// A recipient's suppression check made in the call that claims a batch's keys: the address's
/// item in the ledger table, tested against
/// [`mailroom_ledger_dynamodb::unsuppressed_condition`] instead of read.
#[derive(Debug, Clone, Copy)]
pub struct AddressCheck<'a> {
    /// The ledger table.
    pub table: &'a str,
    /// The address item's key, as the core asked for it.
    pub key: &'a mailroom_core::lookup::Item,
    /// The time the condition judges expiries at.
    pub now: mailroom_core::Timestamp,
}

/// What an [`AddressCheck`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Standing {
    /// The condition held: nothing suppresses the address.
    Clear,
    /// The condition failed: the address's item, for the core to judge.
    Held(mailroom_core::lookup::Item),
}

/// What [`IdempotencyStore::claim_all_checked`] came to.
#[derive(Debug, Clone)]
pub struct CheckedClaims {
    /// One per check, in the checks' order.
    pub checks: Vec<Result<Standing, StoreError>>,
    /// One per lease, in the leases' order: `None` when the key was not claimed because a
    /// check in its call failed (its email may not go; it is claimed if it is sent).
    pub claims: Vec<Option<Result<Claim, StoreError>>>,
}

/// Where idempotency keys live.
///
/// A batch's claims and completions go through [`claim_all`](Self::claim_all) and
/// [`complete_all`](Self::complete_all), so a store that can write many items in one request
/// (DynamoDB's `TransactWriteItems` and `BatchWriteItem`) makes one call per batch instead of
/// one per email. Their defaults make the single calls, concurrently.
pub trait IdempotencyStore {
    /// Claims `lease.key` unless it is completed or validly claimed by someone else.
    fn claim(&self, lease: &Lease<'_>) -> impl Future<Output = Result<Claim, StoreError>> + Send;
    /// Marks the key completed with the provider's message id; kept for the retention time.
    fn complete(
        &self,
        lease: &Lease<'_>,
        message_id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// [`claim`](Self::claim) for every lease, answered in the leases' order, with the same
    /// guarantees for each. A key may appear more than once: its first lease is claimed
    /// first, and the later ones find it held.
    fn claim_all(
        &self,
        leases: &[Lease<'_>],
    ) -> impl Future<Output = Vec<Result<Claim, StoreError>>> + Send
    where
        Self: Sync,
    {
        async move {
            let mut answers = Vec::with_capacity(leases.len());
            for lease in leases {
                answers.push(self.claim(lease).await);
            }
            answers
        }
    }
    /// [`complete`](Self::complete) for every completion, answered in their order.
    fn complete_all(
        &self,
        completions: &[Completion<'_>],
    ) -> impl Future<Output = Vec<Result<(), StoreError>>> + Send
    where
        Self: Sync,
    {
        futures_util::future::join_all(
            completions
                .iter()
                .map(|done| self.complete(&done.lease, done.message_id)),
        )
    }
    /// Whether [`claim_all_checked`](Self::claim_all_checked) can make address checks.
    fn checks_addresses(&self) -> bool {
        false
    }
    /// [`claim_all`](Self::claim_all), in the same calls as `checks`: each call lands only if
    /// its checks hold, so a key is claimed only when the checks beside it cleared. Only
    /// called when [`checks_addresses`](Self::checks_addresses) says so; the default claims
    /// nothing and fails every check.
    fn claim_all_checked(
        &self,
        leases: &[Lease<'_>],
        checks: &[AddressCheck<'_>],
    ) -> impl Future<Output = CheckedClaims> + Send
    where
        Self: Sync,
    {
        let unsupported = StoreError::Unavailable {
            operation: "claim_all_checked",
            detail: "this store cannot check addresses".to_owned(),
        };
        let answer = CheckedClaims {
            checks: vec![Err(unsupported); checks.len()],
            claims: vec![None; leases.len()],
        };
        async move { answer }
    }
    /// Gives a claim back (the send certainly did not happen), so the next delivery need not
    /// wait for the lease to expire. Only the owner's claim is removed.
    fn release(&self, lease: &Lease<'_>) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// How long an unfinished claim outlives the invocation that made it. A send whose answer was
/// lost is retried (15-30 s later on a first receive); the claim must still hold then, so the
/// retry waits (`InProgressElsewhere`) instead of taking the key over and sending again, while
/// the claimer, if it was only frozen between SES's answer and its completion write, thaws and
/// completes the key. Longer means a crashed claimer's email waits longer; two minutes covers
/// the first retry and a frozen instance's usual pause. `IDEMPOTENCY_LEASE_GRACE_SECONDS`
/// changes it.
pub const LEASE_GRACE: Duration = Duration::from_secs(120);

/// The current invocation's deadline, shared between the runtime loop (which sets it for each
/// invocation) and the mailer (which makes claims last until then).
#[derive(Debug, Clone)]
pub struct LeaseClock {
    deadline_ms: Arc<AtomicU64>,
    grace: Duration,
}

impl Default for LeaseClock {
    fn default() -> Self {
        Self::with_grace(LEASE_GRACE)
    }
}

impl LeaseClock {
    /// A clock whose claims outlive the deadline by `grace`.
    #[must_use]
    pub fn with_grace(grace: Duration) -> Self {
        Self {
            deadline_ms: Arc::default(),
            grace,
        }
    }

    /// Claims made from now on expire at `deadline_ms` (Unix milliseconds, as the Lambda
    /// Runtime API's `Lambda-Runtime-Deadline-Ms`).
    pub fn set_deadline(&self, deadline_ms: u64) {
        self.deadline_ms.store(deadline_ms, Ordering::Relaxed);
    }

    /// When a claim made at `now_ms` expires: the grace after the invocation's deadline,
    /// or after 15 minutes (the longest a Lambda invocation runs) when no deadline is known.
    #[must_use]
    pub fn lease_expiry(&self, now_ms: u64) -> u64 {
        let grace = u64::try_from(self.grace.as_millis()).unwrap_or(u64::MAX);
        match self.deadline_ms.load(Ordering::Relaxed) {
            0 => now_ms.saturating_add(15 * 60 * 1000),
            deadline => deadline.max(now_ms.saturating_add(1000)),
        }
        .saturating_add(grace)
    }
}

/// A [`Mailer`] that consults an [`IdempotencyStore`] around every send; without a store
/// (`IDEMPOTENCY_TABLE` unset) it sends directly.
///
/// A batch costs the store two calls, not two per email: [`Mailer::prepare`] claims the
/// round's keys in one [`IdempotencyStore::claim_all`], and the completions of the emails SES
/// accepted are written together ([`completions`] says when). An answer that comes after
/// [`Mailer::settle`] (SES accepted after the caller stopped waiting) is written on its own at
/// once, so no accepted email is left without its completion.
#[derive(Debug)]
pub struct IdempotentMailer<M, S, F = NoLedger> {
    inner: Arc<M>,
    store: Option<Arc<S>>,
    /// The delivery ledger, asked on a takeover whether SES already has the email.
    ledger: Option<Arc<F>>,
    clock: LeaseClock,
    owner_prefix: String,
    claims: AtomicU64,
    /// Claims made by [`Mailer::prepare`] for the sends about to start, by idempotency key.
    prepared: std::sync::Mutex<HashMap<String, VecDeque<PreparedClaim>>>,
    /// Claimed sends, each a task of its own (the SES call, then the completion write or the
    /// release), not yet awaited by [`Mailer::settle`].
    completing: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Completions kept for a shared write.
    completions: Arc<Completions>,
}

/// Claims made together ahead of their sends: one owner each, one time.
struct ClaimRound {
    owners: Vec<String>,
    now_ms: u64,
    expires_ms: u64,
}

impl ClaimRound {
    /// The leases of `keys`, one per owner.
    fn leases<'a>(&'a self, keys: impl Iterator<Item = &'a str>) -> Vec<Lease<'a>> {
        keys.zip(&self.owners)
            .map(|(key, owner)| Lease {
                key,
                owner,
                now_ms: self.now_ms,
                expires_ms: self.expires_ms,
            })
            .collect()
    }

    /// The claims the store made of `leases`, by key, for their sends (`None`: not made).
    fn prepared(
        &self,
        leases: &[Lease<'_>],
        claims: impl IntoIterator<Item = Option<Result<Claim, StoreError>>>,
    ) -> Vec<(String, PreparedClaim)> {
        leases
            .iter()
            .zip(claims)
            .filter_map(|(lease, claim)| {
                let prepared = PreparedClaim {
                    owner: lease.owner.to_owned(),
                    now_ms: self.now_ms,
                    expires_ms: self.expires_ms,
                    claim: claim?,
                };
                Some((lease.key.to_owned(), prepared))
            })
            .collect()
    }
}

/// A claim made ahead of its send.
#[derive(Debug)]
struct PreparedClaim {
    owner: String,
    now_ms: u64,
    expires_ms: u64,
    claim: Result<Claim, StoreError>,
}

impl<M, S> IdempotentMailer<M, S> {
    /// Wraps `inner`; claims last until the deadline `clock` holds.
    pub fn new(inner: M, store: Option<S>, clock: LeaseClock) -> Self {
        let started = unix_millis();
        Self {
            inner: Arc::new(inner),
            store: store.map(Arc::new),
            ledger: None,
            clock,
            owner_prefix: format!("{}-{started:x}", std::process::id()),
            claims: AtomicU64::new(0),
            prepared: std::sync::Mutex::default(),
            completing: std::sync::Mutex::new(Vec::new()),
            completions: Arc::default(),
        }
    }

    /// The same mailer, asking `ledger` on every takeover of an expired claim whether SES
    /// already has the email (the feedback intake writes its `Send` event there): then the key
    /// is completed and nothing is sent again. This closes the window of a claimer that died
    /// between SES's answer and its completion write, once SES's `Send` event has arrived.
    pub fn with_ledger<F: LedgerStore>(self, ledger: Option<F>) -> IdempotentMailer<M, S, F> {
        IdempotentMailer {
            inner: self.inner,
            store: self.store,
            ledger: ledger.map(Arc::new),
            clock: self.clock,
            owner_prefix: self.owner_prefix,
            claims: self.claims,
            prepared: self.prepared,
            completing: self.completing,
            completions: self.completions,
        }
    }
}

impl<M, S, F> IdempotentMailer<M, S, F> {
    /// The store, if any.
    pub fn store(&self) -> Option<&S> {
        self.store.as_deref()
    }

    /// A new owner token: unique per claim attempt, so only its claimer can release a claim.
    fn next_owner(&self) -> String {
        format!(
            "{}-{}",
            self.owner_prefix,
            self.claims.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// The owners and times of `count` claims made together now.
    fn claim_round(&self, count: usize) -> ClaimRound {
        let now_ms = unix_millis();
        ClaimRound {
            owners: (0..count).map(|_| self.next_owner()).collect(),
            now_ms,
            expires_ms: self.clock.lease_expiry(now_ms),
        }
    }

    /// Whether a claim for `key` waits for its send.
    fn is_prepared(&self, key: &str) -> bool {
        self.prepared
            .lock()
            .is_ok_and(|prepared| prepared.contains_key(key))
    }

    /// Keeps claims made ahead of their sends, by key.
    fn keep_prepared(&self, claims: impl IntoIterator<Item = (String, PreparedClaim)>) {
        let Ok(mut prepared) = self.prepared.lock() else {
            return;
        };
        for (key, claim) in claims {
            prepared.entry(key).or_default().push_back(claim);
        }
    }

    /// The claim [`Mailer::prepare`] made for `key`, if any (one per prepared send).
    fn take_prepared(&self, key: &str) -> Option<PreparedClaim> {
        let mut prepared = self.prepared.lock().ok()?;
        let claims = prepared.get_mut(key)?;
        let claim = claims.pop_front();
        if claims.is_empty() {
            prepared.remove(key);
        }
        claim
    }

    #[cfg(test)]
    pub(crate) fn inner(&self) -> &M {
        &self.inner
    }
}

impl<M, S, F> IdempotentMailer<M, S, F>
where
    S: IdempotencyStore,
    F: LedgerStore,
{
    /// On a takeover: the SES message id of the email when the ledger shows SES has it (then
    /// the key is completed here), else `None`: send.
    async fn sent_per_ledger(&self, store: &S, lease: &Lease<'_>) -> Option<Option<String>> {
        let ledger = self.ledger.as_ref()?;
        let key = LedgerKey::IdempotencyKey(lease.key.to_owned()).storage_key();
        let entry: EmailEntry = match read_entry(ledger.as_ref(), &key).await {
            Ok(Some(entry)) => entry,
            Ok(None) => return None,
            Err(error) => {
                // Without an answer the takeover sends, as it would without a ledger.
                tracing::warn!(idempotency_key = lease.key, %error, "the ledger could not be read on a takeover; sending");
                return None;
            }
        };
        if !entry.ses_has_it() {
            return None;
        }
        let message_id = entry.ses_message_id.clone();
        if let Err(error) = store
            .complete(lease, message_id.as_deref().unwrap_or_default())
            .await
        {
            tracing::warn!(idempotency_key = lease.key, %error, "the key could not be marked completed after the ledger showed it sent");
        }
        Some(message_id)
    }
}

impl<M, S, F> Mailer for IdempotentMailer<M, S, F>
where
    M: Mailer + Send + Sync + 'static,
    S: IdempotencyStore + Send + Sync + 'static,
    F: LedgerStore + 'static,
{
    async fn send(&self, message: &Message, message_id: &str) -> SendOutcome {
        let Some(store) = &self.store else {
            return self.inner.send(message, message_id).await;
        };
        let key = message.idempotency_key();
        let (owner, now_ms, expires_ms, claim) = match self.take_prepared(key) {
            Some(prepared) => (
                prepared.owner,
                prepared.now_ms,
                prepared.expires_ms,
                prepared.claim,
            ),
            None => {
                let (owner, now_ms) = (self.next_owner(), unix_millis());
                let expires_ms = self.clock.lease_expiry(now_ms);
                let lease = Lease {
                    key,
                    owner: &owner,
                    now_ms,
                    expires_ms,
                };
                let claim = store.claim(&lease).await;
                (owner, now_ms, expires_ms, claim)
            }
        };
        let lease = Lease {
            key,
            owner: &owner,
            now_ms,
            expires_ms,
        };
        match claim {
            Ok(Claim::Acquired) => {}
            Ok(Claim::TakenOver) => {
                if let Some(message_id) = self.sent_per_ledger(store, &lease).await {
                    tracing::info!(
                        idempotency_key = lease.key,
                        ses_message_id = message_id.as_deref().unwrap_or_default(),
                        "an expired claim's email is in the delivery ledger; not sending again"
                    );
                    return SendOutcome::AlreadySent { message_id };
                }
            }
            Ok(Claim::Completed { message_id }) => {
                tracing::info!(
                    idempotency_key = lease.key,
                    ses_message_id = message_id.as_deref().unwrap_or_default(),
                    "already sent by an earlier delivery; not sending again"
                );
                return SendOutcome::AlreadySent { message_id };
            }
            Ok(Claim::HeldElsewhere { lease_expires_ms }) => {
                tracing::info!(
                    idempotency_key = lease.key,
                    lease_expires_ms,
                    "another invocation is sending this email; retrying once its claim lapses"
                );
                let seconds = lease_expires_ms.saturating_sub(now_ms).div_ceil(1000);
                return SendOutcome::InProgressElsewhere {
                    retry_after_seconds: Some(u32::try_from(seconds).unwrap_or(u32::MAX)),
                };
            }
            Err(error) => {
                return SendOutcome::Failed(SendFailure::new(
                    "idempotency_store",
                    error.to_string(),
                    None,
                ));
            }
        }
        // The SES call and what follows it (the completion write, or the release) run as one
        // task, which a time limit around this send does not cancel: SES may accept the email
        // after the caller stopped waiting (a slow answer, an instance frozen between the
        // request and the answer), and the key must still be marked completed then, or the
        // record's retry would send it again. The caller gets SES's answer when it comes;
        // `settle` awaits the rest before the function answers Lambda.
        let (answered, answer) = tokio::sync::oneshot::channel();
        let (inner, store) = (Arc::clone(&self.inner), Arc::clone(store));
        let completions = Arc::clone(&self.completions);
        let (message, message_id) = (message.clone(), message_id.to_owned());
        let key = lease.key.to_owned();
        let task = tokio::spawn(async move {
            let outcome = inner.send(&message, &message_id).await;
            match &outcome {
                SendOutcome::Accepted { message_id } => {
                    let completion = PendingCompletion {
                        key,
                        owner,
                        expires_ms,
                        message_id: message_id.clone(),
                    };
                    // Kept before the caller hears the answer, so that the batch's write,
                    // which follows the last answer, includes it.
                    let unkept = completions.keep(&store, completion);
                    let _ = answered.send(outcome.clone());
                    if let Some(completion) = unkept {
                        completions::write(store.as_ref(), vec![completion]).await;
                    }
                }
                SendOutcome::Failed(failure) if certainly_not_sent(failure) => {
                    let _ = answered.send(outcome.clone());
                    let lease = Lease {
                        key: &key,
                        owner: &owner,
                        now_ms: unix_millis(),
                        expires_ms,
                    };
                    if let Err(error) = store.release(&lease).await {
                        tracing::warn!(idempotency_key = key, %error, "claim not released; it expires with the invocation");
                    }
                }
                // A timeout or a lost answer: SES may have accepted it. The claim stays until
                // the lease expires rather than inviting an immediate second send.
                _ => {
                    let _ = answered.send(outcome.clone());
                }
            }
        });
        if let Ok(mut completing) = self.completing.lock() {
            completing.retain(|task| !task.is_finished());
            completing.push(task);
        }
        answer.await.unwrap_or_else(|_| {
            SendOutcome::Failed(SendFailure::new(
                "network",
                "the send ended without an answer",
                None,
            ))
        })
    }

    async fn prepare(&self, messages: &[&Message]) {
        let Some(store) = &self.store else {
            return;
        };
        self.completions.start();
        // Keys claimed with the suppression checks are claimed already.
        let messages: Vec<&Message> = messages
            .iter()
            .copied()
            .filter(|message| !self.is_prepared(message.idempotency_key()))
            .collect();
        if messages.len() < 2 {
            return;
        }
        let round = self.claim_round(messages.len());
        let leases = round.leases(messages.iter().map(|message| message.idempotency_key()));
        let claims = store.claim_all(&leases).await;
        self.keep_prepared(round.prepared(&leases, claims.into_iter().map(Some)));
    }

    fn checks_suppression(&self) -> bool {
        self.store
            .as_deref()
            .is_some_and(IdempotencyStore::checks_addresses)
    }

    async fn check_and_claim(
        &self,
        checks: &[LookupRequest],
        keys: &[String],
        now: Timestamp,
    ) -> Vec<LookupAnswer> {
        let Some(store) = self
            .store
            .as_deref()
            .filter(|store| store.checks_addresses())
        else {
            let failed = LookupAnswer::Failed(LookupFailure::Unavailable(
                "no idempotency store checks suppressions here".to_owned(),
            ));
            return vec![failed; checks.len()];
        };
        // A record whose checks clear is sent within this batch: its claim is made now, as
        // `prepare` would make it a moment later.
        self.completions.start();
        let round = self.claim_round(keys.len());
        let leases = round.leases(keys.iter().map(String::as_str));
        let address_checks: Vec<AddressCheck<'_>> = checks
            .iter()
            .map(|request| AddressCheck {
                table: &request.table,
                key: &request.key,
                now,
            })
            .collect();
        let checked = store.claim_all_checked(&leases, &address_checks).await;
        self.keep_prepared(round.prepared(&leases, checked.claims));
        checked
            .checks
            .into_iter()
            .map(|standing| match standing {
                Ok(Standing::Clear) => LookupAnswer::NotFound,
                Ok(Standing::Held(item)) => LookupAnswer::Found(LookupItem::from_attributes(&item)),
                Err(error) => LookupAnswer::Failed(LookupFailure::Unavailable(error.to_string())),
            })
            .collect()
    }

    async fn settle(&self, by: std::time::Instant) {
        let budget = || by.saturating_duration_since(std::time::Instant::now());
        // Every send that answered has kept its completion before answering, and the batch
        // calls this once its sends have answered or been given up: write them now, without
        // waiting for a send that hangs.
        if let Some(store) = &self.store {
            self.completions.settle(store, by).await;
        }
        // Then what the sends still have running: a release, or an answer that comes late and
        // writes its own completion (buffering has ended).
        let sends = match self.completing.lock() {
            Ok(mut completing) => std::mem::take(&mut *completing),
            Err(_) => return,
        };
        let finished = futures_util::future::join_all(sends);
        if tokio::time::timeout(budget(), finished).await.is_err() {
            // They go on in the background; a key left unfinished holds its claim for the
            // lease's grace, so a retry of the same email waits rather than sends.
            tracing::warn!("sends still unanswered at the deadline");
        }
        if let Some(store) = &self.store {
            let released = self.release_unsent(store);
            if tokio::time::timeout(budget(), released).await.is_err() {
                tracing::warn!("unused claims not given back by the deadline; they expire");
            }
        }
    }
}

impl<M, S, F> IdempotentMailer<M, S, F>
where
    S: IdempotencyStore + Sync,
{
    /// Gives back the claims made ahead of sends that never came (a record whose checks
    /// cleared but whose composition rejected it, or that the deadline kept from going), so
    /// that its next delivery need not wait for the lease. A takeover is kept until it
    /// expires: giving it back would erase the sign that an earlier claimer may have sent.
    async fn release_unsent(&self, store: &S) {
        let unsent: Vec<(String, PreparedClaim)> = match self.prepared.lock() {
            Ok(mut prepared) => prepared
                .drain()
                .flat_map(|(key, claims)| claims.into_iter().map(move |c| (key.clone(), c)))
                .filter(|(_, claim)| matches!(claim.claim, Ok(Claim::Acquired)))
                .collect(),
            Err(_) => return,
        };
        let releases = unsent.iter().map(|(key, claim)| async move {
            let lease = Lease {
                key,
                owner: &claim.owner,
                now_ms: unix_millis(),
                expires_ms: claim.expires_ms,
            };
            if let Err(error) = store.release(&lease).await {
                tracing::warn!(idempotency_key = key.as_str(), %error, "unused claim not given back; it expires with the invocation");
            }
        });
        futures_util::future::join_all(releases).await;
    }
}

/// SES answered with an error: nothing was sent. Timeouts and lost answers are not certain.
fn certainly_not_sent(failure: &SendFailure) -> bool {
    failure.http_status.is_some() && !matches!(failure.code.as_str(), "timeout" | "network")
}

#[cfg(test)]
mod tests;
