//! Bodies beside the JSON, both ways across the JavaScript boundary.
//!
//! Most of an event's JSON is its records' bodies (JSON text escaped into a JSON string), and
//! most of a report's is its emails' HTML and text. Escaping them on one side and unescaping
//! them on the other buys nothing, so they cross as they are, beside the JSON of the rest. Each
//! way is about a tenth of a Node service's time per record (BENCHMARKS.md).
//!
//! Events ([`event_with_bodies`]): `js/api.js` (`eventParts`) sends the event's JSON with every
//! record's `body` empty, the bodies as UTF-8 bytes one after another, and their byte lengths.
//!
//! Reports ([`report_with_bodies_aside`]) and sends (`HostBatch::next_send_with_bodies_aside`):
//! the JSON with every sent email's `html` and
//! `text` empty, a NUL, a JSON list of the bodies' lengths in UTF-16 code units (JavaScript's
//! string indices), a NUL, then the bodies (html, text of each email in order).
//! The JSON parts hold no NUL: serde_json escapes control characters. `js/api.js`
//! (`reportFrom`) puts the bodies back as slices of the one string the module returned.

use std::sync::Arc;

use mailroom_core::{BatchReport, Disposition, SqsEvent};
use serde::Serialize;

use crate::error::{AdapterError, to_json};

/// The event of `skeleton` (its JSON, records' bodies empty) with each record's body put back
/// from `bodies`, cut at the UTF-8 byte `lengths`.
pub fn event_with_bodies(
    skeleton: &str,
    bodies: &str,
    lengths: &[u32],
) -> Result<SqsEvent, AdapterError> {
    let mut event = SqsEvent::from_json(skeleton)?;
    let mismatch = |message: String| AdapterError::Input {
        argument: "event",
        message,
    };
    if lengths.len() != event.records.len() {
        return Err(mismatch(format!(
            "{} bodies for {} records",
            lengths.len(),
            event.records.len()
        )));
    }
    let mut at = 0;
    for (record, &length) in event.records.iter_mut().zip(lengths) {
        let end = at + length as usize;
        let body = bodies
            .get(at..end)
            .ok_or_else(|| mismatch(format!("no body at bytes {at}..{end}")))?;
        record.body = body.to_owned();
        at = end;
    }
    if at != bodies.len() {
        return Err(mismatch(format!(
            "{} bytes of bodies left over",
            bodies.len() - at
        )));
    }
    Ok(event)
}

/// `report` in the format above.
pub fn report_with_bodies_aside(mut report: BatchReport) -> Result<String, AdapterError> {
    let mut bodies = Vec::new();
    for record in &mut report.records {
        if let Disposition::Sent { email, .. } = &mut record.disposition {
            // The report holds the only reference once its batch is finished: no copy.
            let email = Arc::make_mut(email);
            let (html, text) = email.take_bodies();
            bodies.push(html);
            bodies.push(text);
        }
    }
    json_with_bodies(&report, &bodies)
}

/// `value`'s JSON (its bodies already taken out), then `bodies` in the format above.
pub fn json_with_bodies(value: &impl Serialize, bodies: &[String]) -> Result<String, AdapterError> {
    let lengths: Vec<usize> = bodies.iter().map(|body| utf16_len(body)).collect();
    let mut out = to_json(value)?;
    out.push('\0');
    out.push_str(&to_json(&lengths)?);
    out.push('\0');
    out.reserve(bodies.iter().map(String::len).sum());
    for body in bodies {
        out.push_str(body);
    }
    Ok(out)
}

/// The length of `text` in UTF-16 code units, counted on its UTF-8 bytes without decoding:
/// every byte but a continuation byte starts a character, and a 4-byte one (lead byte 0xF0 or
/// above) takes two units. Branch-free, so it is a few times faster than
/// `encode_utf16().count()` on a page of HTML.
fn utf16_len(text: &str) -> usize {
    text.bytes()
        .map(|byte| usize::from(byte & 0xC0 != 0x80) + usize::from(byte >= 0xF0))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::utf16_len;

    #[test]
    fn utf16_lengths_are_those_javascript_sees() {
        for text in ["", "plain", "Núñez", "a–b €", "emoji 📦 and 𝄞", "\0 nul"] {
            assert_eq!(utf16_len(text), text.encode_utf16().count(), "{text}");
        }
    }
}
