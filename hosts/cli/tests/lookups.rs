//! Lookups through the built binary: the README's quick start, fixtures found beside the
//! templates or named by `--lookups`, unusable fixtures files, and what `check` and `render`
//! tell an author about lookups.

mod common;

use std::path::{Path, PathBuf};

use common::{NOW, example, mailroom, process_json, record, repo, template_repo, write_event};
use mail_parser::{MessageParser, MimeHeaders};
use predicates::prelude::*;
use serde_json::{Value, json};

/// A route that looks up a student by the event's `id`, and the student's team (optional).
fn routes() -> Value {
    json!({
        "sender": "Mailroom <mail@example.com>",
        "routes": [{
            "name": "main", "events": ["*"], "template": "hello.html",
            "subject": "Hi {{ lookup.student.name }}", "recipient": "lookup.student.email",
            "lookups": {
                "student": {"table": "people", "key": {"PK": "P#{{ id }}"}},
                "team": {"table": "people", "key": {"PK": "T#{{ lookup.student.team }}"},
                         "onMissing": "skip"}
            }
        }]
    })
}

const TEMPLATE: &str = "<p>Hi {{ lookup.student.name }}{% if lookup.team is defined %} of {{ lookup.team.name }}{% endif %}</p>";

/// Ada is in team t1, which has an entry; Bo is in t9, which has none.
const FIXTURES: &str = r#"{"people": [
  {"key": {"PK": "P#1"}, "item": {"name": "Ada", "email": "ada@example.com", "team": "t1"}},
  {"key": {"PK": "P#2"}, "Item": {"name": {"S": "Bo"}, "email": {"S": "bo@example.com"}, "team": {"S": "t9"}}},
  {"key": {"PK": "T#t1"}, "item": {"name": "Core"}}
]}"#;

/// A templates folder with the lookup route and its template; `fixtures` becomes its
/// `lookups.json` when given.
fn folder(dir: &Path, fixtures: Option<&str>) -> PathBuf {
    let templates = template_repo(dir, &routes(), &[("hello.html", TEMPLATE)]);
    if let Some(text) = fixtures {
        std::fs::write(templates.join("lookups.json"), text).unwrap();
    }
    templates
}

/// An event of one record per student id.
fn event(dir: &Path, ids: &[&str]) -> PathBuf {
    let records = ids
        .iter()
        .enumerate()
        .map(|(n, id)| record(&format!("m-{n}"), &json!({ "id": id }).to_string()))
        .collect();
    write_event(dir, "event.json", records)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The arguments of the README's first quick-start command (`cargo run ... -- ARGS  # ...`).
fn readme_quick_start() -> Vec<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let section = readme
        .split("## Quick start")
        .nth(1)
        .expect("README.md has a quick start");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the quick start is a sh block");
    let commands: Vec<&str> = block.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        commands.len(),
        2,
        "the quick start is two commands: {block}"
    );
    let first = commands[0];
    let (cargo, rest) = first
        .split_once(" -- ")
        .unwrap_or_else(|| panic!("not a cargo run of the CLI: {first}"));
    assert_eq!(cargo, "cargo run -q -p mailroom-cli");
    let args = rest.split('#').next().unwrap_or_default();
    args.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn the_readme_quick_start_sends_the_welcome_email_from_the_fixtures_and_rejects_the_unknown_student()
 {
    let args = readme_quick_start();
    assert_eq!(args, ["process", "examples/events/quickstart.json"]);
    let outbox = tempfile::tempdir().unwrap();
    // From the repository root, as a newcomer runs it; only the outbox is moved out of the clone.
    let output = mailroom(&repo())
        .args(&args)
        .arg("--outbox")
        .arg(outbox.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains(" · lookups: examples/templates/lookups.json · "),
        "{stdout}"
    );

    let mut welcomes = 0;
    for entry in std::fs::read_dir(outbox.path()).unwrap() {
        let raw = std::fs::read(entry.unwrap().path()).unwrap();
        let message = MessageParser::default().parse(&raw).unwrap();
        if message.subject() != Some("Welcome to Rust for Backend Engineers, Ana") {
            continue;
        }
        welcomes += 1;
        let to = message.to().and_then(|a| a.first()).unwrap();
        assert_eq!(to.address(), Some("ana.nunez@example.org"));
        let body = message.text_part(0).unwrap().text_contents().unwrap();
        assert!(body.contains("Hi Ana,"), "{body}");
        assert!(body.contains("Rust for Backend Engineers"), "{body}");
        // The instructor is read with the course's instructorId: a chained lookup.
        assert!(body.contains("Grace Okafor"), "{body}");
        let html = message.html_part(0).unwrap();
        assert_eq!(html.content_type().unwrap().subtype(), Some("html"));
    }
    // The welcome event comes raw, through SNS and through EventBridge.
    assert_eq!(welcomes, 3, "{stdout}");

    // The student the fixtures do not have: rejected, naming the lookup, table and key.
    let quickstart: Value =
        serde_json::from_str(&std::fs::read_to_string(example("events/quickstart.json")).unwrap())
            .unwrap();
    let unknown = quickstart["Records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["body"].as_str().unwrap().contains("stu_00000"))
        .expect("quickstart.json has the unknown student");
    let short: String = unknown["messageId"]
        .as_str()
        .unwrap()
        .chars()
        .take(8)
        .collect();
    assert!(
        stdout.contains(&format!(
            "reject  {short}…  lookup_missing: lookup \"student\" found nothing in enrollments \
             for PK=STUDENT#stu_00000, SK=PROFILE\n"
        )),
        "{stdout}"
    );
}

#[test]
fn lookups_json_beside_the_templates_answers_and_lookups_names_another_file() {
    let dir = tempfile::tempdir().unwrap();
    let templates = folder(dir.path(), Some(FIXTURES));
    let event = event(dir.path(), &["1", "2", "3"]);
    let report = process_json(
        dir.path(),
        &[
            event.to_str().unwrap(),
            "--templates",
            templates.to_str().unwrap(),
        ],
    );
    let records = report["records"].as_array().unwrap();
    // Ada and her team; Bo without his (onMissing skip); nobody has id 3.
    assert_eq!(records[0]["email"]["html"], "<p>Hi Ada of Core</p>");
    assert_eq!(records[0]["email"]["to"], json!(["ada@example.com"]));
    assert_eq!(records[1]["email"]["html"], "<p>Hi Bo</p>");
    assert_eq!(records[1]["email"]["subject"], "Hi Bo");
    assert_eq!(records[2]["decision"], "reject");
    assert_eq!(records[2]["reason"], "lookup_missing");
    assert_eq!(
        records[2]["detail"],
        "lookup \"student\" found nothing in people for PK=P#3"
    );

    // --lookups wins over the file beside the templates.
    let other = dir.path().join("other.json");
    std::fs::write(
        &other,
        r#"{"people": [{"key": {"PK": "P#3"}, "item": {"name": "Cy", "email": "cy@example.com", "team": "t1"}}]}"#,
    )
    .unwrap();
    let output = mailroom(dir.path())
        .args(["process", "event.json", "--templates", "templates"])
        .args(["--lookups", "other.json", "--no-outbox", "--now", NOW])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("reject  m-0") && lines[0].contains("PK=P#1"),
        "{stdout}"
    );
    assert!(
        lines[2].starts_with("send    m-2") && lines[2].contains("\"Hi Cy\""),
        "{stdout}"
    );
    assert_eq!(
        lines[3],
        "3 records: 1 sent, 0 retried, 2 rejected · lookups: other.json · outbox: off"
    );
}

#[test]
fn without_a_lookups_file_reads_fail_and_records_retry_saying_where_the_file_goes() {
    let dir = tempfile::tempdir().unwrap();
    folder(dir.path(), None);
    event(dir.path(), &["1"]);
    let output = mailroom(dir.path())
        .args(["process", "event.json", "--templates", "templates"])
        .args(["--no-outbox", "--now", NOW])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("retry   m-0")
            && lines[0].contains("lookup_failed, again in ")
            && lines[0].contains("no lookups file answers people PK=P#1")
            && lines[0].contains("put lookups.json beside the templates (templates/lookups.json)")
            && lines[0].contains("--lookups FILE"),
        "{stdout}"
    );
    assert_eq!(
        lines[1],
        "1 record: 0 sent, 1 retried, 0 rejected · lookups: none (no lookups.json) · outbox: off"
    );
    // A batch without lookups says nothing about them.
    let plain = common::template_repo(
        &dir.path().join("plain"),
        &common::one_route("hi.html", "Hi"),
        &[("hi.html", "<p>Hi</p>")],
    );
    let plain_event = write_event(
        dir.path(),
        "plain.json",
        vec![record("p-1", r#"{"mailto": "a@example.com"}"#)],
    );
    mailroom(dir.path())
        .arg("process")
        .arg(&plain_event)
        .arg("--templates")
        .arg(&plain)
        .args(["--no-outbox", "--now", NOW])
        .assert()
        .success()
        .stdout(predicate::str::ends_with(
            "1 record: 1 sent, 0 retried, 0 rejected · outbox: off\n",
        ));
}

#[test]
fn an_unusable_lookups_file_is_a_usage_error_for_every_command_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let templates = folder(
        dir.path(),
        Some("{\"people\": [\n  {\"key\": {\"PK\": \"P#1\"},, }\n]}"),
    );
    event(dir.path(), &["1"]);
    let samples = dir.path().join("samples");
    std::fs::create_dir(&samples).unwrap();
    std::fs::write(samples.join("one.json"), r#"{"id": "1"}"#).unwrap();
    let file = "templates/lookups.json";
    let commands: [&[&str]; 3] = [
        &["process", "event.json", "--templates", "templates"],
        &[
            "render",
            "hello.html",
            "--data",
            r#"{"id": "1"}"#,
            "--templates",
            "templates",
        ],
        &["check", "templates", "--events", "samples"],
    ];
    for args in commands {
        mailroom(dir.path())
            .args(args)
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::starts_with(format!("mailroom: {file}: ")))
            .stderr(predicate::str::contains("line 2, column 25"))
            .stderr(predicate::function(|err: &str| err.lines().count() == 1));
    }
    assert!(!dir.path().join("outbox").exists(), "nothing was written");

    // An entry the core cannot use is named by its table and position.
    std::fs::write(
        templates.join("lookups.json"),
        r#"{"people": [{"key": {"PK": "P#1"}, "item": {}}, {"key": {"PK": "P#2"}, "item": {}, "failure": "throttled"}]}"#,
    )
    .unwrap();
    mailroom(dir.path())
        .args(commands[0])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "lookup fixture people[1] is invalid: give exactly one of item, Item or failure",
        ));
    // A file named with --lookups must be there.
    mailroom(dir.path())
        .args(commands[2])
        .args(["--lookups", "nowhere.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "mailroom: cannot read nowhere.json",
        ));
    assert!(!dir.path().join("outbox").exists(), "nothing was written");
}

#[test]
fn check_names_the_fixture_to_add_for_each_lookup_nothing_answers() {
    let dir = tempfile::tempdir().unwrap();
    let templates = folder(dir.path(), Some(FIXTURES));
    let samples = dir.path().join("samples");
    std::fs::create_dir(&samples).unwrap();
    for (name, id) in [("ada.json", "1"), ("bo.json", "2"), ("cy.json", "3")] {
        std::fs::write(samples.join(name), json!({ "id": id }).to_string()).unwrap();
    }
    std::fs::write(samples.join("nobody.json"), r#"{"id": ""}"#).unwrap();
    let output = mailroom(dir.path())
        .args(["check", "templates", "--events", "samples", "--now", NOW])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    // Bo's team has no entry, but the route goes on without it: not a problem.
    assert_eq!(
        stdout,
        "error[lookup]: lookup \"student\" found nothing in people for PK=P#3\n  \
         = sample cy.json, route main\n  \
         = help: add {\"key\": {\"PK\": \"P#3\"}, \"item\": {}} to \"people\" in \
         templates/lookups.json, with the item's fields in \"item\"\n\
         error[lookup]: the key of lookup \"student\" reads id, which is missing, null or empty\n  \
         = sample nobody.json, route main\n\
         checked 1 template in templates against 4 samples (templates/routes.json): 2 problems\n"
    );

    // Without a fixtures file, the help says which file to create.
    std::fs::remove_file(templates.join("lookups.json")).unwrap();
    mailroom(dir.path())
        .args(["check", "templates", "--events", "samples", "--now", NOW])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "error[lookup]: lookup \"student\" failed: no lookups file answers people PK=P#1",
        ))
        .stdout(predicate::str::contains(
            "= help: create templates/lookups.json (or pass --lookups FILE) holding \
             {\"people\": [{\"key\": {\"PK\": \"P#1\"}, \"item\": {}}]}",
        ))
        .stdout(predicate::str::ends_with("4 problems\n"));

    // --lookups answers them all.
    std::fs::write(
        dir.path().join("all.json"),
        FIXTURES.replace(
            r#"{"key": {"PK": "T#t1"}"#,
            r#"{"key": {"PK": "P#3"}, "item": {"name": "Cy", "email": "cy@example.com", "team": "t9"}},
               {"key": {"PK": "T#t1"}"#,
        ),
    )
    .unwrap();
    std::fs::remove_file(samples.join("nobody.json")).unwrap();
    mailroom(dir.path())
        .args(["check", "templates", "--events", "samples", "--now", NOW])
        .args(["--lookups", "all.json"])
        .assert()
        .success()
        .stdout(predicate::str::ends_with("ok\n"));
}

#[test]
fn check_flags_a_template_reading_a_lookup_its_route_does_not_declare() {
    let dir = tempfile::tempdir().unwrap();
    let templates = folder(dir.path(), Some(FIXTURES));
    // `course` is no lookup of the route: guarded, it never renders; unguarded, it fails.
    std::fs::write(
        templates.join("hello.html"),
        "<p>Hi {{ lookup.student.name }}</p>\n\
         {% if lookup.course is defined %}<p>{{ lookup.course.title }}</p>{% endif %}\n",
    )
    .unwrap();
    mailroom(dir.path())
        .args(["check", "templates"])
        .assert()
        .code(1)
        .stdout(predicate::str::starts_with(
            "error[lookup]: hello.html: reads lookup.course, but route main declares no lookup \
             \"course\" (it declares student, team), so it is always undefined\n  \
             = route main\n  \
             = help: declare it in the \"lookups\" of route main in \
             templates/routes.json, or read one the route declares\n",
        ))
        .stdout(predicate::str::ends_with("1 problem\n"));
}

#[test]
fn render_lists_the_lookups_it_read_with_their_items() {
    let dir = tempfile::tempdir().unwrap();
    folder(dir.path(), Some(FIXTURES));
    mailroom(dir.path())
        .args([
            "render",
            "hello.html",
            "--templates",
            "templates",
            "--now",
            NOW,
        ])
        .args(["--data", r#"{"id": "2"}"#])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("Subject: Hi Bo\n"))
        .stdout(predicate::str::ends_with(
            "--- html ---\n<p>Hi Bo</p>\n\n--- lookups ---\n\
             student  found      people PK=P#2\n\
             \x20        {\"email\":\"bo@example.com\",\"name\":\"Bo\",\"team\":\"t9\"}\n\
             team     not_found  people PK=T#t9\n",
        ))
        .stderr(predicate::str::contains(
            "note: nothing answers lookup \"team\" (people PK=T#t9): add {\"key\": {\"PK\": \
             \"T#t9\"}, \"item\": {}} to \"people\" in templates/lookups.json",
        ));
    // --json carries the core's preview, lookups and all.
    let output = mailroom(dir.path())
        .args(["render", "hello.html", "--templates", "templates", "--json"])
        .args(["--data", r#"{"id": "1"}"#, "--now", NOW])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let preview: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(preview["html"], "<p>Hi Ada of Core</p>");
    let statuses: Vec<(&str, &str)> = preview["lookups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["name"].as_str().unwrap(), l["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses, [("student", "found"), ("team", "found")]);
    assert_eq!(preview["lookups"][1]["key"], json!({"PK": "T#t1"}));
}

#[test]
fn render_says_which_fixture_is_missing_when_the_template_cannot_do_without_it() {
    let dir = tempfile::tempdir().unwrap();
    folder(dir.path(), Some(FIXTURES));
    mailroom(dir.path())
        .args([
            "render",
            "hello.html",
            "--templates",
            "templates",
            "--now",
            NOW,
        ])
        .args(["--data", r#"{"id": "7"}"#])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("error[undefined]: hello.html:1"))
        .stderr(predicate::str::contains(
            "note: nothing answers lookup \"student\" (people PK=P#7): add {\"key\": {\"PK\": \
             \"P#7\"}, \"item\": {}} to \"people\" in templates/lookups.json",
        ));
    // A lookup the route does not declare is named as such.
    std::fs::write(
        dir.path().join("templates/hello.html"),
        "<p>{{ lookup.student.name }}{% if lookup.course is defined %}{{ lookup.course.title }}{% endif %}</p>",
    )
    .unwrap();
    mailroom(dir.path())
        .args([
            "render",
            "hello.html",
            "--templates",
            "templates",
            "--now",
            NOW,
        ])
        .args(["--data", r#"{"id": "1"}"#])
        .assert()
        .success()
        .stdout(predicate::str::contains("<p>Ada</p>"))
        .stderr(predicate::str::contains(
            "note: route main declares no lookup \"course\" (it declares student, team)",
        ));
}
