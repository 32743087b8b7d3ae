//! `mailroom process`: a Lambda SQS event in, the batch decided by the core, every email
//! written to the outbox, one line per record (or the batch report as JSON) out.
//!
//! This is the Lambda's loop with the outbox in place of SES: ask the batch for every send it
//! allows now, deliver them (in parallel), report each outcome, and repeat until nothing is
//! left (FIFO groups release their next email only after the previous one is done).

use std::io::Write;

use mailroom_core::{Mailroom, SendRequest};

use crate::cli::ProcessArgs;
use crate::error::{CliError, HostError, InputError};
use crate::outbox::Outbox;
use crate::report;
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
    let outbox = if args.no_outbox {
        Outbox::Discard
    } else {
        Outbox::folder(&args.outbox)?
    };

    let mailroom = Mailroom::new(resolved.config, &templates);
    let mut batch = mailroom
        .start_batch(&event, now, args.seed)
        .map_err(|source| InputError::Event {
            path: args.event.clone(),
            source,
        })?;
    let mut sends: Vec<SendRequest> = Vec::new();
    loop {
        while let Some(send) = batch.next_send() {
            sends.push(send);
        }
        if sends.is_empty() {
            break;
        }
        let outcomes = outbox.deliver(&sends, now);
        for (send, outcome) in sends.drain(..).zip(outcomes) {
            batch.complete_send(send.id, outcome);
        }
    }
    let report = batch.finish();

    if args.json {
        serde_json::to_writer(&mut *out, &report)
            .map_err(|error| HostError::Output(error.into()))?;
        writeln!(out).map_err(HostError::Output)?;
    } else {
        report::write_lines(out, &report, outbox.dir()).map_err(HostError::Output)?;
    }
    out.flush().map_err(HostError::Output)?;
    Ok(())
}
