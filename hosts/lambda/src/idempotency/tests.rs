//! The mailer decorator's decisions, with an in-memory store that applies the same claim rules
//! as the DynamoDB condition (the DynamoDB store itself is tested against moto in
//! `dynamodb/tests.rs`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use mailroom_core::{Email, Mailbox, SendFailure, SendOutcome};

use super::*;

#[derive(Debug, Clone, PartialEq)]
enum Item {
    InProgress {
        owner: String,
        lease_expires_ms: u64,
    },
    Completed {
        message_id: String,
    },
}

/// The claim rules of `DynamoDbStore`, in a map.
#[derive(Default)]
struct MemoryStore {
    items: Mutex<HashMap<String, Item>>,
    down: bool,
    slow_complete: Duration,
    /// Calls of `claim_all` and `complete_all`, and how many keys each named.
    batched_claims: Mutex<Vec<usize>>,
    batched_completions: Mutex<Vec<usize>>,
    /// Whether it checks addresses with its claims; the address keys (`pk` text) its checks
    /// fail on, and the calls of `claim_all_checked` (checks, keys).
    checks: bool,
    suppressed: Vec<String>,
    checked_calls: Mutex<Vec<(usize, usize)>>,
}

impl IdempotencyStore for MemoryStore {
    async fn claim(&self, lease: &Lease<'_>) -> Result<Claim, StoreError> {
        if self.down {
            return Err(StoreError::Unavailable {
                operation: "PutItem",
                detail: "ProvisionedThroughputExceededException: slow down".into(),
            });
        }
        let mut items = self.items.lock().unwrap();
        let claim = match items.get(lease.key) {
            None => Claim::Acquired,
            Some(Item::InProgress {
                lease_expires_ms, ..
            }) if *lease_expires_ms < lease.now_ms => Claim::TakenOver,
            Some(Item::InProgress {
                lease_expires_ms, ..
            }) => Claim::HeldElsewhere {
                lease_expires_ms: *lease_expires_ms,
            },
            Some(Item::Completed { message_id }) => Claim::Completed {
                message_id: Some(message_id.clone()),
            },
        };
        if matches!(claim, Claim::Acquired | Claim::TakenOver) {
            items.insert(
                lease.key.to_owned(),
                Item::InProgress {
                    owner: lease.owner.to_owned(),
                    lease_expires_ms: lease.expires_ms,
                },
            );
        }
        Ok(claim)
    }

    async fn complete(&self, lease: &Lease<'_>, message_id: &str) -> Result<(), StoreError> {
        tokio::time::sleep(self.slow_complete).await;
        self.items.lock().unwrap().insert(
            lease.key.to_owned(),
            Item::Completed {
                message_id: message_id.to_owned(),
            },
        );
        Ok(())
    }

    async fn claim_all(&self, leases: &[Lease<'_>]) -> Vec<Result<Claim, StoreError>> {
        self.batched_claims.lock().unwrap().push(leases.len());
        let mut answers = Vec::new();
        for lease in leases {
            answers.push(self.claim(lease).await);
        }
        answers
    }

    async fn complete_all(&self, completions: &[Completion<'_>]) -> Vec<Result<(), StoreError>> {
        self.batched_completions
            .lock()
            .unwrap()
            .push(completions.len());
        let mut answers = Vec::new();
        for done in completions {
            answers.push(self.complete(&done.lease, done.message_id).await);
        }
        answers
    }

    fn checks_addresses(&self) -> bool {
        self.checks
    }

    async fn claim_all_checked(
        &self,
        leases: &[Lease<'_>],
        checks: &[AddressCheck<'_>],
    ) -> CheckedClaims {
        self.checked_calls
            .lock()
            .unwrap()
            .push((checks.len(), leases.len()));
        let standings: Vec<Result<Standing, StoreError>> = checks
            .iter()
            .map(|check| {
                let key = match check.key.get("pk") {
                    Some(mailroom_core::lookup::AttributeValue::S(key)) => key.clone(),
                    _ => String::new(),
                };
                Ok(if self.suppressed.contains(&key) {
                    Standing::Held(check.key.clone())
                } else {
                    Standing::Clear
                })
            })
            .collect();
        // All or nothing, as one transaction.
        let cleared = standings.iter().all(|s| matches!(s, Ok(Standing::Clear)));
        let mut claims = Vec::new();
        for lease in leases {
            claims.push(if cleared {
                Some(self.claim(lease).await)
            } else {
                None
            });
        }
        CheckedClaims {
            checks: standings,
            claims,
        }
    }

    async fn release(&self, lease: &Lease<'_>) -> Result<(), StoreError> {
        let mut items = self.items.lock().unwrap();
        if matches!(items.get(lease.key), Some(Item::InProgress { owner, .. }) if owner == lease.owner)
        {
            items.remove(lease.key);
        }
        Ok(())
    }
}

/// Answers each send with the next scripted outcome (Accepted when the script is empty).
#[derive(Default)]
struct ScriptedMailer {
    script: Mutex<Vec<SendOutcome>>,
    calls: AtomicUsize,
}

impl ScriptedMailer {
    fn answering(outcomes: Vec<SendOutcome>) -> Self {
        Self {
            script: Mutex::new(outcomes.into_iter().rev().collect()),
            calls: AtomicUsize::new(0),
        }
    }
}

impl Mailer for ScriptedMailer {
    async fn send(&self, _message: &Message, _message_id: &str) -> SendOutcome {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        self.script
            .lock()
            .unwrap()
            .pop()
            .unwrap_or(SendOutcome::Accepted {
                message_id: format!("ses-{call}"),
            })
    }
}

fn email(key: &str) -> Message {
    Message::Email(Arc::new(email_only(key)))
}

fn email_only(key: &str) -> Email {
    Email::new(
        Mailbox::parse("Shop <shop@example.com>").unwrap(),
        vec![Mailbox::parse("ana@example.org").unwrap()],
        "Your order",
        "<p>Thanks</p>",
        "Thanks",
        key,
    )
    .unwrap()
}

fn mailer(
    inner: ScriptedMailer,
    store: MemoryStore,
) -> IdempotentMailer<ScriptedMailer, MemoryStore> {
    let clock = LeaseClock::default();
    clock.set_deadline(unix_millis() + 30_000);
    IdempotentMailer::new(inner, Some(store), clock)
}

#[tokio::test]
async fn a_redelivered_email_is_acknowledged_without_sending_again() {
    let mailer = mailer(ScriptedMailer::default(), MemoryStore::default());
    let first = mailer.send(&email("k1"), "m").await;
    assert_eq!(
        first,
        SendOutcome::Accepted {
            message_id: "ses-1".into()
        }
    );
    // As the handler does once a batch's sends have answered.
    mailer.settle(far_future()).await;
    let again = mailer.send(&email("k1"), "m").await;
    assert_eq!(
        again,
        SendOutcome::AlreadySent {
            message_id: Some("ses-1".into())
        }
    );
    assert_eq!(mailer.inner.calls.load(Ordering::SeqCst), 1);
    let other = mailer.send(&email("k2"), "m").await;
    assert!(matches!(other, SendOutcome::Accepted { .. }));
}

#[tokio::test]
async fn a_key_claimed_by_a_running_invocation_is_retried_and_an_expired_one_taken_over() {
    let store = MemoryStore::default();
    let now = unix_millis();
    store.items.lock().unwrap().extend([
        (
            "running".to_owned(),
            Item::InProgress {
                owner: "other".into(),
                lease_expires_ms: now + 60_000,
            },
        ),
        (
            "killed".to_owned(),
            Item::InProgress {
                owner: "other".into(),
                lease_expires_ms: now - 1,
            },
        ),
    ]);
    let mailer = mailer(ScriptedMailer::default(), store);
    // Retried once the other claim lapses, a minute from now, not before.
    let outcome = mailer.send(&email("running"), "m").await;
    assert!(
        matches!(
            outcome,
            SendOutcome::InProgressElsewhere {
                retry_after_seconds: Some(59..=60)
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(mailer.inner.calls.load(Ordering::SeqCst), 0);
    assert!(matches!(
        mailer.send(&email("killed"), "m").await,
        SendOutcome::Accepted { .. }
    ));
    assert_eq!(mailer.inner.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_refused_send_gives_the_key_back_and_an_unanswered_one_keeps_it() {
    let throttled = SendOutcome::Failed(SendFailure::new(
        "TooManyRequestsException",
        "Maximum sending rate exceeded.",
        Some(429),
    ));
    let timeout = SendOutcome::Failed(SendFailure::new("timeout", "no answer", None));
    let mailer = mailer(
        ScriptedMailer::answering(vec![throttled.clone(), timeout.clone()]),
        MemoryStore::default(),
    );
    assert_eq!(mailer.send(&email("k"), "m").await, throttled);
    // SES refused: nothing went, so the next delivery may send at once.
    assert_eq!(mailer.send(&email("k"), "m").await, timeout);
    // SES may have accepted it: the claim holds until the invocation's deadline.
    let outcome = mailer.send(&email("k"), "m").await;
    assert!(
        matches!(
            outcome,
            SendOutcome::InProgressElsewhere {
                retry_after_seconds: Some(1..)
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(mailer.inner.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn without_the_store_nothing_is_sent_and_the_record_is_retried() {
    let store = MemoryStore {
        down: true,
        ..MemoryStore::default()
    };
    let mailer = mailer(ScriptedMailer::default(), store);
    let SendOutcome::Failed(failure) = mailer.send(&email("k"), "m").await else {
        panic!("expected a failure");
    };
    assert_eq!(failure.code, "idempotency_store");
    assert!(failure.classify().is_ok(), "our side's fault: retry");
    assert_eq!(mailer.inner.calls.load(Ordering::SeqCst), 0);
}

fn far_future() -> std::time::Instant {
    std::time::Instant::now() + Duration::from_secs(3600)
}

#[test]
fn leases_outlive_the_invocation_deadline_by_the_grace() {
    let clock = LeaseClock::default();
    let grace = u64::try_from(LEASE_GRACE.as_millis()).unwrap();
    assert_eq!(clock.lease_expiry(1_000), 1_000 + 15 * 60 * 1000 + grace);
    clock.set_deadline(50_000);
    assert_eq!(clock.lease_expiry(1_000), 50_000 + grace);
    // A deadline already passed still gives the claim a moment.
    assert_eq!(clock.lease_expiry(60_000), 61_000 + grace);
    // The first retry of a send whose answer was lost comes 15-30 s later: the claim holds.
    assert!(grace >= 30_000);
}

#[test]
fn settings_are_optional_and_validated() {
    let none = IdempotencySettings::from_lookup(|_| None).unwrap();
    assert_eq!(none, None);
    let table = IdempotencySettings::from_lookup(|name| {
        (name == vars::IDEMPOTENCY_TABLE).then(|| "keys".to_owned())
    })
    .unwrap()
    .unwrap();
    assert_eq!(table.retention, DEFAULT_RETENTION);
    assert_eq!(table.lease_grace, LEASE_GRACE);
    let lookup = |ttl: &'static str| {
        move |name: &str| match name {
            vars::IDEMPOTENCY_TABLE => Some("keys".to_owned()),
            vars::IDEMPOTENCY_TTL_SECONDS => Some(ttl.to_owned()),
            _ => None,
        }
    };
    let day = IdempotencySettings::from_lookup(lookup("86400"))
        .unwrap()
        .unwrap();
    assert_eq!(day.retention, Duration::from_secs(86_400));
    for bad in ["0", "soon", "99999999999"] {
        let error = IdempotencySettings::from_lookup(lookup(bad)).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("IDEMPOTENCY_TTL_SECONDS is invalid"),
            "{error}"
        );
    }
    let grace = |value: &'static str| {
        IdempotencySettings::from_lookup(move |name: &str| match name {
            vars::IDEMPOTENCY_TABLE => Some("keys".to_owned()),
            vars::IDEMPOTENCY_LEASE_GRACE_SECONDS => Some(value.to_owned()),
            _ => None,
        })
    };
    assert_eq!(
        grace("20").unwrap().unwrap().lease_grace,
        Duration::from_secs(20)
    );
    for bad in ["0", "3601", "-5"] {
        let error = grace(bad).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "IDEMPOTENCY_LEASE_GRACE_SECONDS is invalid: expected a whole number of seconds \
                 from 1 to 3600 (got {bad:?})"
            )
        );
    }
}

#[test]
fn a_configured_grace_sets_how_long_claims_outlive_the_deadline() {
    let clock = LeaseClock::with_grace(Duration::from_secs(20));
    clock.set_deadline(50_000);
    assert_eq!(clock.lease_expiry(1_000), 70_000);
}

#[tokio::test]
async fn without_a_store_every_send_goes_through() {
    let mailer: IdempotentMailer<_, MemoryStore> =
        IdempotentMailer::new(ScriptedMailer::default(), None, LeaseClock::default());
    for _ in 0..2 {
        assert!(matches!(
            mailer.send(&email("k"), "m").await,
            SendOutcome::Accepted { .. }
        ));
    }
    assert_eq!(mailer.inner.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_email_ses_accepted_is_reported_accepted_however_slow_the_completion_write() {
    let store = MemoryStore {
        slow_complete: Duration::from_millis(50),
        ..MemoryStore::default()
    };
    let mailer = mailer(ScriptedMailer::default(), store);
    // The dispatch loop's time limit is shorter than the completion write: SES's answer is the
    // outcome all the same (it used to become a timeout, and the retry sent the email again).
    let outcome =
        tokio::time::timeout(Duration::from_millis(10), mailer.send(&email("k"), "m")).await;
    assert_eq!(
        outcome,
        Ok(SendOutcome::Accepted {
            message_id: "ses-1".into()
        })
    );
    // The handler lets the write finish before answering Lambda.
    mailer.settle(far_future()).await;
    assert_eq!(
        mailer.send(&email("k"), "m").await,
        SendOutcome::AlreadySent {
            message_id: Some("ses-1".into())
        }
    );
    assert_eq!(mailer.inner.calls.load(Ordering::SeqCst), 1);
}

/// SES answers only after `delay`, as when the instance is frozen between the request and the
/// answer, or the answer is slow.
#[derive(Debug)]
struct SlowMailer {
    delay: Duration,
    calls: AtomicUsize,
}

impl Mailer for SlowMailer {
    async fn send(&self, _message: &Message, _message_id: &str) -> SendOutcome {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(self.delay).await;
        SendOutcome::Accepted {
            message_id: format!("ses-{call}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn an_answer_that_comes_after_the_caller_gave_up_still_completes_the_key() {
    let clock = LeaseClock::default();
    clock.set_deadline(unix_millis() + 30_000);
    let slow = SlowMailer {
        delay: Duration::from_secs(20),
        calls: AtomicUsize::new(0),
    };
    let mailer = IdempotentMailer::new(slow, Some(MemoryStore::default()), clock);
    // The handler's time limit around the send fires first: the record is retried.
    let gave_up = tokio::time::timeout(Duration::from_secs(5), mailer.send(&email("k"), "m")).await;
    assert!(gave_up.is_err());
    // SES accepts it later; the key is completed then, so the retry does not send again.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let retry = mailer.send(&email("k"), "m").await;
    assert_eq!(
        retry,
        SendOutcome::AlreadySent {
            message_id: Some("ses-1".into())
        }
    );
    assert_eq!(mailer.inner.calls.load(Ordering::SeqCst), 1);
}

// Paused time: the sends answer at once, well within the completions' linger.
#[tokio::test(start_paused = true)]
async fn a_round_is_claimed_in_one_store_call_and_completed_in_one_when_it_settles() {
    let mailer = mailer(ScriptedMailer::default(), MemoryStore::default());
    let emails = [email("r1"), email("r2"), email("r3")];
    let round: Vec<&Message> = emails.iter().collect();
    mailer.prepare(&round).await;
    let store = mailer.store().unwrap();
    assert_eq!(*store.batched_claims.lock().unwrap(), [3]);
    for email in &emails {
        assert!(matches!(
            mailer.send(email, "m").await,
            SendOutcome::Accepted { .. }
        ));
    }
    // Accepted, and still claimed: the completions wait for the batch's one write.
    let claimed = |key: &str| {
        matches!(
            store.items.lock().unwrap().get(key),
            Some(Item::InProgress { .. })
        )
    };
    assert!(emails.iter().all(|email| claimed(email.idempotency_key())));
    mailer.settle(far_future()).await;
    assert_eq!(*store.batched_completions.lock().unwrap(), [3]);
    for email in &emails {
        assert!(matches!(
            store.items.lock().unwrap().get(email.idempotency_key()),
            Some(Item::Completed { .. })
        ));
        assert!(matches!(
            mailer.send(email, "m").await,
            SendOutcome::AlreadySent { .. }
        ));
    }
    // Prepared claims were used by their sends, not claimed again.
    assert_eq!(*store.batched_claims.lock().unwrap(), [3]);
    assert_eq!(mailer.inner.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_prepared_round_answers_each_key_as_its_claim_says() {
    let store = MemoryStore::default();
    store.items.lock().unwrap().insert(
        "done".to_owned(),
        Item::Completed {
            message_id: "ses-old".into(),
        },
    );
    let mailer = mailer(ScriptedMailer::default(), store);
    // The same key twice in one round: one send, the other waits for it.
    let emails = [email("done"), email("twice"), email("twice")];
    mailer.prepare(&emails.iter().collect::<Vec<_>>()).await;
    assert_eq!(
        mailer.send(&emails[0], "m").await,
        SendOutcome::AlreadySent {
            message_id: Some("ses-old".into())
        }
    );
    assert!(matches!(
        mailer.send(&emails[1], "m").await,
        SendOutcome::Accepted { .. }
    ));
    assert!(matches!(
        mailer.send(&emails[2], "m").await,
        SendOutcome::InProgressElsewhere { .. }
    ));
    assert_eq!(mailer.inner.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn an_answer_after_the_batch_settled_completes_its_key_on_its_own() {
    let clock = LeaseClock::default();
    clock.set_deadline(unix_millis() + 30_000);
    let slow = SlowMailer {
        delay: Duration::from_secs(20),
        calls: AtomicUsize::new(0),
    };
    let mailer = IdempotentMailer::new(slow, Some(MemoryStore::default()), clock);
    let emails = [email("slow-1"), email("slow-2")];
    mailer.prepare(&emails.iter().collect::<Vec<_>>()).await;
    for email in &emails {
        let gave_up = tokio::time::timeout(Duration::from_secs(5), mailer.send(email, "m")).await;
        assert!(gave_up.is_err());
    }
    // The batch settles before SES answers: nothing to write yet.
    mailer
        .settle(std::time::Instant::now() + Duration::from_secs(1))
        .await;
    let store = mailer.store().unwrap();
    assert!(
        store
            .batched_completions
            .lock()
            .unwrap()
            .iter()
            .all(|&n| n == 0)
    );
    // SES accepts both later; each send writes its own completion, so no retry sends again.
    tokio::time::sleep(Duration::from_secs(30)).await;
    for email in &emails {
        assert!(matches!(
            mailer.send(email, "m").await,
            SendOutcome::AlreadySent { .. }
        ));
    }
    assert_eq!(mailer.inner.calls.load(Ordering::SeqCst), 2);
}

/// SES that never answers for the key `hangs` and accepts everything else at once.
#[derive(Debug, Default)]
struct OneHangs {
    calls: AtomicUsize,
}

impl Mailer for OneHangs {
    async fn send(&self, message: &Message, _message_id: &str) -> SendOutcome {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if message.idempotency_key() == "hangs" {
            std::future::pending::<()>().await;
        }
        SendOutcome::Accepted {
            message_id: format!("ses-{call}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_hanging_send_does_not_hold_back_the_batch_completion_write() {
    let clock = LeaseClock::default();
    clock.set_deadline(unix_millis() + 30_000);
    let mailer = IdempotentMailer::new(OneHangs::default(), Some(MemoryStore::default()), clock);
    let emails = [email("answers"), email("hangs"), email("answers-too")];
    mailer.prepare(&emails.iter().collect::<Vec<_>>()).await;
    for email in &emails {
        // The batch gives up on the hanging one, as send_all's time limit does.
        let _ = tokio::time::timeout(Duration::from_secs(1), mailer.send(email, "m")).await;
    }
    mailer
        .settle(std::time::Instant::now() + Duration::from_secs(2))
        .await;
    let store = mailer.store().unwrap();
    // The first answer's linger ran out while the hanging send was waited for; the last one
    // went when the batch settled.
    assert_eq!(*store.batched_completions.lock().unwrap(), [1, 1]);
    let items = store.items.lock().unwrap();
    assert!(matches!(items.get("answers"), Some(Item::Completed { .. })));
    assert!(matches!(
        items.get("answers-too"),
        Some(Item::Completed { .. })
    ));
    // SES may still accept the hanging one: its claim holds.
    assert!(matches!(items.get("hangs"), Some(Item::InProgress { .. })));
}

/// SES that answers the email with key `slow` after 100 ms and every other at once.
#[derive(Debug, Default)]
struct OneSlow {
    calls: AtomicUsize,
}

impl Mailer for OneSlow {
    async fn send(&self, message: &Message, _message_id: &str) -> SendOutcome {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if message.idempotency_key() == "slow" {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        SendOutcome::Accepted {
            message_id: format!("ses-{call}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_completion_waits_for_others_only_as_long_as_the_linger() {
    let clock = LeaseClock::default();
    clock.set_deadline(unix_millis() + 30_000);
    let mailer = Arc::new(IdempotentMailer::new(
        OneSlow::default(),
        Some(MemoryStore::default()),
        clock,
    ));
    let emails = [email("quick"), email("slow")];
    mailer.prepare(&emails.iter().collect::<Vec<_>>()).await;
    let sends: Vec<_> = emails
        .iter()
        .map(|email| {
            let (mailer, email) = (Arc::clone(&mailer), email.clone());
            tokio::spawn(async move { mailer.send(&email, "m").await })
        })
        .collect();
    // Halfway through the slow send, the quick one's key is already completed: it waited
    // for the linger, not for the batch.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let store = mailer.store().unwrap();
    assert!(matches!(
        store.items.lock().unwrap().get("quick"),
        Some(Item::Completed { .. })
    ));
    for send in sends {
        assert!(matches!(send.await.unwrap(), SendOutcome::Accepted { .. }));
    }
    mailer.settle(far_future()).await;
    assert_eq!(*store.batched_completions.lock().unwrap(), [1, 1]);
    assert!(matches!(
        store.items.lock().unwrap().get("slow"),
        Some(Item::Completed { .. })
    ));
}

fn address_check(address: &str) -> LookupRequest {
    let mut batch_requests = checks_for(&[address]);
    batch_requests.remove(0)
}

/// The suppression checks a batch hands out for one record to each of `addresses`.
fn checks_for(addresses: &[&str]) -> Vec<LookupRequest> {
    let config = mailroom_core::Config::resolve(
        Some(
            r#"{"sender": "Shop <shop@example.com>", "ledgerTable": "ledger",
                 "routes": [{"name": "note", "events": ["*"], "template": "t.html",
                             "subject": "Hi", "recipient": "mailto"}]}"#,
        ),
        |_| None,
    )
    .unwrap();
    let mut templates = mailroom_core::TemplateSet::new();
    templates.insert("t.html", "<p>Hi</p>");
    let mailroom = mailroom_core::Mailroom::new(config, &templates).unwrap();
    let records: Vec<serde_json::Value> = addresses
        .iter()
        .enumerate()
        .map(|(index, address)| {
            serde_json::json!({"messageId": format!("m-{index}"), "receiptHandle": "r",
                "body": serde_json::json!({"eventId": format!("e-{index}"), "mailto": address}).to_string(),
                "eventSourceARN": "arn:aws:sqs:us-east-1:1:q"})
        })
        .collect();
    let event: mailroom_core::SqsEvent =
        serde_json::from_value(serde_json::json!({ "Records": records })).unwrap();
    let mut batch = mailroom
        .start_batch(event, mailroom_core::Timestamp::from_millis(0), 1)
        .unwrap();
    batch.lookups()
}

#[tokio::test]
async fn keys_claimed_with_clear_checks_are_not_claimed_again_and_unsent_ones_are_given_back() {
    let store = MemoryStore {
        checks: true,
        ..MemoryStore::default()
    };
    let mailer = mailer(ScriptedMailer::default(), store);
    assert!(mailer.checks_suppression());
    let checks = checks_for(&["a@example.com", "b@example.com"]);
    let keys = ["k1".to_owned(), "k2".to_owned(), "k3".to_owned()];
    let answers = mailer
        .check_and_claim(&checks, &keys, mailroom_core::Timestamp::from_millis(0))
        .await;
    assert!(
        answers
            .iter()
            .all(|answer| matches!(answer, LookupAnswer::NotFound)),
        "{answers:?}"
    );
    let store = mailer.store().unwrap();
    assert_eq!(*store.checked_calls.lock().unwrap(), [(2, 3)]);
    // k1 and k2 go (with a key the checks did not hold); k3's record was rejected after all.
    let emails = [email("k1"), email("k2"), email("other")];
    mailer.prepare(&emails.iter().collect::<Vec<_>>()).await;
    assert!(
        store.batched_claims.lock().unwrap().is_empty(),
        "one key left to claim: claimed with its send"
    );
    for email in &emails {
        assert!(matches!(
            mailer.send(email, "m").await,
            SendOutcome::Accepted { .. }
        ));
    }
    mailer.settle(far_future()).await;
    let items = store.items.lock().unwrap();
    for key in ["k1", "k2", "other"] {
        assert!(
            matches!(items.get(key), Some(Item::Completed { .. })),
            "{key}"
        );
    }
    assert!(
        !items.contains_key("k3"),
        "the unsent email's claim is given back"
    );
}

#[tokio::test]
async fn a_failed_check_is_the_item_for_the_core_and_claims_nothing() {
    let store = MemoryStore {
        checks: true,
        suppressed: vec!["address#gone@example.com".to_owned()],
        ..MemoryStore::default()
    };
    let mailer = mailer(ScriptedMailer::default(), store);
    let checks = [
        address_check("gone@example.com"),
        address_check("kept@example.com"),
    ];
    let answers = mailer
        .check_and_claim(
            &checks,
            &["k1".to_owned(), "k2".to_owned()],
            mailroom_core::Timestamp::from_millis(0),
        )
        .await;
    assert!(matches!(answers[0], LookupAnswer::Found(_)), "{answers:?}");
    assert!(matches!(answers[1], LookupAnswer::NotFound), "{answers:?}");
    let store = mailer.store().unwrap();
    assert!(store.items.lock().unwrap().is_empty());
    // The email that goes is claimed as it would be without the checks.
    let emails = [email("k2"), email("k3")];
    mailer.prepare(&emails.iter().collect::<Vec<_>>()).await;
    assert_eq!(*store.batched_claims.lock().unwrap(), [2]);
}

#[tokio::test]
async fn a_store_that_cannot_check_leaves_the_checks_to_be_read() {
    let mailer = mailer(ScriptedMailer::default(), MemoryStore::default());
    assert!(!mailer.checks_suppression());
    let without_store = IdempotentMailer::<ScriptedMailer, MemoryStore>::new(
        ScriptedMailer::default(),
        None,
        LeaseClock::default(),
    );
    assert!(!without_store.checks_suppression());
}
