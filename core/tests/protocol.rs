//! The batch protocol as a host meets it: ids it cannot make up, answers it cannot give twice,
//! what the batch hands out for the host's SQS calls, and FIFO order kept through parking.

mod common;

use mailroom_core::{
    BatchError, BatchReport, Disposition, Mailroom, Reason, SendFailure, SendOutcome, ServiceFault,
    SqsEvent,
};
use serde_json::json;

/// A record of the example enrollment route (recipient `mailto`), on `queue`.
fn record(
    id: &str,
    body: serde_json::Value,
    queue: &str,
    group: Option<&str>,
) -> serde_json::Value {
    let mut attributes = json!({ "ApproximateReceiveCount": "1" });
    if let Some(group) = group {
        attributes["MessageGroupId"] = group.into();
    }
    json!({
        "messageId": id,
        "receiptHandle": format!("handle-{id}"),
        "body": body.to_string(),
        "attributes": attributes,
        "eventSourceARN": format!("arn:aws:sqs:us-east-1:123456789012:{queue}"),
    })
}

fn enrollment(to: &str) -> serde_json::Value {
    json!({ "eventType": "EnrollmentNotification", "mailto": to, "studentName": "Ana",
            "courseName": "Rust", "enrolledAt": "2026-11-23T10:00:00Z" })
}

fn event(records: Vec<serde_json::Value>) -> SqsEvent {
    SqsEvent::from_json(&json!({ "Records": records }).to_string()).unwrap()
}

fn mailroom() -> Mailroom {
    common::example_mailroom()
}

#[test]
fn ids_from_another_batch_and_second_answers_are_refused() {
    let mailroom = mailroom();
    let one = event(vec![record("a", enrollment("o@example.com"), "q", None)]);
    let mut first = mailroom.start_batch(one.clone(), common::NOW, 1).unwrap();
    let mut second = mailroom.start_batch(one, common::NOW, 2).unwrap();
    let send = first.next_send().unwrap();
    let other = second.next_send().unwrap();
    assert_eq!(send.message_id, "a");
    assert_eq!(
        second.complete_send(send.id, common::accept_all("a")),
        Err(BatchError::UnknownRecord(send.id.record()))
    );
    first
        .complete_send(send.id, common::accept_all("a"))
        .unwrap();
    assert_eq!(
        first.complete_send(send.id, common::accept_all("a")),
        Err(BatchError::NotInFlight {
            message_id: "a".into()
        })
    );
    // Neither refusal changed anything: the first batch sent, the second still waits.
    assert!(matches!(
        first.finish().records[0].disposition,
        Disposition::Sent { .. }
    ));
    second
        .complete_send(other.id, common::accept_all("a"))
        .unwrap();
    assert_eq!(
        second.mark_parked(other.id.record()),
        Err(BatchError::NotRejected {
            message_id: "a".into()
        })
    );
}

#[test]
fn what_the_batch_hands_out_carries_what_the_host_needs() {
    let mailroom = mailroom();
    let mut batch = mailroom
        .start_batch(
            event(vec![
                record("bad", json!("not an object"), "orders", None),
                record("good", enrollment("o@example.com"), "orders", None),
            ]),
            common::NOW,
            1,
        )
        .unwrap();
    let park = batch.to_park();
    assert_eq!(park.len(), 1);
    assert_eq!(park[0].message_id, "bad");
    assert_eq!(park[0].body, "\"not an object\"");
    assert_eq!(
        park[0].queue_arn,
        "arn:aws:sqs:us-east-1:123456789012:orders"
    );
    assert_eq!(park[0].reason, Reason::MalformedBody);
    batch.mark_parked(park[0].id).unwrap();
    let send = batch.next_send().unwrap();
    let failure = SendFailure::new("TooManyRequestsException", "slow down", Some(429));
    batch
        .complete_send(send.id, SendOutcome::Failed(failure))
        .unwrap();
    let report = batch.finish();
    let retried = &report.records[1];
    assert_eq!(retried.receipt_handle, "handle-good");
    assert_eq!(
        retried.queue_arn,
        "arn:aws:sqs:us-east-1:123456789012:orders"
    );
    let counts = report.counts();
    assert_eq!(
        (
            counts.records,
            counts.rejected,
            counts.parked,
            counts.retried,
            counts.throttled
        ),
        (2, 1, 1, 1, 1)
    );
    assert_eq!(report.batch_response.batch_item_failures.len(), 1);
}

#[test]
fn a_fifo_reject_is_not_parked_ahead_of_an_earlier_failure_of_its_group() {
    // "first" is sent and throttled; "second", rejected at decide time, must not be
    // acknowledged (parked) while "first" goes back on the queue, or it overtakes it.
    let mailroom = mailroom();
    let mut batch = mailroom
        .start_batch(
            event(vec![
                record("first", enrollment("o@example.com"), "q.fifo", Some("g")),
                record("second", json!([1]), "q.fifo", Some("g")),
                record("other", json!([2]), "q.fifo", Some("h")),
            ]),
            common::NOW,
            1,
        )
        .unwrap();
    let send = batch.next_send().unwrap();
    let parkable_before: Vec<String> = batch.to_park().into_iter().map(|p| p.message_id).collect();
    assert_eq!(parkable_before, ["second", "other"]);
    let failure = SendFailure::new("TooManyRequestsException", "slow down", Some(429));
    batch
        .complete_send(send.id, SendOutcome::Failed(failure))
        .unwrap();
    let parkable: Vec<String> = batch.to_park().into_iter().map(|p| p.message_id).collect();
    assert_eq!(parkable, ["other"]);
    let report = batch.finish();
    let failed: Vec<&str> = report
        .batch_response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["first", "second", "other"]);
}

#[test]
fn a_batch_that_cannot_be_decided_is_retried_whole() {
    let records = event(vec![
        record("a", enrollment("o@example.com"), "q", None),
        record("b", json!({}), "q", None),
    ]);
    let fault = ServiceFault::TemplatesUnavailable("the repository did not answer".into());
    let report = BatchReport::retry_all(records, &fault, 7).unwrap();
    for record in &report.records {
        let Disposition::Retry {
            reason,
            detail,
            retry_after_seconds,
        } = &record.disposition
        else {
            panic!("{record:?}");
        };
        assert_eq!(*reason, Reason::TemplateMissing);
        assert_eq!(
            detail,
            "templates unavailable: the repository did not answer"
        );
        assert!(
            (15..=30).contains(retry_after_seconds),
            "{retry_after_seconds}"
        );
    }
    assert_eq!(report.batch_response.batch_item_failures.len(), 2);
    let no_id = SqsEvent::from_json(r#"{"Records":[{"messageId":"","body":"{}"}]}"#).unwrap();
    assert!(BatchReport::retry_all(no_id, &fault, 7).is_err());
}

#[test]
fn a_single_decision_is_the_batch_decision_before_sending() {
    let mailroom = mailroom();
    let records = event(vec![
        record("a", enrollment("o@example.com"), "q", None),
        record(
            "b",
            json!({"eventType": "EnrollmentNotification"}),
            "q",
            None,
        ),
    ]);
    let report = common::run_batch(&mailroom, &records, 3, common::accept_all);
    for (record, reported) in records.records.iter().zip(&report.records) {
        let decided = serde_json::to_value(mailroom.decide(
            record,
            common::NOW,
            3,
            &mut mailroom_core::NoLookups,
        ))
        .unwrap();
        let mut reported = serde_json::to_value(reported).unwrap();
        // Only a send can tell the provider's id.
        reported
            .as_object_mut()
            .unwrap()
            .remove("providerMessageId");
        assert_eq!(decided, reported);
    }
}

#[test]
fn a_standard_batch_renders_as_sends_are_asked_for_so_the_deadline_bounds_rendering() {
    // Records after the first are not rendered until the host asks for their send: once the
    // host expires the batch (its deadline is near), they are retried at once (`deadline`)
    // without being rendered. Record c's template is missing a variable: rendered, it would be
    // `template_error`; unrendered, it is `deadline` like b.
    let mailroom = mailroom();
    let mut broken = enrollment("c@example.com");
    broken["studentName"] = serde_json::Value::Null;
    broken.as_object_mut().unwrap().remove("courseName");
    let batch_event = event(vec![
        record("a", enrollment("a@example.com"), "q", None),
        record("b", enrollment("b@example.com"), "q", None),
        record("c", broken, "q", None),
    ]);
    let mut batch = mailroom
        .start_batch(batch_event.clone(), common::NOW, 1)
        .unwrap();
    let first = batch.next_send().unwrap();
    batch
        .complete_send(first.id, common::accept_all("a"))
        .unwrap();
    batch.expire();
    assert!(batch.next_send().is_none());
    let reasons: Vec<Option<Reason>> = batch
        .finish()
        .records
        .iter()
        .map(|r| r.disposition.reason())
        .collect();
    assert_eq!(
        reasons,
        [None, Some(Reason::Deadline), Some(Reason::Deadline)]
    );
    assert!(
        reasons.iter().all(|r| *r != Some(Reason::TemplateError)),
        "nothing after the deadline was rendered"
    );

    // Run to the end, the same batch renders c and retries it for its template.
    let report = common::run_batch(&mailroom, &batch_event, 1, common::accept_all);
    assert_eq!(
        report.records[2].disposition.reason(),
        Some(Reason::TemplateError)
    );
}

#[test]
fn asked_before_sending_to_park_lists_the_rejects_found_when_composing() {
    // A record without a recipient is rejected when composed; a host that parks before it
    // sends still gets it.
    let mailroom = mailroom();
    let mut batch = mailroom
        .start_batch(
            event(vec![
                record("good", enrollment("a@example.com"), "q", None),
                record("nobody", enrollment(""), "q", None),
            ]),
            common::NOW,
            1,
        )
        .unwrap();
    let park: Vec<(String, Reason)> = batch
        .to_park()
        .into_iter()
        .map(|p| (p.message_id, p.reason))
        .collect();
    assert_eq!(park, [("nobody".to_owned(), Reason::MissingRecipient)]);
    let send = batch.next_send().unwrap();
    assert_eq!(send.message_id, "good");
}

#[test]
fn feedback_finds_its_email_by_the_tags_every_email_carries() {
    let mailroom = mailroom();
    let mut batch = mailroom
        .start_batch(
            event(vec![record("a", enrollment("o@example.com"), "q", None)]),
            common::NOW,
            1,
        )
        .unwrap();
    let send = batch.next_send().unwrap();
    let email = send.email().unwrap();
    // SES publishes an email's tags back as lists, with its own beside them.
    let mut tags: serde_json::Map<String, serde_json::Value> = email
        .tags()
        .iter()
        .map(|tag| (tag.name().to_owned(), json!([tag.value()])))
        .collect();
    tags.insert("ses:configuration-set".into(), json!(["mailroom"]));
    let notification = json!({
        "eventType": "Delivery",
        "mail": { "messageId": "ses-1", "timestamp": "2026-11-23T10:00:01Z",
                  "destination": ["o@example.com"], "tags": tags },
        "delivery": { "timestamp": "2026-11-23T10:00:02Z", "recipients": ["o@example.com"] },
    });
    let feedback = mailroom_core::feedback::Feedback::parse(&notification.to_string()).unwrap();
    assert_eq!(
        feedback.tags.idempotency_key.as_deref(),
        Some(email.idempotency_key())
    );
    assert_eq!(feedback.tags.route.as_deref(), Some("organizer-enrollment"));
    assert_eq!(
        feedback.tags.event_type.as_deref(),
        Some("EnrollmentNotification")
    );
}

#[test]
fn a_route_cannot_take_the_name_of_a_tag_mailroom_sets() {
    for reserved in ["idempotency_key", "route", "event_type", "ses:source"] {
        let routes = json!({ "routes": [{ "name": "r", "events": ["*"], "template": "t.html",
            "subject": "s", "recipient": ["to"], "tags": { reserved: "x" } }] });
        let error = mailroom_core::Config::resolve(Some(&routes.to_string()), |name| {
            (name == "SENDER").then(|| "a@example.com".to_owned())
        })
        .unwrap_err();
        assert!(
            error.to_string().contains("routes[0].tags"),
            "{reserved}: {error}"
        );
    }
}
