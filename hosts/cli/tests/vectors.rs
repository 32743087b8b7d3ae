//! The cross-host test vectors (`tests/vectors/cases/*.json`) through `mailroom process --json`:
//! for every case, the built binary must print exactly the report the core pinned in
//! `tests/vectors/snapshots/report@<case>.snap`.
//!
//! A case becomes what a user of the CLI would have: a templates folder holding the case's
//! templates and its routes as `routes.json` (found there as every command finds it), the event
//! as a file, the case's variables as the only configuration variables of the environment, and
//! an `--outcomes` file answering every record's send (the case's outcome, else accepted with
//! provider id `ses-<messageId>`, as `core/tests/vectors.rs` answers). A case the CLI cannot
//! express fails the test instead of being skipped.

mod common;

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

/// The fields of a case (see `tests/vectors/make_cases.py`); anything else is a field this test
/// does not know how to give the CLI.
const FIELDS: [&str; 10] = [
    "description",
    "env",
    "routes",
    "templates",
    "templateDir",
    "now",
    "seed",
    "event",
    "outcomes",
    "expect",
];

fn vectors() -> PathBuf {
    common::repo().join("tests/vectors")
}

/// The pinned report of `case_file`: the JSON after the snapshot's `---` header.
fn snapshot(case_file: &Path) -> Value {
    let name = case_file.file_name().unwrap().to_string_lossy();
    let path = vectors().join(format!("snapshots/report@{name}.snap"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let body = text
        .strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---\n"))
        .map(|(_header, json)| json)
        .unwrap_or_else(|| panic!("{}: no insta header", path.display()));
    serde_json::from_str(body).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Lays the case out as files in `dir` and returns the arguments and environment of the run.
fn lay_out(case: &Map<String, Value>, dir: &Path) -> (Vec<String>, Vec<(String, String)>) {
    if let Some(unknown) = case.keys().find(|key| !FIELDS.contains(&key.as_str())) {
        panic!("the case has a field {unknown:?} that this test cannot give the CLI");
    }
    let templates = dir.join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    match (case.get("templates"), case.get("templateDir")) {
        (Some(inline), _) => {
            for (path, source) in inline.as_object().expect("templates is an object") {
                assert!(
                    mailroom_core::render::is_template_path(path),
                    "template {path:?} is not a template path: the CLI would not load it"
                );
                let file = templates.join(path);
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(file, source.as_str().expect("a template is text")).unwrap();
            }
        }
        (None, Some(folder)) => {
            let folder = common::repo().join(folder.as_str().expect("templateDir is a path"));
            common::copy_templates(&folder, &templates);
        }
        (None, None) => {}
    }
    // Beside the templates, where every command looks for it; without routes, no file, so
    // only the variables configure (a copied templateDir brings none).
    if let Some(routes) = case.get("routes") {
        std::fs::write(templates.join("routes.json"), routes.to_string()).unwrap();
    }

    let event = case.get("event").expect("the case has an event");
    std::fs::write(dir.join("event.json"), event.to_string()).unwrap();
    let given = case.get("outcomes").and_then(Value::as_object);
    let outcomes: Map<String, Value> = event["Records"]
        .as_array()
        .expect("the event has Records")
        .iter()
        .map(|record| {
            let id = record["messageId"]
                .as_str()
                .expect("a record has a messageId");
            let outcome = given
                .and_then(|given| given.get(id))
                .cloned()
                .unwrap_or_else(
                    || json!({"outcome": "accepted", "messageId": format!("ses-{id}")}),
                );
            (id.to_owned(), outcome)
        })
        .collect();
    if let Some(unused) = given
        .into_iter()
        .flat_map(Map::keys)
        .find(|id| !outcomes.contains_key(*id))
    {
        panic!("the case answers {unused:?}, which is not a record of its event");
    }
    std::fs::write(
        dir.join("outcomes.json"),
        Value::Object(outcomes).to_string(),
    )
    .unwrap();

    let number = |field: &str| {
        case.get(field)
            .and_then(|value| value.as_i64().map(|n| n.to_string()))
            .or_else(|| {
                case.get(field)
                    .and_then(|v| v.as_u64().map(|n| n.to_string()))
            })
            .unwrap_or_else(|| panic!("the case's {field} is not an integer"))
    };
    let args = [
        "process",
        "event.json",
        "--templates",
        "templates",
        "--outcomes",
        "outcomes.json",
        "--no-outbox",
        "--json",
        "--now",
        &number("now"),
        "--seed",
        &number("seed"),
    ]
    .map(str::to_owned)
    .to_vec();
    let env = case
        .get("env")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, value)| {
            let value = value.as_str().expect("a variable is text");
            (name.clone(), value.to_owned())
        })
        .collect();
    (args, env)
}

#[test]
fn every_vector_case_gives_the_pinned_report_through_process_json() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(vectors().join("cases"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases in tests/vectors/cases");
    let mut failures = Vec::new();
    for file in &cases {
        let case: Map<String, Value> =
            serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (args, env) = lay_out(&case, dir.path());
        let output = common::mailroom(dir.path())
            .envs(env)
            .args(&args)
            .output()
            .unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if !output.status.success() {
            failures.push(format!(
                "{name}: exit {:?}: {}",
                output.status.code(),
                String::from_utf8_lossy(&output.stderr)
            ));
            continue;
        }
        let got: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|error| panic!("{name}: the output is not JSON: {error}"));
        let got = serde_json::to_string_pretty(&got).unwrap();
        let pinned = serde_json::to_string_pretty(&snapshot(file)).unwrap();
        if got != pinned {
            failures.push(format!(
                "{name}: the report differs from its snapshot\n--- snapshot\n{pinned}\n--- mailroom process\n{got}"
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
