//! `mailroom ledger` end to end: the binary built with the `ledger` feature, against a real
//! `moto_server` on loopback (the test bed of the Lambda's tests, [`mailroom_test_support`]), a
//! table with the key schema and the `attention` index of `deploy/template.yaml`, and ledger items written through the shared crate's writer from the
//! core's entries, as the Lambda's intake writes them.
//!
//! Needs moto (scripts/steps/15-services.sh installs it; in the system Python or in
//! `$MAILROOM_TOOLS/python`). Run with `cargo test -p mailroom-cli --features ledger --test
//! ledger` (scripts/steps/35-ledger.sh).

#![cfg(feature = "ledger")]

mod common;

use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, ScalarAttributeType};
use mailroom_core::feedback::{
    AddressEntry, EmailEntry, Feedback, LedgerKey, LedgerLimits, SuppressionPolicy,
    SuppressionReason, address_storage_key, ledger_addresses,
};
use mailroom_ledger_dynamodb::{DynamoDbLedger, IndexAttributes, LedgerStore as _};
use mailroom_test_support::Moto;
use mailroom_test_support::dynamodb::Table;
use serde_json::{Value, json};

const TABLE: &str = "mailroom-ledger";
const KEY_A: &str = "aaaa0000aaaa0000aaaa0000aaaa0000";
const KEY_B: &str = "bbbb1111bbbb1111bbbb1111bbbb1111";
const KEY_C: &str = "cccc2222cccc2222cccc2222cccc2222";
const KEY_D: &str = "dddd3333dddd3333dddd3333dddd3333";
const NOW: &str = "2026-11-24T09:00:00Z";

/// The table as `deploy/template.yaml` declares it: `pk` (S) and the `attention` index on
/// `attention` (S) and `attentionAtMs` (N), projecting everything.
async fn create_table(client: &aws_sdk_dynamodb::Client) {
    Table::new(TABLE, "pk", ScalarAttributeType::S)
        .index(
            mailroom_ledger_dynamodb::ATTENTION_INDEX,
            ("attention", ScalarAttributeType::S),
            ("attentionAtMs", ScalarAttributeType::N),
        )
        .create(client)
        .await;
}

/// An SES event notification about the email `key` to `to`, through SNS, with the tags
/// mailroom sends: the made-up keys are welcome emails, the example event's is its order's.
fn notification(key: &str, to: &str, event: &str, details: Value, at: &str) -> Feedback {
    let (route, event_type) = if [KEY_A, KEY_B, KEY_C, KEY_D].contains(&key) {
        ("welcome", "EnrollmentCompleted")
    } else {
        ("order-confirmation", "orders/paid")
    };
    let mut ses = json!({
        "eventType": event,
        "mail": { "messageId": format!("ses-{key}"), "timestamp": at,
                  "source": "shop@example.com", "destination": [to],
                  "tags": { "idempotency_key": [key], "route": [route],
                            "event_type": [event_type] } },
    });
    ses[event[..1].to_lowercase() + &event[1..]] = details;
    let sns = json!({ "Type": "Notification", "MessageId": format!("sns-{key}-{event}"),
                      "Message": ses.to_string() });
    Feedback::parse(&sns.to_string()).unwrap()
}

fn send(key: &str, to: &str, at: &str) -> Feedback {
    notification(key, to, "Send", json!({}), at)
}

fn delivery(key: &str, to: &str, at: &str) -> Feedback {
    notification(
        key,
        to,
        "Delivery",
        json!({ "timestamp": at, "recipients": [to], "smtpResponse": "250 2.0.0 OK" }),
        at,
    )
}

fn bounce(key: &str, to: &str, kind: &str, at: &str) -> Feedback {
    notification(
        key,
        to,
        "Bounce",
        json!({ "bounceType": kind, "bounceSubType": "General",
                "bouncedRecipients": [{ "emailAddress": to, "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown" }],
                "timestamp": at, "feedbackId": format!("fb-{key}") }),
        at,
    )
}

fn complaint(key: &str, to: &str, at: &str) -> Feedback {
    notification(
        key,
        to,
        "Complaint",
        json!({ "complainedRecipients": [{ "emailAddress": to }], "timestamp": at,
                "complaintFeedbackType": "abuse", "feedbackId": format!("fb-{key}") }),
        at,
    )
}

/// Applies `feedback` to the email's and the addresses' entries as the intake does: the core
/// updates, the shared crate writes on the version read.
async fn record(ledger: &DynamoDbLedger, feedback: &Feedback) {
    let limits = LedgerLimits::default();
    let now = feedback.occurred_at();
    let key = LedgerKey::of(feedback).storage_key();
    let stored = ledger.read(&key).await.unwrap();
    let entry = EmailEntry::updated(
        stored
            .as_ref()
            .map(|s| serde_json::from_str(&s.json).unwrap()),
        feedback,
        limits,
    );
    let json = serde_json::to_string(&entry).unwrap();
    let index = IndexAttributes::of_email(&entry);
    assert!(
        ledger
            .write(&key, json, index, stored.map(|s| s.version))
            .await
            .unwrap()
    );
    for address in ledger_addresses(feedback) {
        let key = address_storage_key(&address);
        let stored = ledger.read(&key).await.unwrap();
        let entry = AddressEntry::updated(
            stored
                .as_ref()
                .map(|s| serde_json::from_str(&s.json).unwrap()),
            &address,
            feedback,
            &SuppressionPolicy::default(),
            now,
            limits,
        );
        let json = serde_json::to_string(&entry).unwrap();
        let index = IndexAttributes::of_address(&entry);
        assert!(
            ledger
                .write(&key, json, index, stored.map(|s| s.version))
                .await
                .unwrap()
        );
    }
}

/// The binary at moto, with the SDK's standard variables only.
fn mailroom(moto: &Moto) -> assert_cmd::Command {
    let mut command = common::mailroom(&common::repo());
    for name in [
        "AWS_PROFILE",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_SESSION_TOKEN",
    ] {
        command.env_remove(name);
    }
    command
        .env("LEDGER_TABLE", TABLE)
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    command
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(moto: &Moto, args: &[&str]) -> Run {
    let output = mailroom(moto).args(args).output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn ok(moto: &Moto, args: &[&str]) -> String {
    let run = run(moto, args);
    assert_eq!(run.code, 0, "{args:?}: {}{}", run.stdout, run.stderr);
    run.stdout
}

fn ok_json(moto: &Moto, args: &[&str]) -> Value {
    serde_json::from_str(&ok(moto, args)).unwrap()
}

#[test]
fn operators_read_the_ledger_and_lift_a_suppression_against_dynamodb() {
    let moto = Moto::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = runtime.block_on(moto.dynamodb());
    runtime.block_on(create_table(&client));
    let ledger = DynamoDbLedger::new(client.clone(), TABLE, Duration::from_secs(86_400));

    // The email of a real event: its key is what `process` names the .eml after.
    let outbox = tempfile::tempdir().unwrap();
    let event = common::example("events/order-raw.json");
    common::mailroom(&common::repo())
        .args([
            "process",
            event.to_str().unwrap(),
            "--now",
            common::NOW,
            "--outbox",
        ])
        .arg(outbox.path())
        .assert()
        .success();
    let eml = std::fs::read_dir(outbox.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let event_key = eml.path().file_stem().unwrap().to_str().unwrap().to_owned();

    let history = [
        send(KEY_A, "Ana@Example.com", "2026-11-23T10:00:01Z"),
        delivery(KEY_A, "Ana@Example.com", "2026-11-23T10:00:02Z"),
        bounce(
            KEY_A,
            "Ana@Example.com",
            "Permanent",
            "2026-11-23T10:00:03Z",
        ),
        send(KEY_B, "bob@example.net", "2026-11-23T11:00:00Z"),
        complaint(KEY_B, "bob@example.net", "2026-11-23T11:05:00Z"),
        send(KEY_C, "cy@example.org", "2026-11-23T12:00:00Z"),
        bounce(KEY_C, "cy@example.org", "Transient", "2026-11-23T12:30:00Z"),
        send(&event_key, "buyer@example.com", "2026-11-23T13:00:00Z"),
        delivery(&event_key, "buyer@example.com", "2026-11-23T13:00:02Z"),
    ];
    for feedback in &history {
        runtime.block_on(record(&ledger, feedback));
    }

    // show, by key: text and JSON.
    let text = ok(&moto, &["ledger", "show", "--key", KEY_A]);
    assert!(
        text.starts_with(&format!("email#{KEY_A} (version 3)\n")),
        "{text}"
    );
    for line in [
        "  status:      bounced_permanent",
        "  route:       welcome (event type EnrollmentCompleted)",
        "  recipient:   ana@example.com bounced_permanent",
        "  bounce:      Permanent at 2026-11-23T10:00:03Z: General, 5.1.1, smtp; 550 5.1.1 user unknown",
        "    2026-11-23T10:00:01Z  Send",
        "    2026-11-23T10:00:03Z  Bounce",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    let shown = ok_json(&moto, &["ledger", "show", "--key", KEY_A, "--json"]);
    let stored: EmailEntry = serde_json::from_value(shown["emails"][0]["entry"].clone()).unwrap();
    let expected = runtime
        .block_on(ledger.read(&format!("email#{KEY_A}")))
        .unwrap()
        .unwrap();
    assert_eq!(stored, serde_json::from_str(&expected.json).unwrap());
    assert_eq!(shown["emails"][0]["version"], 3);

    // An email the ledger does not know: said so, exit status 1.
    let missing = run(
        &moto,
        &[
            "ledger",
            "show",
            "--key",
            "0123456789abcdef0123456789abcdef",
        ],
    );
    assert_eq!(missing.code, 1, "{}{}", missing.stdout, missing.stderr);
    assert!(
        missing.stdout.contains("not in the ledger"),
        "{}",
        missing.stdout
    );

    // show, by event: the core derives the key from the event with the example routes.
    let by_event = ok(
        &moto,
        &[
            "ledger",
            "show",
            "--event",
            "examples/events/order-raw.json",
        ],
    );
    assert!(
        by_event.contains(&format!("route order-confirmation, key {event_key}")),
        "{by_event}"
    );
    assert!(by_event.contains("  status:      delivered"), "{by_event}");
    assert!(
        by_event.contains("  route:       order-confirmation (event type orders/paid)"),
        "{by_event}"
    );
    let by_event = ok_json(
        &moto,
        &[
            "ledger",
            "show",
            "--json",
            "--event",
            "examples/events/order-raw.json",
        ],
    );
    assert_eq!(
        by_event["emails"][0]["record"]["idempotencyKey"],
        event_key.as_str()
    );

    // address: the suppression and the events, found however the address is written.
    let text = ok(
        &moto,
        &["ledger", "address", "Ana <ANA@example.com>", "--now", NOW],
    );
    assert!(
        text.starts_with("ana@example.com (address#ana@example.com, version 3)"),
        "{text}"
    );
    assert!(
        text.contains("  suppression: SUPPRESSED: permanent bounce, for good"),
        "{text}"
    );
    assert!(
        text.contains(&format!("Bounce           ses-{KEY_A}")),
        "{text}"
    );
    let address = ok_json(
        &moto,
        &[
            "ledger",
            "address",
            "bob@example.net",
            "--json",
            "--now",
            NOW,
        ],
    );
    assert_eq!(address["suppressed"], true);
    assert_eq!(
        address["entry"]["suppression"]["reason"]["kind"],
        "complaint"
    );
    let nobody = run(&moto, &["ledger", "address", "nobody@example.com"]);
    assert_eq!(nobody.code, 1);
    let not_an_address = run(&moto, &["ledger", "address", "not an address"]);
    assert_eq!(not_an_address.code, 2);
    assert!(
        not_an_address.stderr.contains("is not an email address"),
        "{}",
        not_an_address.stderr
    );

    // bounces and complaints: newest first, by --since and --limit.
    let bounces = ok(&moto, &["ledger", "bounces", "--now", NOW]);
    let lines: Vec<&str> = bounces.lines().collect();
    assert_eq!(lines.len(), 3, "{bounces}");
    assert!(lines[0].starts_with(&format!(
        "2026-11-23T12:30:00Z  bounced_transient  email#{KEY_C}  route welcome  to cy@example.org"
    )), "{bounces}");
    assert!(
        lines[1].starts_with(&format!(
            "2026-11-23T10:00:03Z  bounced_permanent  email#{KEY_A}"
        )),
        "{bounces}"
    );
    assert_eq!(lines[2], "2 bounces (newest first, at most 20)");
    let recent = ok_json(
        &moto,
        &[
            "ledger",
            "bounces",
            "--since",
            "2026-11-23T11:00:00Z",
            "--json",
        ],
    );
    let keys: Vec<&str> = recent["emails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, [format!("email#{KEY_C}")]);
    let age = ok_json(
        &moto,
        &[
            "ledger",
            "bounces",
            "--since",
            "1d",
            "--now",
            "2026-11-24T11:00:00Z",
            "--json",
        ],
    );
    assert_eq!(age["emails"].as_array().unwrap().len(), 1);
    let first = ok_json(&moto, &["ledger", "bounces", "--limit", "1", "--json"]);
    assert_eq!(first["emails"][0]["key"], format!("email#{KEY_C}"));
    assert_eq!(first["emails"].as_array().unwrap().len(), 1);
    let complaints = ok_json(&moto, &["ledger", "complaints", "--json"]);
    assert_eq!(complaints["emails"].as_array().unwrap().len(), 1);
    assert_eq!(complaints["emails"][0]["key"], format!("email#{KEY_B}"));
    assert_eq!(complaints["emails"][0]["at"], "2026-11-23T11:05:00Z");
    let bad_since = run(&moto, &["ledger", "bounces", "--since", "yesterday"]);
    assert_eq!(bad_since.code, 2);
    assert!(
        bad_since.stderr.contains("--since \"yesterday\""),
        "{}",
        bad_since.stderr
    );

    // lift with the version the operator saw, after the intake wrote meanwhile: the table
    // refuses the conditional write, and nothing changes.
    let seen = ok_json(&moto, &["ledger", "address", "ana@example.com", "--json"])["version"]
        .as_u64()
        .unwrap();
    runtime.block_on(record(
        &ledger,
        &delivery(KEY_D, "ana@example.com", "2026-11-24T08:00:00Z"),
    ));
    let stale = run(
        &moto,
        &[
            "ledger",
            "lift",
            "ana@example.com",
            "--reason",
            "mailbox fixed, ticket 4711",
            "--expect-version",
            &seen.to_string(),
            "--now",
            NOW,
        ],
    );
    assert_eq!(stale.code, 2, "{}{}", stale.stdout, stale.stderr);
    assert!(
        stale.stderr.contains(&format!(
            "address#ana@example.com is no longer at version {seen}"
        )),
        "{}",
        stale.stderr
    );
    let after = runtime
        .block_on(ledger.read("address#ana@example.com"))
        .unwrap()
        .unwrap();
    assert_eq!(after.version, seen + 1);
    let entry: AddressEntry = serde_json::from_str(&after.json).unwrap();
    assert!(entry.suppression.is_some() && entry.lifts.is_empty());

    // With the current version it lifts, and says what it lifted.
    let lifted = ok(
        &moto,
        &[
            "ledger",
            "lift",
            "ana@example.com",
            "--reason",
            "mailbox fixed, ticket 4711",
            "--expect-version",
            &(seen + 1).to_string(),
            "--now",
            NOW,
        ],
    );
    assert!(
        lifted.starts_with("lifted ana@example.com (was permanent bounce, for good)"),
        "{lifted}"
    );
    assert!(lifted.contains("  suppression: not suppressed"), "{lifted}");
    assert!(lifted.contains("  lifted:      2026-11-24T09:00:00Z (mailbox fixed, ticket 4711), was permanent bounce, for good"), "{lifted}");
    let stored = runtime
        .block_on(ledger.read("address#ana@example.com"))
        .unwrap()
        .unwrap();
    assert_eq!(stored.version, seen + 2);
    let entry: AddressEntry = serde_json::from_str(&stored.json).unwrap();
    assert_eq!(entry.suppression, None);
    assert_eq!(entry.lifts[0].reason, "mailbox fixed, ticket 4711");
    assert_eq!(
        entry.lifts[0].lifted.reason,
        SuppressionReason::PermanentBounce
    );
    assert_eq!(entry.history.entries().len(), 4, "the events stay");
    // The item left the suppression index and expires again.
    let item = runtime
        .block_on(
            client
                .get_item()
                .table_name(TABLE)
                .key("pk", AttributeValue::S("address#ana@example.com".into()))
                .send(),
        )
        .unwrap()
        .item
        .unwrap();
    assert!(!item.contains_key("suppressed"), "{item:?}");
    assert!(item.contains_key("expiresAt"), "{item:?}");

    // The bounce redelivered after the lift does not suppress again.
    runtime.block_on(record(&ledger, &history[2]));
    let address = ok_json(
        &moto,
        &[
            "ledger",
            "address",
            "ana@example.com",
            "--json",
            "--now",
            NOW,
        ],
    );
    assert_eq!(address["suppressed"], false, "{address}");

    // Nothing left to lift; a lift without its own expectation reads and lifts what is there.
    let again = run(
        &moto,
        &["ledger", "lift", "ana@example.com", "--reason", "again"],
    );
    assert_eq!(again.code, 2);
    assert!(
        again
            .stderr
            .contains("cannot lift ana@example.com: the address is not suppressed"),
        "{}",
        again.stderr
    );
    let bob = ok_json(
        &moto,
        &[
            "ledger",
            "lift",
            "bob@example.net",
            "--reason",
            "asked us to resume",
            "--json",
        ],
    );
    assert_eq!(bob["lifted"]["reason"], "asked us to resume");
    assert_eq!(bob["lifted"]["lifted"]["reason"]["kind"], "complaint");
    let no_reason = run(
        &moto,
        &["ledger", "lift", "cy@example.org", "--reason", " "],
    );
    assert_eq!(no_reason.code, 2);
    let unknown = run(
        &moto,
        &["ledger", "lift", "nobody@example.com", "--reason", "x"],
    );
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("no entry for nobody@example.com"),
        "{}",
        unknown.stderr
    );

    // The table: none given, or one that does not exist.
    let mut without = mailroom(&moto);
    without
        .env_remove("LEDGER_TABLE")
        .args(["ledger", "bounces"]);
    let output = without.output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("no ledger table: pass --table NAME or set LEDGER_TABLE")
    );
    let absent = run(
        &moto,
        &["ledger", "show", "--key", KEY_A, "--table", "no-such-table"],
    );
    assert_eq!(absent.code, 1);
    assert!(
        absent.stderr.contains("ResourceNotFoundException"),
        "{}",
        absent.stderr
    );
    assert!(
        absent.stderr.contains("table no-such-table"),
        "{}",
        absent.stderr
    );
}
