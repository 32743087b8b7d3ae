//! `mailroom check`: what a template repository's CI runs. Compiles every template, renders
//! each route against every sample event, prints every problem with its location, and fails
//! when there is one.
//!
//! The configuration is found as every command finds it (`--routes`, else `DIR/routes.json`,
//! resolved with the environment by the core). When nothing configures routes (no routes file,
//! and the core reports the default route's template variable missing), every template is
//! rendered on its own against every sample (a `.txt` sibling with its HTML template).
//!
//! Lookups are answered from the fixtures (`--lookups`, else `DIR/lookups.json`). A sample whose
//! lookup no fixture answers is a problem (`error[lookup]`) with a `help` line giving the entry
//! to add and the file to add it to; so is a route's template reading `lookup.<name>` for a
//! lookup the route does not declare, which is undefined for every event.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use mailroom_core::render::text_sibling;
use mailroom_core::{
    Config, Diagnostic, FaultKind, Mailroom, OnMissing, PreviewError, SqsEvent, SqsRecord,
    TemplateFault, TemplateSet, Timestamp,
};

use crate::cli::CheckArgs;
use crate::diagnostic;
use crate::error::{CliError, HostError, InputError};
use crate::lookups::{Fixtures, Recorder};
use crate::setup;

/// A problem, and what would fix it when the CLI can tell (`= help: ...` lines).
struct Finding {
    diagnostic: Diagnostic,
    help: Vec<String>,
}

impl From<Diagnostic> for Finding {
    fn from(diagnostic: Diagnostic) -> Self {
        Self {
            diagnostic,
            help: Vec::new(),
        }
    }
}

/// Runs the command, writing every problem and a summary to `out`, warnings to `err`.
pub fn run(args: &CheckArgs, out: &mut impl Write, err: &mut impl Write) -> Result<(), CliError> {
    let now = setup::clock(args.now.as_deref())?;
    let templates = setup::load_templates(&args.dir)?;
    let samples = match &args.events {
        Some(dir) => load_samples(dir)?,
        None => Vec::new(),
    };
    let fixtures = Fixtures::load(args.lookups.as_deref(), &args.dir)?;
    let (diagnostics, origin) = match setup::resolve_config(args.routes.as_deref(), &args.dir, err)?
    {
        Some(resolved) => {
            let mailroom = Mailroom::new(resolved.config, &templates).map_err(|source| {
                InputError::Config {
                    origin: resolved.origin.clone(),
                    source,
                }
            })?;
            let routes_file = setup::routes_path(args.routes.as_deref(), &args.dir);
            (
                check_routes(&mailroom, &samples, now, &fixtures, routes_file.as_deref()),
                resolved.origin,
            )
        }
        None => (
            check_each_template(&templates, &samples, now, &fixtures)?
                .into_iter()
                .map(Finding::from)
                .collect(),
            "no routes: each template on its own".to_owned(),
        ),
    };

    let write = |out: &mut dyn Write| -> std::io::Result<()> {
        for found in &diagnostics {
            let mut buffer = Vec::new();
            diagnostic::write_fault(
                &mut buffer,
                &found.diagnostic.fault,
                context(&found.diagnostic).as_deref(),
            )?;
            diagnostic::write_help(&mut buffer, &found.help)?;
            out.write_all(&buffer)?;
        }
        let templates_noun = if templates.len() == 1 {
            "template"
        } else {
            "templates"
        };
        let samples_noun = if samples.len() == 1 {
            "sample"
        } else {
            "samples"
        };
        write!(
            out,
            "checked {} {templates_noun} in {} against {} {samples_noun} ({origin}): ",
            templates.len(),
            args.dir.display(),
            samples.len()
        )?;
        match diagnostics.len() {
            0 => writeln!(out, "ok"),
            1 => writeln!(out, "1 problem"),
            n => writeln!(out, "{n} problems"),
        }
    };
    write(out).map_err(HostError::Output)?;
    out.flush().map_err(HostError::Output)?;
    if diagnostics.is_empty() {
        Ok(())
    } else {
        Err(CliError::Findings(format!(
            "{} problem(s) found",
            diagnostics.len()
        )))
    }
}

fn context(found: &Diagnostic) -> Option<String> {
    match (&found.sample, &found.route) {
        (Some(sample), Some(route)) => Some(format!("sample {sample}, route {route}")),
        (Some(sample), None) => Some(format!("sample {sample}")),
        (None, Some(route)) => Some(format!("route {route}")),
        (None, None) => None,
    }
}

/// With routes: the core's check, one sample at a time so that every lookup problem of a sample
/// gets the fixtures it lacks as help; then the lookups templates read but their route does not
/// declare.
fn check_routes(
    mailroom: &Mailroom,
    samples: &[(String, SqsRecord)],
    now: Timestamp,
    fixtures: &Fixtures,
    routes_file: Option<&Path>,
) -> Vec<Finding> {
    // Compile errors and routes whose template is missing: the same for every sample.
    let file = routes_file.map_or_else(
        || "the routes file".to_owned(),
        |file| file.display().to_string(),
    );
    let findings_of_the_set =
        mailroom
            .check(&[], now, &mut &*fixtures)
            .into_iter()
            .map(|diagnostic| {
                // A template reading a lookup its route does not declare (the core finds these).
                let help = match (&diagnostic.route, diagnostic.fault.kind) {
                    (Some(route), FaultKind::Lookup) => vec![format!(
                        "declare it in the \"lookups\" of route {route} in {file}, or read one the \
                 route declares"
                    )],
                    _ => Vec::new(),
                };
                Finding { diagnostic, help }
            });
    let mut findings: Vec<Finding> = findings_of_the_set.collect();
    for sample in samples {
        let mut recorder = Recorder::new(fixtures);
        let found = mailroom.check(std::slice::from_ref(sample), now, &mut recorder);
        for diagnostic in found.into_iter().filter(|d| d.sample.is_some()) {
            let help = if diagnostic.fault.kind == FaultKind::Lookup {
                lookup_help(mailroom, diagnostic.route.as_deref(), &recorder, fixtures)
            } else {
                Vec::new()
            };
            findings.push(Finding { diagnostic, help });
        }
    }
    findings
}

/// The fixtures a sample's lookup problem lacks: one entry per read nothing answered, except
/// reads of lookups that go on without their item (`onMissing: skip`).
fn lookup_help(
    mailroom: &Mailroom,
    route: Option<&str>,
    recorder: &Recorder<'_>,
    fixtures: &Fixtures,
) -> Vec<String> {
    let declared = mailroom
        .config()
        .routes()
        .iter()
        .find(|r| Some(r.name()) == route)
        .map(|r| r.lookups())
        .unwrap_or_default();
    recorder
        .unanswered()
        .filter(|request| {
            declared
                .iter()
                .find(|lookup| lookup.name() == request.lookup)
                .is_none_or(|lookup| lookup.on_missing() != OnMissing::Skip)
        })
        .map(|request| fixtures.help_for(request))
        .collect()
}

/// Without routes: compile errors once, then every template rendered against every sample.
fn check_each_template(
    templates: &TemplateSet,
    samples: &[(String, SqsRecord)],
    now: Timestamp,
    fixtures: &Fixtures,
) -> Result<Vec<Diagnostic>, InputError> {
    let Some((first, _)) = templates.iter().next() else {
        return Ok(Vec::new());
    };
    let mailroom =
        Mailroom::new(Config::preview(first), templates).map_err(|source| InputError::Config {
            origin: "a preview".to_owned(),
            source,
        })?;
    // A template on its own declares no lookups; the fixtures are never asked.
    let mut diagnostics = mailroom.check(&[], now, &mut &*fixtures);
    let broken: BTreeSet<String> = diagnostics
        .iter()
        .filter_map(|d| d.fault.template.clone())
        .collect();
    // A `.txt` template with an HTML sibling is rendered with it, not on its own.
    let standalone: Vec<&str> = templates
        .iter()
        .map(|(path, _)| path)
        .filter(|path| !(path.ends_with(".txt") && has_html_sibling(templates, path)))
        .collect();
    for (label, record) in samples {
        for template in &standalone {
            if broken.contains(*template) {
                continue;
            }
            let fault =
                match mailroom.preview(template, Some(""), &record.body, now, &mut &*fixtures) {
                    Ok(_) => continue,
                    Err(PreviewError::Template(fault)) if fault.kind == FaultKind::Syntax => {
                        continue;
                    }
                    Err(PreviewError::Template(fault)) => fault,
                    Err(PreviewError::Data(fault)) => {
                        diagnostics.push(Diagnostic {
                            sample: Some(label.clone()),
                            route: None,
                            fault: TemplateFault::new(FaultKind::Sample, fault.to_string()),
                        });
                        break;
                    }
                };
            diagnostics.push(Diagnostic {
                sample: Some(label.clone()),
                route: None,
                fault,
            });
        }
    }
    Ok(diagnostics)
}

fn has_html_sibling(templates: &TemplateSet, text_path: &str) -> bool {
    templates.iter().any(|(path, _)| {
        path != text_path && !path.ends_with(".txt") && text_sibling(path) == text_path
    })
}

/// Every `*.json` in `dir`, sorted: a Lambda SQS event gives one sample per record
/// (`file.json#0`), anything else is one bare event body (`file.json`).
fn load_samples(dir: &Path) -> Result<Vec<(String, SqsRecord)>, InputError> {
    let unreadable = |source| InputError::Unreadable {
        path: dir.to_path_buf(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(unreadable)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.is_file()
                && path
                    .extension()
                    .is_some_and(|ext| ext.eq_ignore_ascii_case("json"))
        })
        .collect();
    files.sort();
    let mut samples = Vec::new();
    for path in files {
        let text = setup::read_text(&path)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|error| InputError::Json {
                path: path.clone(),
                line: error.line(),
                column: error.column(),
                message: error.to_string(),
            })?;
        if value
            .get("Records")
            .is_some_and(serde_json::Value::is_array)
        {
            let event = SqsEvent::from_json(&text).map_err(|source| InputError::Event {
                path: path.clone(),
                source,
            })?;
            for (index, record) in event.records.into_iter().enumerate() {
                samples.push((format!("{name}#{index}"), record));
            }
        } else {
            let record = SqsRecord {
                message_id: name.clone(),
                body: text,
                ..SqsRecord::default()
            };
            samples.push((name, record));
        }
    }
    Ok(samples)
}
