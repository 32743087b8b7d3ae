//! The rendered email, and the rules that keep event data out of headers.

use serde::Serialize;

use crate::address::{MAX_RECIPIENTS, Mailbox};

/// A fully rendered email, ready for SES (or an outbox).
///
/// Every header field here is already safe: no CR, LF or other control character can be in
/// `subject` or in any mailbox, whatever the event contained. Only the core renders emails,
/// and [`Email::new`] checks the same rules for one built by hand (tests, tools).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Email {
    pub(crate) from: Mailbox,
    pub(crate) to: Vec<Mailbox>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reply_to: Option<Mailbox>,
    pub(crate) subject: String,
    pub(crate) html: String,
    pub(crate) text: String,
    pub(crate) idempotency_key: String,
    pub(crate) tags: Vec<Tag>,
    /// The SES configuration set to send with: its event destinations get this email's
    /// feedback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) configuration_set: Option<String>,
}

/// Why [`Email::new`] refused its parts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// No recipient, or more than SES takes.
    #[error("an email has 1 to {MAX_RECIPIENTS} recipients, not {0}")]
    Recipients(usize),
    /// The key is empty or not made of letters, digits and `-` (it goes into headers).
    #[error("the idempotency key {0:?} must be letters, digits and '-'")]
    IdempotencyKey(String),
}

impl Email {
    /// An email from its parts. The subject is made header-safe as a rendered one is
    /// ([`subject_line`]); recipients are de-duplicated.
    pub fn new(
        from: Mailbox,
        to: Vec<Mailbox>,
        subject: &str,
        html: impl Into<String>,
        text: impl Into<String>,
        idempotency_key: &str,
    ) -> Result<Self, EmailError> {
        let mut seen = std::collections::BTreeSet::new();
        let to: Vec<Mailbox> = to
            .into_iter()
            .filter(|mailbox| seen.insert(mailbox.dedupe_key()))
            .collect();
        if to.is_empty() || to.len() > MAX_RECIPIENTS {
            return Err(EmailError::Recipients(to.len()));
        }
        if idempotency_key.is_empty()
            || !idempotency_key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(EmailError::IdempotencyKey(idempotency_key.to_owned()));
        }
        Ok(Self {
            from,
            to,
            reply_to: None,
            subject: subject_line(subject),
            html: html.into(),
            text: text.into(),
            idempotency_key: idempotency_key.to_owned(),
            tags: Vec::new(),
            configuration_set: None,
        })
    }

    /// The same email with a reply-to mailbox.
    #[must_use]
    pub fn with_reply_to(mut self, reply_to: Mailbox) -> Self {
        self.reply_to = Some(reply_to);
        self
    }

    /// The same email with these SES tags.
    #[must_use]
    pub fn with_tags(mut self, tags: Vec<Tag>) -> Self {
        self.tags = tags;
        self
    }

    /// Moves the HTML and text bodies out, leaving them empty: for a host that ships the bodies
    /// apart from the rest of the email (the wasm package passes them beside its JSON, so they
    /// are never escaped into it).
    pub fn take_bodies(&mut self) -> (String, String) {
        (
            std::mem::take(&mut self.html),
            std::mem::take(&mut self.text),
        )
    }

    /// The sender.
    #[must_use]
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// 1 to 50 recipients, de-duplicated.
    #[must_use]
    pub fn to(&self) -> &[Mailbox] {
        &self.to
    }

    /// Where replies go, if not to the sender.
    #[must_use]
    pub fn reply_to(&self) -> Option<&Mailbox> {
        self.reply_to.as_ref()
    }

    /// One line of UTF-8 text; the MIME layer encodes it (RFC 2047) when it is not ASCII.
    #[must_use]
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The HTML body.
    #[must_use]
    pub fn html(&self) -> &str {
        &self.html
    }

    /// The plain-text body: the route's text template, or derived from the HTML.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Stable across redeliveries of the same event for the same route; see
    /// [`crate::idempotency`].
    #[must_use]
    pub fn idempotency_key(&self) -> &str {
        &self.idempotency_key
    }

    /// SES message tags (names and values limited to SES's character set).
    #[must_use]
    pub fn tags(&self) -> &[Tag] {
        &self.tags
    }

    /// The SES configuration set to send with ([`crate::Config::configuration_set`]).
    #[must_use]
    pub fn configuration_set(&self) -> Option<&str> {
        self.configuration_set.as_deref()
    }
}

/// An SES message tag; [`Tag::new`] keeps both parts to what SES accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tag {
    name: String,
    value: String,
}

/// The tag that keeps the real recipients of an email sent to the sandbox recipient.
pub(crate) const SANDBOX_ORIGINAL_TO_TAG: &str = "original_to";

impl Tag {
    /// Letters, digits, `_` and `-`, at most 256 characters.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Letters, digits, `_`, `-`, `.` and `@`, at most 256 characters.
    #[must_use]
    pub fn value(&self) -> &str {
        &self.value
    }

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

/// Whether `c` is an invisible formatting character that can disguise a header: the bidi
/// embeddings, overrides and isolates (which make `moc.knab` read as `bank.com`), the marks, and
/// the zero-width characters that split words to slip past filters.
fn is_disguise(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{061C}'
            | '\u{180E}' | '\u{FEFF}'
    )
}

/// Emoji, whose zero-width joiner (U+200D) makes one picture of several (👩‍💻): kept between two
/// of them, dropped anywhere else.
fn is_pictograph(c: char) -> bool {
    matches!(c, '\u{1F000}'..='\u{1FAFF}' | '\u{2600}'..='\u{27BF}')
}

/// Makes text safe for a header: every control character (CR, LF, tab, DEL, C1, and the Unicode
/// line and paragraph separators) becomes a space, runs of whitespace collapse to one space, the
/// ends are trimmed, and invisible bidi and zero-width characters are dropped (a zero-width
/// joiner between two emoji stays).
#[must_use]
pub fn header_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{200D}'
            && out.chars().next_back().is_some_and(is_pictograph)
            && chars.peek().copied().is_some_and(is_pictograph)
        {
            out.push(c);
        } else if is_disguise(c) {
            continue;
        } else if c.is_control() || c.is_whitespace() || c == '\u{2028}' || c == '\u{2029}' {
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
    cut_to(header_text(rendered), MAX_SUBJECT_CHARS)
}

/// Longest display name kept, in characters; longer ones are cut with an ellipsis, so a name
/// cannot push the address out of sight in a mail client's sender line.
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;

/// A display name: header-safe, at most [`MAX_DISPLAY_NAME_CHARS`] characters, and holding no
/// `=?`, the start of an RFC 2047 encoded word, which clients would decode into text the name
/// never showed (the name is broken to `= ?` there; an address is no place for such text).
#[must_use]
pub fn display_name(name: &str) -> String {
    cut_to(
        header_text(name).replace("=?", "= ?"),
        MAX_DISPLAY_NAME_CHARS,
    )
}

/// `text`, cut to `max` characters with an ellipsis when longer.
fn cut_to(mut text: String, max: usize) -> String {
    if let Some((cut, _)) = text.char_indices().nth(max) {
        text.truncate(cut);
        let kept = text.trim_end().len();
        text.truncate(kept);
        text.push('…');
    }
    text
}

/// A header value as RFC 2047 encoded words, folded for a header whose name and colon take
/// `prefix` characters of the first line: for text that must not reach a reader as it is (a
/// subject holding a literal `=?...?=`, which clients would otherwise decode).
#[must_use]
pub fn encoded_words(text: &str, prefix: usize) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    {
        let mut writer =
            email_encoding::headers::writer::EmailWriter::new(&mut out, prefix, 0, false);
        // Writing to a String cannot fail.
        let _ = email_encoding::headers::rfc2047::encode(text, &mut writer);
    }
    out
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
    fn invisible_bidi_and_zero_width_characters_never_reach_a_header() {
        assert_eq!(
            header_text("Invoice \u{202E}fdp.exe\u{202C} from b\u{200B}ank"),
            "Invoice fdp.exe from bank"
        );
        assert_eq!(header_text("\u{FEFF}Hi\u{2066}!\u{2069}"), "Hi!");
        // A family emoji keeps its joiners; a joiner between letters goes.
        assert_eq!(header_text("👩\u{200D}💻 a\u{200D}b"), "👩\u{200D}💻 ab");
    }

    #[test]
    fn display_names_are_capped_and_carry_no_encoded_word() {
        assert_eq!(
            display_name("=?utf-8?B?SGFja2Vk?="),
            "= ?utf-8?B?SGFja2Vk?="
        );
        let long = display_name(&"a".repeat(200));
        assert_eq!(long.chars().count(), MAX_DISPLAY_NAME_CHARS + 1);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn encoded_words_fold_within_the_line_limit() {
        let words = encoded_words(&"=?x?= é".repeat(40), "Subject: ".len());
        assert!(words.starts_with("=?utf-8?b?"), "{words}");
        let mut lines = words.split("\r\n");
        assert!(
            lines.next().is_some_and(|first| first.len() + 9 <= 78),
            "{words}"
        );
        assert!(
            lines.all(|line| line.starts_with(' ') && line.len() <= 78),
            "{words}"
        );
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
        assert_eq!(tag.name(), "event_type");
        assert_eq!(tag.value(), "orders_paid__");
        assert_eq!(Tag::new("", "").value(), "_");
    }

    #[test]
    fn emails_built_by_hand_keep_the_rules_of_rendered_ones() {
        let from = Mailbox::parse("a@example.com").unwrap();
        let to = Mailbox::parse("b@example.com").unwrap();
        let email = Email::new(
            from.clone(),
            vec![to.clone(), to.clone()],
            "Hi\r\nBcc: x@evil.example",
            "<p>x</p>",
            "x",
            "k-1",
        )
        .unwrap();
        assert_eq!(email.to().len(), 1);
        assert_eq!(email.subject(), "Hi Bcc: x@evil.example");
        assert_eq!(
            Email::new(from.clone(), vec![], "s", "", "", "k"),
            Err(EmailError::Recipients(0))
        );
        assert!(matches!(
            Email::new(from, vec![to], "s", "", "", "k\r\nX: y"),
            Err(EmailError::IdempotencyKey(_))
        ));
    }

    #[test]
    fn text_is_derived_from_html() {
        let text = text_from_html("<h1>Hi &amp; welcome</h1><p>Line<br>two</p>");
        assert!(text.contains("Hi & welcome"), "{text}");
        assert!(text.contains("Line\ntwo"), "{text:?}");
    }
}
