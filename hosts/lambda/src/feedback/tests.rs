//! The feedback intake against moto's DynamoDB on loopback (each test starts its own
//! `moto_server`, [`crate::moto`]): notifications in any order, repeated and concurrent give one
//! ledger; unreadable ones are acknowledged; a table that does not answer fails the record.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use mailroom_core::feedback::{AddressEntry, DeliveryStatus, EmailEntry, SuppressionReason};
use serde_json::json;

use super::DynamoDbLedger;
use super::*;
use crate::moto::Moto;

const KEY: &str = "5d1f0c8e9a7b6c4d3e2f1a0b9c8d7e6f";
const NOW: Timestamp = Timestamp::from_millis(1_795_428_060_000); // 2026-11-23T10:01:00Z

async fn ledger_table(moto: &Moto, name: &str) -> (DynamoDbLedger, aws_sdk_dynamodb::Client) {
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    crate::moto::key_table(&client, name).await;
    let ledger = DynamoDbLedger::new(client.clone(), name, Duration::from_secs(86_400));
    (ledger, client)
}

/// An SES event notification about the email `KEY` to ana@example.com, in an SNS
/// notification as the feedback queue receives it.
fn notification(event: &str, details: serde_json::Value, sns_id: &str) -> String {
    let mut ses = json!({
        "eventType": event,
        "mail": { "messageId": "ses-1", "timestamp": "2026-11-23T10:00:01Z",
                  "source": "shop@example.com", "destination": ["Ana@Example.com"],
                  "tags": { "idempotency_key": [KEY], "route": ["welcome"],
                            "event_type": ["EnrollmentCompleted"] } },
    });
    let field = match event {
        "DeliveryDelay" => "deliveryDelay".to_owned(),
        other => other[..1].to_lowercase() + &other[1..],
    };
    ses[field] = details;
    json!({ "Type": "Notification", "MessageId": sns_id, "Message": ses.to_string() }).to_string()
}

fn send() -> String {
    notification("Send", json!({}), "sns-send")
}

fn delivery() -> String {
    notification(
        "Delivery",
        json!({ "timestamp": "2026-11-23T10:00:02Z", "recipients": ["ana@example.com"],
                "smtpResponse": "250 2.0.0 OK" }),
        "sns-delivery",
    )
}

fn hard_bounce() -> String {
    notification(
        "Bounce",
        json!({ "bounceType": "Permanent", "bounceSubType": "General",
                "bouncedRecipients": [{ "emailAddress": "ana@example.com", "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown" }],
                "timestamp": "2026-11-23T10:00:03Z", "feedbackId": "fb-1" }),
        "sns-bounce",
    )
}

async fn entries<S: LedgerStore>(store: &S) -> (EmailEntry, AddressEntry) {
    let email = store.read(&format!("email#{KEY}")).await.unwrap().unwrap();
    let address = store
        .read("address#ana@example.com")
        .await
        .unwrap()
        .unwrap();
    (
        serde_json::from_str(&email.json).unwrap(),
        serde_json::from_str(&address.json).unwrap(),
    )
}

#[tokio::test]
async fn feedback_in_any_order_and_repeated_gives_one_ledger() {
    let moto = Moto::start();
    let (in_order, client) = ledger_table(&moto, "in-order").await;
    let (shuffled, _) = ledger_table(&moto, "shuffled").await;
    let settings = IntakeSettings::default();
    for body in [send(), delivery(), hard_bounce()] {
        let intake = take_in(&in_order, &body, settings, NOW).await;
        assert!(matches!(intake, Intake::Applied { .. }), "{intake:?}");
    }
    // The bounce first, the delivery after it, everything twice.
    for body in [hard_bounce(), delivery(), send(), hard_bounce(), delivery()] {
        take_in(&shuffled, &body, settings, NOW).await;
    }
    let (email, address) = entries(&in_order).await;
    assert_eq!(entries(&shuffled).await, (email.clone(), address.clone()));

    assert_eq!(
        email.status,
        Some(DeliveryStatus::Bounced(
            mailroom_core::feedback::BounceType::Permanent
        ))
    );
    assert_eq!(email.route.as_deref(), Some("welcome"));
    assert_eq!(email.history.entries().len(), 3);
    let bounce = email.bounce.as_ref().unwrap();
    assert_eq!(bounce.status.as_deref(), Some("5.1.1"));
    let suppression = address.suppression.as_ref().unwrap();
    assert_eq!(suppression.reason, SuppressionReason::PermanentBounce);
    assert_eq!(suppression.expires_at, None);

    // The index attributes an operator's queries read.
    let item = client
        .get_item()
        .table_name("in-order")
        .key("pk", AttributeValue::S(format!("email#{KEY}")))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(
        item["ledgerStatus"],
        AttributeValue::S("bounced_permanent".into())
    );
    assert_eq!(item["attention"], AttributeValue::S("bounce".into()));
    assert_eq!(
        item["attentionAtMs"],
        AttributeValue::N("1795428003000".into())
    );
    let address_item = client
        .get_item()
        .table_name("in-order")
        .key("pk", AttributeValue::S("address#ana@example.com".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(
        address_item["suppressed"],
        AttributeValue::S("permanent_bounce".into())
    );
    // Suppressed for good: the TTL never deletes it.
    assert!(!address_item.contains_key("expiresAt"));
}

#[tokio::test]
async fn concurrent_writers_lose_no_event() {
    let moto = Moto::start();
    let (ledger, _) = ledger_table(&moto, "ledger").await;
    let settings = IntakeSettings::default();
    let (send_body, delivery_body, bounce_body) = (send(), delivery(), hard_bounce());
    let (a, b, c) = tokio::join!(
        take_in(&ledger, &send_body, settings, NOW),
        take_in(&ledger, &delivery_body, settings, NOW),
        take_in(&ledger, &bounce_body, settings, NOW),
    );
    for intake in [a, b, c] {
        assert!(matches!(intake, Intake::Applied { .. }), "{intake:?}");
    }
    let (email, address) = entries(&ledger).await;
    assert_eq!(email.history.entries().len(), 3, "{email:?}");
    assert_eq!(address.history.entries().len(), 3);
}

#[tokio::test]
async fn unreadable_feedback_is_acknowledged_and_a_silent_table_fails_the_record() {
    let moto = Moto::start();
    let (ledger, _) = ledger_table(&moto, "ledger").await;
    let settings = IntakeSettings::default();
    for body in ["not json", r#"{"Type": "Notification", "Message": "{}"}"#] {
        let intake = take_in(&ledger, body, settings, NOW).await;
        assert!(
            matches!(intake, Intake::Unreadable(_)),
            "{body}: {intake:?}"
        );
    }
    drop(moto);
    let intake = take_in(&ledger, &send(), settings, NOW).await;
    assert!(
        matches!(
            intake,
            Intake::Failed(LedgerError::Unavailable {
                operation: "GetItem",
                ..
            })
        ),
        "{intake:?}"
    );
}

#[tokio::test]
async fn feedback_without_tags_is_kept_under_the_ses_message_id() {
    let moto = Moto::start();
    let (ledger, _) = ledger_table(&moto, "ledger").await;
    let identity = json!({ "notificationType": "Delivery",
        "mail": { "messageId": "ses-9", "timestamp": "2026-11-23T10:00:01Z",
                  "destination": ["bob@example.net"] },
        "delivery": { "timestamp": "2026-11-23T10:00:02Z", "recipients": ["bob@example.net"] } });
    let intake = take_in(
        &ledger,
        &identity.to_string(),
        IntakeSettings::default(),
        NOW,
    )
    .await;
    assert!(matches!(intake, Intake::Applied { .. }), "{intake:?}");
    let stored = ledger.read("email#ses#ses-9").await.unwrap().unwrap();
    let entry: EmailEntry = serde_json::from_str(&stored.json).unwrap();
    assert_eq!(entry.status, Some(DeliveryStatus::Delivered));
}
