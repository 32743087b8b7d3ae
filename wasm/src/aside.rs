//! Reports for JavaScript with the sent emails' bodies aside.
//!
//! Most of a report's JSON is its emails' HTML and text. Escaping them into JSON here and
//! unescaping them in `JSON.parse` there is work that buys nothing: the bodies go after the JSON
//! as they are, and `js/api.js` (`reportFrom`) puts them back as slices of the one string the
//! module returned. That is about a tenth of the per-record time of a Node service (BENCHMARKS.md).
//!
//! The format: the report's JSON with every sent email's `html` and `text` empty, a NUL, a JSON
//! list of the bodies' lengths in UTF-16 code units (JavaScript's string indices), a NUL, then
//! the bodies (html, text of each sent record in report order). The JSON parts hold no NUL:
//! serde_json escapes control characters.

use std::sync::Arc;

use mailroom_core::{BatchReport, Disposition};

use crate::error::{AdapterError, to_json};

/// `report` in the format above.
pub fn report_with_bodies_aside(mut report: BatchReport) -> Result<String, AdapterError> {
    let mut bodies = Vec::new();
    for record in &mut report.records {
        if let Disposition::Sent { email, .. } = &mut record.disposition {
            // The report holds the only reference once its batch is finished: no copy.
            let email = Arc::make_mut(email);
            bodies.push(std::mem::take(&mut email.html));
            bodies.push(std::mem::take(&mut email.text));
        }
    }
    let lengths: Vec<usize> = bodies
        .iter()
        .map(|body| body.encode_utf16().count())
        .collect();
    let mut out = to_json(&report)?;
    out.push('\0');
    out.push_str(&to_json(&lengths)?);
    out.push('\0');
    out.reserve(bodies.iter().map(String::len).sum());
    for body in &bodies {
        out.push_str(body);
    }
    Ok(out)
}
