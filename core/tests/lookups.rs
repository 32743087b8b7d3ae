//! Lookups through the batch protocol: rounds, deduplication, chaining, the host's mistakes,
//! the configuration's mistakes, and what templates see. The shared vectors
//! (`tests/vectors/cases/lookups*.json`) pin the decisions; these pin the protocol.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use mailroom_core::lookup::{AttributeValue, Item};
use mailroom_core::{
    Batch, BatchError, Config, ConfigError, Disposition, LookupAnswer, LookupFailure, LookupItem,
    LookupRequest, Mailroom, SendOutcome, SqsEvent, SqsRecord, TemplateSet, Timestamp,
};
use proptest::prelude::*;

const TEMPLATE: &str = "<p>Hi {{ lookup.student.name }}: {{ lookup.course.title }}\
    {% if lookup.mentor is defined %}, {{ lookup.mentor.name }}{% endif %}</p>";

fn routes(lookups: &str) -> String {
    format!(
        r#"{{"sender": "School <school@example.com>", "routes": [{{
            "name": "welcome", "events": ["*"], "template": "welcome.html",
            "subject": "Welcome {{{{ lookup.student.name }}}}", "recipient": "lookup.student.email",
            "lookups": {lookups} }}]}}"#
    )
}

const CHAINED: &str = r#"{
    "student": {"table": "school", "key": {"PK": "STUDENT#{{ studentId }}", "SK": "PROFILE"}},
    "course": {"table": "school", "key": {"PK": "COURSE#{{ courseId }}", "SK": "META"}},
    "mentor": {"table": "people", "key": {"id": {"N": "{{ lookup.course.mentorId }}"}},
               "onMissing": "skip", "consistentRead": false, "cacheSeconds": 60}
}"#;

fn mailroom(lookups: &str) -> Mailroom {
    let config = Config::resolve(Some(&routes(lookups)), |_| None).unwrap();
    let mut templates = TemplateSet::new();
    templates.insert("welcome.html", TEMPLATE);
    Mailroom::new(config, &templates).unwrap()
}

fn event(bodies: &[String]) -> SqsEvent {
    let records = bodies
        .iter()
        .enumerate()
        .map(|(index, body)| {
            serde_json::json!({
                "messageId": format!("m-{index}"), "receiptHandle": format!("r-{index}"),
                "body": body, "attributes": {"ApproximateReceiveCount": "1"},
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:school"
            })
        })
        .collect::<Vec<_>>();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

fn body(student: &str, course: &str) -> String {
    serde_json::json!({"studentId": student, "courseId": course}).to_string()
}

/// The school's tables: students s0..s9, courses c0..c2 (c0's mentor is 7), mentor 7.
fn answer(request: &LookupRequest) -> LookupAnswer {
    let text = |name: &str| match request.key.get(name) {
        Some(AttributeValue::S(text) | AttributeValue::N(text)) => text.clone(),
        _ => String::new(),
    };
    let item = |json: serde_json::Value| {
        LookupAnswer::Found(LookupItem::from_json(&json.to_string()).unwrap())
    };
    match (
        request.table.as_str(),
        text("PK").as_str(),
        text("id").as_str(),
    ) {
        ("school", pk, _) if pk.starts_with("STUDENT#s") => {
            let id = &pk["STUDENT#".len()..];
            item(
                serde_json::json!({"name": id.to_uppercase(), "email": format!("{id}@example.com")}),
            )
        }
        ("school", "COURSE#c0", _) => item(serde_json::json!({"title": "Rust", "mentorId": 7})),
        ("school", pk, _) if pk.starts_with("COURSE#c") => {
            item(serde_json::json!({"title": pk["COURSE#".len()..].to_owned()}))
        }
        ("people", _, "7") => LookupAnswer::Found(LookupItem::from_attributes(&Item::from([(
            "name".to_owned(),
            AttributeValue::S("Grace".into()),
        )]))),
        _ => LookupAnswer::NotFound,
    }
}

/// Runs every lookup round, answering with `answer`; returns each round's requests.
fn run_rounds(
    batch: &mut Batch,
    mut answer: impl FnMut(&LookupRequest) -> LookupAnswer,
) -> Vec<Vec<LookupRequest>> {
    let mut rounds = Vec::new();
    loop {
        let round = batch.lookups();
        if round.is_empty() {
            return rounds;
        }
        for request in &round {
            batch.answer_lookup(request.id, answer(request)).unwrap();
        }
        rounds.push(round);
    }
}

fn send_all(batch: &mut Batch) -> Vec<(usize, String, Vec<String>)> {
    let mut sent = Vec::new();
    while let Some(send) = batch.next_send() {
        let to = send
            .email()
            .unwrap()
            .to()
            .iter()
            .map(|m| m.to_string())
            .collect();
        sent.push((
            send.id.position(),
            send.email().unwrap().html().to_owned(),
            to,
        ));
        let outcome = SendOutcome::Accepted {
            message_id: "ses".into(),
        };
        batch.complete_send(send.id, outcome).unwrap();
    }
    sent
}

#[test]
fn a_batch_reads_each_item_once_per_round_and_chained_lookups_take_a_second_round() {
    let mailroom = mailroom(CHAINED);
    // Ten students in one course: ten student reads and one course read, then one mentor read.
    let bodies: Vec<String> = (0..10).map(|i| body(&format!("s{i}"), "c0")).collect();
    let mut batch = mailroom
        .start_batch(event(&bodies), common::NOW, 1)
        .unwrap();
    let rounds = run_rounds(&mut batch, answer);
    let tables: Vec<Vec<&str>> = rounds
        .iter()
        .map(|round| round.iter().map(|r| r.table.as_str()).collect())
        .collect();
    assert_eq!(rounds.len(), 2, "{tables:?}");
    assert_eq!(rounds[0].len(), 11);
    assert_eq!(tables[1], ["people"]);
    let mentor = &rounds[1][0];
    assert_eq!(
        mentor.key,
        Item::from([("id".to_owned(), AttributeValue::N("7".into()))])
    );
    assert!(!mentor.consistent_read, "consistentRead false is honoured");
    assert_eq!(mentor.cache_seconds, 60);
    assert!(
        rounds[0]
            .iter()
            .all(|r| r.consistent_read && r.cache_seconds == 0)
    );
    let sent = send_all(&mut batch);
    assert_eq!(sent.len(), 10);
    assert_eq!(sent[3].1, "<p>Hi S3: Rust, Grace</p>");
    assert_eq!(sent[3].2, ["s3@example.com"]);
}

#[test]
fn records_without_lookups_are_ready_at_once_and_waiting_ones_are_not_handed_out() {
    let mailroom = mailroom(CHAINED);
    let mut batch = mailroom
        .start_batch(event(&[body("s1", "c1")]), common::NOW, 1)
        .unwrap();
    assert!(
        batch.next_send().is_none(),
        "nothing renders before its lookups are answered"
    );
    let round = batch.lookups();
    assert_eq!(round.len(), 2);
    batch.answer_lookup(round[0].id, answer(&round[0])).unwrap();
    assert!(
        batch.next_send().is_none(),
        "one of two answers is not enough"
    );
    batch.answer_lookup(round[1].id, answer(&round[1])).unwrap();
    // c1 names no mentor: the optional (`skip`) mentor is left out, and the email renders.
    assert!(batch.lookups().is_empty(), "no mentor key to read");
    let send = batch
        .next_send()
        .expect("rendered once both answers are in");
    assert_eq!(send.email().unwrap().html(), "<p>Hi S1: c1</p>");
}

#[test]
fn the_host_answering_wrongly_is_an_error_not_ignored() {
    let mailroom = mailroom(CHAINED);
    let mut batch = mailroom
        .start_batch(event(&[body("s1", "c0"), body("s2", "c0")]), common::NOW, 1)
        .unwrap();
    let round = batch.lookups();
    assert!(batch.lookups().is_empty(), "a request is handed out once");
    batch
        .answer_lookup(round[0].id, LookupAnswer::NotFound)
        .unwrap();
    assert!(matches!(
        batch.answer_lookup(round[0].id, LookupAnswer::NotFound),
        Err(BatchError::LookupNotAsked { .. })
    ));
    let mut other = mailroom
        .start_batch(event(&[body("s9", "c9")]), Timestamp::from_millis(1), 2)
        .unwrap();
    let foreign = other.lookups();
    assert!(matches!(
        batch.answer_lookup(foreign[0].id, LookupAnswer::NotFound),
        Err(BatchError::UnknownLookup(_))
    ));
}

#[test]
fn unanswered_lookups_are_retried_when_the_batch_ends() {
    let mailroom = mailroom(CHAINED);
    let mut batch = mailroom
        .start_batch(event(&[body("s1", "c0")]), common::NOW, 1)
        .unwrap();
    let _ = batch.lookups();
    let report = batch.finish();
    let Disposition::Retry { reason, detail, .. } = &report.records[0].disposition else {
        panic!("{:?}", report.records[0].disposition);
    };
    assert_eq!(reason.as_str(), "lookup_failed");
    assert!(
        detail.contains("no answer before the batch ended"),
        "{detail}"
    );
    assert_eq!(report.batch_response.batch_item_failures.len(), 1);
}

#[test]
fn a_failed_read_retries_every_record_that_needed_it_and_no_other() {
    let mailroom = mailroom(CHAINED);
    let mut batch = mailroom
        .start_batch(
            event(&[body("s1", "c0"), body("s2", "c0"), body("s3", "c1")]),
            common::NOW,
            1,
        )
        .unwrap();
    run_rounds(&mut batch, |request| {
        if request.key.get("PK") == Some(&AttributeValue::S("COURSE#c0".into())) {
            LookupAnswer::Failed(LookupFailure::Throttled("slow down".into()))
        } else {
            answer(request)
        }
    });
    assert_eq!(send_all(&mut batch).len(), 1);
    let report = batch.finish();
    let reasons: Vec<_> = report
        .records
        .iter()
        .map(|r| r.disposition.reason().map(|r| r.as_str()))
        .collect();
    assert_eq!(reasons, [Some("throttled"), Some("throttled"), None]);
}

#[test]
fn lookups_never_change_the_idempotency_key() {
    let mailroom = mailroom(CHAINED);
    let key_with = |title: &str| {
        let record = SqsRecord {
            message_id: "m".into(),
            body: body("s1", "c0"),
            ..SqsRecord::default()
        };
        let decision = mailroom.decide(&record, common::NOW, 1, &mut |request: &LookupRequest| {
            match request.table.as_str() {
                "people" => LookupAnswer::NotFound,
                _ => LookupAnswer::Found(
                    LookupItem::from_json(&format!(
                        r#"{{"name": "x", "email": "x@example.com", "title": "{title}", "mentorId": 1}}"#
                    ))
                    .unwrap(),
                ),
            }
        });
        let value = serde_json::to_value(&decision).unwrap();
        (
            value["email"]["idempotencyKey"]
                .as_str()
                .unwrap()
                .to_owned(),
            value["email"]["html"].as_str().unwrap().to_owned(),
        )
    };
    let (first, first_html) = key_with("Rust");
    let (second, second_html) = key_with("Go");
    assert_ne!(first_html, second_html);
    assert_eq!(first, second);
}

#[test]
fn a_route_without_lookups_still_sees_the_events_own_lookup_field() {
    let config = Config::resolve(
        Some(
            r#"{"sender": "a@example.com", "routes": [{"name": "r", "events": ["*"],
                "template": "t.html", "subject": "s", "recipient": "mailto"}]}"#,
        ),
        |_| None,
    )
    .unwrap();
    let mut templates = TemplateSet::new();
    templates.insert("t.html", "{{ lookup }}");
    let mailroom = Mailroom::new(config, &templates).unwrap();
    let record = SqsRecord {
        message_id: "m".into(),
        body: r#"{"mailto": "a@example.com", "lookup": "the event's"}"#.into(),
        ..SqsRecord::default()
    };
    let decision = mailroom.decide(&record, common::NOW, 1, &mut mailroom_core::NoLookups);
    let value = serde_json::to_value(&decision).unwrap();
    assert_eq!(value["email"]["html"], "the event&#x27;s");
}

#[test]
fn configuration_mistakes_stop_start_up_naming_the_field() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"a": {"table": "t", "key": {"PK": "{{ lookup.b.id }}"}}}"#,
            "routes[0].lookups.a.key.PK is invalid: reads lookup \"b\", which this route does not declare",
        ),
        (
            r#"{"a": {"table": "t", "key": {"PK": "{{ lookup.b.id }}"}},
                "b": {"table": "t", "key": {"PK": "{{ lookup.a.id }}"}}}"#,
            "routes[0].lookups is invalid: the keys of a, b read each other's results in a cycle",
        ),
        (
            r#"{"a": {"table": "t", "key": {"PK": "{{ id "}}}"#,
            "routes[0].lookups.a.key.PK is invalid: does not compile",
        ),
        (
            r#"{"a": {"tableVariable": "SCHOOL_TABLE", "key": {"PK": "x"}}}"#,
            "SCHOOL_TABLE is not set",
        ),
        (
            r#"{"a": {"key": {"PK": "x"}}}"#,
            "routes[0].lookups.a.table is invalid",
        ),
        (
            r#"{"a-b": {"table": "t", "key": {"PK": "x"}}}"#,
            "routes[0].lookups.a-b is invalid",
        ),
        (
            r#"{"a": {"table": "t", "key": {}}}"#,
            "routes[0].lookups.a.key is invalid",
        ),
        (
            r#"{"a": {"table": "t", "key": {"PK": "x"}, "onMissing": "ignore"}}"#,
            "the routes file is invalid",
        ),
        (
            r#"{"a": {"table": "t", "key": {"PK": "x"}, "cacheSeconds": 90000}}"#,
            "routes[0].lookups.a.cacheSeconds is invalid",
        ),
    ];
    for (lookups, expected) in cases {
        let error = Config::resolve(Some(&routes(lookups)), |_| None).unwrap_err();
        assert!(
            error.to_string().starts_with(expected),
            "{lookups}: {error}"
        );
    }
    // The recipient path must name a declared lookup.
    let text = routes(r#"{"student": {"table": "t", "key": {"PK": "x"}}}"#)
        .replace("lookup.student.email", "lookup.pupil.email");
    let error = Config::resolve(Some(&text), |_| None).unwrap_err();
    assert!(
        matches!(&error, ConfigError::Invalid { name, .. } if name == "routes[0].recipient"),
        "{error}"
    );
    // A variable naming the table wins over the fallback name.
    let text = routes(r#"{"student": {"table": "t", "tableVariable": "T", "key": {"PK": "x"}}}"#);
    let config = Config::resolve(Some(&text), |name| (name == "T").then(|| "live".into())).unwrap();
    assert_eq!(config.routes()[0].lookups()[0].table(), "live");
}

proptest! {
    /// Whatever the batch and the answers: no two requests a batch hands out are the same read,
    /// no record is handed out to send before every lookup it needs is answered, and every
    /// record ends with exactly one disposition.
    #[test]
    fn requests_are_deduplicated_and_nothing_renders_early(
        records in proptest::collection::vec((0u8..4, 0u8..3), 1..12),
        missing in proptest::collection::btree_set(0u8..4, 0..3),
        throttled_course in proptest::option::of(0u8..3),
    ) {
        let mailroom = mailroom(CHAINED);
        let bodies: Vec<String> = records.iter().map(|(s, c)| body(&format!("s{s}"), &format!("c{c}"))).collect();
        let mut batch = mailroom.start_batch(event(&bodies), common::NOW, 3).unwrap();
        let mut seen: BTreeSet<(String, String, bool)> = BTreeSet::new();
        let mut answered: BTreeMap<String, bool> = BTreeMap::new();
        loop {
            // Before each round, nothing may be sendable whose lookups are unanswered.
            let round = batch.lookups();
            if round.is_empty() { break; }
            for request in &round {
                let identity = (request.table.clone(), format!("{:?}", request.key), request.consistent_read);
                prop_assert!(seen.insert(identity), "read handed out twice: {:?}", request);
            }
            for request in &round {
                let pk = match request.key.get("PK") { Some(AttributeValue::S(pk)) => pk.clone(), _ => String::new() };
                let reply = if missing.iter().any(|s| pk == format!("STUDENT#s{s}")) {
                    LookupAnswer::NotFound
                } else if throttled_course.is_some_and(|c| pk == format!("COURSE#c{c}")) {
                    LookupAnswer::Failed(LookupFailure::Throttled("t".into()))
                } else {
                    answer(request)
                };
                answered.insert(format!("{}|{:?}", request.table, request.key), true);
                batch.answer_lookup(request.id, reply).unwrap();
            }
        }
        while let Some(send) = batch.next_send() {
            let (student, course) = records[send.id.position()];
            prop_assert!(!missing.contains(&student));
            prop_assert!(throttled_course != Some(course));
            let needed = [format!("school|{:?}", Item::from([
                ("PK".to_owned(), AttributeValue::S(format!("STUDENT#s{student}"))),
                ("SK".to_owned(), AttributeValue::S("PROFILE".into())),
            ]))];
            for key in &needed {
                prop_assert!(answered.contains_key(key), "sent before {key} was answered");
            }
            batch.complete_send(send.id, SendOutcome::Accepted { message_id: "x".into() }).unwrap();
        }
        let report = batch.finish();
        prop_assert_eq!(report.records.len(), records.len());
        for (record, (student, course)) in report.records.iter().zip(&records) {
            let reason = record.disposition.reason().map(|r| r.as_str());
            let expected = if missing.contains(student) {
                Some("lookup_missing")
            } else if throttled_course == Some(*course) {
                Some("throttled")
            } else {
                // Only c0 names a mentor; the others go without (`skip`).
                None
            };
            prop_assert_eq!(reason, expected);
        }
    }
}

fn attribute_value() -> impl Strategy<Value = AttributeValue> {
    let number = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| f.to_string()),
        "-?[0-9]{1,40}(\\.[0-9]{1,40})?",
    ];
    let leaf = prop_oneof![
        any::<String>().prop_map(AttributeValue::S),
        number.clone().prop_map(AttributeValue::N),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(AttributeValue::B),
        any::<bool>().prop_map(AttributeValue::Bool),
        Just(AttributeValue::Null),
        proptest::collection::vec(any::<String>(), 0..3).prop_map(AttributeValue::Ss),
        proptest::collection::vec(number, 0..3).prop_map(AttributeValue::Ns),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(AttributeValue::L),
            proptest::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(AttributeValue::M),
        ]
    })
}

proptest! {
    /// Whatever DynamoDB returns becomes a JSON object templates can read: strings unchanged,
    /// numbers printed exactly as DynamoDB wrote them, however many digits.
    #[test]
    fn every_item_converts_to_a_json_object(
        item in proptest::collection::btree_map("[a-zA-Z_]{1,8}", attribute_value(), 0..6),
    ) {
        let json = mailroom_core::lookup::attribute::item_json(&item);
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        prop_assert!(parsed.is_object());
        let document = mailroom_core::json::JsonDocument::parse(&json).unwrap();
        for (name, value) in &item {
            // What a template prints for the attribute.
            let printed = document.get(name).unwrap().to_value().to_string();
            match value {
                AttributeValue::S(text) => prop_assert_eq!(&printed, text),
                AttributeValue::N(text) => prop_assert_eq!(&printed, text),
                _ => {}
            }
        }
    }
}

#[test]
fn check_names_templates_that_read_a_lookup_their_route_does_not_declare() {
    let config = Config::resolve(Some(&routes(CHAINED)), |_| None).unwrap();
    let mut templates = TemplateSet::new();
    templates.insert(
        "welcome.html",
        "{{ lookup.student.name }} {{ lookup.pupil.name }}",
    );
    templates.insert("welcome.txt", "{{ lookup.teacher }}");
    let mailroom = Mailroom::new(config, &templates).unwrap();
    let found: Vec<(Option<String>, String)> = mailroom
        .check(&[], common::NOW, &mut mailroom_core::NoLookups)
        .into_iter()
        .map(|d| (d.fault.template.clone(), d.fault.message.clone()))
        .collect();
    assert_eq!(
        found,
        [
            (
                Some("welcome.html".to_owned()),
                "reads lookup.pupil, but route welcome declares no lookup \"pupil\" (it declares \
                 course, mentor, student), so it is always undefined"
                    .to_owned()
            ),
            (
                Some("welcome.txt".to_owned()),
                "reads lookup.teacher, but route welcome declares no lookup \"teacher\" (it \
                 declares course, mentor, student), so it is always undefined"
                    .to_owned()
            ),
        ]
    );
}

#[test]
fn undeclared_lookups_are_the_names_a_route_does_not_declare() {
    let config = Config::resolve(Some(&routes(CHAINED)), |_| None).unwrap();
    let route = &config.routes()[0];
    let read = |paths: &[&str]| {
        route.undeclared_lookups(&paths.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>())
    };
    assert_eq!(
        read(&[
            "lookup.student.name",
            "lookup.pupil.name",
            "lookup.pupil",
            "lookups.x",
            "name"
        ]),
        ["pupil"]
    );
    assert!(read(&["lookup.student", "lookup.mentor.name"]).is_empty());
    // Without lookups, `lookup` is the event's own field.
    let plain = Config::preview("w.html");
    assert!(
        plain.routes()[0]
            .undeclared_lookups(&["lookup.any".to_owned()])
            .is_empty()
    );
}
