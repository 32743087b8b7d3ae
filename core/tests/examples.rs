//! The shipped examples render and route as documented.

mod common;

use common::{accept_all, example_event, example_mailroom, run_batch};
use mailroom_core::{Disposition, Reason};

#[test]
fn quickstart_sends_every_example_and_rejects_the_three_broken_records() {
    let mailroom = example_mailroom();
    let report = run_batch(&mailroom, &example_event("quickstart.json"), 1, accept_all);
    let kinds: Vec<(&str, Option<Reason>)> = report
        .records
        .iter()
        .map(|r| (r.disposition.kind(), r.disposition.reason()))
        .collect();
    let mut expected = vec![("send", None); 9];
    expected.push(("reject", Some(Reason::MalformedBody)));
    expected.push(("reject", Some(Reason::MissingRecipient)));
    expected.push(("reject", Some(Reason::LookupMissing)));
    assert_eq!(kinds, expected, "{:#?}", report.records);
    assert_eq!(report.batch_response.batch_item_failures.len(), 3);
}

#[test]
fn the_same_event_in_every_envelope_renders_the_same_email() {
    let mailroom = example_mailroom();
    for example in ["enrollment", "order", "welcome"] {
        let emails: Vec<_> = ["raw", "sns", "eventbridge"]
            .iter()
            .map(|envelope| {
                let event = example_event(&format!("{example}-{envelope}.json"));
                let report = run_batch(&mailroom, &event, 1, accept_all);
                match &report.records[0].disposition {
                    Disposition::Sent { email, .. } => (**email).clone(),
                    other => panic!("{example}-{envelope}: {other:?}"),
                }
            })
            .collect();
        // The footer's reference is the idempotency key. EnrollmentCompleted carries no event
        // id, so each envelope's own id makes the key (they are different deliveries); the
        // rest of the email must not depend on the envelope.
        let without_reference = |text: &str| {
            text.split(" Reference ")
                .next()
                .unwrap_or_default()
                .to_owned()
        };
        for email in &emails[1..] {
            assert_eq!(email.subject(), emails[0].subject(), "{example}");
            assert_eq!(email.to(), emails[0].to(), "{example}");
            assert_eq!(
                without_reference(email.text()),
                without_reference(emails[0].text()),
                "{example}"
            );
        }
    }
}

#[test]
#[ignore = "prints an example email for eyeballing"]
fn show_order_email() {
    let mailroom = example_mailroom();
    let report = run_batch(
        &mailroom,
        &example_event("order-eventbridge.json"),
        1,
        accept_all,
    );
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}

#[test]
fn the_key_an_operator_asks_the_ledger_for_is_the_key_the_email_is_sent_under() {
    let mailroom = example_mailroom();
    let event = example_event("quickstart.json");
    let report = run_batch(&mailroom, &event, 1, accept_all);
    for (record, reported) in event.records.iter().zip(&report.records) {
        let keyed = mailroom.idempotency_key(record);
        match &reported.disposition {
            Disposition::Sent { email, .. } => {
                let keyed = keyed.unwrap_or_else(|fault| panic!("{}: {fault}", record.message_id));
                assert_eq!(keyed.key, email.idempotency_key(), "{}", record.message_id);
                assert_eq!(Some(&keyed.route), reported.route.as_ref());
            }
            // An unreadable body has no key; the other rejects are routed, and keyed.
            _ if reported.disposition.reason() == Some(Reason::MalformedBody) => {
                assert!(keyed.is_err(), "{}", record.message_id);
            }
            _ => assert!(keyed.is_ok(), "{}", record.message_id),
        }
    }
}
