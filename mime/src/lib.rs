//! A rendered [`Email`] as an RFC 5322 message, built the same way by every host: the Lambda
//! hands these bytes to SES as raw content, and the CLI writes them to its outbox, so what a
//! developer opens from the outbox is what a recipient receives.
//!
//! ```
//! use mailroom_core::{Email, Mailbox, Timestamp};
//!
//! let email = Email::new(
//!     Mailbox::parse("Courses <courses@example.com>")?,
//!     vec![Mailbox::parse("ana@example.org")?],
//!     "Welcome",
//!     "<p>Hello</p>",
//!     "Hello",
//!     "9f86d081884c7d65",
//! )?;
//! let message = mailroom_mime::message(&email, Timestamp::from_millis(1_795_428_000_000));
//! let text = String::from_utf8(message)?;
//! assert!(text.contains("Message-ID: <9f86d081884c7d65@example.com>\r\n"));
//! assert!(text.contains("Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The layout: `multipart/alternative` with the text part first and the HTML part last (the
//! one clients prefer); RFC 2047 encoded words for non-ASCII subjects and display names;
//! quoted-printable or base64 bodies as the content needs; CRLF line endings, no line over 998
//! bytes. Everything mail-builder would otherwise invent is derived instead: `Date` is the
//! host's clock, `Message-ID` comes from the idempotency key, and the MIME boundary from a hash
//! of the whole email. So the same email at the same time gives the same bytes, and a redelivery
//! is recognisable downstream.
//!
//! The boundary must be one that event data cannot produce: a body holding `--<boundary>` lines
//! would add parts of its own (HTML of an attacker's choosing, signed with the sender's DKIM).
//! It is a SHA-256 of every part of the email, so text that contains it would have to contain its
//! own hash; and it is checked against both bodies, so even that cannot happen ([`boundary`]).

use std::borrow::Cow;

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::MimePart;
use mailroom_core::email::encoded_words;
use mailroom_core::{Email, Mailbox, Timestamp};
use sha2::{Digest, Sha256};

/// The header that carries the idempotency key; bounce and complaint notifications from SES
/// carry the original headers back, so the key identifies the event there too.
pub const IDEMPOTENCY_HEADER: &str = "X-Mailroom-Idempotency-Key";

/// The header through which SES reads message tags from a raw message. The Lambda passes tags
/// through the API instead; `.eml` files keep them here so an outboxed email shows its tags.
pub const SES_TAGS_HEADER: &str = "X-SES-MESSAGE-TAGS";

/// The header through which SES reads the configuration set from a raw message; like the
/// tags, the Lambda passes it through the API and `.eml` files keep it here.
pub const SES_CONFIGURATION_SET_HEADER: &str = "X-SES-CONFIGURATION-SET";

/// The message as sent, dated `date`.
#[must_use]
pub fn message(email: &Email, date: Timestamp) -> Vec<u8> {
    build(email, date, false)
}

/// The message as the CLI's outbox keeps it: [`message`] plus the tags in
/// [`SES_TAGS_HEADER`] and the configuration set in [`SES_CONFIGURATION_SET_HEADER`], what the
/// Lambda gives SES beside the message.
#[must_use]
pub fn eml(email: &Email, date: Timestamp) -> Vec<u8> {
    build(email, date, true)
}

fn build(email: &Email, date: Timestamp, with_ses_headers: bool) -> Vec<u8> {
    let domain = email
        .from()
        .address()
        .rsplit_once('@')
        .map_or("mailroom.invalid", |(_, domain)| domain);
    let alternative = MimePart::new(
        ContentType::new("multipart/alternative").attribute("boundary", boundary(email)),
        vec![
            MimePart::new("text/plain", bare_cr_as_crlf(email.text())),
            MimePart::new("text/html", bare_cr_as_crlf(email.html())),
        ],
    );
    let mut builder = MessageBuilder::new()
        .from(address(email.from()))
        .to(Address::new_list(email.to().iter().map(address).collect()));
    // A subject holding a literal encoded word (`=?utf-8?B?...?=`) would be decoded by clients
    // into text the subject never had: such a subject is sent encoded as a whole.
    builder = if email.subject().contains("=?") {
        builder.header(
            "Subject",
            Raw::new(encoded_words(email.subject(), "Subject: ".len())),
        )
    } else {
        builder.subject(email.subject())
    };
    let mut builder = builder
        .date(Date::new(date.as_millis().div_euclid(1000)))
        .message_id(format!("{}@{domain}", email.idempotency_key()))
        .header(IDEMPOTENCY_HEADER, Raw::new(email.idempotency_key()));
    if let Some(reply_to) = email.reply_to() {
        builder = builder.reply_to(address(reply_to));
    }
    if with_ses_headers {
        // Tag names and values are limited to [A-Za-z0-9_.@-], configuration set names to
        // [A-Za-z0-9_-], by the core: header-safe as they are.
        if !email.tags().is_empty() {
            let tags = email
                .tags()
                .iter()
                .map(|tag| format!("{}={}", tag.name(), tag.value()))
                .collect::<Vec<_>>()
                .join(", ");
            builder = builder.header(SES_TAGS_HEADER, Raw::new(tags));
        }
        if let Some(set) = email.configuration_set() {
            builder = builder.header(SES_CONFIGURATION_SET_HEADER, Raw::new(set));
        }
    }
    let mut bytes = Vec::with_capacity(email.html().len() + email.text().len() + 1024);
    builder.body(alternative).serialize(&mut bytes);
    bytes
}

/// The multipart boundary of `email`: `mailroom-` and 32 hex digits of a SHA-256 over every part
/// of the email, the first such that occurs in neither body. The bodies are all event data can
/// reach below the headers, and an encoded body (quoted-printable adds only `=` sequences, base64
/// has no `-`) holds the boundary only where the body itself does, so no part can end early.
#[must_use]
pub fn boundary(email: &Email) -> String {
    let mut hasher = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    field(email.idempotency_key().as_bytes());
    field(email.subject().as_bytes());
    field(email.from().address().as_bytes());
    for to in email.to() {
        field(to.address().as_bytes());
    }
    field(email.text().as_bytes());
    field(email.html().as_bytes());
    let mut attempt: u64 = 0;
    loop {
        let mut round = hasher.clone();
        round.update(attempt.to_be_bytes());
        let digest = round.finalize();
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        let boundary = format!("mailroom-{hex}");
        if !email.html().contains(&boundary) && !email.text().contains(&boundary) {
            return boundary;
        }
        attempt += 1;
    }
}

/// `body` with every CR that is not part of a CRLF made one. Text in MIME breaks lines with CRLF
/// only (RFC 2046, 4.1.1); mail-builder makes a bare LF a CRLF but sends a bare CR as it is, in a
/// part it labels 7bit, which RFC 5322 forbids and which mail systems each read their own way.
fn bare_cr_as_crlf(body: &str) -> Cow<'_, str> {
    let bytes = body.as_bytes();
    let is_bare = |at: usize| bytes[at] == b'\r' && bytes.get(at + 1) != Some(&b'\n');
    if !(0..bytes.len()).any(is_bare) {
        return Cow::Borrowed(body);
    }
    let mut out = String::with_capacity(body.len() + 16);
    let mut rest = body;
    while let Some(at) = rest.find('\r') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        if !rest.starts_with('\n') {
            out.push('\n');
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn address(mailbox: &Mailbox) -> Address<'_> {
    Address::new_address(mailbox.name(), mailbox.address())
}

#[cfg(test)]
mod tests {
    use mail_parser::{MessageParser, MimeHeaders};
    use mailroom_core::Tag;

    use super::*;

    const NOW: Timestamp = Timestamp::from_millis(1_795_428_000_000);

    fn email_with(html: &str, text: &str) -> Email {
        Email::new(
            Mailbox::parse("Académie <courses@example.com>").unwrap(),
            vec![
                Mailbox::parse("Ana Núñez <ana@example.org>").unwrap(),
                Mailbox::parse("b@example.org").unwrap(),
            ],
            "Bienvenue, Ana — cours n°1",
            html,
            text,
            "k123",
        )
        .unwrap()
        .with_reply_to(Mailbox::parse("help@example.com").unwrap())
        .with_tags(vec![
            Tag::new("route", "welcome"),
            Tag::new("category", "courses"),
        ])
    }

    fn email() -> Email {
        email_with("<p>Héllo</p>", "Héllo")
    }

    #[test]
    fn a_parser_reads_back_every_header_and_both_parts() {
        let bytes = message(&email(), NOW);
        let parsed = MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(parsed.subject(), Some("Bienvenue, Ana — cours n°1"));
        let from = parsed.from().and_then(|list| list.first()).unwrap();
        assert_eq!(from.name(), Some("Académie"));
        assert_eq!(from.address(), Some("courses@example.com"));
        let to: Vec<_> = parsed
            .to()
            .unwrap()
            .iter()
            .map(|a| (a.name(), a.address()))
            .collect();
        assert_eq!(
            to,
            [
                (Some("Ana Núñez"), Some("ana@example.org")),
                (None, Some("b@example.org"))
            ]
        );
        let reply_to = parsed.reply_to().and_then(|list| list.first()).unwrap();
        assert_eq!(reply_to.address(), Some("help@example.com"));
        assert_eq!(parsed.message_id(), Some("k123@example.com"));
        assert_eq!(parsed.date().map(|d| d.to_timestamp()), Some(1_795_428_000));
        assert_eq!(
            parsed.header_raw(IDEMPOTENCY_HEADER).map(str::trim),
            Some("k123")
        );
        assert_eq!(parsed.body_text(0).as_deref(), Some("Héllo"));
        assert_eq!(parsed.body_html(0).as_deref(), Some("<p>Héllo</p>"));
        let root = parsed.content_type().unwrap();
        assert_eq!(
            (root.ctype(), root.subtype()),
            ("multipart", Some("alternative"))
        );
        assert!(
            parsed.header_raw(SES_TAGS_HEADER).is_none(),
            "SES gets tags via the API"
        );
    }

    #[test]
    fn headers_are_ascii_and_the_text_part_comes_first() {
        let raw = String::from_utf8(message(&email(), NOW)).unwrap();
        let (headers, body) = raw.split_once("\r\n\r\n").unwrap();
        assert!(headers.is_ascii(), "{headers}");
        assert!(headers.contains("Subject: =?utf-8?"), "{headers}");
        let text_at = body.find("text/plain").unwrap();
        let html_at = body.find("text/html").unwrap();
        assert!(text_at < html_at, "the text part comes first");
    }

    #[test]
    fn the_same_email_at_the_same_time_gives_the_same_bytes() {
        assert_eq!(message(&email(), NOW), message(&email(), NOW));
        let later = Timestamp::from_millis(NOW.as_millis() + 1000);
        assert_ne!(message(&email(), NOW), message(&email(), later));
        let raw = String::from_utf8(message(&email(), NOW)).unwrap();
        let boundary = boundary(&email());
        assert!(raw.contains(&format!("boundary=\"{boundary}\"")), "{raw}");
    }

    #[test]
    fn the_outbox_copy_adds_only_the_tags_header() {
        let sent = String::from_utf8(message(&email(), NOW)).unwrap();
        let kept = String::from_utf8(eml(&email(), NOW)).unwrap();
        let tags_line = format!("{SES_TAGS_HEADER}: route=welcome, category=courses\r\n");
        assert!(kept.contains(&tags_line), "{kept}");
        assert_eq!(kept.replace(&tags_line, ""), sent);
        let untagged = email().with_tags(Vec::new());
        assert_eq!(eml(&untagged, NOW), message(&untagged, NOW));
    }

    #[test]
    fn event_data_cannot_add_or_replace_a_part() {
        // A body that closes the text part and opens an HTML part of its own, with the boundary
        // the key alone used to give (the key is known to anyone who knows the event id).
        let forged = "Hi\r\n--mailroom-k123\r\nContent-Type: text/html\r\n\r\n<a href=\"https://evil.example\">pay</a>\r\n--mailroom-k123--\r\n";
        let email = email_with("<p>Héllo</p>", forged);
        let bytes = message(&email, NOW);
        let parsed = MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(parsed.text_body_count(), 1);
        assert_eq!(parsed.html_body_count(), 1);
        assert_eq!(parsed.attachment_count(), 0);
        assert_eq!(parsed.body_html(0).as_deref(), Some("<p>Héllo</p>"));
        let text = parsed.body_text(0).unwrap();
        assert!(
            text.contains("evil.example"),
            "the forged part stays text: {text}"
        );
    }

    #[test]
    fn a_literal_encoded_word_in_a_subject_reads_as_written() {
        let subject = "Your refund =?utf-8?B?SGFja2Vk?= is ready";
        let email = Email::new(
            Mailbox::parse("a@example.com").unwrap(),
            vec![Mailbox::parse("b@example.org").unwrap()],
            subject,
            "<p>x</p>",
            "x",
            "k1",
        )
        .unwrap();
        let bytes = message(&email, NOW);
        let parsed = MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(parsed.subject(), Some(subject));
        assert!(!String::from_utf8_lossy(&bytes).contains("SGFja2Vk?= is"));
    }

    #[test]
    fn the_boundary_never_occurs_in_a_body_and_is_stable() {
        let email = email();
        let first = boundary(&email);
        assert_eq!(first, boundary(&email));
        // Even a body that holds the boundary the email would otherwise get gets another.
        let holding = email_with(&format!("<p>{first}</p>"), "x");
        let chosen = boundary(&holding);
        assert!(!holding.html().contains(&chosen) && !holding.text().contains(&chosen));
        assert_eq!(message(&email, NOW), message(&email, NOW));
    }

    #[test]
    fn a_bare_cr_in_a_body_is_sent_as_a_line_break() {
        // ASCII bodies go out 7bit, unencoded: a bare CR would reach SES as it is.
        let email = email_with("<p>a\rb</p>", "=?utf\r8?b?t\r\nend\r");
        let raw = String::from_utf8(message(&email, NOW)).unwrap();
        assert!(!raw.replace("\r\n", "").contains('\r'), "{raw:?}");
        let parsed = MessageParser::default().parse(raw.as_bytes()).unwrap();
        assert_eq!(parsed.body_html(0).as_deref(), Some("<p>a\r\nb</p>"));
        assert_eq!(
            parsed.body_text(0).as_deref(),
            Some("=?utf\r\n8?b?t\r\nend\r\n")
        );
    }

    #[test]
    fn long_lines_are_wrapped_within_the_rfc_5322_limit() {
        let email = email_with(&format!("<p>{}</p>", "é".repeat(3000)), &"x".repeat(3000));
        let raw = String::from_utf8(message(&email, NOW)).unwrap();
        assert!(raw.split("\r\n").all(|line| line.len() <= 998));
        assert!(
            !raw.replace("\r\n", "").contains('\n'),
            "every line ends in CRLF"
        );
        let parsed = MessageParser::default().parse(raw.as_bytes()).unwrap();
        assert_eq!(parsed.body_text(0).as_deref(), Some(email.text()));
    }
}
