//! Native tests of the adapter: the JSON it produces is the core's own serialization, and
//! every failure is error JSON of the documented shape.

use std::path::Path;

use mailroom_core::{Config, Mailroom, SendOutcome, SqsEvent, TemplateSet, Timestamp};
use serde_json::{Value, json};

use crate::{AdapterError, Handle};

const NOW: f64 = 1_795_428_000_000.0;

fn examples() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples"))
}

fn example_templates() -> TemplateSet {
    let root = examples().join("templates");
    let mut set = TemplateSet::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let name = path
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                set.insert(name, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    set
}

fn example_handle() -> Handle {
    let templates: serde_json::Map<String, Value> = example_templates()
        .iter()
        .map(|(path, source)| (path.to_owned(), Value::from(source)))
        .collect();
    let routes = std::fs::read_to_string(examples().join("templates/routes.json")).unwrap();
    Handle::new(&Value::Object(templates).to_string(), Some(&routes), "{}").unwrap()
}

fn error_json(error: &AdapterError) -> Value {
    serde_json::from_str(&error.to_json()).unwrap()
}

#[test]
fn process_event_is_the_core_report_serialized_by_serde_json() {
    let event_text = std::fs::read_to_string(examples().join("events/quickstart.json")).unwrap();
    let from_handle = example_handle()
        .process_event(&event_text, NOW, 7, None)
        .unwrap();

    let routes = std::fs::read_to_string(examples().join("templates/routes.json")).unwrap();
    let mailroom = Mailroom::new(
        Config::resolve(Some(&routes), |_| None).unwrap(),
        &example_templates(),
    )
    .unwrap();
    let event = SqsEvent::from_json(&event_text).unwrap();
    let mut batch = mailroom
        .start_batch(event, Timestamp::from_millis(NOW as i64), 7)
        .unwrap();
    while let Some(send) = batch.next_send() {
        let message_id = format!("ses-{}", send.message_id);
        batch
            .complete_send(send.id, SendOutcome::Accepted { message_id })
            .unwrap();
    }
    assert_eq!(from_handle, serde_json::to_string(&batch.finish()).unwrap());
}

#[test]
fn outcomes_by_message_id_replace_the_default_acceptance() {
    let handle = example_handle();
    let event_text = std::fs::read_to_string(examples().join("events/order-raw.json")).unwrap();
    let event: Value = serde_json::from_str(&event_text).unwrap();
    let message_id = event["Records"][0]["messageId"].as_str().unwrap();
    let outcomes =
        json!({ message_id: { "outcome": "failed", "code": "MessageRejected", "message": "no" } });
    let report: Value = serde_json::from_str(
        &handle
            .process_event(&event_text, NOW, 7, Some(&outcomes.to_string()))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(report["records"][0]["reason"], "ses_rejected");
    assert_eq!(
        report["batchResponse"]["batchItemFailures"][0]["itemIdentifier"],
        message_id
    );
}

#[test]
fn decide_is_the_record_report_without_a_provider_id() {
    let handle = example_handle();
    let event_text = std::fs::read_to_string(examples().join("events/welcome-sns.json")).unwrap();
    let event: Value = serde_json::from_str(&event_text).unwrap();
    let decided: Value = serde_json::from_str(
        &handle
            .decide(&event["Records"][0].to_string(), NOW, 7)
            .unwrap(),
    )
    .unwrap();
    let report: Value =
        serde_json::from_str(&handle.process_event(&event_text, NOW, 7, None).unwrap()).unwrap();
    let mut expected = report["records"][0].clone();
    expected
        .as_object_mut()
        .unwrap()
        .remove("providerMessageId");
    assert_eq!(decided, expected);
}

#[test]
fn the_host_batch_hands_out_sends_with_header_values_and_refuses_calls_after_finish() {
    let handle = example_handle();
    let event_text =
        std::fs::read_to_string(examples().join("events/order-eventbridge.json")).unwrap();
    let mut batch = handle.start_batch(&event_text, NOW, 7).unwrap();
    let send: Value = serde_json::from_str(&batch.next_send().unwrap().unwrap()).unwrap();
    assert_eq!(send["id"], 0);
    assert_eq!(send["headers"]["to"][0], "ana.nunez@example.org");
    assert!(
        send["headers"]["from"]
            .as_str()
            .unwrap()
            .ends_with("<notifications@academy.example.com>")
    );
    assert_eq!(batch.next_send().unwrap(), None);
    let error = batch.complete_send(0, r#"{"outcome":"sent"}"#).unwrap_err();
    assert_eq!(error_json(&error)["kind"], "input");
    batch
        .complete_send(0, r#"{"outcome":"accepted","messageId":"ses-1"}"#)
        .unwrap();
    let report: Value = serde_json::from_str(&batch.finish().unwrap()).unwrap();
    assert_eq!(report["records"][0]["providerMessageId"], "ses-1");
    assert!(batch.is_finished());
    assert_eq!(error_json(&batch.next_send().unwrap_err())["kind"], "batch");
    assert_eq!(error_json(&batch.finish().unwrap_err())["kind"], "batch");
}

#[test]
fn every_failure_is_error_json_with_a_kind() {
    let handle = example_handle();
    let cases: Vec<(AdapterError, &str)> = vec![
        (Handle::new("[]", None, "{}").err().unwrap(), "input"),
        (Handle::new("{}", None, "{}").err().unwrap(), "config"),
        (Handle::new("{}", Some("{"), "{}").err().unwrap(), "config"),
        (
            handle.process_event("{", NOW, 1, None).unwrap_err(),
            "event",
        ),
        (
            handle
                .process_event(r#"{"Records":[]}"#, f64::NAN, 1, None)
                .unwrap_err(),
            "input",
        ),
        (
            handle
                .process_event(r#"{"Records":[]}"#, 0.5, 1, None)
                .unwrap_err(),
            "input",
        ),
        (handle.decide("{}", NOW, 1).unwrap_err(), "event"),
        (
            handle
                .render("layout.html", "{not json", None, NOW)
                .unwrap_err(),
            "data",
        ),
        (handle.variables("missing.html").unwrap_err(), "template"),
        (handle.check("{}", NOW).unwrap_err(), "input"),
    ];
    for (error, kind) in cases {
        let wire = error_json(&error);
        assert_eq!(wire["kind"], kind, "{wire}");
        assert!(!wire["message"].as_str().unwrap().is_empty(), "{wire}");
    }
}

#[test]
fn template_errors_carry_the_fault_and_name_the_template() {
    let handle = example_handle();
    let error = handle.variables("missing.html").unwrap_err();
    let wire = error_json(&error);
    assert_eq!(wire["fault"]["kind"], "not_found");
    assert_eq!(wire["fault"]["template"], "missing.html");
    let error = handle
        .render("orders/confirmation.txt", "{}", Some(""), NOW)
        .unwrap_err();
    let wire = error_json(&error);
    assert_eq!(wire["fault"]["kind"], "undefined");
    assert_eq!(wire["fault"]["template"], "orders/confirmation.txt");
    assert!(wire["fault"]["line"].as_u64().unwrap() >= 1);
}
