//! The human-readable report of `process`: one line per record, then a summary.
//!
//! ```text
//! send    4387e686…  orders/paid → ana.nunez@example.org  "Order #1071 confirmed"
//! retry   8d0b1c2e…  template_error, again in 24s: orders/confirmation.html:3:7: ...
//! reject  9f1e2d3c…  malformed_body: the body is not JSON: ...
//! reject  8d2affd6…  lookup_missing: lookup "student" found nothing in enrollments for PK=...
//! 12 records: 9 sent, 0 retried, 3 rejected · lookups: examples/templates/lookups.json · outbox: outbox/
//! ```

use std::io::{self, Write};
use std::path::Path;

use mailroom_core::{Counts, Disposition, RecordReport};

/// How many characters of a message id a line shows: enough to tell records apart.
const SHORT_ID: usize = 8;

/// Writes the summary line; `lookups` names where lookups came from, when records read any.
pub fn write_summary(
    out: &mut impl Write,
    counts: Counts,
    lookups: Option<&str>,
    outbox: Option<&Path>,
) -> io::Result<()> {
    let total = counts.records;
    let noun = if total == 1 { "record" } else { "records" };
    write!(
        out,
        "{total} {noun}: {} sent, {} retried, {} rejected",
        counts.sent, counts.retried, counts.rejected
    )?;
    if counts.suppressed > 0 {
        write!(out, ", {} suppressed", counts.suppressed)?;
    }
    if let Some(source) = lookups {
        write!(out, " · lookups: {source}")?;
    }
    match outbox {
        Some(dir) => writeln!(
            out,
            " · outbox: {}/",
            dir.display().to_string().trim_end_matches('/')
        ),
        None => writeln!(out, " · outbox: off"),
    }
}

/// Writes the line of one record.
pub fn write_line(out: &mut impl Write, record: &RecordReport, show_file: bool) -> io::Result<()> {
    let id = short_id(&record.message_id);
    match &record.disposition {
        Disposition::Sent {
            email,
            provider_message_id,
            duplicate,
            sms,
        } => {
            let what = record
                .event_type
                .as_deref()
                .or(record.route.as_deref())
                .unwrap_or("event");
            let to = email
                .to()
                .iter()
                .map(|m| m.address())
                .collect::<Vec<_>>()
                .join(", ");
            write!(out, "send    {id}  {what} → {to}  {:?}", email.subject())?;
            if *duplicate {
                write!(out, "  (already sent)")?;
            } else if let Some(file) = provider_message_id.as_ref().filter(|_| show_file) {
                write!(out, "  {file}")?;
            }
            if let Some(delivery) = sms {
                let text = &delivery.sms;
                let s = if text.segments() == 1 { "" } else { "s" };
                write!(
                    out,
                    "  + sms → {} ({}, {} segment{s})",
                    text.to(),
                    text.encoding(),
                    text.segments()
                )?;
                if delivery.duplicate {
                    write!(out, " (already sent)")?;
                } else if let Some(file) =
                    delivery.provider_message_id.as_ref().filter(|_| show_file)
                {
                    write!(out, "  {file}")?;
                }
            }
            writeln!(out)
        }
        Disposition::Retry {
            reason,
            detail,
            retry_after_seconds,
        } => writeln!(
            out,
            "retry   {id}  {reason}, again in {retry_after_seconds}s: {}",
            one_line(detail)
        ),
        Disposition::Reject { reason, detail, .. } => {
            writeln!(out, "reject  {id}  {reason}: {}", one_line(detail))
        }
        Disposition::Suppressed { recipients } => writeln!(
            out,
            "skip    {id}  suppressed (bounced or complained): {}",
            recipients.join(", ")
        ),
    }
}

fn short_id(message_id: &str) -> String {
    if message_id.chars().count() <= SHORT_ID + 1 {
        return format!("{message_id:<width$}", width = SHORT_ID + 1);
    }
    let mut short: String = message_id.chars().take(SHORT_ID).collect();
    short.push('…');
    short
}

/// Details can quote event data; keep each record on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_shortened_and_padded_to_one_width() {
        assert_eq!(short_id("4387e686-1234-5678"), "4387e686…");
        assert_eq!(short_id("m-1").chars().count(), SHORT_ID + 1);
    }

    #[test]
    fn details_stay_on_one_line() {
        assert_eq!(one_line("a\nb\r\n  c"), "a b c");
    }
}
