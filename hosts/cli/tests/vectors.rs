//! The cross-host test vectors (`tests/vectors/cases/*.json`) through `mailroom process --json`:
//! for every case, the built binary must print exactly the report the core pinned in
//! `tests/vectors/snapshots/`.
//!
//! A case becomes what a user of the CLI would have: a templates folder holding the case's
//! templates (by the core's rule for which files are templates) and its routes as `routes.json`
//! (found there as every command finds it), the event as a file, the case's variables as the
//! only configuration variables of the environment, an `--outcomes` file answering every
//! record's send as the case answers it, and a `--lookups` file holding the case's lookup
//! fixtures (`{}` when it has none, as the core's runner answers: every read not found).

mod common;

use std::path::Path;

use mailroom_vectors::Case;
use serde_json::{Map, Value};

/// Lays the case out as files in `dir` and returns the arguments of the run.
fn lay_out(case: &Case, dir: &Path) -> Vec<String> {
    let templates = dir.join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    for (path, source) in &case.templates {
        // A case's templateDir may hold more than templates; the CLI reads only templates.
        if mailroom_core::render::is_template_path(path) {
            let file = templates.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, source).unwrap();
        }
    }
    // Beside the templates, where every command looks for it; without routes, no file, so
    // only the variables configure.
    let routes_file = templates.join(mailroom_core::config::ROUTES_FILE);
    match &case.routes {
        Some(routes) => std::fs::write(&routes_file, routes).unwrap(),
        None => {
            let _ = std::fs::remove_file(&routes_file);
        }
    }
    std::fs::write(dir.join("event.json"), case.event.to_string()).unwrap();
    let ids = case.message_ids();
    if let Some(unused) = case.outcomes.keys().find(|key| {
        !ids.iter()
            .any(|id| id == mailroom_core::channel::parse_answer_key(key).0)
    }) {
        panic!(
            "{}: answers {unused:?}, not a record of its event",
            case.name
        );
    }
    let outcomes: Map<String, Value> = case
        .answer_keys()
        .into_iter()
        .map(|key| {
            let outcome = case.outcome_for(&key);
            (key, outcome)
        })
        .collect();
    std::fs::write(
        dir.join("outcomes.json"),
        Value::Object(outcomes).to_string(),
    )
    .unwrap();
    // Outside the templates folder, so it is the flag that finds it.
    std::fs::write(
        dir.join("fixtures.json"),
        case.lookups.as_deref().unwrap_or("{}"),
    )
    .unwrap();
    [
        "process",
        "event.json",
        "--templates",
        "templates",
        "--outcomes",
        "outcomes.json",
        "--lookups",
        "fixtures.json",
        "--no-outbox",
        "--json",
        "--now",
        &case.now.to_string(),
        "--seed",
        &case.seed.to_string(),
    ]
    .map(str::to_owned)
    .to_vec()
}

#[test]
fn every_vector_case_gives_the_pinned_report_through_process_json() {
    let cases = mailroom_vectors::cases();
    assert!(cases.len() >= 15, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let dir = tempfile::tempdir().unwrap();
        let args = lay_out(case, dir.path());
        let output = common::mailroom(dir.path())
            .envs(&case.env)
            .args(&args)
            .output()
            .unwrap();
        if !output.status.success() {
            failures.push(format!(
                "{}: exit {:?}: {}",
                case.name,
                output.status.code(),
                String::from_utf8_lossy(&output.stderr)
            ));
            continue;
        }
        let got: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|error| panic!("{}: the output is not JSON: {error}", case.name));
        let (got, pinned) = (
            mailroom_vectors::pretty(&got),
            mailroom_vectors::pretty(&case.expected_report()),
        );
        if got != pinned {
            failures.push(format!(
                "{}: the report differs from its snapshot\n--- snapshot\n{pinned}\n--- mailroom process\n{got}",
                case.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
