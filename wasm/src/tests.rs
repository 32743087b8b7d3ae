//! Native tests of the adapter: the JSON it produces is the core's own serialization, and
//! every failure is error JSON of the documented shape.

use std::path::Path;

use mailroom_core::{
    Config, LookupFixtures, Mailroom, SendOutcome, SqsEvent, TemplateSet, Timestamp,
};
use serde_json::{Value, json};

use crate::{AdapterError, Handle, HostBatch};

const NOW: f64 = 1_795_428_000_000.0;

fn examples() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples"))
}

fn example_templates() -> TemplateSet {
    templates_in(&examples().join("templates"))
}

/// Every template under `root`, by the core's rule.
fn templates_in(root: &Path) -> TemplateSet {
    mailroom_vectors::read_folder(root)
        .into_iter()
        .filter(|(path, _)| mailroom_core::render::is_template_path(path))
        .collect()
}

fn example_handle() -> Handle {
    let templates: serde_json::Map<String, Value> = example_templates()
        .iter()
        .map(|(path, source)| (path.to_owned(), Value::from(source)))
        .collect();
    let routes = std::fs::read_to_string(examples().join("templates/routes.json")).unwrap();
    Handle::new(&Value::Object(templates).to_string(), Some(&routes), "{}").unwrap()
}

/// The shipped examples' lookup fixtures (`examples/templates/lookups.json`).
fn example_fixtures() -> LookupFixtures {
    let text = std::fs::read_to_string(examples().join("templates/lookups.json")).unwrap();
    crate::lookups::fixtures(&text).unwrap()
}

/// Answers every round of `batch`'s lookups from `fixtures`, as a host does before sending; the
/// requests of each round.
fn answer_all(batch: &mut HostBatch, fixtures: &LookupFixtures) -> Vec<Vec<Value>> {
    let mut rounds = Vec::new();
    loop {
        let round: Vec<Value> = serde_json::from_str(&batch.lookups().unwrap()).unwrap();
        if round.is_empty() {
            return rounds;
        }
        for request in &round {
            let id = usize::try_from(request["id"].as_u64().unwrap()).unwrap();
            batch.answer_lookup_from(id, fixtures).unwrap();
        }
        rounds.push(round);
    }
}

fn error_json(error: &AdapterError) -> Value {
    serde_json::from_str(&error.to_json()).unwrap()
}

#[test]
fn process_event_is_the_core_report_serialized_by_serde_json() {
    let event_text = std::fs::read_to_string(examples().join("events/quickstart.json")).unwrap();
    let fixtures = example_fixtures();
    let from_handle = example_handle()
        .process_event(&event_text, NOW, 7, None, Some(&fixtures))
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
    batch.answer_lookups_from(&mut &fixtures);
    while let Some(send) = batch.next_send() {
        let message_id = format!("ses-{}", send.message_id);
        batch
            .complete_send(send.id, SendOutcome::Accepted { message_id })
            .unwrap();
    }
    let report = batch.finish();
    assert!(
        report
            .records
            .iter()
            .any(|record| record.route.as_deref() == Some("welcome")
                && matches!(record.disposition, mailroom_core::Disposition::Sent { .. })),
        "the welcome emails, which need lookups, are sent"
    );
    assert_eq!(from_handle, serde_json::to_string(&report).unwrap());
}

/// What `withBodies` in js/api.js does: the JSON, and the bodies cut by their UTF-16 lengths.
fn split_aside(out: &str) -> (Value, Vec<String>) {
    let mut parts = out.splitn(3, '\0');
    let (json, lengths, bodies) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let lengths: Vec<usize> = serde_json::from_str(lengths).unwrap();
    let bodies: Vec<u16> = bodies.encode_utf16().collect();
    let mut at = 0;
    let cut = lengths
        .iter()
        .map(|length| {
            at += length;
            String::from_utf16(&bodies[at - length..at]).unwrap()
        })
        .collect();
    assert_eq!(at, bodies.len(), "every body is used");
    (serde_json::from_str(json).unwrap(), cut)
}

/// Puts the bodies back into `email`s in order, checking they were left empty.
fn put_back<'a>(emails: impl Iterator<Item = &'a mut Value>, bodies: Vec<String>) {
    let mut bodies = bodies.into_iter();
    for email in emails {
        for field in ["html", "text"] {
            assert_eq!(email[field], "", "the {field} is aside");
            email[field] = bodies.next().unwrap().into();
        }
    }
    assert_eq!(bodies.next(), None);
}

/// What `reportFrom` in js/api.js does.
fn reassemble(out: &str) -> Value {
    let (mut report, bodies) = split_aside(out);
    let emails = report["records"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .filter(|record| record["decision"] == "send")
        .map(|record| &mut record["email"]);
    put_back(emails, bodies);
    report
}

#[test]
fn a_report_with_its_bodies_aside_reassembles_to_the_report() {
    let handle = example_handle();
    // Non-ASCII names and sums (UTF-16 lengths differ from UTF-8 ones), rejects among sends.
    let event_text = std::fs::read_to_string(examples().join("events/quickstart.json")).unwrap();
    let fixtures = example_fixtures();
    let report = handle
        .process_event_report(&event_text, NOW, 7, None, Some(&fixtures))
        .unwrap();
    let out = crate::aside::report_with_bodies_aside(report).unwrap();
    let expected: Value = serde_json::from_str(
        &handle
            .process_event(&event_text, NOW, 7, None, Some(&fixtures))
            .unwrap(),
    )
    .unwrap();
    assert!(expected.to_string().contains("Núñez"));
    assert_eq!(reassemble(&out), expected);

    let mut batch = handle.start_batch(&event_text, NOW, 7).unwrap();
    let mut plain = handle.start_batch(&event_text, NOW, 7).unwrap();
    answer_all(&mut batch, &fixtures);
    answer_all(&mut plain, &fixtures);
    while let Some(send) = batch.next_send_with_bodies_aside().unwrap() {
        let (mut send, bodies) = split_aside(&send);
        put_back(std::iter::once(&mut send["email"]), bodies);
        let expected: Value = serde_json::from_str(&plain.next_send().unwrap().unwrap()).unwrap();
        assert_eq!(send, expected);
        let id = send["id"].as_u64().unwrap();
        batch
            .complete_send(
                usize::try_from(id).unwrap(),
                r#"{"outcome":"accepted","messageId":"x"}"#,
            )
            .unwrap();
    }
    let finished = reassemble(&batch.finish_with_bodies_aside().unwrap());
    assert_eq!(finished["records"], {
        let mut records = expected["records"].clone();
        for record in records.as_array_mut().unwrap() {
            if record["decision"] == "send" {
                record["providerMessageId"] = "x".into();
            }
        }
        records
    });
}

#[test]
fn an_event_with_its_bodies_beside_the_json_is_the_event() {
    use crate::aside::event_with_bodies;
    let event_text = std::fs::read_to_string(examples().join("events/quickstart.json")).unwrap();
    let mut skeleton: Value = serde_json::from_str(&event_text).unwrap();
    let mut bodies = String::new();
    let mut lengths = Vec::new();
    for record in skeleton["Records"].as_array_mut().unwrap() {
        let body = record["body"].as_str().unwrap().to_owned();
        lengths.push(u32::try_from(body.len()).unwrap());
        bodies.push_str(&body);
        record["body"] = "".into();
    }
    let skeleton = skeleton.to_string();
    let event = event_with_bodies(&skeleton, &bodies, &lengths).unwrap();
    assert!(
        bodies.contains('ñ'),
        "multi-byte characters are cut by bytes"
    );
    assert_eq!(
        serde_json::to_value(&event.records).unwrap(),
        serde_json::to_value(&SqsEvent::from_json(&event_text).unwrap().records).unwrap()
    );
    let handle = example_handle();
    assert_eq!(
        to_value(
            &handle
                .process_parsed_event(event.clone(), NOW, 7, None, None)
                .unwrap()
        ),
        serde_json::from_str::<Value>(
            &handle
                .process_event(&event_text, NOW, 7, None, None)
                .unwrap()
        )
        .unwrap()
    );
    // Lengths that do not fit the bodies are input errors, never a panic.
    let short = &lengths[1..];
    let mut long = lengths.clone();
    long[0] += 1_000_000;
    let mut split = lengths.clone();
    let accented = bodies.find('ñ').unwrap();
    split[0] = u32::try_from(accented + 1).unwrap(); // inside the two bytes of "ñ"
    for bad in [short, &long, &split] {
        let error = event_with_bodies(&skeleton, &bodies, bad).unwrap_err();
        assert_eq!(error_json(&error)["kind"], "input", "{error}");
    }
}

fn to_value(report: &mailroom_core::BatchReport) -> Value {
    serde_json::to_value(report).unwrap()
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
            .process_event(&event_text, NOW, 7, Some(&outcomes.to_string()), None)
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
    let fixtures = example_fixtures();
    let record = event["Records"][0].to_string();
    let decided: Value =
        serde_json::from_str(&handle.decide(&record, NOW, 7, Some(&fixtures)).unwrap()).unwrap();
    let report: Value = serde_json::from_str(
        &handle
            .process_event(&event_text, NOW, 7, None, Some(&fixtures))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(report["records"][0]["decision"], "send");
    // Without fixtures nothing answers the lookups: the record waits for a retry.
    let unanswered: Value =
        serde_json::from_str(&handle.decide(&record, NOW, 7, None).unwrap()).unwrap();
    assert_eq!(unanswered["reason"], "lookup_failed", "{unanswered}");
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
            handle.process_event("{", NOW, 1, None, None).unwrap_err(),
            "event",
        ),
        (
            handle
                .process_event(r#"{"Records":[]}"#, f64::NAN, 1, None, None)
                .unwrap_err(),
            "input",
        ),
        (
            handle
                .process_event(r#"{"Records":[]}"#, 0.5, 1, None, None)
                .unwrap_err(),
            "input",
        ),
        (handle.decide("{}", NOW, 1, None).unwrap_err(), "event"),
        (
            handle
                .render("layout.html", "{not json", None, NOW, None)
                .unwrap_err(),
            "data",
        ),
        (handle.variables("missing.html").unwrap_err(), "template"),
        (handle.check("{}", NOW, None).unwrap_err(), "input"),
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
        .render("orders/confirmation.txt", "{}", Some(""), NOW, None)
        .unwrap_err();
    let wire = error_json(&error);
    assert_eq!(wire["fault"]["kind"], "undefined");
    assert_eq!(wire["fault"]["template"], "orders/confirmation.txt");
    assert!(wire["fault"]["line"].as_u64().unwrap() >= 1);
}

/// The MIME bytes a Node host gets from `rawMessage` against those of the Rust Lambda.
#[cfg(feature = "mime")]
mod mime_bytes {
    use super::*;

    /// The vector whose emails are pinned as MIME bytes: the shipped examples, so the Node example
    /// Lambda can send the same records and its test compare what SES received.
    const MIME_CASE: &str = "examples-quickstart";

    fn repo_root() -> &'static Path {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
    }

    fn golden_dir() -> std::path::PathBuf {
        repo_root().join("tests/vectors/mime").join(MIME_CASE)
    }

    /// What the Rust Lambda hands SES for each email of the case: the core's batch at the case's
    /// time and seed, then `mailroom_mime::message` dated that time (as `SesMailer` does with its
    /// clock). By SQS message id.
    fn native_mime_of_the_case() -> (mailroom_vectors::Case, Vec<(String, Vec<u8>)>) {
        let path = repo_root().join(format!("tests/vectors/cases/{MIME_CASE}.json"));
        let case = mailroom_vectors::load(&path);
        let config =
            Config::resolve(case.routes.as_deref(), |name| case.env.get(name).cloned()).unwrap();
        let templates: TemplateSet = case
            .templates
            .iter()
            .filter(|(path, _)| mailroom_core::render::is_template_path(path))
            .collect();
        let mailroom = Mailroom::new(config, &templates).unwrap();
        let event: SqsEvent = serde_json::from_value(case.event.clone()).unwrap();
        let now = Timestamp::from_millis(case.now);
        let mut batch = mailroom.start_batch(event, now, case.seed).unwrap();
        let fixtures = LookupFixtures::parse(case.lookups.as_deref().unwrap_or("{}")).unwrap();
        batch.answer_lookups_from(&mut &fixtures);
        let mut messages = Vec::new();
        while let Some(send) = batch.next_send() {
            let message_id = send.message_id.clone();
            messages.push((
                message_id.clone(),
                mailroom_mime::message(send.email().unwrap(), now),
            ));
            let message_id = format!("ses-{message_id}");
            batch
                .complete_send(send.id, SendOutcome::Accepted { message_id })
                .unwrap();
        }
        (case, messages)
    }

    /// Pins the native MIME bytes; `wasm/tests/mime.test.mjs` and `examples/node-lambda` compare
    /// the wasm package's bytes with the same files. `MAILROOM_BLESS=1 cargo test -p
    /// mailroom-wasm` rewrites them after an intended change of the message format.
    #[test]
    fn the_native_mime_bytes_of_the_shared_vector_equal_the_golden_files() {
        let (_, messages) = native_mime_of_the_case();
        assert!(
            messages.len() >= 5,
            "the case sends {} emails",
            messages.len()
        );
        let dir = golden_dir();
        let bless = std::env::var_os("MAILROOM_BLESS").is_some();
        if bless {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
        }
        for (message_id, bytes) in &messages {
            let file = dir.join(format!("{message_id}.eml"));
            if bless {
                std::fs::write(&file, bytes).unwrap();
            }
            let golden = std::fs::read(&file).unwrap_or_else(|error| {
                panic!("{}: {error} (MAILROOM_BLESS=1 writes it)", file.display())
            });
            assert!(
                golden == *bytes,
                "{} differs from the native message (MAILROOM_BLESS=1 rewrites it):\n{}",
                file.display(),
                String::from_utf8_lossy(bytes)
            );
        }
        // No stale file: every golden message is one the case sends.
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut expected: Vec<String> =
            messages.iter().map(|(id, _)| format!("{id}.eml")).collect();
        expected.sort();
        assert_eq!(files, expected);
    }

    #[test]
    fn the_host_batch_gives_the_native_mime_bytes_while_a_send_is_in_flight() {
        let (case, messages) = native_mime_of_the_case();
        let templates: serde_json::Map<String, Value> = case
            .templates
            .iter()
            .filter(|(path, _)| mailroom_core::render::is_template_path(path))
            .map(|(path, source)| (path.clone(), Value::from(source.as_str())))
            .collect();
        let handle = Handle::new(
            &Value::Object(templates).to_string(),
            case.routes.as_deref(),
            "{}",
        )
        .unwrap();
        #[allow(clippy::cast_precision_loss)]
        let now = case.now as f64;
        let mut batch = handle
            .start_batch(&case.event.to_string(), now, case.seed)
            .unwrap();
        let fixtures = crate::lookups::fixtures(case.lookups.as_deref().unwrap_or("{}")).unwrap();
        answer_all(&mut batch, &fixtures);
        let mut handed_out = Vec::new();
        while let Some(send) = batch.next_send().unwrap() {
            let send: Value = serde_json::from_str(&send).unwrap();
            let id = usize::try_from(send["id"].as_u64().unwrap()).unwrap();
            let message_id = send["messageId"].as_str().unwrap().to_owned();
            handed_out.push((message_id, batch.raw_message(id, now).unwrap()));
            let error = batch.raw_message(id, 0.5).unwrap_err();
            assert_eq!(error_json(&error)["kind"], "input", "a fractional time");
            batch
                .complete_send(id, r#"{"outcome":"accepted","messageId":"ses-1"}"#)
                .unwrap();
            let error = batch.raw_message(id, now).unwrap_err();
            assert_eq!(
                error_json(&error)["kind"],
                "input",
                "completed sends are gone"
            );
        }
        assert_eq!(handed_out, messages);
        batch.finish().unwrap();
        assert_eq!(
            error_json(&batch.raw_message(0, now).unwrap_err())["kind"],
            "batch"
        );
    }
}

/// The host batch's lookup loop, as a Node host drives it.
mod lookup_loop {
    use super::*;

    fn quickstart_batch() -> HostBatch {
        let event_text =
            std::fs::read_to_string(examples().join("events/quickstart.json")).unwrap();
        example_handle().start_batch(&event_text, NOW, 7).unwrap()
    }

    fn ids(round: &[Value]) -> Vec<usize> {
        round
            .iter()
            .map(|request| usize::try_from(request["id"].as_u64().unwrap()).unwrap())
            .collect()
    }

    #[test]
    fn requests_carry_dynamodb_keys_deduplicated_and_chained_in_rounds() {
        let mut batch = quickstart_batch();
        let rounds = answer_all(&mut batch, &example_fixtures());
        // Four welcome records, one student and one course between three of them, and an
        // unknown student; the instructor's key reads the course, so it comes a round later.
        assert_eq!(rounds.len(), 2, "{rounds:?}");
        let keys: Vec<&Value> = rounds[0].iter().map(|request| &request["key"]).collect();
        assert_eq!(rounds[0].len(), 3, "{keys:?}");
        let student = rounds[0]
            .iter()
            .find(|request| request["key"]["PK"]["S"] == "STUDENT#stu_81723")
            .unwrap();
        assert_eq!(
            student,
            &json!({"id": student["id"], "table": "enrollments",
                   "key": {"PK": {"S": "STUDENT#stu_81723"}, "SK": {"S": "PROFILE"}},
                   "consistentRead": true, "cacheSeconds": 0, "lookup": "student"})
        );
        assert!(
            keys.contains(
                &&json!({"PK": {"S": "COURSE#rust-backend-101"}, "SK": {"S": "METADATA"}})
            )
        );
        assert!(keys.contains(&&json!({"PK": {"S": "STUDENT#stu_00000"}, "SK": {"S": "PROFILE"}})));
        assert_eq!(ids(&rounds[0]), [0, 1, 2]);
        assert_eq!(
            rounds[1],
            vec![json!({"id": 3, "table": "enrollments",
                   "key": {"PK": {"S": "INSTRUCTOR#ins_204"}, "SK": {"S": "PROFILE"}},
                   "consistentRead": true, "cacheSeconds": 300, "lookup": "instructor"})]
        );
        let mut sent = 0;
        while let Some(send) = batch.next_send().unwrap() {
            let send: Value = serde_json::from_str(&send).unwrap();
            let id = usize::try_from(send["id"].as_u64().unwrap()).unwrap();
            batch
                .complete_send(id, r#"{"outcome":"accepted","messageId":"ses"}"#)
                .unwrap();
            sent += 1;
        }
        assert_eq!(sent, 9);
        let report: Value = serde_json::from_str(&batch.finish().unwrap()).unwrap();
        let reasons: Vec<&Value> = report["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|record| record.get("reason"))
            .collect();
        assert!(reasons.contains(&&json!("lookup_missing")), "{reasons:?}");
    }

    #[test]
    fn a_failed_read_retries_the_records_that_need_it() {
        let mut batch = quickstart_batch();
        let round: Vec<Value> = serde_json::from_str(&batch.lookups().unwrap()).unwrap();
        for id in ids(&round) {
            batch
                .answer_lookup(id, r#"{"failed": "throttled", "detail": "slow down"}"#)
                .unwrap();
        }
        assert_eq!(batch.lookups().unwrap(), "[]");
        let report: Value = serde_json::from_str(&batch.finish().unwrap()).unwrap();
        let welcome: Vec<&Value> = report["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|record| record["route"] == "welcome")
            .collect();
        assert_eq!(welcome.len(), 4);
        for record in welcome {
            assert_eq!(record["reason"], "throttled", "{record}");
            assert!(record["detail"].as_str().unwrap().contains("slow down"));
        }
    }

    #[test]
    fn ids_not_handed_out_or_answered_twice_are_batch_errors() {
        let mut batch = quickstart_batch();
        let round: Vec<Value> = serde_json::from_str(&batch.lookups().unwrap()).unwrap();
        let first = ids(&round)[0];
        batch.answer_lookup(first, r#"{"notFound": true}"#).unwrap();
        let twice = batch
            .answer_lookup(first, r#"{"notFound": true}"#)
            .unwrap_err();
        assert_eq!(error_json(&twice)["kind"], "batch");
        assert!(twice.to_string().contains("answered already"), "{twice}");
        assert!(
            twice.to_string().contains("COURSE#rust-backend-101"),
            "{twice}"
        );
        let unknown = batch
            .answer_lookup(99, r#"{"notFound": true}"#)
            .unwrap_err();
        assert_eq!(error_json(&unknown)["kind"], "batch");
        assert!(
            unknown.to_string().contains("never handed out"),
            "{unknown}"
        );
        // A bad answer is refused before anything changes: the id can still be answered.
        let second = ids(&round)[1];
        let bad = batch.answer_lookup(second, r#"{"found": 1}"#).unwrap_err();
        assert_eq!(error_json(&bad)["kind"], "input");
        batch
            .answer_lookup(second, r#"{"notFound": true}"#)
            .unwrap();
        batch.finish().unwrap();
        let finished = batch.lookups().unwrap_err();
        assert_eq!(error_json(&finished)["kind"], "batch");
        let finished = batch.answer_lookup(2, r#"{"notFound": true}"#).unwrap_err();
        assert_eq!(error_json(&finished)["kind"], "batch");
    }

    #[test]
    fn a_preview_lists_its_lookups_answered_by_the_fixtures() {
        let handle = example_handle();
        let body = r#"{"eventType": "EnrollmentCompleted", "studentId": "stu_81723",
            "courseId": "rust-backend-101", "enrollmentType": "free",
            "enrolledAt": "2026-11-23T09:58:12Z", "source": "auto"}"#;
        let template = "welcome/enrollment-completed.html";
        let fixtures = example_fixtures();
        let preview: Value = serde_json::from_str(
            &handle
                .render(template, body, None, NOW, Some(&fixtures))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            preview["subject"],
            "Welcome to Rust for Backend Engineers, Ana"
        );
        let names: Vec<&Value> = preview["lookups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|lookup| &lookup["name"])
            .collect();
        assert_eq!(names, ["course", "student", "instructor"]);
        for lookup in preview["lookups"].as_array().unwrap() {
            assert_eq!(lookup["status"], "found", "{lookup}");
        }
        assert_eq!(
            preview["lookups"][1]["key"],
            json!({"PK": "STUDENT#stu_81723", "SK": "PROFILE"})
        );
        let missing = preview["missing"].as_array().unwrap();
        assert!(
            !missing
                .iter()
                .any(|path| path.as_str().unwrap().starts_with("lookup.")),
            "{missing:?}"
        );
        // Without the student the template cannot render; the error says what each lookup
        // answered, so an authoring tool can still show them.
        let without_student = r#"{"enrollments": [{"key": {"PK": "COURSE#rust-backend-101", "SK": "METADATA"},
            "item": {"title": "Rust", "instructorId": "i-1", "url": "https://x.example"}}]}"#;
        let fixtures = crate::lookups::fixtures(without_student).unwrap();
        let error = handle
            .render(template, body, None, NOW, Some(&fixtures))
            .unwrap_err();
        let wire = error_json(&error);
        assert_eq!(wire["kind"], "template", "{wire}");
        assert_eq!(wire["fault"]["kind"], "undefined", "{wire}");
        let statuses: Vec<(&Value, &Value)> = wire["lookups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|lookup| (&lookup["name"], &lookup["status"]))
            .collect();
        assert_eq!(
            statuses,
            [
                (&json!("course"), &json!("found")),
                (&json!("student"), &json!("not_found")),
                (&json!("instructor"), &json!("not_found"))
            ]
        );
        assert_eq!(
            wire["lookups"][0]["item"],
            r#"{"instructorId":"i-1","title":"Rust","url":"https://x.example"}"#
        );
        // Nothing read, nothing listed: an error without lookups has none.
        let wire = error_json(&handle.render(template, "{", None, NOW, None).unwrap_err());
        assert_eq!(wire.get("lookups"), None, "{wire}");
    }
}
