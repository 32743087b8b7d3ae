//! `mailroom process`: a Lambda SQS event in, the batch decided by the core, every email
//! written to the outbox, one line per record (or the batch report as JSON) out.
//!
//! Large standard-queue events are decided in parts on all cores ([`crate::parts`]); the output
//! is the same as for one batch.

use std::io::Write;

use mailroom_core::{EventError, Mailroom};

use crate::cli::ProcessArgs;
use crate::error::{CliError, HostError, InputError};
use crate::outbox::Outbox;
use crate::parts::{self, Format};
use crate::report::{self, Counts};
use crate::setup;

/// Runs the command, writing the report to `out`.
pub fn run(args: &ProcessArgs, out: &mut impl Write) -> Result<(), CliError> {
    let now = setup::clock(args.config.now.as_deref())?;
    let templates_dir = setup::templates_dir(args.config.templates.as_deref());
    let resolved = setup::resolve_config(
        args.config.routes.as_deref(),
        &templates_dir,
        args.config.templates.is_none(),
    )?
    .ok_or_else(|| InputError::NoConfig {
        templates: templates_dir.clone(),
    })?;
    let templates = setup::load_templates(&templates_dir)?;
    let event = setup::read_event(&args.event)?;
    // The one thing that fails a batch as a whole; checked before the batch is split.
    if let Some(index) = event.records.iter().position(|r| r.message_id.is_empty()) {
        let source = EventError::EmptyMessageId { index };
        return Err(InputError::Event {
            path: args.event.clone(),
            source,
        }
        .into());
    }
    let outbox = if args.no_outbox {
        Outbox::Discard
    } else {
        Outbox::folder(&args.outbox)?
    };

    let mailroom = Mailroom::new(resolved.config, &templates);
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    );
    let format = if args.json {
        Format::Json
    } else {
        Format::Lines {
            files: outbox.dir().is_some(),
        }
    };
    let outputs = parts::run_all(
        &mailroom,
        parts::split(event.records, jobs),
        now,
        args.seed,
        &outbox,
        format,
    );

    let written = if args.json {
        parts::write_json(out, &outputs)
    } else {
        outputs
            .iter()
            .try_for_each(|part| out.write_all(&part.rendered))
            .and_then(|()| {
                let counts = outputs
                    .iter()
                    .fold(Counts::default(), |sum, part| sum.plus(part.counts));
                report::write_summary(out, counts, outbox.dir())
            })
    };
    written
        .and_then(|()| out.flush())
        .map_err(HostError::Output)?;
    Ok(())
}
