//! `DynamoDbStore` against moto's DynamoDB on loopback. Each test starts its own
//! `moto_server` ([`crate::moto`]).

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::idempotency::Standing;
use crate::moto::Moto;
use crate::unix_millis;

/// moto's DynamoDB, with the store's client configuration.
async fn client_of(moto: &Moto) -> aws_sdk_dynamodb::Client {
    client(&moto.sdk_config().await)
}

async fn table(client: &aws_sdk_dynamodb::Client, name: &str) {
    crate::moto::key_table(client, name).await;
}

fn lease<'a>(key: &'a str, owner: &'a str, now_ms: u64, expires_ms: u64) -> Lease<'a> {
    Lease {
        key,
        owner,
        now_ms,
        expires_ms,
    }
}

async fn item(
    client: &aws_sdk_dynamodb::Client,
    key: &str,
) -> Option<HashMap<String, AttributeValue>> {
    client
        .get_item()
        .table_name("keys")
        .key("pk", AttributeValue::S(key.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

#[tokio::test]
async fn claims_follow_the_lifecycle_of_a_key() {
    let moto = Moto::start();
    let client = client_of(&moto).await;
    table(&client, "keys").await;
    let store = DynamoDbStore::new(client.clone(), "keys", Duration::from_secs(3600));
    let now = unix_millis();

    let a = lease("k1", "a", now, now + 30_000);
    assert_eq!(store.claim(&a).await.unwrap(), Claim::Acquired);
    // Our own write repeated (an SDK retry after a lost answer) is still ours.
    assert_eq!(store.claim(&a).await.unwrap(), Claim::Acquired);
    // Another invocation while the lease runs.
    let b = lease("k1", "b", now + 1, now + 40_000);
    assert_eq!(
        store.claim(&b).await.unwrap(),
        Claim::HeldElsewhere {
            lease_expires_ms: now + 30_000
        }
    );
    // B cannot release A's claim.
    store.release(&b).await.unwrap();
    assert!(item(&client, "k1").await.is_some());

    store.complete(&a, "ses-0001").await.unwrap();
    let stored = item(&client, "k1").await.unwrap();
    assert_eq!(stored["state"], AttributeValue::S("completed".into()));
    assert_eq!(stored["messageId"], AttributeValue::S("ses-0001".into()));
    assert!(!stored.contains_key("leaseExpiresMs"));
    assert_eq!(
        stored[TTL_ATTRIBUTE],
        AttributeValue::N((now / 1000 + 3600).to_string())
    );
    // Completed: even after the old lease's time, nobody sends again.
    let later = lease("k1", "c", now + 60_000, now + 90_000);
    assert_eq!(
        store.claim(&later).await.unwrap(),
        Claim::Completed {
            message_id: Some("ses-0001".into())
        }
    );
    // Once past its retention, the key is free again even before DynamoDB deletes it.
    let much_later = lease("k1", "d", now + 3_700_000, now + 3_730_000);
    assert_eq!(store.claim(&much_later).await.unwrap(), Claim::Acquired);
}

#[tokio::test]
async fn an_expired_claim_is_taken_over_and_a_released_one_is_free() {
    let moto = Moto::start();
    let client = client_of(&moto).await;
    table(&client, "keys").await;
    let store = DynamoDbStore::new(client.clone(), "keys", Duration::from_secs(3600));
    let now = unix_millis();

    let killed = lease("k2", "killed", now, now + 1_000);
    assert_eq!(store.claim(&killed).await.unwrap(), Claim::Acquired);
    let next = lease("k2", "next", now + 1_001, now + 31_000);
    // The expired claim was never completed: its claimer may have sent.
    assert_eq!(store.claim(&next).await.unwrap(), Claim::TakenOver);
    let stored = item(&client, "k2").await.unwrap();
    assert_eq!(stored["owner"], AttributeValue::S("next".into()));

    store.release(&next).await.unwrap();
    assert!(item(&client, "k2").await.is_none());
    let again = lease("k2", "again", now + 1_002, now + 31_000);
    assert_eq!(store.claim(&again).await.unwrap(), Claim::Acquired);
}

#[tokio::test]
async fn of_many_concurrent_claims_exactly_one_wins() {
    let moto = Moto::start();
    let client = client_of(&moto).await;
    table(&client, "keys").await;
    let store = Arc::new(DynamoDbStore::new(
        client,
        "keys",
        Duration::from_secs(3600),
    ));
    let now = unix_millis();
    let tasks: Vec<_> = (0..16)
        .map(|index| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let owner = format!("owner-{index}");
                store
                    .claim(&lease("contended", &owner, now, now + 30_000))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut acquired = 0;
    for task in tasks {
        match task.await.unwrap() {
            Claim::Acquired => acquired += 1,
            Claim::HeldElsewhere { lease_expires_ms } => {
                assert_eq!(lease_expires_ms, now + 30_000);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(acquired, 1);
}

#[tokio::test]
async fn a_missing_table_is_an_error_not_a_send() {
    let moto = Moto::start();
    let store = DynamoDbStore::new(client_of(&moto).await, "absent", Duration::from_secs(3600));
    let now = unix_millis();
    let error = store
        .claim(&lease("k", "a", now, now + 1_000))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StoreError::Unavailable { operation: "PutItem", detail } if detail.contains("ResourceNotFound")),
        "{error}"
    );
}

#[test]
fn an_unknown_item_is_reported_not_guessed() {
    let claim = lease("k", "a", 1, 2);
    let item = HashMap::from([("state".to_owned(), AttributeValue::S("sending".into()))]);
    let error = interpret(&claim, &item).unwrap_err();
    assert!(error.to_string().contains("unknown state"), "{error}");
    let item = HashMap::from([("pk".to_owned(), AttributeValue::S("k".into()))]);
    assert!(interpret(&claim, &item).is_err());
}

/// Counts sends; every one is accepted.
#[derive(Default)]
struct CountingMailer(std::sync::atomic::AtomicUsize);

impl crate::mailer::Mailer for CountingMailer {
    async fn send(
        &self,
        _message: &mailroom_core::Message,
        _message_id: &str,
    ) -> mailroom_core::SendOutcome {
        let call = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        mailroom_core::SendOutcome::Accepted {
            message_id: format!("ses-new-{call}"),
        }
    }
}

fn message(email: mailroom_core::Email) -> mailroom_core::Message {
    mailroom_core::Message::Email(std::sync::Arc::new(email))
}

fn email_with_key(key: &str) -> mailroom_core::Email {
    mailroom_core::Email::new(
        mailroom_core::Mailbox::parse("Shop <shop@example.com>").unwrap(),
        vec![mailroom_core::Mailbox::parse("ana@example.org").unwrap()],
        "Your order",
        "<p>Thanks</p>",
        "Thanks",
        key,
    )
    .unwrap()
}

/// SES's `Send` event for the email of `key`, through SNS, as the feedback queue gets it.
fn send_event(key: &str) -> String {
    let ses = serde_json::json!({ "eventType": "Send", "send": {},
        "mail": { "messageId": "ses-first", "timestamp": "2026-11-23T10:00:01Z",
                  "destination": ["ana@example.org"], "tags": { "idempotency_key": [key] } } });
    serde_json::json!({ "Type": "Notification", "MessageId": "sns-1", "Message": ses.to_string() })
        .to_string()
}

#[tokio::test]
async fn a_takeover_sends_nothing_when_the_ledger_shows_ses_has_the_email() {
    use crate::feedback::DynamoDbLedger;
    use crate::feedback::{IntakeSettings, take_in};
    use crate::idempotency::{IdempotentMailer, LeaseClock};
    use crate::mailer::Mailer;

    let moto = Moto::start();
    let client = client_of(&moto).await;
    // One table for claims and ledger, as the SAM template deploys them.
    table(&client, "keys").await;
    let store = DynamoDbStore::new(client.clone(), "keys", Duration::from_secs(3600));
    let ledger = DynamoDbLedger::new(client.clone(), "keys", Duration::from_secs(3600));
    let now = unix_millis();
    // Two claims that lapsed uncompleted (their claimers died after SES accepted); SES's Send
    // event for the first has reached the ledger, none for the second.
    for key in ["sent-before", "never-sent"] {
        let dead = lease(key, "dead", now - 60_000, now - 1);
        assert_eq!(store.claim(&dead).await.unwrap(), Claim::Acquired);
    }
    let intake = take_in(
        &ledger,
        &send_event("sent-before"),
        IntakeSettings::default(),
        crate::timestamp(now),
    )
    .await;
    assert!(
        matches!(intake, crate::feedback::Intake::Applied { .. }),
        "{intake:?}"
    );

    let clock = LeaseClock::default();
    clock.set_deadline(now + 30_000);
    let mailer = IdempotentMailer::new(CountingMailer::default(), Some(store), clock)
        .with_ledger(Some(ledger));
    assert_eq!(
        mailer
            .send(&message(email_with_key("sent-before")), "m1")
            .await,
        mailroom_core::SendOutcome::AlreadySent {
            message_id: Some("ses-first".into())
        }
    );
    let stored = item(&client, "sent-before").await.unwrap();
    assert_eq!(stored["state"], AttributeValue::S("completed".into()));
    assert_eq!(stored["messageId"], AttributeValue::S("ses-first".into()));
    // Without a Send event in the ledger the takeover sends, as it would without a ledger.
    assert!(matches!(
        mailer
            .send(&message(email_with_key("never-sent")), "m2")
            .await,
        mailroom_core::SendOutcome::Accepted { .. }
    ));
    assert_eq!(
        mailer.inner().0.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

/// The DynamoDB operations a client sent (every attempt), read from their `X-Amz-Target`.
#[derive(Debug, Default, Clone)]
struct Calls(Arc<std::sync::Mutex<Vec<String>>>);

impl Calls {
    fn taken(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl aws_smithy_runtime_api::client::interceptors::Intercept for Calls {
    fn name(&self) -> &'static str {
        "Calls"
    }

    fn read_before_transmit(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or_default();
        let operation = target.rsplit('.').next().unwrap_or_default().to_owned();
        self.0.lock().unwrap().push(operation);
        Ok(())
    }
}

/// A store over moto whose client records its calls.
async fn counted_store(moto: &Moto) -> (DynamoDbStore, aws_sdk_dynamodb::Client, Calls) {
    let calls = Calls::default();
    let config = aws_sdk_dynamodb::config::Builder::from(&moto.sdk_config().await)
        .interceptor(calls.clone())
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    table(&client, "keys").await;
    calls.taken();
    let store = DynamoDbStore::new(client.clone(), "keys", Duration::from_secs(3600));
    (store, client, calls)
}

#[tokio::test]
async fn a_batch_of_new_keys_is_claimed_and_completed_in_one_call_each() {
    let moto = Moto::start();
    let (store, client, calls) = counted_store(&moto).await;
    let now = unix_millis();
    let keys: Vec<String> = (0..10).map(|n| format!("new-{n}")).collect();
    let owners: Vec<String> = (0..10).map(|n| format!("owner-{n}")).collect();
    let leases: Vec<Lease<'_>> = keys
        .iter()
        .zip(&owners)
        .map(|(key, owner)| lease(key, owner, now, now + 30_000))
        .collect();

    let claims = store.claim_all(&leases).await;
    assert_eq!(claims, vec![Ok(Claim::Acquired); 10]);
    assert_eq!(calls.taken(), ["TransactWriteItems"]);
    for (key, owner) in keys.iter().zip(&owners) {
        let stored = item(&client, key).await.unwrap();
        assert_eq!(stored["state"], AttributeValue::S("in_progress".into()));
        assert_eq!(stored["owner"], AttributeValue::S(owner.clone()));
        assert_eq!(
            stored["leaseExpiresMs"],
            AttributeValue::N((now + 30_000).to_string())
        );
    }
    calls.taken();

    let message_ids: Vec<String> = (0..10).map(|n| format!("ses-{n}")).collect();
    let completions: Vec<Completion<'_>> = leases
        .iter()
        .zip(&message_ids)
        .map(|(lease, message_id)| Completion {
            lease: lease.clone(),
            message_id,
        })
        .collect();
    assert_eq!(store.complete_all(&completions).await, vec![Ok(()); 10]);
    assert_eq!(calls.taken(), ["BatchWriteItem"]);
    // Completed as the single completion leaves a key: nobody sends it again.
    for (key, message_id) in keys.iter().zip(&message_ids) {
        let later = lease(key, "later", now + 60_000, now + 90_000);
        assert_eq!(
            store.claim(&later).await.unwrap(),
            Claim::Completed {
                message_id: Some(message_id.clone())
            }
        );
        let stored = item(&client, key).await.unwrap();
        assert!(!stored.contains_key("leaseExpiresMs"));
        assert_eq!(
            stored[TTL_ATTRIBUTE],
            AttributeValue::N((now / 1000 + 3600).to_string())
        );
    }
}

#[tokio::test]
async fn a_mixed_batch_answers_each_key_as_its_single_claim_would() {
    let moto = Moto::start();
    let (store, client, calls) = counted_store(&moto).await;
    let now = unix_millis();
    // Before the batch: a completed key, a live claim, an expired claim, our own claim (a
    // transaction whose answer was lost and is retried).
    store
        .claim(&lease("done", "earlier", now - 5_000, now - 1_000))
        .await
        .unwrap();
    store
        .complete(
            &lease("done", "earlier", now - 4_000, now - 1_000),
            "ses-done",
        )
        .await
        .unwrap();
    store
        .claim(&lease("held", "other", now, now + 50_000))
        .await
        .unwrap();
    store
        .claim(&lease("expired", "dead", now - 9_000, now - 1))
        .await
        .unwrap();
    store
        .claim(&lease("ours", "me-3", now, now + 30_000))
        .await
        .unwrap();
    calls.taken();

    let leases = [
        lease("fresh-1", "me-0", now, now + 30_000),
        lease("done", "me-1", now, now + 30_000),
        lease("held", "me-2", now, now + 30_000),
        lease("ours", "me-3", now, now + 30_000),
        lease("expired", "me-4", now, now + 30_000),
        lease("fresh-2", "me-5", now, now + 30_000),
        // The same key twice in one batch: the second finds the first's claim.
        lease("fresh-1", "me-6", now, now + 30_000),
    ];
    let claims = store.claim_all(&leases).await;
    assert_eq!(
        claims,
        [
            Ok(Claim::Acquired),
            Ok(Claim::Completed {
                message_id: Some("ses-done".into())
            }),
            Ok(Claim::HeldElsewhere {
                lease_expires_ms: now + 50_000
            }),
            Ok(Claim::Acquired),
            Ok(Claim::TakenOver),
            Ok(Claim::Acquired),
            Ok(Claim::HeldElsewhere {
                lease_expires_ms: now + 30_000
            }),
        ]
    );
    // The cancelled first transaction, the second with the fresh keys and the takeover, and
    // the repeated key alone.
    assert_eq!(
        calls.taken(),
        ["TransactWriteItems", "TransactWriteItems", "PutItem"]
    );
    let owner = |stored: HashMap<String, AttributeValue>| stored["owner"].clone();
    assert_eq!(
        owner(item(&client, "fresh-1").await.unwrap()),
        AttributeValue::S("me-0".into())
    );
    assert_eq!(
        owner(item(&client, "expired").await.unwrap()),
        AttributeValue::S("me-4".into())
    );
    assert_eq!(
        owner(item(&client, "held").await.unwrap()),
        AttributeValue::S("other".into())
    );
    assert_eq!(
        item(&client, "done").await.unwrap()["state"],
        AttributeValue::S("completed".into())
    );
}

#[tokio::test]
async fn a_failed_batch_claim_is_an_error_for_every_key_and_claims_nothing() {
    let moto = Moto::start();
    let client = client_of(&moto).await;
    let store = DynamoDbStore::new(client, "absent", Duration::from_secs(3600));
    let now = unix_millis();
    let leases = [
        lease("a", "me-0", now, now + 1),
        lease("b", "me-1", now, now + 1),
    ];
    for claim in store.claim_all(&leases).await {
        assert!(
            matches!(
                claim,
                Err(StoreError::Unavailable {
                    operation: "TransactWriteItems",
                    ..
                })
            ),
            "{claim:?}"
        );
    }
    let done = [Completion {
        lease: leases[0].clone(),
        message_id: "ses",
    }];
    assert!(matches!(
        store.complete_all(&done).await.as_slice(),
        [Err(StoreError::Unavailable {
            operation: "BatchWriteItem",
            ..
        })]
    ));
}

/// Writes the ledger's item of `address` as the feedback intake writes it, with `suppression`.
async fn address_item(
    client: &aws_sdk_dynamodb::Client,
    address: &str,
    suppression: Option<mailroom_core::feedback::Suppression>,
) -> mailroom_core::lookup::Item {
    use mailroom_core::feedback::{AddressEntry, address_storage_key};
    use mailroom_ledger_dynamodb::{IndexAttributes, item::encode};
    let entry = AddressEntry {
        suppression,
        ..AddressEntry::default()
    };
    let key = address_storage_key(address);
    let json = serde_json::to_string(&entry).unwrap();
    let stored = encode(
        &key,
        json,
        IndexAttributes::of_address(&entry),
        1,
        unix_millis() / 1000 + 3600,
    );
    client
        .put_item()
        .table_name("keys")
        .set_item(Some(stored))
        .send()
        .await
        .unwrap();
    mailroom_core::lookup::Item::from([(
        "pk".to_owned(),
        mailroom_core::lookup::AttributeValue::S(key),
    )])
}

fn suppression_until(
    address: &str,
    expires_at: Option<mailroom_core::Timestamp>,
) -> Option<mailroom_core::feedback::Suppression> {
    Some(mailroom_core::feedback::Suppression {
        address: address.to_owned(),
        reason: mailroom_core::feedback::SuppressionReason::PermanentBounce,
        expires_at,
    })
}

fn checks_of<'a>(
    keys: &'a [mailroom_core::lookup::Item],
    now: mailroom_core::Timestamp,
) -> Vec<AddressCheck<'a>> {
    keys.iter()
        .map(|key| AddressCheck {
            table: "keys",
            key,
            now,
        })
        .collect()
}

#[tokio::test]
async fn clear_addresses_and_the_batch_claims_cost_one_transaction() {
    let moto = Moto::start();
    let (store, client, calls) = counted_store(&moto).await;
    let now = unix_millis();
    let at = crate::timestamp(now);
    let past = crate::timestamp(now - 60_000);
    let keys = [
        // Never seen, seen without a suppression, suppressed until a minute ago.
        mailroom_core::lookup::Item::from([(
            "pk".to_owned(),
            mailroom_core::lookup::AttributeValue::S("address#new@example.com".into()),
        )]),
        address_item(&client, "clean@example.com", None).await,
        address_item(
            &client,
            "lapsed@example.com",
            suppression_until("lapsed@example.com", Some(past)),
        )
        .await,
    ];
    calls.taken();
    let owners: Vec<String> = (0..10).map(|n| format!("owner-{n}")).collect();
    let names: Vec<String> = (0..10).map(|n| format!("key-{n}")).collect();
    let leases: Vec<Lease<'_>> = names
        .iter()
        .zip(&owners)
        .map(|(key, owner)| lease(key, owner, now, now + 30_000))
        .collect();

    let checked = store
        .claim_all_checked(&leases, &checks_of(&keys, at))
        .await;
    assert_eq!(checked.checks, vec![Ok(Standing::Clear); 3]);
    assert_eq!(checked.claims, vec![Some(Ok(Claim::Acquired)); 10]);
    assert_eq!(calls.taken(), ["TransactWriteItems"]);
    for (key, owner) in names.iter().zip(&owners) {
        assert_eq!(
            item(&client, key).await.unwrap()["owner"],
            AttributeValue::S(owner.clone())
        );
    }
    // The checks wrote nothing: the address items are as the intake left them.
    assert!(item(&client, "address#new@example.com").await.is_none());
}

#[tokio::test]
async fn a_suppressed_address_fails_its_check_with_its_item_and_nothing_is_claimed() {
    let moto = Moto::start();
    let (store, client, calls) = counted_store(&moto).await;
    let now = unix_millis();
    let at = crate::timestamp(now);
    let keys = [
        address_item(&client, "clean@example.com", None).await,
        address_item(
            &client,
            "gone@example.com",
            suppression_until("gone@example.com", None),
        )
        .await,
        address_item(
            &client,
            "resting@example.com",
            suppression_until("resting@example.com", Some(crate::timestamp(now + 60_000))),
        )
        .await,
    ];
    calls.taken();
    let leases = [
        lease("key-a", "me-0", now, now + 30_000),
        lease("key-b", "me-1", now, now + 30_000),
    ];
    let checked = store
        .claim_all_checked(&leases, &checks_of(&keys, at))
        .await;
    assert_eq!(checked.checks[0], Ok(Standing::Clear));
    for held in &checked.checks[1..] {
        let Ok(Standing::Held(item)) = held else {
            panic!("a suppressed address must fail its check: {held:?}");
        };
        // The item the core judges, entry and all.
        assert!(item.contains_key(mailroom_core::feedback::LEDGER_ENTRY_ATTRIBUTE));
    }
    assert_eq!(checked.claims, vec![None, None]);
    assert_eq!(calls.taken(), ["TransactWriteItems"]);
    assert!(item(&client, "key-a").await.is_none());
    assert!(item(&client, "key-b").await.is_none());
}

#[tokio::test]
async fn a_check_holds_only_when_the_core_would_send() {
    // Expiries around `now`, to the millisecond: the condition may fail where the core sends
    // (it rounds to the second), never hold where the core suppresses.
    let moto = Moto::start();
    let client = client_of(&moto).await;
    table(&client, "keys").await;
    let store = DynamoDbStore::new(client.clone(), "keys", Duration::from_secs(3600));
    let now = unix_millis() / 1000 * 1000 + 400;
    let at = crate::timestamp(now);
    let offsets: [i64; 9] = [-61_000, -2_000, -1_001, -401, -400, -1, 0, 1, 600];
    let mut cases = Vec::new();
    for (index, offset) in offsets.iter().enumerate() {
        let address = format!("a{index}@example.com");
        let until = crate::timestamp(now.saturating_add_signed(*offset));
        let suppression = suppression_until(&address, Some(until)).unwrap();
        let key = address_item(&client, &address, Some(suppression.clone())).await;
        cases.push((offset, suppression, key));
    }
    let mut cleared = 0;
    for (offset, suppression, key) in &cases {
        let checked = store
            .claim_all_checked(&[], &checks_of(std::slice::from_ref(key), at))
            .await;
        let holds = matches!(checked.checks[0], Ok(Standing::Clear));
        assert!(
            !(holds && suppression.in_force(at)),
            "the check held for a suppression in force (expiry {offset} ms from now)"
        );
        cleared += usize::from(holds);
    }
    // Expiries more than a second before now clear without the item being read.
    assert!(cleared >= 3, "{cleared}");
}

#[tokio::test]
async fn clear_checks_beside_a_completed_key_go_on_as_a_batch_claim_does() {
    let moto = Moto::start();
    let (store, client, calls) = counted_store(&moto).await;
    let now = unix_millis();
    store
        .claim(&lease("done", "earlier", now - 5_000, now - 1_000))
        .await
        .unwrap();
    store
        .complete(
            &lease("done", "earlier", now - 4_000, now - 1_000),
            "ses-done",
        )
        .await
        .unwrap();
    let keys = [address_item(&client, "clean@example.com", None).await];
    calls.taken();
    let leases = [
        lease("fresh-1", "me-0", now, now + 30_000),
        lease("done", "me-1", now, now + 30_000),
        lease("fresh-2", "me-2", now, now + 30_000),
    ];
    let checked = store
        .claim_all_checked(&leases, &checks_of(&keys, crate::timestamp(now)))
        .await;
    assert_eq!(checked.checks, vec![Ok(Standing::Clear)]);
    assert_eq!(
        checked.claims,
        vec![
            Some(Ok(Claim::Acquired)),
            Some(Ok(Claim::Completed {
                message_id: Some("ses-done".into())
            })),
            Some(Ok(Claim::Acquired)),
        ]
    );
    // The cancelled checked transaction, then the fresh keys again without the checks.
    assert_eq!(calls.taken(), ["TransactWriteItems", "TransactWriteItems"]);
}
