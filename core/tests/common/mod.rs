//! Shared helpers for the core's integration tests, benches and examples: loading template
//! folders and the shipped examples, and running a batch the way every host does. Benches and
//! examples include this file with `#[path = "../tests/common/mod.rs"] mod common;`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use mailroom_core::{BatchReport, Mailroom, SendOutcome, SqsEvent, TemplateSet, Timestamp};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every template under `dir` (by the core's rule for which paths are templates), keyed by its
/// path relative to `dir` with `/` separators.
pub fn load_templates(dir: &Path) -> TemplateSet {
    let mut set = TemplateSet::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            let name = path
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if path.is_dir() {
                pending.push(path);
            } else if mailroom_core::render::is_template_path(&name) {
                set.insert(name, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    set
}

/// The example templates folder, which holds the example routes file too.
pub fn example_dir() -> PathBuf {
    repo_root().join("examples/templates")
}

/// The example configuration: `examples/templates/routes.json`, no variables.
pub fn example_config() -> mailroom_core::Config {
    let routes =
        std::fs::read_to_string(example_dir().join(mailroom_core::config::ROUTES_FILE)).unwrap();
    mailroom_core::Config::resolve(Some(&routes), |_| None).unwrap()
}

/// Every template of `examples/templates`.
pub fn example_templates() -> TemplateSet {
    load_templates(&example_dir())
}

/// The example configuration over the example templates.
pub fn example_mailroom() -> Mailroom {
    Mailroom::new(example_config(), &example_templates()).unwrap()
}

/// The JSON text of a Lambda event in `examples/events/`.
pub fn example_event_text(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("examples/events").join(name)).unwrap()
}

/// Reads a Lambda event from `examples/events/`.
pub fn example_event(name: &str) -> SqsEvent {
    SqsEvent::from_json(&example_event_text(name)).unwrap()
}

/// 2026-11-23T10:00:00Z, the moment the examples were sent.
pub const NOW: Timestamp = Timestamp::from_millis(1_795_428_000_000);

/// The example lookup fixtures, `examples/templates/lookups.json`.
pub fn example_lookups() -> mailroom_core::LookupFixtures {
    let text = std::fs::read_to_string(example_dir().join("lookups.json")).unwrap();
    mailroom_core::LookupFixtures::parse(&text).unwrap()
}

/// Runs a batch to the end as every host does: lookup rounds answered from the example
/// fixtures, then every send answered with `outcome(message_id)`, one at a time.
pub fn run_batch(
    mailroom: &Mailroom,
    event: &SqsEvent,
    seed: u64,
    mut outcome: impl FnMut(&str) -> SendOutcome,
) -> BatchReport {
    let mut batch = mailroom.start_batch(event.clone(), NOW, seed).unwrap();
    batch.answer_lookups_from(&mut example_lookups());
    while let Some(send) = batch.next_send() {
        batch
            .complete_send(send.id, outcome(&send.message_id))
            .unwrap();
    }
    batch.finish()
}

/// Every send accepted, with a provider id derived from the message id.
pub fn accept_all(message_id: &str) -> SendOutcome {
    SendOutcome::Accepted {
        message_id: format!("ses-{message_id}"),
    }
}
