//! `mailroom render` and `mailroom check`: the template author's commands.

mod common;

use common::{NOW, example, mailroom, one_route, template_repo};
use predicates::prelude::*;

#[test]
fn render_prints_subject_text_and_html_of_an_example() {
    let dir = tempfile::tempdir().unwrap();
    mailroom(dir.path())
        .args(["render", "orders/confirmation.html", "--data"])
        .arg(example("events/order-eventbridge.json"))
        .args(["--now", NOW])
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "Subject: Order #1071 confirmed\n\n--- text ---\nThank you for your order, Ana!",
        ))
        .stdout(predicate::str::contains("--- html ---\n<!doctype html>"))
        .stdout(predicate::str::contains("Total:    $363.15"));
}

#[test]
fn render_prints_subject_text_and_html() {
    let dir = tempfile::tempdir().unwrap();
    let templates = template_repo(
        dir.path(),
        &one_route("hello.html", "Hello {{ studentName }}"),
        &[
            (
                "hello.html",
                "<p>Hi <b>{{ studentName }}</b> &amp; welcome to {{ courseName }}</p>",
            ),
            (
                "hello.txt",
                "Hi {{ studentName }}, welcome to {{ courseName }}.",
            ),
        ],
    );
    // A Lambda SQS event file: the first record's body (an SNS envelope here) is the data.
    mailroom(dir.path())
        .args(["render", "hello.html", "--now", NOW, "--data"])
        .arg(example("events/enrollment-sns.json"))
        .arg("--templates")
        .arg(&templates)
        .assert()
        .success()
        .stdout(predicate::eq(
            "Subject: Hello Ana Núñez\n\n--- text ---\nHi Ana Núñez, welcome to Rust for Backend Engineers.\n\n\
             --- html ---\n<p>Hi <b>Ana Núñez</b> &amp; welcome to Rust for Backend Engineers</p>\n",
        ));
}

#[test]
fn render_takes_inline_data_and_a_subject() {
    let dir = tempfile::tempdir().unwrap();
    let templates = template_repo(
        dir.path(),
        &one_route("hello.html", "Hello"),
        &[("hello.html", "<p>{{ studentName }}</p>")],
    );
    mailroom(dir.path())
        .args([
            "render",
            "hello.html",
            "--now",
            NOW,
            "--subject",
            "Hi {{ organizerName }}\r\nBcc: x@example.net",
            "--data",
        ])
        .arg(r#"{"organizerName":"Dana","studentName":"Zoë"}"#)
        .arg("--templates")
        .arg(&templates)
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "Subject: Hi Dana Bcc: x@example.net\n",
        ))
        .stdout(predicate::str::contains("<p>Zoë</p>"));
}

#[test]
fn render_shows_where_a_template_is_broken() {
    let dir = tempfile::tempdir().unwrap();
    let templates = template_repo(
        dir.path(),
        &one_route("broken.html", "Hello"),
        &[("broken.html", "<h1>Hello</h1>\n<p>{{ studentName }</p>\n")],
    );
    mailroom(dir.path())
        .args([
            "render",
            "broken.html",
            "--data",
            r#"{"studentName":"Ana"}"#,
            "--templates",
        ])
        .arg(&templates)
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("error[syntax]: broken.html:2:"))
        .stderr(predicate::str::contains("  2 | <p>{{ studentName }</p>"))
        .stderr(predicate::str::is_match(r"\n    \| +\^\n").unwrap());
}

#[test]
fn render_names_an_undefined_variable_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let templates = template_repo(
        dir.path(),
        &one_route("hello.html", "Hello"),
        &[(
            "hello.html",
            "<p>Hi {{ studentName }}</p>\n<p>{{ customer.frist_name }}</p>\n",
        )],
    );
    mailroom(dir.path())
        .args([
            "render",
            "hello.html",
            "--data",
            r#"{"studentName":"Ana","customer":{"first_name":"Ana"}}"#,
        ])
        .arg("--templates")
        .arg(&templates)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("error[undefined]: hello.html:2"))
        .stderr(predicate::str::contains("{{ customer.frist_name }}"));
}

#[test]
fn render_of_an_unknown_template_lists_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    mailroom(dir.path())
        .args(["render", "orders/confirmaton.html", "--data", "{}"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("orders/confirmation.html"));
}

#[test]
fn check_passes_on_the_examples_and_every_good_sample() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events");
    std::fs::create_dir(&events).unwrap();
    for name in ["enrollment", "order", "welcome"] {
        for envelope in ["raw", "sns", "eventbridge"] {
            let file = format!("{name}-{envelope}.json");
            std::fs::copy(example(&format!("events/{file}")), events.join(&file)).unwrap();
        }
    }
    // routes.json beside the templates is found as every command finds it.
    mailroom(dir.path())
        .arg("check")
        .arg(example("templates"))
        .arg("--events")
        .arg(&events)
        .args(["--now", NOW])
        .assert()
        .success()
        .stdout(predicate::str::contains("against 9 samples"))
        .stdout(predicate::str::contains("templates/routes.json): ok\n"));
}

#[test]
fn check_reports_the_samples_that_would_not_be_sent() {
    let dir = tempfile::tempdir().unwrap();
    // The README's command on the shipped examples: the only problems are the three records
    // quickstart.json carries on purpose, to show rejects.
    mailroom(dir.path())
        .arg("check")
        .arg(example("templates"))
        .arg("--events")
        .arg(example("events"))
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "error[sample]: the body is not JSON",
        ))
        .stdout(predicate::str::contains("= sample quickstart.json#9\n"))
        .stdout(predicate::str::contains("error[sample]: mailto is missing"))
        .stdout(predicate::str::contains(
            "= sample quickstart.json#10, route organizer-enrollment\n",
        ))
        .stdout(predicate::str::contains(
            "error[lookup]: lookup \"student\" found nothing in enrollments for \
             PK=STUDENT#stu_00000, SK=PROFILE\n  = sample quickstart.json#11, route welcome\n",
        ))
        .stdout(predicate::str::ends_with("3 problems\n"))
        .stdout(predicate::function(|out: &str| {
            out.matches("error[").count() == 3
        }));
}

#[test]
fn check_finds_syntax_and_render_errors_with_locations() {
    let dir = tempfile::tempdir().unwrap();
    let routes = serde_json::json!({
        "sender": "Mailroom <mail@example.com>",
        "routes": [
            {"name": "orders", "events": ["orders/paid"], "template": "orders.html",
             "subject": "Order {{ name }}", "recipient": "email"},
            {"name": "other", "events": ["*"], "template": "other.html",
             "subject": "Hi", "recipient": "mailto"}
        ]
    });
    let templates = template_repo(
        dir.path(),
        &routes,
        &[
            (
                "orders.html",
                "<p>Order {{ name }}</p>\n<p>{{ totl_price }} {{ currency }}</p>\n",
            ),
            ("other.html", "{% if mailto %}\n<p>unclosed</p>\n"),
            ("README.md", "Templates for {{ our }} emails"),
        ],
    );
    let events = dir.path().join("samples");
    std::fs::create_dir(&events).unwrap();
    // A bare event body, as a template repository would keep it.
    let order = r##"{"eventType":"orders/paid","name":"#1","email":"a@example.com","total_price":"1.00","currency":"EUR"}"##;
    std::fs::write(events.join("order.json"), order).unwrap();
    let output = mailroom(dir.path())
        .arg("check")
        .arg(&templates)
        .arg("--events")
        .arg(&events)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("error[syntax]: other.html:"), "{stdout}");
    assert!(
        stdout.contains("error[undefined]: orders.html:2"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  2 | <p>{{ totl_price }} {{ currency }}</p>"),
        "{stdout}"
    );
    assert!(
        stdout.contains("= sample order.json, route orders"),
        "{stdout}"
    );
    assert!(
        stdout.contains("checked 2 templates"),
        "README.md is not a template: {stdout}"
    );
    assert!(stdout.contains("2 problems"), "{stdout}");
}

#[test]
fn check_without_routes_renders_each_template_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("emails");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("hello.html"), "<p>Hi {{ name }}</p>").unwrap();
    std::fs::write(root.join("hello.txt"), "Hi {{ nam }}").unwrap();
    let events = dir.path().join("samples");
    std::fs::create_dir(&events).unwrap();
    std::fs::write(events.join("one.json"), r#"{"name":"Ana"}"#).unwrap();
    mailroom(dir.path())
        .args(["check", "emails", "--events", "samples"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("error[undefined]: hello.txt:1"))
        .stdout(predicate::str::contains("1 problem"));
    std::fs::write(root.join("hello.txt"), "Hi {{ name }}").unwrap();
    mailroom(dir.path())
        .args(["check", "emails", "--events", "samples"])
        .assert()
        .success()
        .stdout(predicate::str::contains("ok"));
}

#[test]
fn check_and_render_resolve_the_configuration_as_process_does() {
    let dir = tempfile::tempdir().unwrap();
    let templates = template_repo(
        dir.path(),
        &one_route("hello.html", "From the routes file"),
        &[("hello.html", "<p>Hi {{ studentName }}</p>")],
    );
    let lambda = [
        ("SENDER", "Env <env@example.com>"),
        ("SUBJECT", "From the environment"),
        ("SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL", "missing.html"),
    ];
    let warned = |err: &str| {
        err.lines().count() == 3
            && err.contains("SUBJECT is set but not used")
            && err.contains("SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL is set but not used")
            && err.contains("SENDER is set but not used")
    };
    // The routes file beside the templates wins over the variables' route, for every command.
    mailroom(dir.path())
        .envs(lambda)
        .args(["render", "hello.html", "--data", r#"{"studentName":"Ana"}"#])
        .arg("--templates")
        .arg(&templates)
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "Subject: From the routes file\n",
        ))
        .stderr(predicate::function(warned));
    let samples = dir.path().join("samples");
    std::fs::create_dir(&samples).unwrap();
    std::fs::write(
        samples.join("one.json"),
        r#"{"mailto":"a@example.com","studentName":"Ana"}"#,
    )
    .unwrap();
    // The variables' route names a template that is not there: were it used, check would say so.
    mailroom(dir.path())
        .envs(lambda)
        .arg("check")
        .arg(&templates)
        .arg("--events")
        .arg(&samples)
        .assert()
        .success()
        .stdout(predicate::str::contains("templates/routes.json): ok"))
        .stderr(predicate::function(warned));
    // Without the routes file the variables configure, and check follows their route.
    std::fs::remove_file(templates.join("routes.json")).unwrap();
    mailroom(dir.path())
        .envs(lambda)
        .arg("check")
        .arg(&templates)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "error[not_found]: template \"missing.html\" is not loaded",
        ))
        .stdout(predicate::str::contains("(the environment): 1 problem"))
        .stderr(predicate::str::contains("warning").not());
    // An incomplete route in the variables is an error, not "no configuration".
    mailroom(dir.path())
        .env("SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL", "hello.html")
        .arg("check")
        .arg(&templates)
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with("mailroom: SUBJECT is not set"));
}

#[test]
fn check_of_a_missing_folder_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    mailroom(dir.path())
        .args(["check", "no-such-folder"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read no-such-folder"));
}

#[test]
fn an_error_inside_a_partial_points_at_the_partial() {
    let dir = tempfile::tempdir().unwrap();
    let templates = template_repo(
        dir.path(),
        &one_route("page.html", "Hello"),
        &[
            (
                "page.html",
                "<h1>{{ studentName }}</h1>\n{% include \"partials/footer.html\" %}\n",
            ),
            (
                "partials/footer.html",
                "<p>Thanks</p>\n<p>{{ shop.name }}</p>\n",
            ),
        ],
    );
    mailroom(dir.path())
        .args([
            "render",
            "page.html",
            "--data",
            r#"{"studentName":"Ana"}"#,
            "--templates",
        ])
        .arg(&templates)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("partials/footer.html:2"))
        .stderr(predicate::str::contains("  2 | <p>{{ shop.name }}</p>"));
}
