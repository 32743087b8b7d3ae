//! The rendered email, and the rules that keep event data out of headers.

use serde::Serialize;

use crate::address::Mailbox;

/// A fully rendered email, ready for SES (or an outbox).
///
/// Every header field here is already safe: no CR, LF or other control character can be in
/// `subject` or in any mailbox, whatever the event contained.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Email {
    /// The sender.
    pub from: Mailbox,
    /// 1 to 50 recipients, de-duplicated.
    pub to: Vec<Mailbox>,
    /// Where replies go, if not to the sender.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Mailbox>,
    /// One line of UTF-8 text; hosts encode it (RFC 2047) when it is not ASCII.
    pub subject: String,
    /// The HTML body.
    pub html: String,
    /// The plain-text body: the route's text template, or derived from the HTML.
    pub text: String,
    /// Stable across redeliveries of the same event for the same route; see [`crate::idempotency`].
    pub idempotency_key: String,
    /// SES message tags (names and values limited to SES's character set).
    pub tags: Vec<Tag>,
}

/// An SES message tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tag {
    /// Letters, digits, `_` and `-`, at most 256 characters.
    pub name: String,
    /// Letters, digits, `_`, `-`, `.` and `@`, at most 256 characters.
    pub value: String,
}

impl Tag {
    /// A tag with both parts reduced to what SES accepts (anything else becomes `_`).
    #[must_use]
    pub fn new(name: &str, value: &str) -> Self {
        Self {
            name: tag_text(name, false),
            value: tag_text(value, true),
        }
    }
}

fn tag_text(text: &str, is_value: bool) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            let allowed = c.is_ascii_alphanumeric()
                || c == '_'
                || c == '-'
                || (is_value && (c == '.' || c == '@'));
            if allowed { c } else { '_' }
        })
        .take(256)
        .collect();
    if cleaned.is_empty() {
        "_".to_owned()
    } else {
        cleaned
    }
}

/// Longest subject kept, in characters; longer ones are cut with an ellipsis. RFC 5322 allows
/// 998 bytes per line, and mail clients show far fewer characters than this.
pub const MAX_SUBJECT_CHARS: usize = 250;

/// Makes text safe for a header: every control character (CR, LF, tab, DEL, C1, and the Unicode
/// line and paragraph separators) becomes a space, runs of whitespace collapse to one space, and
/// the ends are trimmed.
#[must_use]
pub fn header_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_control() || c.is_whitespace() || c == '\u{2028}' || c == '\u{2029}' {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

/// A subject: header-safe and at most [`MAX_SUBJECT_CHARS`] characters.
#[must_use]
pub fn subject_line(rendered: &str) -> String {
    let mut subject = header_text(rendered);
    if let Some((cut, _)) = subject.char_indices().nth(MAX_SUBJECT_CHARS) {
        subject.truncate(cut);
        let kept = subject.trim_end().len();
        subject.truncate(kept);
        subject.push('…');
    }
    subject
}

/// The plain-text alternative of an HTML body.
#[must_use]
pub fn text_from_html(html: &str) -> String {
    // The converter writes CRLF; bodies use LF and the MIME layer picks the line ending.
    nanohtml2text::html2text(html)
        .replace("\r\n", "\n")
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_text_removes_every_line_break_and_control() {
        assert_eq!(
            header_text("Order #1\r\nBcc: x@evil.example\u{2028}\u{85}\t done\u{7f}"),
            "Order #1 Bcc: x@evil.example done"
        );
        assert_eq!(header_text("  Grüße  \n"), "Grüße");
    }

    #[test]
    fn long_subjects_are_cut_on_a_character_boundary() {
        let subject = subject_line(&"é".repeat(400));
        assert_eq!(subject.chars().count(), MAX_SUBJECT_CHARS + 1);
        assert!(subject.ends_with('…'));
    }

    #[test]
    fn tags_keep_only_what_ses_accepts() {
        let tag = Tag::new("event type", "orders/paid ✓");
        assert_eq!(tag.name, "event_type");
        assert_eq!(tag.value, "orders_paid__");
        assert_eq!(Tag::new("", "").value, "_");
    }

    #[test]
    fn text_is_derived_from_html() {
        let text = text_from_html("<h1>Hi &amp; welcome</h1><p>Line<br>two</p>");
        assert!(text.contains("Hi & welcome"), "{text}");
        assert!(text.contains("Line\ntwo"), "{text:?}");
    }
}
