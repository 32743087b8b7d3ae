//! The MIME check: every email a target produces, built into the message SES receives
//! (`mailroom_mime::message`) and read back by an independent parser (mail-parser), says what
//! the email says, whatever the data.
//!
//! Compiled into the fuzz crate (`src/lib.rs`) and into `mime/tests/fuzz_regressions.rs`, which
//! replays the seeds and past crashes with this check on stable. Not into the core's replay test:
//! that would need mailroom-mime as a dev-dependency of mailroom-core, a dev-cycle that links two
//! copies of the core's types. So this file may use `mailroom-core`, `mailroom-mime` and
//! `mail-parser` only.

use mail_parser::{Address, MessageParser, MimeHeaders, PartType};
use mailroom_core::{Email, Mailbox, Timestamp};

/// The longest line RFC 5322 allows, without its CRLF.
const MAX_LINE: usize = 998;

/// Builds the message of `email` dated `date`, parses it back, and checks that it has exactly
/// one text part and one HTML part holding the email's bodies, and the email's subject, from,
/// to, reply-to and idempotency key; that the boundary is the email's and occurs in neither
/// body; and that every line ends in CRLF within the RFC 5322 limit.
pub fn check_message(email: &Email, date: Timestamp) -> Result<(), String> {
    let bytes = mailroom_mime::message(email, date);
    check_lines(&bytes)?;
    let boundary = mailroom_mime::boundary(email);
    if email.text().contains(&boundary) || email.html().contains(&boundary) {
        return Err(format!("the boundary {boundary:?} occurs in a body"));
    }
    let parsed = MessageParser::default()
        .parse(&bytes)
        .ok_or("mail-parser cannot read the message")?;

    let root = parsed.content_type().ok_or("no Content-Type")?;
    if (root.ctype(), root.subtype()) != ("multipart", Some("alternative")) {
        return Err(format!(
            "Content-Type {}/{:?}",
            root.ctype(),
            root.subtype()
        ));
    }
    if root.attribute("boundary") != Some(boundary.as_str()) {
        return Err(format!(
            "boundary {:?}, the email's is {boundary:?}",
            root.attribute("boundary")
        ));
    }
    // The root and its two leaves, nothing else: a body that forged a boundary would add parts.
    let leaves: Vec<&str> = parsed
        .parts
        .iter()
        .filter_map(|part| match &part.body {
            PartType::Text(_) => Some("text"),
            PartType::Html(_) => Some("html"),
            PartType::Multipart(_) => None,
            _ => Some("other"),
        })
        .collect();
    if leaves != ["text", "html"] || parsed.parts.len() != 3 || parsed.attachment_count() != 0 {
        return Err(format!(
            "parts {leaves:?} ({} in all, {} attachments), expected a text and an HTML part",
            parsed.parts.len(),
            parsed.attachment_count()
        ));
    }
    compare(
        "text body",
        parsed
            .body_text(0)
            .as_deref()
            .map(lf_line_breaks)
            .as_deref(),
        &lf_line_breaks(email.text()),
    )?;
    compare(
        "HTML body",
        parsed
            .body_html(0)
            .as_deref()
            .map(lf_line_breaks)
            .as_deref(),
        &lf_line_breaks(email.html()),
    )?;

    // An empty subject reads back as none.
    compare(
        "subject",
        Some(parsed.subject().unwrap_or_default()),
        email.subject(),
    )?;
    compare_mailboxes("from", parsed.from(), std::slice::from_ref(email.from()))?;
    compare_mailboxes("to", parsed.to(), email.to())?;
    match (parsed.reply_to(), email.reply_to()) {
        (None, None) => {}
        (found, Some(reply_to)) => {
            compare_mailboxes("reply-to", found, std::slice::from_ref(reply_to))?;
        }
        (Some(found), None) => return Err(format!("a reply-to {found:?} the email has not")),
    }
    compare(
        "idempotency key",
        parsed
            .header_raw(mailroom_mime::IDEMPOTENCY_HEADER)
            .map(str::trim),
        email.idempotency_key(),
    )
}

/// `body` with every line break (CRLF, CR or LF) a line feed. Text in MIME has CRLF line breaks
/// (RFC 2046, 4.1.1), so a 7-bit or quoted-printable part reads back with CRLF whichever the email
/// had; a base64 part reads back with the email's own (mail-builder encodes the body as it is).
/// All are the same text; `check_lines` is what rules out a bare CR or LF in the message itself.
fn lf_line_breaks(body: &str) -> String {
    body.replace("\r\n", "\n").replace('\r', "\n")
}

fn compare(what: &str, found: Option<&str>, expected: &str) -> Result<(), String> {
    if found == Some(expected) {
        Ok(())
    } else {
        Err(format!(
            "{what}: read back {found:?}, the email has {expected:?}"
        ))
    }
}

fn compare_mailboxes(
    what: &str,
    found: Option<&Address<'_>>,
    expected: &[Mailbox],
) -> Result<(), String> {
    let found: Vec<(Option<&str>, Option<&str>)> = found
        .map(|list| list.iter().map(|a| (a.name(), a.address())).collect())
        .unwrap_or_default();
    let expected: Vec<(Option<&str>, Option<&str>)> = expected
        .iter()
        .map(|m| (m.name(), Some(m.address())))
        .collect();
    if found == expected {
        Ok(())
    } else {
        Err(format!(
            "{what}: read back {found:?}, the email has {expected:?}"
        ))
    }
}

/// Every line ends in CRLF (no bare CR or LF) and is at most [`MAX_LINE`] bytes.
fn check_lines(bytes: &[u8]) -> Result<(), String> {
    let mut lines = bytes.split(|b| *b == b'\n').enumerate().peekable();
    while let Some((number, line)) = lines.next() {
        // Only the last piece has no LF after it.
        let content = match line.strip_suffix(b"\r") {
            Some(content) if lines.peek().is_some() => content,
            _ if lines.peek().is_none() => line,
            _ => return Err(format!("line {number} ends in a bare LF")),
        };
        if content.contains(&b'\r') {
            return Err(format!("line {number} holds a bare CR"));
        }
        if content.len() > MAX_LINE {
            return Err(format!("line {number} is {} bytes long", content.len()));
        }
    }
    Ok(())
}
