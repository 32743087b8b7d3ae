//! What template authors use: previews, checks and variable lists.

mod common;

use mailroom_core::{Config, FaultKind, Mailroom, PreviewError, SqsRecord, TemplateSet};

fn mailroom(templates: &[(&str, &str)]) -> Mailroom {
    let set: TemplateSet = templates.iter().copied().collect();
    Mailroom::new(Config::preview("mail.html"), &set).unwrap()
}

#[test]
fn preview_renders_subject_html_and_text_and_lists_missing_variables() {
    let mailroom = mailroom(&[
        (
            "mail.html",
            "<h1>Hi {{ name }}</h1>{% if coupon is defined %}{{ coupon.code }}{% endif %}",
        ),
        ("mail.txt", "Hi {{ name }} ({{ mailroom.envelope }})"),
    ]);
    let body =
        r#"{"Type": "Notification", "MessageId": "1", "Message": "{\"name\": \"Ana & Bo\"}"}"#;
    let preview = mailroom
        .preview(
            "mail.html",
            Some("Hello {{ name }}\r\n"),
            body,
            common::NOW,
            &mut mailroom_core::NoLookups,
        )
        .unwrap();
    assert_eq!(preview.subject, "Hello Ana & Bo");
    assert_eq!(preview.html, "<h1>Hi Ana &amp; Bo</h1>");
    assert_eq!(preview.text, "Hi Ana & Bo (sns)");
    assert_eq!(preview.variables, ["coupon", "coupon.code", "name"]);
    assert_eq!(preview.missing, ["coupon", "coupon.code"]);
}

#[test]
fn preview_errors_say_where_and_what() {
    let mailroom = mailroom(&[("mail.html", "<p>\n{{ name }\n</p>")]);
    match mailroom.preview(
        "mail.html",
        None,
        r#"{"name": "x"}"#,
        common::NOW,
        &mut mailroom_core::NoLookups,
    ) {
        Err(PreviewError::Template(fault)) => {
            assert_eq!(fault.kind, FaultKind::Syntax);
            assert_eq!(fault.template.as_deref(), Some("mail.html"));
            assert_eq!(fault.line, Some(2));
            assert_eq!(fault.source_line.as_deref(), Some("{{ name }"));
        }
        other => panic!("{other:?}"),
    }
    let data_error = mailroom
        .preview(
            "mail.html",
            None,
            "{not json",
            common::NOW,
            &mut mailroom_core::NoLookups,
        )
        .unwrap_err();
    assert!(
        matches!(data_error, PreviewError::Data(_)),
        "{data_error:?}"
    );
    assert!(
        data_error
            .to_string()
            .starts_with("sample data: the body is not JSON"),
        "{data_error}"
    );
}

#[test]
fn metadata_shadows_an_event_field_of_the_same_name() {
    let mailroom = mailroom(&[("mail.html", "{{ mailroom.messageId }}|{{ other }}")]);
    let preview = mailroom
        .preview(
            "mail.html",
            None,
            r#"{"mailroom": "from the event", "other": 1}"#,
            common::NOW,
            &mut mailroom_core::NoLookups,
        )
        .unwrap();
    assert_eq!(preview.html, "preview|1");
}

#[test]
fn check_reports_broken_templates_once_and_every_failing_sample() {
    let routes = r#"{"sender": "a@example.com", "routes": [
        {"name": "orders", "events": ["orders/paid"], "template": "order.html", "subject": "Order", "recipient": "email"},
        {"name": "broken", "events": ["broken"], "template": "broken.html", "subject": "B", "recipient": "email"},
        {"name": "missing", "events": ["missing"], "template": "nowhere.html", "subject": "M", "recipient": "email"}]}"#;
    let config = Config::resolve(Some(routes), |_| None).unwrap();
    let templates: TemplateSet = [
        ("order.html", "<p>{{ customer.first_name }}</p>"),
        ("broken.html", "{% for %}"),
    ]
    .into_iter()
    .collect();
    let mailroom = Mailroom::new(config, &templates).unwrap();
    let sample = |label: &str, body: &str| {
        let record = SqsRecord {
            message_id: label.into(),
            body: body.into(),
            ..SqsRecord::default()
        };
        (label.to_owned(), record)
    };
    let diagnostics = mailroom.check(
        &[
            sample("good", r#"{"type": "orders/paid", "email": "a@example.com", "customer": {"first_name": "A"}}"#),
            sample("no-customer", r#"{"type": "orders/paid", "email": "a@example.com"}"#),
            sample("broken", r#"{"type": "broken", "email": "a@example.com"}"#),
            sample("unrouted", r#"{"type": "refund", "email": "a@example.com"}"#),
        ],
        common::NOW,
        &mut mailroom_core::NoLookups,
    );
    let summary: Vec<(Option<&str>, &str, Option<&str>)> = diagnostics
        .iter()
        .map(|d| {
            (
                d.sample.as_deref(),
                d.fault.kind.as_str(),
                d.fault.template.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (None, "syntax", Some("broken.html")),
            (None, "not_found", None),
            (Some("no-customer"), "undefined", Some("order.html")),
            (Some("unrouted"), "no_route", None),
        ]
    );
}

#[test]
fn variables_include_those_of_included_templates() {
    let mailroom = mailroom(&[
        (
            "mail.html",
            "{{ a }}{% include 'part.html' %}{% set local = 1 %}{{ local }}",
        ),
        ("part.html", "{{ b.c }}"),
    ]);
    assert_eq!(mailroom.variables("mail.html").unwrap(), ["a", "b.c"]);
}

#[test]
fn the_shipped_templates_preview_with_the_metadata_a_record_gets() {
    let mailroom = common::example_mailroom();
    let event = common::example_event("order-eventbridge.json");
    let body = &event.records[0].body;
    let preview = mailroom
        .preview(
            "orders/confirmation.html",
            None,
            body,
            common::NOW,
            &mut mailroom_core::NoLookups,
        )
        .unwrap();
    assert_eq!(preview.subject, "Order #1071 confirmed");
    assert!(preview.html.contains("Reference "), "{}", preview.html);
    assert!(
        preview.text.contains("Total:    $363.15"),
        "{}",
        preview.text
    );
}

#[test]
fn an_error_inside_a_partial_points_at_the_partial() {
    let mailroom = mailroom(&[
        ("mail.html", "<main>\n{% include 'footer.html' %}\n</main>"),
        ("footer.html", "<footer>\n  {{ shop.name }}\n</footer>"),
    ]);
    let Err(PreviewError::Template(fault)) = mailroom.preview(
        "mail.html",
        None,
        "{}",
        common::NOW,
        &mut mailroom_core::NoLookups,
    ) else {
        panic!("the footer reads an undefined variable");
    };
    assert_eq!(fault.kind, FaultKind::Undefined);
    assert_eq!(fault.template.as_deref(), Some("footer.html"));
    assert_eq!((fault.line, fault.column), (Some(2), Some(6)));
    assert_eq!(fault.source_line.as_deref(), Some("  {{ shop.name }}"));
}

#[test]
fn a_preview_renders_the_text_part_a_send_would_have() {
    // The route names its text template; the `.txt` sibling must not be what the preview shows.
    let routes = r#"{"sender": "a@example.com", "routes": [{"name": "short", "events": ["*"],
        "template": "mail.html", "textTemplate": "short.txt", "subject": "Hi {{ name }}",
        "recipient": "mailto"}]}"#;
    let templates: TemplateSet = [
        ("mail.html", "<p>Hello {{ name }}</p>"),
        ("mail.txt", "the sibling"),
        ("short.txt", "Short for {{ name }}"),
    ]
    .into_iter()
    .collect();
    let mailroom =
        Mailroom::new(Config::resolve(Some(routes), |_| None).unwrap(), &templates).unwrap();
    let body = r#"{"name": "Ana", "mailto": "ana@example.org"}"#;
    let preview = mailroom
        .preview(
            "mail.html",
            None,
            body,
            common::NOW,
            &mut mailroom_core::NoLookups,
        )
        .unwrap();
    assert_eq!(preview.route.as_deref(), Some("short"));
    assert_eq!(preview.subject, "Hi Ana");
    assert_eq!(preview.text, "Short for Ana");
    let record = SqsRecord {
        message_id: "m".into(),
        body: body.into(),
        ..SqsRecord::default()
    };
    let mailroom_core::Decision::Send { email, .. } = mailroom
        .decide(&record, common::NOW, 1, &mut mailroom_core::NoLookups)
        .decision
    else {
        panic!("the sample is sent");
    };
    assert_eq!(email.text(), preview.text);
    assert_eq!(email.html(), preview.html);
}
