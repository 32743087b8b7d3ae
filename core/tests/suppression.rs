//! The suppression checks through the batch protocol: what a host learns from them so that it
//! can claim the emails' idempotency keys in the call that checks the addresses. The shared
//! vector `suppression.json` pins the decisions; these pin the protocol around them.

use std::collections::BTreeSet;

use mailroom_core::{
    Config, Disposition, LookupAnswer, LookupItem, LookupPurpose, LookupRequest, Mailroom,
    SendOutcome, SqsEvent, TemplateSet, Timestamp,
};

const LEDGER: &str = "mailroom-ledger";
const NOW: Timestamp = Timestamp::from_millis(1_795_428_000_000);

/// A route to `mailto`; `welcome` events first read the student (whose item names the
/// address), so their checks come a round later.
fn mailroom() -> Mailroom {
    let routes = r#"{ "sender": "School <school@example.com>", "routes": [
        { "name": "welcome", "events": ["Welcome"], "template": "note.html", "subject": "Hi",
          "recipient": "lookup.student.email",
          "lookups": { "student": { "table": "school", "key": { "PK": "STUDENT#{{ studentId }}" } } } },
        { "name": "note", "events": ["*"], "template": "note.html", "subject": "Hi",
          "recipient": "mailto" } ] }"#;
    let config = Config::resolve(Some(routes), |name| {
        (name == "LEDGER_TABLE").then(|| LEDGER.to_owned())
    })
    .unwrap();
    let mut templates = TemplateSet::new();
    templates.insert("note.html", "<p>Hello</p>");
    Mailroom::new(config, &templates).unwrap()
}

fn event(bodies: &[serde_json::Value]) -> SqsEvent {
    let records: Vec<serde_json::Value> = bodies
        .iter()
        .enumerate()
        .map(|(index, body)| {
            serde_json::json!({
                "messageId": format!("m-{index}"), "receiptHandle": format!("r-{index}"),
                "body": body.to_string(), "attributes": {"ApproximateReceiveCount": "1"},
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:school"
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

fn note(id: &str, mailto: &str) -> serde_json::Value {
    serde_json::json!({"eventId": id, "mailto": mailto})
}

/// The address item of a suppression that does not expire.
fn suppressed_item(address: &str) -> LookupItem {
    let entry = serde_json::json!({"history": [], "suppression": {
        "address": address, "reason": {"kind": "permanent_bounce"}, "expiresAt": null}});
    LookupItem::from_json(&serde_json::json!({ "entry": entry.to_string() }).to_string()).unwrap()
}

/// Sends everything the batch hands out; the idempotency keys of the emails sent.
fn send_all(batch: &mut mailroom_core::Batch) -> BTreeSet<String> {
    let mut sent = BTreeSet::new();
    while let Some(send) = batch.next_send() {
        sent.insert(send.message.idempotency_key().to_owned());
        batch
            .complete_send(
                send.id,
                SendOutcome::Accepted {
                    message_id: "ses".into(),
                },
            )
            .unwrap();
    }
    sent
}

fn checks(round: &[LookupRequest]) -> Vec<&LookupRequest> {
    round
        .iter()
        .filter(|request| request.purpose == LookupPurpose::SuppressionCheck)
        .collect()
}

#[test]
fn the_emails_held_by_checks_are_the_ones_sent_once_the_checks_clear() {
    let mailroom = mailroom();
    let mut batch = mailroom
        .start_batch(
            event(&[note("e-1", "a@example.com"), note("e-2", "b@example.com")]),
            NOW,
            7,
        )
        .unwrap();
    assert!(
        batch.emails_held_by_checks().is_empty(),
        "nothing is held before the checks are handed out"
    );
    let round = batch.lookups();
    assert_eq!(checks(&round).len(), 2, "{round:?}");
    assert!(round.iter().all(|request| request.table == LEDGER));
    let held: BTreeSet<String> = batch.emails_held_by_checks().into_iter().collect();
    assert_eq!(held.len(), 2);
    for request in &round {
        // A check that held: nothing suppresses the address.
        batch
            .answer_lookup(request.id, LookupAnswer::NotFound)
            .unwrap();
    }
    assert!(
        batch.emails_held_by_checks().is_empty(),
        "answered: held no more"
    );
    assert_eq!(send_all(&mut batch), held);
}

#[test]
fn a_record_is_held_by_checks_only_once_its_own_lookups_are_answered() {
    let mailroom = mailroom();
    let welcome = serde_json::json!({"eventId": "w-1", "type": "Welcome", "studentId": "42"});
    let mut batch = mailroom
        .start_batch(event(&[welcome, note("e-1", "a@example.com")]), NOW, 7)
        .unwrap();
    let first = batch.lookups();
    let (declared, checked): (Vec<_>, Vec<_>) = first
        .iter()
        .partition(|request| request.purpose == LookupPurpose::Declared);
    assert_eq!((declared.len(), checked.len()), (1, 1), "{first:?}");
    let held_first = batch.emails_held_by_checks();
    assert_eq!(
        held_first.len(),
        1,
        "only the note waits only for its check"
    );
    for request in &first {
        let answer = match request.purpose {
            LookupPurpose::Declared => LookupAnswer::Found(
                LookupItem::from_json(r#"{"email": "student@example.com"}"#).unwrap(),
            ),
            LookupPurpose::SuppressionCheck => LookupAnswer::NotFound,
        };
        batch.answer_lookup(request.id, answer).unwrap();
    }
    let second = batch.lookups();
    assert_eq!(
        checks(&second).len(),
        1,
        "the student's address: {second:?}"
    );
    let held_second = batch.emails_held_by_checks();
    assert_eq!(held_second.len(), 1);
    assert_ne!(held_first, held_second);
    batch
        .answer_lookup(second[0].id, LookupAnswer::NotFound)
        .unwrap();
    let sent = send_all(&mut batch);
    let expected: BTreeSet<String> = held_first.into_iter().chain(held_second).collect();
    assert_eq!(sent, expected);
}

#[test]
fn a_check_that_fails_with_a_suppressed_item_keeps_its_email_from_going() {
    let mailroom = mailroom();
    let mut batch = mailroom
        .start_batch(
            event(&[
                note("e-1", "gone@example.com"),
                note("e-2", "kept@example.com"),
            ]),
            NOW,
            7,
        )
        .unwrap();
    let round = batch.lookups();
    let held = batch.emails_held_by_checks();
    assert_eq!(held.len(), 2);
    for request in &round {
        let answer = if request.key_text().contains("gone@example.com") {
            LookupAnswer::Found(suppressed_item("gone@example.com"))
        } else {
            LookupAnswer::NotFound
        };
        batch.answer_lookup(request.id, answer).unwrap();
    }
    let sent = send_all(&mut batch);
    assert_eq!(sent.len(), 1, "a held key may still not be sent: {sent:?}");
    assert!(held.contains(sent.iter().next().unwrap()));
    let report = batch.finish();
    assert!(
        report
            .records
            .iter()
            .any(|record| matches!(record.disposition, Disposition::Suppressed { .. }))
    );
}

#[test]
fn records_with_one_event_hold_its_key_once() {
    let mailroom = mailroom();
    let mut batch = mailroom
        .start_batch(
            event(&[note("e-1", "a@example.com"), note("e-1", "a@example.com")]),
            NOW,
            7,
        )
        .unwrap();
    let round = batch.lookups();
    assert_eq!(checks(&round).len(), 1, "one address, one check");
    assert_eq!(batch.emails_held_by_checks().len(), 1, "one event, one key");
}

#[test]
fn a_route_reading_an_address_item_is_not_answered_by_a_check() {
    // A route may read the ledger's address item itself: its read and the check of the same
    // item stay two requests, because a check may be answered by a condition instead of the
    // item.
    let routes = r#"{ "sender": "School <school@example.com>", "ledgerTable": "mailroom-ledger",
        "routes": [{ "name": "note", "events": ["*"], "template": "note.html", "subject": "Hi",
          "recipient": "mailto",
          "lookups": { "standing": { "table": "mailroom-ledger", "consistentRead": false,
                                     "key": { "pk": "address#{{ mailto }}" }, "onMissing": "skip" } } }] }"#;
    let config = Config::resolve(Some(routes), |_| None).unwrap();
    let mut templates = TemplateSet::new();
    templates.insert("note.html", "<p>Hello</p>");
    let mailroom = Mailroom::new(config, &templates).unwrap();
    let mut batch = mailroom
        .start_batch(event(&[note("e-1", "a@example.com")]), NOW, 7)
        .unwrap();
    let mut purposes = Vec::new();
    loop {
        let round = batch.lookups();
        if round.is_empty() {
            break;
        }
        for request in round {
            purposes.push((request.purpose, request.key_text()));
            batch
                .answer_lookup(request.id, LookupAnswer::NotFound)
                .unwrap();
        }
    }
    assert_eq!(
        purposes,
        vec![
            (
                LookupPurpose::Declared,
                "pk=address#a@example.com".to_owned()
            ),
            (
                LookupPurpose::SuppressionCheck,
                "pk=address#a@example.com".to_owned()
            ),
        ]
    );
    assert_eq!(send_all(&mut batch).len(), 1);
}
