//! The outbox's `.eml` files, read back by an independent MIME parser (mail-parser), must carry
//! exactly the email the core rendered.

mod common;

use std::path::Path;

use common::{enrollment, example, one_route, process_json, record, template_repo, write_event};
use mail_parser::{Address, Message, MessageParser, MimeHeaders};
use serde_json::Value;

/// Bodies are compared without the line-ending conversion MIME requires (CRLF on the wire).
fn normalized(text: &str) -> String {
    text.replace("\r\n", "\n").trim_end().to_owned()
}

fn first_address(address: Option<&Address>) -> (Option<String>, String) {
    let addr = address.and_then(Address::first).expect("an address");
    (
        addr.name().map(str::to_owned),
        addr.address().unwrap().to_owned(),
    )
}

/// `Name <address>` or `address`, as the core's JSON writes a mailbox.
fn split_mailbox(text: &str) -> (Option<String>, String) {
    match text.rsplit_once(" <") {
        Some((name, address)) => (
            Some(name.trim_matches('"').to_owned()),
            address.trim_end_matches('>').to_owned(),
        ),
        None => (None, text.to_owned()),
    }
}

fn assert_matches(outbox: &Path, sent: &Value) {
    let email = &sent["email"];
    let file = sent["providerMessageId"]
        .as_str()
        .expect("the file name is the provider id");
    let raw = std::fs::read(outbox.join(file)).unwrap();
    let message: Message = MessageParser::default().parse(&raw).expect("parsable MIME");

    assert_eq!(message.subject(), email["subject"].as_str(), "{file}");
    assert_eq!(
        first_address(message.from()),
        split_mailbox(email["from"].as_str().unwrap()),
        "{file}"
    );
    let to: Vec<(Option<String>, String)> = message
        .to()
        .unwrap()
        .iter()
        .map(|a| (a.name().map(str::to_owned), a.address().unwrap().to_owned()))
        .collect();
    let expected_to: Vec<_> = email["to"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| split_mailbox(m.as_str().unwrap()))
        .collect();
    assert_eq!(to, expected_to, "{file}");
    if let Some(reply_to) = email["replyTo"].as_str() {
        assert_eq!(
            first_address(message.reply_to()),
            split_mailbox(reply_to),
            "{file}"
        );
    }
    let key = email["idempotencyKey"].as_str().unwrap();
    assert!(message.message_id().unwrap().starts_with(key), "{file}");
    assert!(message.date().is_some(), "{file}");

    let root = message.root_part();
    let content_type = root.content_type().unwrap();
    assert_eq!(
        (content_type.ctype(), content_type.subtype()),
        ("multipart", Some("alternative")),
        "{file}"
    );
    assert_eq!(message.text_body_count(), 1);
    assert_eq!(message.html_body_count(), 1);
    let text = message.text_part(0).unwrap().text_contents().unwrap();
    let html = message.html_part(0).unwrap().text_contents().unwrap();
    assert_eq!(
        normalized(text),
        normalized(email["text"].as_str().unwrap()),
        "{file}"
    );
    assert_eq!(
        normalized(html),
        normalized(email["html"].as_str().unwrap()),
        "{file}"
    );
}

#[test]
fn every_quickstart_email_reads_back_as_rendered() {
    let dir = tempfile::tempdir().unwrap();
    let report = process_json(
        dir.path(),
        &[example("events/quickstart.json").to_str().unwrap()],
    );
    let sent: Vec<&Value> = report["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["decision"] == "send")
        .collect();
    assert_eq!(sent.len(), 9);
    for record in sent {
        assert_matches(&dir.path().join("outbox"), record);
    }
    // The UTF-8 subject went through an encoded word and came back intact.
    let organizer = &report["records"][0]["email"];
    assert_eq!(
        organizer["subject"],
        "New enrollment: Ana Núñez joined Rust for Backend Engineers"
    );
}

#[test]
fn non_ascii_names_and_subjects_are_encoded_words() {
    let dir = tempfile::tempdir().unwrap();
    let mut routes = one_route("hello.html", "Grüße, {{ studentName }} — ¡bienvenida! ✓");
    routes["sender"] = "Académie Mailroom <academie@example.com>".into();
    let templates = template_repo(
        dir.path(),
        &routes,
        &[("hello.html", "<p>Hola {{ studentName }} ✓</p>")],
    );
    let mailto = "José Ñandú <jose@example.com>";
    let event = write_event(
        dir.path(),
        "event.json",
        vec![record("m-1", &enrollment(mailto, "Zoë"))],
    );
    let report = process_json(
        dir.path(),
        &[
            event.to_str().unwrap(),
            "--templates",
            templates.to_str().unwrap(),
        ],
    );
    let sent = &report["records"][0];
    assert_eq!(sent["decision"], "send", "{report}");
    assert_matches(&dir.path().join("outbox"), sent);
    let raw = std::fs::read(
        dir.path()
            .join("outbox")
            .join(sent["providerMessageId"].as_str().unwrap()),
    )
    .unwrap();
    assert!(
        raw.is_ascii(),
        "headers and bodies must be 7-bit on the wire"
    );
    let message = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(message.subject(), Some("Grüße, Zoë — ¡bienvenida! ✓"));
    assert_eq!(first_address(message.to()).0.as_deref(), Some("José Ñandú"));
    assert_eq!(
        first_address(message.from()).0.as_deref(),
        Some("Académie Mailroom")
    );
}

#[test]
fn cr_and_lf_in_subject_data_never_reach_the_headers() {
    let dir = tempfile::tempdir().unwrap();
    let templates = template_repo(
        dir.path(),
        &one_route("hello.html", "Welcome {{ studentName }}"),
        &[("hello.html", "<p>Hi {{ studentName }}</p>")],
    );
    let evil = "Ana\r\nBcc: victim@example.net\r\n\r\n<b>injected</b>";
    let event = write_event(
        dir.path(),
        "event.json",
        vec![record("m-1", &enrollment("ana@example.com", evil))],
    );
    let report = process_json(
        dir.path(),
        &[
            event.to_str().unwrap(),
            "--templates",
            templates.to_str().unwrap(),
        ],
    );
    let sent = &report["records"][0];
    assert_eq!(sent["decision"], "send");
    assert_matches(&dir.path().join("outbox"), sent);
    let raw = std::fs::read(
        dir.path()
            .join("outbox")
            .join(sent["providerMessageId"].as_str().unwrap()),
    )
    .unwrap();
    let message = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(
        message.subject(),
        Some("Welcome Ana Bcc: victim@example.net <b>injected</b>")
    );
    assert!(message.bcc().is_none(), "no Bcc header may appear");
    let header_names: Vec<String> = message
        .headers()
        .iter()
        .map(|h| h.name().to_ascii_lowercase())
        .collect();
    assert!(
        !header_names.contains(&"bcc".to_owned()),
        "{header_names:?}"
    );
    assert_eq!(message.to().unwrap().iter().count(), 1);
}
