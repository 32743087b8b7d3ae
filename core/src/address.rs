//! Email addresses as a mail system sees them: a mailbox with an optional display name.
//!
//! Syntax is checked by the `email_address` crate (RFC 5322 and RFC 6531, with display names).
//! On top of that the core enforces what SES can deliver: an ASCII local part, a domain with a
//! dot in it (IDN domains are converted to punycode), no control characters anywhere, and the
//! SMTP length limits. A [`Mailbox`] that exists is safe to put in a header.

use std::fmt;
use std::str::FromStr;

use email_address::{EmailAddress, Options};
use serde::{Serialize, Serializer};

/// Most recipients SES accepts on one message.
pub const MAX_RECIPIENTS: usize = 50;

/// A validated address with an optional display name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    name: Option<String>,
    address: String,
}

/// Why a text is not a usable mailbox.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a deliverable address: {reason}")]
pub struct AddressError {
    /// The text that was offered (control characters shown escaped).
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Mailbox {
    /// Parses `addr@example.com` or `Display Name <addr@example.com>`.
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        let fail = |reason: &str| AddressError {
            text: text.chars().take(120).collect(),
            reason: reason.to_owned(),
        };
        // The Unicode line and paragraph separators end a line in some mail clients too.
        if text
            .chars()
            .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
        {
            return Err(fail("it contains a control character or a line separator"));
        }
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(fail("it is empty"));
        }
        let options = Options::default()
            .with_required_tld()
            .without_domain_literal();
        let parsed = EmailAddress::parse_with_options(trimmed, options)
            .map_err(|error| fail(&error.to_string()))?;
        let local = parsed.local_part();
        // SES takes recipients from the To header; a quoted local part may hold `,`, `>` or
        // spaces that split or end an address there. Real mailboxes do not need them.
        if local.starts_with('"') {
            return Err(fail(
                "quoted local parts (\"a b\"@example.com) are not accepted",
            ));
        }
        if !local.is_ascii() {
            return Err(fail(
                "the part before @ must be ASCII (SES does not support SMTPUTF8)",
            ));
        }
        let domain = ascii_domain(parsed.domain()).ok_or_else(|| fail("the domain is invalid"))?;
        let address = format!("{local}@{domain}");
        if address.len() > 254 {
            return Err(fail("it is longer than 254 characters"));
        }
        let name = crate::email::display_name(&unquote_display_name(parsed.display_part()));
        Ok(Self {
            name: (!name.is_empty()).then_some(name),
            address,
        })
    }

    /// A mailbox from an address literal the code itself wrote (no display name, not checked).
    pub(crate) fn trusted(address: &str) -> Self {
        Self {
            name: None,
            address: address.to_owned(),
        }
    }

    /// The bare address, ASCII, IDN domains in punycode: `ana@xn--caf-dma.example`.
    #[must_use]
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The display name, if any, as the person would read it.
    #[must_use]
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The same mailbox with another display name, made safe as every display name is
    /// ([`crate::email::display_name`]).
    #[must_use]
    pub fn with_name(mut self, name: &str) -> Self {
        let cleaned = crate::email::display_name(name);
        self.name = (!cleaned.is_empty()).then_some(cleaned);
        self
    }

    /// The header form: ASCII only, the display name quoted or RFC 2047-encoded as needed.
    /// This is what SES's address fields and MIME headers take.
    #[must_use]
    pub fn to_header_value(&self) -> String {
        let Some(name) = &self.name else {
            return self.address.clone();
        };
        let mut encoded = String::new();
        {
            let mut writer =
                email_encoding::headers::writer::EmailWriter::new(&mut encoded, 0, 0, false);
            if email_encoding::headers::quoted_string::encode(name, &mut writer).is_err() {
                return self.address.clone();
            }
        }
        // The encoder folds long names onto continuation lines; address fields are single
        // strings, and whitespace between encoded words is insignificant, so unfold.
        let encoded = encoded.replace("\r\n", "");
        format!("{encoded} <{}>", self.address)
    }

    /// The address in lower case, for de-duplication.
    pub(crate) fn dedupe_key(&self) -> String {
        self.address.to_ascii_lowercase()
    }
}

impl FromStr for Mailbox {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

/// The readable form, `Ana Núñez <ana@example.com>`, for logs, JSON and previews.
impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name} <{}>", self.address),
            None => f.write_str(&self.address),
        }
    }
}

impl Serialize for Mailbox {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Converts each non-ASCII label of a domain to punycode (`xn--...`), lower-casing it first.
///
/// Full UTS 46 mapping is left out on purpose: its tables would double the wasm build, and
/// lower-casing covers the forms people actually type.
fn ascii_domain(domain: &str) -> Option<String> {
    if domain.is_ascii() {
        return Some(domain.to_ascii_lowercase());
    }
    let labels: Option<Vec<String>> = domain
        .split('.')
        .map(|label| {
            if label.is_ascii() {
                Some(label.to_ascii_lowercase())
            } else {
                let lower = label.to_lowercase();
                idna::punycode::encode_str(&lower).map(|encoded| format!("xn--{encoded}"))
            }
        })
        .collect();
    let joined = labels?.join(".");
    (joined.len() <= 253 && joined.split('.').all(|label| label.len() <= 63)).then_some(joined)
}

/// `"Ana \"the\" Núñez"` → `Ana "the" Núñez`; unquoted names are kept as written.
fn unquote_display_name(display: &str) -> String {
    let display = display.trim();
    let inner = display
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'));
    match inner {
        Some(quoted) => {
            let mut name = String::with_capacity(quoted.len());
            let mut chars = quoted.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(escaped) = chars.next() {
                        name.push(escaped);
                    }
                } else {
                    name.push(c);
                }
            }
            name.trim().to_owned()
        }
        None => display.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_local_parts_and_disguised_names_are_refused_or_cleaned() {
        for text in [
            "\"a,b\"@example.com",
            "\"x> <evil@example.net\"@example.com",
            "\"two words\"@example.com",
        ] {
            assert!(Mailbox::parse(text).is_err(), "{text}");
        }
        let spoof = Mailbox::parse("\"Support \u{202E}moc.knab\u{202C}\" <s@example.com>").unwrap();
        assert_eq!(spoof.name(), Some("Support moc.knab"));
        let encoded = Mailbox::parse("\"=?utf-8?B?QmFuaw==?=\" <s@example.com>").unwrap();
        assert_eq!(encoded.name(), Some("= ?utf-8?B?QmFuaw== ?="));
    }

    #[test]
    fn parses_plain_addresses_and_display_names() {
        let plain = Mailbox::parse("organizer@example.com").unwrap();
        assert_eq!(plain.address(), "organizer@example.com");
        assert_eq!(plain.name(), None);

        let named = Mailbox::parse("Ana Núñez <ana@example.com>").unwrap();
        assert_eq!(named.name(), Some("Ana Núñez"));
        assert_eq!(named.to_string(), "Ana Núñez <ana@example.com>");
        assert_eq!(
            named.to_header_value(),
            "=?utf-8?b?QW5hIE7DusOxZXo=?= <ana@example.com>"
        );

        let quoted = Mailbox::parse(r#""Doe, Jane" <jane@example.com>"#).unwrap();
        assert_eq!(quoted.name(), Some("Doe, Jane"));
        // A comma is a specials character; the encoder picks an encoded word over quoting.
        assert_eq!(
            quoted.to_header_value(),
            "=?utf-8?b?RG9lLCBKYW5l?= <jane@example.com>"
        );
        let simple = Mailbox::parse("Jane Doe <jane@example.com>").unwrap();
        assert_eq!(simple.to_header_value(), r#""Jane Doe" <jane@example.com>"#);
    }

    #[test]
    fn idn_domains_become_punycode() {
        let mailbox = Mailbox::parse("info@Bücher.example").unwrap();
        assert_eq!(mailbox.address(), "info@xn--bcher-kva.example");
    }

    #[test]
    fn rejects_what_a_mail_system_would_not_deliver() {
        for bad in [
            "",
            "   ",
            "not-an-address",
            "a@localhost",
            "a@[127.0.0.1]",
            "josé@example.com",
            "a@example.com\r\nBcc: victim@example.com",
            "Name\n <a@example.com>",
            "Name\u{2029}Bcc <a@example.com>",
            "two@example.com, three@example.com",
        ] {
            assert!(Mailbox::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn long_non_ascii_names_stay_on_one_line() {
        let name = "Ünïcødé ".repeat(20);
        let mailbox = Mailbox::parse("a@example.com").unwrap().with_name(&name);
        let header = mailbox.to_header_value();
        assert!(!header.contains('\r') && !header.contains('\n'), "{header}");
        assert!(header.is_ascii());
    }
}
