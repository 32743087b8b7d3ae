//! Properties that must hold for every input, checked with proptest.

mod common;

use std::collections::BTreeSet;

use mailroom_core::{
    Config, Disposition, Mailroom, Reason, SendFailure, SendOutcome, SqsEvent, SqsRecord,
    TemplateSet,
};
use proptest::prelude::*;

fn mailroom(template: &str) -> Mailroom {
    let routes = r#"{"sender": "Mailroom <notify@example.com>", "routes": [
        {"name": "notice", "events": ["*"], "template": "notice.html",
         "subject": "Notice for {{ name }}", "recipient": ["mailto", "to"]}]}"#;
    let config = Config::resolve(Some(routes), |_| None).unwrap();
    let templates: TemplateSet = [("notice.html", template)].into_iter().collect();
    Mailroom::new(config, &templates).unwrap()
}

fn record(message_id: String, body: String, group: Option<String>) -> SqsRecord {
    let mut record = SqsRecord {
        message_id,
        body,
        event_source_arn: "arn:aws:sqs:us-east-1:123456789012:q".into(),
        ..SqsRecord::default()
    };
    if let Some(group) = group {
        record.event_source_arn.push_str(".fifo");
        record.attributes.insert("MessageGroupId".into(), group);
    }
    record
}

/// Bodies from every class the core distinguishes, and arbitrary text.
fn body() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,8}"
            .prop_map(|name| format!(r#"{{"mailto": "{name}@example.com", "name": "{name}"}}"#)),
        Just(r#"{"name": "no recipient"}"#.to_owned()),
        Just(r#"{"mailto": "not an address", "name": "x"}"#.to_owned()),
        Just("[1, 2]".to_owned()),
        any::<String>(),
        "[a-z]{1,8}".prop_map(|name| {
            let inner = format!(r#"{{"mailto": "{name}@example.com", "name": "{name}"}}"#);
            serde_json::json!({"Type": "Notification", "MessageId": name, "Message": inner})
                .to_string()
        }),
    ]
}

/// The text of any JSON value, nested a few levels deep, with object keys in any order and
/// sometimes repeated (what producers may send; a `serde_json::Value` would sort them).
fn json_text() -> impl Strategy<Value = String> {
    let scalar = |value: serde_json::Value| value.to_string();
    let leaf = prop_oneof![
        Just("null".to_owned()),
        any::<bool>().prop_map(move |b| scalar(b.into())),
        any::<i64>().prop_map(move |n| scalar(n.into())),
        any::<u64>().prop_map(move |n| scalar(n.into())),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(move |f| scalar(f.into())),
        ".{0,6}".prop_map(move |s| scalar(s.into())),
    ];
    leaf.prop_recursive(4, 40, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6)
                .prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::vec(("[a-c]{0,2}|.{0,3}", inner), 0..6).prop_map(move |members| {
                let members: Vec<String> = members
                    .into_iter()
                    .map(|(key, value)| format!("{}:{value}", scalar(key.into())))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

fn outcome() -> impl Strategy<Value = SendOutcome> {
    prop_oneof![
        3 => "[a-z0-9]{4}".prop_map(|id| SendOutcome::Accepted { message_id: id }),
        1 => Just(SendOutcome::Failed(SendFailure::new("TooManyRequestsException", "slow down", Some(429)))),
        1 => Just(SendOutcome::Failed(SendFailure::new("MessageRejected", "no", Some(400)))),
        1 => Just(SendOutcome::Failed(SendFailure::new("timeout", "", None))),
        1 => proptest::option::of(0u32..100_000)
            .prop_map(|retry_after_seconds| SendOutcome::InProgressElsewhere { retry_after_seconds }),
    ]
}

/// The key of `body` (with `event_type` as the SQS message attribute when given) on route `notice`.
fn key_of(message_id: &str, body: &str, event_type: Option<&str>) -> String {
    let mut record = record(message_id.to_owned(), body.to_owned(), None);
    if let Some(event_type) = event_type {
        record.message_attributes.insert(
            "eventType".into(),
            mailroom_core::record::MessageAttribute {
                data_type: "String".into(),
                string_value: Some(event_type.to_owned()),
                binary_value: None,
            },
        );
    }
    let unwrapped = mailroom_core::envelope::unwrap(&record).unwrap();
    mailroom_core::idempotency::key_for("notice", &unwrapped).0
}

/// An event body naming itself in one of the ways producers do (or not at all), in an envelope.
fn identified_body() -> impl Strategy<Value = String> {
    let id = "[a-z0-9]{1,6}";
    prop_oneof![
        id.prop_map(|id| format!(r#"{{"id": "{id}", "total": "1.00"}}"#)),
        id.prop_map(|id| format!(r#"{{"eventId": "{id}", "orderId": "o-1"}}"#)),
        id.prop_map(|id| format!(r#"{{"orderId": "{id}"}}"#)),
        id.prop_map(|id| {
            let inner = format!(r#"{{\"id\": \"{id}\"}}"#);
            format!(r#"{{"Type": "Notification", "MessageId": "sns-{id}", "Message": "{inner}"}}"#)
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The key names an event: redeliveries of one event (a new SQS message id, as producers'
    /// retries give) share it; the same body under another event type never does.
    #[test]
    fn keys_name_events_not_entities(
        body in identified_body(),
        first in "[A-Za-z/_]{1,12}",
        second in "[A-Za-z/_]{1,12}",
    ) {
        prop_assume!(first != second);
        let key = key_of("m-1", &body, Some(&first));
        prop_assert_eq!(&key, &key_of("m-2", &body, Some(&first)));
        // SNS message ids are assigned per publish: another type would be another publish.
        if !body.contains("MessageId") {
            prop_assert_ne!(&key, &key_of("m-1", &body, Some(&second)));
        }
    }

    /// The response lists exactly the records that failed, each once, and nothing else.
    #[test]
    fn batch_response_lists_exactly_the_failed_records(
        records in prop::collection::vec(
            ("[a-f0-9]{1,3}", body(), prop::option::of("[ab]")),
            0..12,
        ),
        outcomes in prop::collection::vec(outcome(), 12),
        fifo in any::<bool>(),
        expire_after in prop::option::of(0usize..12),
    ) {
        let event = SqsEvent {
            records: records
                .into_iter()
                .map(|(id, body, group)| record(id, body, if fifo { group.or(Some("g".into())) } else { None }))
                .collect(),
        };
        let mailroom = mailroom("<p>{{ name }}</p>");
        let mut batch = mailroom.start_batch(event.clone(), common::NOW, 3).unwrap();
        let mut sent = 0;
        while let Some(send) = batch.next_send() {
            batch.complete_send(send.id, outcomes[sent % outcomes.len()].clone()).unwrap();
            sent += 1;
            if expire_after == Some(sent) {
                batch.expire();
            }
        }
        let report = batch.finish();
        prop_assert_eq!(report.records.len(), event.records.len());

        let input_ids: BTreeSet<&str> = event.records.iter().map(|r| r.message_id.as_str()).collect();
        let listed: Vec<&str> = report.batch_response.batch_item_failures.iter()
            .map(|f| f.item_identifier.as_str()).collect();
        let listed_set: BTreeSet<&str> = listed.iter().copied().collect();
        prop_assert_eq!(listed.len(), listed_set.len(), "listed twice: {:?}", listed);
        prop_assert!(listed_set.is_subset(&input_ids), "unknown id in {:?}", listed);
        let failed: BTreeSet<&str> = report.records.iter()
            .filter(|r| r.disposition.is_failure()).map(|r| r.message_id.as_str()).collect();
        prop_assert_eq!(listed_set, failed);
    }

    /// A record whose key another invocation holds is not retried before that claim lapses
    /// (as far as a visibility timeout reaches), and otherwise gets the usual back-off.
    #[test]
    fn in_progress_records_wait_for_the_other_claim(
        retry_after in prop::option::of(0u32..100_000),
        receive_count in 1u32..20,
    ) {
        let mut record = record("m".into(), r#"{"name": "Ana", "mailto": "a@example.com"}"#.into(), None);
        record.attributes.insert("ApproximateReceiveCount".into(), receive_count.to_string());
        let event = SqsEvent { records: vec![record] };
        let outcome = SendOutcome::InProgressElsewhere { retry_after_seconds: retry_after };
        let report = common::run_batch(&mailroom("<p>{{ name }}</p>"), &event, 5, |_| outcome.clone());
        let without_hint = common::run_batch(&mailroom("<p>{{ name }}</p>"), &event, 5, |_| {
            SendOutcome::InProgressElsewhere { retry_after_seconds: None }
        });
        match (&report.records[0].disposition, &without_hint.records[0].disposition) {
            (
                Disposition::Retry { reason: Reason::InProgress, retry_after_seconds, .. },
                Disposition::Retry { retry_after_seconds: usual, .. },
            ) => {
                let floor = retry_after.unwrap_or(0).min(43_200);
                prop_assert_eq!(*retry_after_seconds, (*usual).max(floor));
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    /// Whatever the data, no header field carries a line break or control character.
    #[test]
    fn no_input_puts_a_line_break_into_a_header(name in any::<String>(), display in any::<String>()) {
        let body = serde_json::json!({
            "name": name,
            "mailto": [format!("{display} <a@example.com>"), {"email": "b@example.com", "name": display}],
        });
        let event = SqsEvent { records: vec![record("m".into(), body.to_string(), None)] };
        let report = common::run_batch(&mailroom("<p>{{ name }}</p>"), &event, 1, common::accept_all);
        if let Disposition::Sent { email, .. } = &report.records[0].disposition {
            let mut headers = vec![email.subject().to_owned(), email.from().to_header_value()];
            for mailbox in email.to() {
                headers.push(mailbox.to_header_value());
                headers.push(mailbox.to_string());
            }
            for header in headers {
                prop_assert!(!header.chars().any(char::is_control), "{:?}", header);
            }
        }
    }

    /// Data in an HTML template is always escaped: it can never open a tag or an attribute.
    #[test]
    fn data_is_always_escaped_in_html_bodies(name in any::<String>()) {
        let body = serde_json::json!({"name": name, "mailto": "a@example.com"});
        let event = SqsEvent { records: vec![record("m".into(), body.to_string(), None)] };
        let report = common::run_batch(&mailroom("<p>{{ name }}</p>"), &event, 1, common::accept_all);
        match &report.records[0].disposition {
            Disposition::Sent { email, .. } => {
                let inner = email.html().strip_prefix("<p>").and_then(|s| s.strip_suffix("</p>")).unwrap();
                prop_assert!(!inner.contains(['<', '>', '"', '\'']), "{:?}", inner);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    /// The event document shows templates exactly what minijinja's own value tree would: the same
    /// printed values, iteration, lengths, lookups and JSON (the canonical form behind content
    /// hashes).
    #[test]
    fn the_event_document_reads_like_a_minijinja_value_tree(text in json_text()) {
        let document = mailroom_core::json::JsonDocument::parse(&text).unwrap().to_value();
        let tree: minijinja::Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(serde_json::to_string(&document).unwrap(), serde_json::to_string(&tree).unwrap());
        let template = "{{ data }}|{% if data is mapping %}{% for k in data %}{{ k }}={{ data[k] }};\
            {% endfor %}{{ data|length }}{% elif data is sequence %}{% for x in data %}{{ x }},\
            {% endfor %}{{ data|length }}{{ data[-1] if data else '' }}{% endif %}|{{ data is true }}";
        let mut env = minijinja::Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        let render = |data: minijinja::Value| env.render_str(template, minijinja::context! { data }).unwrap();
        prop_assert_eq!(render(document), render(tree));
    }

    /// Objects wider than the document's scanning limit (64 members) are kept sorted and searched
    /// in halves: they must still read exactly like minijinja's own maps, the last of a repeated
    /// key winning, keys enumerating sorted.
    #[test]
    fn wide_objects_read_like_minijinja_maps(
        members in prop::collection::vec(("[a-z]{0,2}", any::<i32>()), 60..200),
        probe in "[a-z]{0,2}",
    ) {
        let text = format!("{{{}}}", members
            .iter()
            .map(|(key, value)| format!("{}:{value}", serde_json::Value::from(key.as_str())))
            .collect::<Vec<_>>()
            .join(","));
        let document = mailroom_core::json::JsonDocument::parse(&text).unwrap();
        let tree: minijinja::Value = serde_json::from_str(&text).unwrap();
        let as_value = document.to_value();
        prop_assert_eq!(serde_json::to_string(&as_value).unwrap(), serde_json::to_string(&tree).unwrap());
        let expected = tree.get_attr(&probe).ok().filter(|value| !value.is_undefined());
        prop_assert_eq!(document.get(&probe).map(|value| value.to_value()), expected);
    }

    /// Any body at all gets a disposition; nothing panics.
    #[test]
    fn arbitrary_bodies_never_panic(bodies in prop::collection::vec(any::<String>(), 1..6)) {
        let event = SqsEvent {
            records: bodies.into_iter().enumerate()
                .map(|(i, body)| record(format!("m{i}"), body, None)).collect(),
        };
        let report = common::run_batch(&mailroom("<p>{{ name }}</p>"), &event, 1, common::accept_all);
        prop_assert_eq!(report.records.len(), event.records.len());
    }
}
