//! `mailroom process`: a Lambda SQS event in, the batch decided by the core with its lookups
//! answered from the fixtures, every email written to the outbox (or answered from
//! `--outcomes`), one line per record (or the batch report as JSON) out.
//!
//! A record whose lookups decided it says so on its line (the core's reason and detail name
//! the lookup, table and key); the summary names the fixtures file when any record read one.
//!
//! Large standard-queue events are decided in parts on all cores ([`crate::parts`]); the output
//! is the same as for one batch.

use std::io::Write;
use std::path::Path;

use mailroom_core::Mailroom;

use crate::cli::ProcessArgs;
use crate::error::{CliError, HostError, InputError};
use crate::lookups::Fixtures;
use crate::outbox::Outbox;
use crate::parts::{self, Outcomes, Sender};
use crate::report;
use crate::setup;

/// Runs the command, writing the report to `out` and warnings to `err`.
pub fn run(args: &ProcessArgs, out: &mut impl Write, err: &mut impl Write) -> Result<(), CliError> {
    let now = setup::clock(args.config.now.as_deref())?;
    let templates_dir = setup::templates_dir(args.config.templates.as_deref());
    let resolved = setup::require_config(args.config.routes.as_deref(), &templates_dir, err)?;
    let templates = setup::load_templates(&templates_dir)?;
    // Read before anything is sent: an unusable fixtures file stops the command, not a record.
    let lookups = Fixtures::load(args.config.lookups.as_deref(), &templates_dir)?;
    let event = setup::read_event(&args.event)?;
    // The one thing that fails a batch as a whole; checked before the batch is split.
    event.validate().map_err(|source| InputError::Event {
        path: args.event.clone(),
        source,
    })?;
    let outcomes = match &args.outcomes {
        Some(path) => read_outcomes(path, &event)?,
        None => Outcomes::new(),
    };
    let outbox = if args.no_outbox {
        Outbox::Discard
    } else {
        Outbox::folder(&args.outbox)?
    };

    let mailroom =
        Mailroom::new(resolved.config, &templates).map_err(|source| InputError::Config {
            origin: resolved.origin,
            source,
        })?;
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    );
    let sender = Sender {
        lookups: &lookups,
        outbox: &outbox,
        outcomes: &outcomes,
    };
    let processed = parts::run_all(
        &mailroom,
        parts::split(event.records, jobs),
        now,
        args.seed,
        sender,
    );
    let report = &processed.report;

    let written = if args.json {
        serde_json::to_writer(&mut *out, report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        let files = outbox.dir().is_some();
        // Where lookups came from, when any record read one.
        let source = processed.asked_lookups.then(|| {
            lookups.file().map_or_else(
                || format!("none (no {})", setup::LOOKUPS_FILE),
                |file| file.display().to_string(),
            )
        });
        report
            .records
            .iter()
            .try_for_each(|record| report::write_line(out, record, files))
            .and_then(|()| {
                report::write_summary(out, report.counts(), source.as_deref(), outbox.dir())
            })
    };
    written
        .and_then(|()| out.flush())
        .map_err(HostError::Output)?;
    Ok(())
}

/// `--outcomes FILE`: `{messageId: SendOutcome}` for emails, `{"<messageId>/sms": ...}` for
/// texts ([`mailroom_core::channel::answer_key`]). Every id must be one of the event's, so a
/// typo cannot silently send to the outbox instead.
fn read_outcomes(path: &Path, event: &mailroom_core::SqsEvent) -> Result<Outcomes, InputError> {
    let text = setup::read_text(path)?;
    let outcomes: Outcomes = serde_json::from_str(&text).map_err(|error| InputError::Outcomes {
        path: path.to_path_buf(),
        message: format!(
            "expected {{\"<messageId>\": {{\"outcome\": \"accepted\", \"messageId\": \"...\"}}, ...}} \
             (line {}, column {}): {error}",
            error.line(),
            error.column()
        ),
    })?;
    let ids: std::collections::HashSet<&str> = event
        .records
        .iter()
        .map(|record| record.message_id.as_str())
        .collect();
    if let Some(unknown) = outcomes
        .keys()
        .find(|key| !ids.contains(mailroom_core::channel::parse_answer_key(key).0))
    {
        return Err(InputError::Outcomes {
            path: path.to_path_buf(),
            message: format!("{unknown:?} is not the messageId of a record of the event"),
        });
    }
    Ok(outcomes)
}
