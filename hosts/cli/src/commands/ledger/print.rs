//! Entries as text for a person: one fact per line, times in RFC 3339 (UTC), events oldest
//! first as the ledger keeps them. `--json` prints the core's entries instead.

use std::io::{self, Write};

use mailroom_core::Timestamp;
use mailroom_core::feedback::{
    AddressEntry, EmailEntry, HistoryEntry, Suppression, SuppressionReason,
};

/// An email's entry, under a heading line naming its key and version.
pub fn email(out: &mut impl Write, key: &str, version: u64, entry: &EmailEntry) -> io::Result<()> {
    writeln!(out, "{key} (version {version})")?;
    let status = entry.status.map_or("unknown", |status| status.name());
    writeln!(out, "  status:      {status}")?;
    if let Some(route) = &entry.route {
        let event = entry.event_type.as_deref().unwrap_or("none");
        writeln!(out, "  route:       {route} (event type {event})")?;
    }
    if let Some(id) = &entry.ses_message_id {
        let sent = entry
            .sent_at
            .map(|at| format!(", accepted by SES {}", at.to_rfc3339()))
            .unwrap_or_default();
        writeln!(out, "  SES id:      {id}{sent}")?;
    }
    for (address, status) in &entry.recipients {
        writeln!(out, "  recipient:   {address} {}", status.name())?;
    }
    if let Some(bounce) = &entry.bounce {
        let details: Vec<&str> = [&bounce.sub_type, &bounce.status, &bounce.diagnostic]
            .into_iter()
            .filter_map(Option::as_deref)
            .collect();
        writeln!(
            out,
            "  bounce:      {:?} at {}: {}",
            bounce.bounce_type,
            bounce.at.to_rfc3339(),
            details.join(", ")
        )?;
    }
    history(out, entry.history.entries(), false)
}

/// An address's entry: its suppression (or that there is none), its lifts, its events.
pub fn address(
    out: &mut impl Write,
    address: &str,
    key: &str,
    version: u64,
    entry: &AddressEntry,
    now: Timestamp,
) -> io::Result<()> {
    writeln!(out, "{address} ({key}, version {version})")?;
    let state = match &entry.suppression {
        None => "not suppressed".to_owned(),
        Some(suppression) if !entry.is_suppressed(now) => {
            format!(
                "not suppressed any more ({})",
                suppression_text(suppression)
            )
        }
        Some(suppression) => format!("SUPPRESSED: {}", suppression_text(suppression)),
    };
    writeln!(out, "  suppression: {state}")?;
    for lift in &entry.lifts {
        writeln!(
            out,
            "  lifted:      {} ({}), was {}",
            lift.at.to_rfc3339(),
            lift.reason,
            suppression_text(&lift.lifted)
        )?;
    }
    history(out, entry.history.entries(), true)
}

/// Why and until when.
pub fn suppression_text(suppression: &Suppression) -> String {
    let why = match suppression.reason {
        SuppressionReason::PermanentBounce => "permanent bounce".to_owned(),
        SuppressionReason::Complaint => "complaint".to_owned(),
        SuppressionReason::TransientBounces { count } => format!("{count} transient bounces"),
    };
    match suppression.expires_at {
        None => format!("{why}, for good"),
        Some(until) => format!("{why}, until {}", until.to_rfc3339()),
    }
}

fn history(out: &mut impl Write, entries: &[HistoryEntry], with_ids: bool) -> io::Result<()> {
    if entries.is_empty() {
        return writeln!(out, "  events:      none recorded");
    }
    writeln!(out, "  events:")?;
    for entry in entries {
        if with_ids {
            writeln!(
                out,
                "    {}  {:<16} {}",
                entry.at.to_rfc3339(),
                entry.event.name(),
                entry.ses_message_id
            )?;
        } else {
            writeln!(out, "    {}  {}", entry.at.to_rfc3339(), entry.event.name())?;
        }
    }
    Ok(())
}
