//! The cross-host test vectors in `tests/vectors/cases/`: every case runs through the core the
//! way every host runs it, each record must get the decision its case expects, and the whole
//! report is pinned by an insta snapshot in `tests/vectors/snapshots/` that the other hosts
//! compare their own output with.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use mailroom_core::{BatchReport, Config, Mailroom, SendOutcome, SqsEvent, TemplateSet, Timestamp};
use serde::Deserialize;

/// One case file; see `tests/vectors/make_cases.py` for the format.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Case {
    pub description: String,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub routes: Option<serde_json::Value>,
    #[serde(default)]
    pub templates: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub template_dir: Option<String>,
    pub now: i64,
    pub seed: u64,
    pub event: SqsEvent,
    #[serde(default)]
    pub outcomes: BTreeMap<String, SendOutcome>,
    /// messageId → "send" | "retry reason" | "reject reason".
    #[serde(default)]
    pub expect: Option<BTreeMap<String, String>>,
}

pub fn run_case(case: &Case) -> BatchReport {
    let lookup = |name: &str| case.env.get(name).cloned();
    let routes = case.routes.as_ref().map(serde_json::Value::to_string);
    let config =
        Config::resolve(routes.as_deref(), lookup).expect("the case's configuration is valid");
    let templates = match (&case.templates, &case.template_dir) {
        (Some(inline), _) => inline.iter().collect::<TemplateSet>(),
        (None, Some(dir)) => common::load_templates(&common::repo_root().join(dir)),
        (None, None) => TemplateSet::new(),
    };
    let mailroom = Mailroom::new(config, &templates).expect("the case's templates compile");
    let mut batch = mailroom
        .start_batch(
            case.event.clone(),
            Timestamp::from_millis(case.now),
            case.seed,
        )
        .expect("the case's event is a valid batch");
    while let Some(send) = batch.next_send() {
        let outcome = case
            .outcomes
            .get(&send.message_id)
            .cloned()
            .unwrap_or_else(|| common::accept_all(&send.message_id));
        batch
            .complete_send(send.id, outcome)
            .expect("the send was handed out");
    }
    batch.finish()
}

fn load(path: &Path) -> Case {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_case_decides_as_expected_and_matches_its_snapshot() {
    insta::glob!("../../tests/vectors/cases", "*.json", |path| {
        let case = load(path);
        let report = run_case(&case);
        assert_eq!(
            report.records.len(),
            case.event.records.len(),
            "one report per record"
        );
        if let Some(expect) = &case.expect {
            for record in &report.records {
                let got = match record.disposition.reason() {
                    Some(reason) => format!("{} {reason}", record.disposition.kind()),
                    None => record.disposition.kind().to_owned(),
                };
                assert_eq!(
                    Some(&got),
                    expect.get(&record.message_id),
                    "{}: record {}",
                    path.display(),
                    record.message_id
                );
            }
        }
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path("../../tests/vectors/snapshots");
        settings.set_description(case.description.clone());
        settings.set_prepend_module_to_snapshot(false);
        settings.bind(|| insta::assert_json_snapshot!("report", report));
    });
}
