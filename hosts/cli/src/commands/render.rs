//! `mailroom render`: one template, one piece of sample data, the subject, text and HTML out.
//! A template error is shown with its location and source line.
//!
//! When the template's route declares lookups, they are answered from the fixtures
//! (`--lookups`, else `lookups.json` beside the templates) and listed after the HTML with what
//! each found; a read no fixture answers gets a note saying what to add to which file.

use std::io::Write;
use std::path::PathBuf;

use mailroom_core::preview::PreviewLookup;
use mailroom_core::{Config, Mailroom, Preview, PreviewError};

use crate::cli::RenderArgs;
use crate::diagnostic;
use crate::error::{CliError, HostError, InputError};
use crate::lookups::{self, Fixtures, Recorder};
use crate::setup;

/// Runs the command: the rendering to `out`, a template error to `err`.
pub fn run(args: &RenderArgs, out: &mut impl Write, err: &mut impl Write) -> Result<(), CliError> {
    let now = setup::clock(args.config.now.as_deref())?;
    let templates_dir = setup::templates_dir(args.config.templates.as_deref());
    let templates = setup::load_templates(&templates_dir)?;
    if !templates.contains(&args.template) {
        let known: Vec<&str> = templates.iter().map(|(path, _)| path).collect();
        return Err(InputError::Data(format!(
            "template {:?} is not in {}; it has: {}",
            args.template,
            templates_dir.display(),
            known.join(", ")
        ))
        .into());
    }
    let (config, origin) =
        match setup::resolve_config(args.config.routes.as_deref(), &templates_dir, err)? {
            Some(resolved) => (resolved.config, resolved.origin),
            // Nothing configures routes: the template on its own.
            None => (Config::preview(&args.template), "a preview".to_owned()),
        };
    let body = sample_body(&args.data)?;
    let fixtures = Fixtures::load(args.config.lookups.as_deref(), &templates_dir)?;
    let mailroom = Mailroom::new(config, &templates)
        .map_err(|source| InputError::Config { origin, source })?;

    let mut recorder = Recorder::new(&fixtures);
    let rendered = mailroom.preview(
        &args.template,
        args.subject.as_deref(),
        &body,
        now,
        &mut recorder,
    );
    let preview = match rendered {
        Ok(preview) => preview,
        Err(PreviewError::Data(fault)) => return Err(InputError::Data(fault.to_string()).into()),
        Err(PreviewError::Template(fault)) => {
            diagnostic::write_fault(err, &fault, None)
                .and_then(|()| write_lookup_notes(err, &recorder, &fixtures))
                .map_err(HostError::Output)?;
            return Err(CliError::Findings(format!(
                "{} does not render",
                args.template
            )));
        }
    };
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &preview)
            .map_err(|e| HostError::Output(e.into()))?;
        writeln!(out).map_err(HostError::Output)?;
    } else {
        writeln!(
            out,
            "Subject: {}\n\n--- text ---\n{}\n\n--- html ---\n{}",
            preview.subject,
            preview.text.trim_end(),
            preview.html.trim_end()
        )
        .map_err(HostError::Output)?;
        write_lookups(out, &preview.lookups).map_err(HostError::Output)?;
        write_missing(err, &mailroom, &preview)
            .and_then(|()| write_lookup_notes(err, &recorder, &fixtures))
            .map_err(HostError::Output)?;
    }
    out.flush().map_err(HostError::Output)?;
    Ok(())
}

/// The lookups the rendering read, after the HTML: name, status, table and key, then the item
/// (as templates saw it) or why there is none.
fn write_lookups(out: &mut impl Write, asked: &[PreviewLookup]) -> std::io::Result<()> {
    if asked.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n--- lookups ---")?;
    let width = asked.iter().map(|l| l.name.len()).max().unwrap_or(0);
    for lookup in asked {
        let key: Vec<String> = lookup
            .key
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        writeln!(
            out,
            "{:<width$}  {:<9}  {} {}",
            lookup.name,
            lookup.status,
            lookup.table,
            key.join(", ")
        )?;
        if let Some(item) = &lookup.item {
            writeln!(out, "{:width$}  {item}", "")?;
        }
        if let Some(detail) = &lookup.detail {
            writeln!(out, "{:width$}  {detail}", "")?;
        }
    }
    Ok(())
}

/// What the data lacks, on standard error; a `lookup.<name>` the route does not declare is
/// named as such, since no fixture can fill it.
fn write_missing(
    err: &mut impl Write,
    mailroom: &Mailroom,
    preview: &Preview,
) -> std::io::Result<()> {
    if preview.missing.is_empty() {
        return Ok(());
    }
    writeln!(
        err,
        "note: the data has no value for: {}",
        preview.missing.join(", ")
    )?;
    let route = mailroom
        .config()
        .routes()
        .iter()
        .find(|route| preview.route.as_deref() == Some(route.name()));
    if let Some(route) = route {
        for name in route.undeclared_lookups(&preview.missing) {
            writeln!(
                err,
                "note: route {} declares no lookup {name:?} (it declares {}); declare it in \
                 its \"lookups\" in the routes file",
                route.name(),
                lookups::declared(route)
            )?;
        }
    }
    Ok(())
}

/// One note per read no fixture answered, with the entry to add.
fn write_lookup_notes(
    err: &mut impl Write,
    recorder: &Recorder<'_>,
    fixtures: &Fixtures,
) -> std::io::Result<()> {
    for request in recorder.unanswered() {
        writeln!(
            err,
            "note: nothing answers lookup {:?} ({} {}): {}",
            request.lookup,
            request.table,
            request.key_text(),
            fixtures.help_for(request)
        )?;
    }
    Ok(())
}

/// The event body to render with: `--data` is inline JSON or a file holding an event body,
/// an envelope, or a Lambda SQS event (whose first record's body is used).
fn sample_body(data: &str) -> Result<String, InputError> {
    let (text, origin) = if data.trim_start().starts_with('{') {
        (data.to_owned(), PathBuf::from("--data"))
    } else {
        (setup::read_text(data.as_ref())?, PathBuf::from(data))
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|error| InputError::Json {
            path: origin.clone(),
            line: error.line(),
            column: error.column(),
            message: error.to_string(),
        })?;
    let Some(records) = value.get("Records").and_then(serde_json::Value::as_array) else {
        return Ok(text);
    };
    let first = records
        .first()
        .ok_or_else(|| InputError::Data(format!("{} has no records", origin.display())))?;
    first
        .get("body")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            InputError::Data(format!(
                "the first record of {} has no body",
                origin.display()
            ))
        })
}
