//! The email as MIME, for SES raw content.
//!
//! Why raw content rather than SES "simple" content: the message SES receives is exactly the one
//! built here (multipart/alternative with the text part first, RFC 2047 headers,
//! quoted-printable bodies), so what tests and previews check is what recipients get, and the
//! idempotency key travels in a header that bounce and complaint notifications carry back.
//! Tags and the configuration set work the same with either content type.

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::raw::Raw;
use mailroom_core::{Email, Mailbox};

/// The header that carries the idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "X-Mailroom-Idempotency-Key";

fn address(mailbox: &Mailbox) -> Address<'_> {
    Address::new_address(mailbox.name(), mailbox.address())
}

/// The complete message, CRLF line endings, ready for `RawMessage.Data`.
pub fn raw_message(email: &Email) -> Vec<u8> {
    let domain = email
        .from
        .address()
        .rsplit_once('@')
        .map_or("mailroom.invalid", |(_, d)| d);
    let mut message = MessageBuilder::new()
        .from(address(&email.from))
        .to(Address::new_list(email.to.iter().map(address).collect()))
        .subject(email.subject.as_str())
        // Stable across redeliveries, so a duplicate is recognisable downstream. SES may
        // replace it with its own.
        .message_id(format!("{}@{domain}", email.idempotency_key))
        .header(IDEMPOTENCY_HEADER, Raw::new(email.idempotency_key.as_str()))
        .text_body(email.text.as_str())
        .html_body(email.html.as_str());
    if let Some(reply_to) = &email.reply_to {
        message = message.reply_to(address(reply_to));
    }
    let mut bytes = Vec::with_capacity(email.html.len() + email.text.len() + 1024);
    message.serialize(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailroom_core::Tag;

    fn email() -> Email {
        Email {
            from: Mailbox::parse("Académie <courses@example.com>").unwrap(),
            to: vec![
                Mailbox::parse("Ana Núñez <ana@example.org>").unwrap(),
                Mailbox::parse("b@example.org").unwrap(),
            ],
            reply_to: Some(Mailbox::parse("help@example.com").unwrap()),
            subject: "Bienvenue, Ana — cours n°1".into(),
            html: "<p>Héllo</p>".into(),
            text: "Héllo".into(),
            idempotency_key: "k123".into(),
            tags: vec![Tag::new("route", "welcome")],
        }
    }

    #[test]
    fn headers_are_encoded_and_both_parts_present() {
        let raw = String::from_utf8(raw_message(&email())).unwrap();
        let (headers, body) = raw.split_once("\r\n\r\n").unwrap();
        assert!(headers.is_ascii(), "{headers}");
        assert!(headers.contains("Subject: =?utf-8?"), "{headers}");
        assert!(
            headers.contains("<ana@example.org>") && headers.contains("<b@example.org>"),
            "{headers}"
        );
        assert!(
            headers.contains("Reply-To: <help@example.com>"),
            "{headers}"
        );
        assert!(
            headers.contains("Message-ID: <k123@example.com>"),
            "{headers}"
        );
        assert!(
            headers.contains("X-Mailroom-Idempotency-Key: k123"),
            "{headers}"
        );
        assert!(headers.contains("multipart/alternative"), "{headers}");
        let text_at = body.find("text/plain").unwrap();
        let html_at = body.find("text/html").unwrap();
        assert!(text_at < html_at, "the text part comes first");
    }

    #[test]
    fn long_lines_are_wrapped_within_the_rfc_5322_limit() {
        let mut email = email();
        email.html = format!("<p>{}</p>", "é".repeat(3000));
        email.text = "x".repeat(3000);
        let raw = String::from_utf8(raw_message(&email)).unwrap();
        assert!(raw.split("\r\n").all(|line| line.len() <= 998));
        assert!(
            !raw.replace("\r\n", "").contains('\n'),
            "every line ends in CRLF"
        );
    }
}
