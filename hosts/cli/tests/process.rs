//! `mailroom process` run as a user runs it: the built binary on event files.

mod common;

use common::{
    NOW, enrollment, example, example_templates_without_routes, mailroom, one_route, process_json,
    process_json_with_env, record, template_repo, write_event,
};
use predicates::prelude::*;
use serde_json::Value;
use std::path::Path;

fn decisions(report: &Value) -> Vec<(String, String)> {
    report["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["decision"].as_str().unwrap().to_owned(),
                r["reason"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[test]
fn quickstart_prints_a_line_per_record_and_writes_each_email() {
    let dir = tempfile::tempdir().unwrap();
    let output = mailroom(dir.path())
        .args([
            "process",
            example("events/quickstart.json").to_str().unwrap(),
            "--now",
            NOW,
        ])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 13, "{stdout}");
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("send ")).count(),
        9,
        "{stdout}"
    );
    assert!(
        lines[3].contains("orders/paid → ana.nunez@example.org")
            && lines[3].contains("\"Order #1071 confirmed\""),
        "{stdout}"
    );
    assert!(
        lines[6].contains("EnrollmentCompleted → ana.nunez@example.org")
            && lines[6].contains("\"Welcome to Rust for Backend Engineers, Ana\""),
        "{stdout}"
    );
    assert!(
        lines[9].starts_with("reject") && lines[9].contains("malformed_body: "),
        "{stdout}"
    );
    assert!(
        lines[10].starts_with("reject") && lines[10].contains("missing_recipient: "),
        "{stdout}"
    );
    assert!(
        lines[11].starts_with("reject") && lines[11].contains("lookup_missing: "),
        "{stdout}"
    );
    // The shipped fixtures beside the shipped templates answered the lookups.
    assert_eq!(
        lines[12],
        format!(
            "12 records: 9 sent, 0 retried, 3 rejected · lookups: {} · outbox: outbox/",
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../examples/templates/lookups.json")
                .display()
        )
    );
    // Every send line names its file, and the file is there.
    for line in lines.iter().filter(|l| l.starts_with("send ")) {
        let file = line.rsplit("  ").next().unwrap();
        assert!(file.ends_with(".eml"), "{line}");
        assert!(
            dir.path().join("outbox").join(file).is_file(),
            "{file} missing"
        );
    }
}

/// The domain events: each email in the outbox and, for a route that texts, the text beside it
/// as the core's SMS JSON, whose encoding and segments the record's line reports too.
#[test]
fn texts_are_written_beside_the_emails_with_their_encoding_and_segments() {
    let dir = tempfile::tempdir().unwrap();
    let output = mailroom(dir.path())
        .args([
            "process",
            example("events/domain-events.json").to_str().unwrap(),
            "--now",
            NOW,
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let outbox = dir.path().join("outbox");
    let mut texts = Vec::new();
    let mut emails = 0;
    for entry in std::fs::read_dir(&outbox).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(key) = name.strip_suffix(".sms.json") {
            let sms: Value =
                serde_json::from_str(&std::fs::read_to_string(outbox.join(&name)).unwrap())
                    .unwrap();
            // Named after the text's key (`<email key>:sms`), beside its email's file.
            assert_eq!(sms["idempotencyKey"], format!("{key}:sms"));
            assert!(outbox.join(format!("{key}.eml")).is_file(), "{name}");
            let line = stdout
                .lines()
                .find(|line| line.contains(&name))
                .unwrap_or_else(|| panic!("no line names {name}: {stdout}"));
            let segments = sms["segments"].as_u64().unwrap();
            let noun = if segments == 1 { "segment" } else { "segments" };
            let reported = format!(
                "+ sms → {} ({}, {segments} {noun})",
                sms["to"].as_str().unwrap(),
                sms["encoding"].as_str().unwrap()
            );
            assert!(line.contains(&reported), "{line}");
            texts.push(sms);
        } else if name.ends_with(".eml") {
            emails += 1;
        }
    }
    assert_eq!((emails, texts.len()), (5, 4), "{stdout}");
    let mut encodings: Vec<&str> = texts
        .iter()
        .map(|t| t["encoding"].as_str().unwrap())
        .collect();
    encodings.sort_unstable();
    encodings.dedup();
    assert_eq!(encodings, ["GSM-7", "UCS-2"]);
}

#[test]
fn json_is_the_batch_report_with_the_partial_batch_response() {
    let dir = tempfile::tempdir().unwrap();
    let report = process_json(
        dir.path(),
        &[example("events/quickstart.json").to_str().unwrap()],
    );
    let mut expected = vec![("send".to_owned(), String::new()); 9];
    expected.push(("reject".into(), "malformed_body".into()));
    expected.push(("reject".into(), "missing_recipient".into()));
    expected.push(("reject".into(), "lookup_missing".into()));
    assert_eq!(decisions(&report), expected);
    let failures: Vec<&str> = report["batchResponse"]["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap())
        .collect();
    let rejected: Vec<&str> = report["records"].as_array().unwrap()[9..]
        .iter()
        .map(|r| r["messageId"].as_str().unwrap())
        .collect();
    assert_eq!(failures, rejected);
    let email = &report["records"][3]["email"];
    for field in [
        "from",
        "to",
        "replyTo",
        "subject",
        "html",
        "text",
        "idempotencyKey",
    ] {
        assert!(!email[field].is_null(), "email.{field} missing: {email}");
    }
    assert_eq!(email["subject"], "Order #1071 confirmed");
}

#[test]
fn a_malformed_event_file_is_a_usage_error_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.json"),
        "{\"Records\": [ {\"messageId\": \"m-1\",",
    )
    .unwrap();
    mailroom(dir.path())
        .args(["process", "bad.json"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("bad.json").and(predicate::str::contains("line 1")))
        .stderr(predicate::str::contains("Records"))
        .stderr(predicate::function(|err: &str| err.lines().count() == 1));
    assert!(
        !dir.path().join("outbox").exists()
            || std::fs::read_dir(dir.path().join("outbox"))
                .unwrap()
                .next()
                .is_none()
    );
}

#[test]
fn a_missing_event_file_says_which_file() {
    let dir = tempfile::tempdir().unwrap();
    mailroom(dir.path())
        .args(["process", "nowhere.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "mailroom: cannot read nowhere.json",
        ));
}

#[test]
fn only_the_record_with_an_unparseable_body_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let event = write_event(
        dir.path(),
        "event.json",
        vec![
            record("m-1", &enrollment("ana@example.com", "Ana")),
            record("m-2", "{\"mailto\": \"bo@example.com\", "),
            record("m-3", &enrollment("cy@example.com", "Cy")),
        ],
    );
    let report = process_json(dir.path(), &[event.to_str().unwrap()]);
    assert_eq!(
        decisions(&report),
        [
            ("send".into(), String::new()),
            ("reject".into(), "malformed_body".into()),
            ("send".into(), String::new())
        ]
    );
    assert_eq!(
        report["batchResponse"]["batchItemFailures"],
        serde_json::json!([{"itemIdentifier": "m-2"}])
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("outbox"))
            .unwrap()
            .count(),
        2
    );
}

#[test]
fn a_missing_recipient_is_rejected_with_the_field_it_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    let event = write_event(
        dir.path(),
        "event.json",
        vec![
            record("m-1", &enrollment("", "Ana")),
            record("m-2", &enrollment("bo@example.com", "Bo")),
        ],
    );
    mailroom(dir.path())
        .args(["process", event.to_str().unwrap(), "--now", NOW])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "reject  m-1        missing_recipient: mailto is missing",
        ))
        .stdout(predicate::str::contains("send    m-2"))
        .stdout(predicate::str::contains(
            "2 records: 1 sent, 0 retried, 1 rejected",
        ));
}

#[test]
fn a_template_syntax_error_retries_the_record_with_a_back_off() {
    let dir = tempfile::tempdir().unwrap();
    let templates = template_repo(
        dir.path(),
        &one_route("broken.html", "Hello"),
        &[("broken.html", "<p>Hello\n{{ studentName }</p>\n")],
    );
    let event = write_event(
        dir.path(),
        "event.json",
        vec![record("m-1", &enrollment("ana@example.com", "Ana"))],
    );
    let output = mailroom(dir.path())
        .args([
            "process",
            event.to_str().unwrap(),
            "--templates",
            templates.to_str().unwrap(),
            "--now",
            NOW,
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let line = stdout.lines().next().unwrap();
    assert!(
        line.starts_with("retry   m-1        template_error, again in "),
        "{line}"
    );
    assert!(line.contains("broken.html:2"), "{line}");
    let seconds: u32 = line
        .split("again in ")
        .nth(1)
        .unwrap()
        .split('s')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((15..=30).contains(&seconds), "{line}");
}

#[test]
fn the_same_seed_gives_the_same_back_off_and_a_rerun_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let event = example("events/quickstart.json");
    let first = process_json(dir.path(), &[event.to_str().unwrap()]);
    let files = |dir: &std::path::Path| {
        let mut names: Vec<_> = std::fs::read_dir(dir.join("outbox"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|p| (p.clone(), std::fs::read(p).unwrap()))
            .collect::<Vec<_>>()
    };
    let before = files(dir.path());
    let second = process_json(dir.path(), &[event.to_str().unwrap()]);
    assert_eq!(first, second);
    assert_eq!(
        before,
        files(dir.path()),
        "a redelivery must overwrite with identical files"
    );
}

#[test]
fn an_outbox_write_failure_is_retried_not_lost() {
    let dir = tempfile::tempdir().unwrap();
    let event = write_event(
        dir.path(),
        "event.json",
        vec![
            record("m-1", &enrollment("ana@example.com", "Ana")),
            record("m-2", &enrollment("bo@example.com", "Bo")),
        ],
    );
    let dry = process_json(dir.path(), &[event.to_str().unwrap(), "--no-outbox"]);
    let key = dry["records"][0]["email"]["idempotencyKey"]
        .as_str()
        .unwrap();
    // A folder where the first email's file should go makes that one write fail.
    std::fs::create_dir_all(dir.path().join("outbox").join(format!("{key}.eml"))).unwrap();
    let report = process_json(dir.path(), &[event.to_str().unwrap()]);
    assert_eq!(
        decisions(&report),
        [
            ("retry".into(), "transient".into()),
            ("send".into(), String::new())
        ]
    );
    assert_eq!(
        report["batchResponse"]["batchItemFailures"],
        serde_json::json!([{"itemIdentifier": "m-1"}])
    );
}

const LAMBDA_VARIABLES: [(&str, &str); 3] = [
    ("SENDER", "Courses <courses@example.com>"),
    ("SUBJECT", "{{ studentName }} joined"),
    (
        "SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL",
        "enrollment/organizer.html",
    ),
];

#[test]
fn without_a_routes_file_the_lambda_variables_configure_a_single_route() {
    let dir = tempfile::tempdir().unwrap();
    let templates = example_templates_without_routes(dir.path());
    let events = example("events/enrollment-raw.json");
    let output = mailroom(dir.path())
        .envs(LAMBDA_VARIABLES)
        .args(["process", events.to_str().unwrap(), "--json", "--now", NOW])
        .arg("--templates")
        .arg(&templates)
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8(output.stderr).unwrap(), "", "no warnings");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let email = &report["records"][0]["email"];
    assert_eq!(email["from"], "Courses <courses@example.com>");
    assert_eq!(email["subject"], "Ana Núñez joined");
    assert_eq!(report["records"][0]["route"], "default");
}

#[test]
fn a_routes_file_beside_the_templates_holds_the_routes_and_unused_variables_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let events = example("events/enrollment-raw.json");
    // The shipped templates hold routes.json, with its own sender: the variables are unused.
    for templates in [None, Some(example("templates"))] {
        let mut command = mailroom(dir.path());
        command
            .envs(LAMBDA_VARIABLES)
            .env("RECIPIENT_FIELD", "")
            .args(["process", events.to_str().unwrap(), "--json", "--now", NOW]);
        if let Some(templates) = &templates {
            command.arg("--templates").arg(templates);
        }
        let output = command.output().unwrap();
        assert!(output.status.success());
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["records"][0]["route"], "organizer-enrollment");
        let email = &report["records"][0]["email"];
        assert_eq!(
            email["from"],
            "Mailroom Academy <notifications@academy.example.com>"
        );
        assert_eq!(
            email["subject"],
            "New enrollment: Ana Núñez joined Rust for Backend Engineers"
        );
        let stderr = String::from_utf8(output.stderr).unwrap();
        let warnings: Vec<&str> = stderr.lines().collect();
        assert_eq!(warnings.len(), 3, "{stderr}");
        for (line, name) in warnings.iter().zip([
            "SENDER",
            "SUBJECT",
            "SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL",
        ]) {
            assert!(
                line.starts_with(&format!("mailroom: warning: {name} is set but not used: "))
                    && line.ends_with("templates/routes.json takes precedence"),
                "{line}"
            );
        }
    }
}

#[test]
fn routes_given_with_routes_are_used_wherever_the_templates_are() {
    let dir = tempfile::tempdir().unwrap();
    let templates = example_templates_without_routes(dir.path());
    let report = process_json_with_env(
        dir.path(),
        &[
            example("events/order-raw.json").to_str().unwrap(),
            "--templates",
            templates.to_str().unwrap(),
            "--routes",
            example("templates/routes.json").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(report["records"][0]["route"], "order-confirmation");
}

#[test]
fn an_invalid_sender_is_a_configuration_error_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    // The routes file has no sender, so SENDER gives it; and without a routes file, too.
    let mut routes = one_route("hello.html", "Hello");
    routes.as_object_mut().unwrap().remove("sender");
    let with_routes = template_repo(dir.path(), &routes, &[("hello.html", "<p>Hi</p>")]);
    let without_routes = example_templates_without_routes(&dir.path().join("plain"));
    for templates in [with_routes, without_routes] {
        mailroom(dir.path())
            .envs(LAMBDA_VARIABLES)
            .env("SENDER", "not an address")
            .args([
                "process",
                example("events/enrollment-raw.json").to_str().unwrap(),
            ])
            .arg("--templates")
            .arg(&templates)
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::starts_with("mailroom: SENDER is invalid"))
            .stderr(predicate::function(|err: &str| err.lines().count() == 1));
    }
}

#[test]
fn templates_without_any_configuration_say_how_to_configure() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("emails")).unwrap();
    mailroom(dir.path())
        .args([
            "process",
            example("events/enrollment-raw.json").to_str().unwrap(),
            "--templates",
            "emails",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("pass --routes FILE"));
}

#[test]
fn bad_arguments_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let event = example("events/order-raw.json");
    mailroom(dir.path())
        .args(["process", event.to_str().unwrap(), "--now", "next tuesday"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("RFC 3339"));
    mailroom(dir.path()).args(["process"]).assert().code(2);
    mailroom(dir.path()).args(["frobnicate"]).assert().code(2);
}

#[test]
fn every_command_has_help_with_examples() {
    let dir = tempfile::tempdir().unwrap();
    for command in [
        &["--help"][..],
        &["process", "--help"],
        &["render", "--help"],
        &["check", "--help"],
    ] {
        mailroom(dir.path())
            .args(command)
            .assert()
            .success()
            .stdout(predicate::str::contains("Examples:"))
            .stdout(predicate::str::contains("mailroom "));
    }
}

#[test]
fn a_large_event_gives_the_same_report_on_one_thread_or_several() {
    let dir = tempfile::tempdir().unwrap();
    let quickstart: Value =
        serde_json::from_str(&std::fs::read_to_string(example("events/quickstart.json")).unwrap())
            .unwrap();
    let source = quickstart["Records"].as_array().unwrap();
    let records: Vec<Value> = (0..700)
        .map(|n| {
            let mut copy = source[n % source.len()].clone();
            copy["messageId"] = format!("big-{n:04}").into();
            copy
        })
        .collect();
    let event = write_event(dir.path(), "big.json", records);
    let run = |jobs: &str, outbox: &str| {
        let output = mailroom(dir.path())
            .args([
                "process",
                event.to_str().unwrap(),
                "--json",
                "--now",
                NOW,
                "--jobs",
                jobs,
                "--outbox",
                outbox,
            ])
            .output()
            .unwrap();
        assert!(output.status.success());
        let mut files: Vec<_> = std::fs::read_dir(dir.path().join(outbox))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        files.sort();
        (output.stdout, files)
    };
    let (one, one_files) = run("1", "one");
    let (four, four_files) = run("4", "four");
    assert_eq!(
        String::from_utf8(one.clone()).unwrap(),
        String::from_utf8(four).unwrap()
    );
    assert_eq!(one_files, four_files);
    let report: Value = serde_json::from_slice(&one).unwrap();
    assert_eq!(report["records"].as_array().unwrap().len(), 700);
    // quickstart.json ends with its three records that can never be sent.
    let never_sent = (0..700)
        .filter(|n| n % source.len() >= source.len() - 3)
        .count();
    assert_eq!(
        report["batchResponse"]["batchItemFailures"]
            .as_array()
            .unwrap()
            .len(),
        never_sent
    );
}

#[test]
fn a_record_without_message_id_fails_the_event_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let event = write_event(
        dir.path(),
        "event.json",
        vec![
            record("m-1", &enrollment("ana@example.com", "Ana")),
            record("", &enrollment("bo@example.com", "Bo")),
        ],
    );
    mailroom(dir.path())
        .args(["process", event.to_str().unwrap()])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("record 1 has an empty messageId"));
    assert!(
        !dir.path().join("outbox").exists(),
        "nothing may be written for a batch that fails as a whole"
    );
}

#[test]
fn without_an_outbox_nothing_is_written_and_the_summary_says_so() {
    let dir = tempfile::tempdir().unwrap();
    mailroom(dir.path())
        .args([
            "process",
            example("events/order-raw.json").to_str().unwrap(),
            "--no-outbox",
            "--now",
            NOW,
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(".eml").not())
        .stdout(predicate::str::ends_with(
            "1 record: 1 sent, 0 retried, 0 rejected · outbox: off\n",
        ));
    assert!(!dir.path().join("outbox").exists());
}

#[test]
fn outcomes_answer_listed_sends_instead_of_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let event = write_event(
        dir.path(),
        "event.json",
        vec![
            record("m-1", &enrollment("ana@example.com", "Ana")),
            record("m-2", &enrollment("bo@example.com", "Bo")),
            record("m-3", &enrollment("cy@example.com", "Cy")),
            record("m-4", &enrollment("di@example.com", "Di")),
        ],
    );
    std::fs::write(
        dir.path().join("outcomes.json"),
        serde_json::json!({
            "m-1": {"outcome": "failed", "code": "TooManyRequestsException",
                    "message": "Maximum sending rate exceeded.", "httpStatus": 429},
            "m-2": {"outcome": "failed", "code": "MessageRejected",
                    "message": "Email address is not verified.", "httpStatus": 400},
            "m-3": {"outcome": "accepted", "messageId": "ses-1"}
        })
        .to_string(),
    )
    .unwrap();
    let report = process_json(
        dir.path(),
        &[event.to_str().unwrap(), "--outcomes", "outcomes.json"],
    );
    assert_eq!(
        decisions(&report),
        [
            ("retry".into(), "throttled".into()),
            ("reject".into(), "ses_rejected".into()),
            ("send".into(), String::new()),
            ("send".into(), String::new())
        ]
    );
    assert_eq!(report["records"][2]["providerMessageId"], "ses-1");
    // Only the record the file does not answer went to the outbox.
    let files: Vec<_> = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        files,
        [report["records"][3]["providerMessageId"]
            .as_str()
            .unwrap()
            .to_owned()]
    );
    mailroom(dir.path())
        .args([
            "process",
            event.to_str().unwrap(),
            "--outcomes",
            "outcomes.json",
            "--now",
            NOW,
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "retry   m-1        throttled, again in ",
        ))
        .stdout(predicate::str::contains(
            "4 records: 2 sent, 1 retried, 1 rejected",
        ));
}

#[test]
fn an_outcomes_file_that_names_no_record_or_is_not_outcomes_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let event = write_event(
        dir.path(),
        "event.json",
        vec![record("m-1", &enrollment("ana@example.com", "Ana"))],
    );
    for (outcomes, says) in [
        (
            r#"{"m-9": {"outcome": "accepted", "messageId": "x"}}"#,
            "\"m-9\" is not the messageId of a record of the event",
        ),
        (r#"{"m-1": {"outcome": "sent"}}"#, "line 1"),
        ("[]", "expected {"),
    ] {
        std::fs::write(dir.path().join("outcomes.json"), outcomes).unwrap();
        mailroom(dir.path())
            .args([
                "process",
                event.to_str().unwrap(),
                "--outcomes",
                "outcomes.json",
            ])
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::starts_with(
                "mailroom: --outcomes outcomes.json: ",
            ))
            .stderr(predicate::str::contains(says));
        assert!(!dir.path().join("outbox").exists());
    }
}
