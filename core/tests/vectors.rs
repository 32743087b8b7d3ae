//! The cross-host test vectors in `tests/vectors/cases/`: every case runs through the core the
//! way every host runs it, each record must get the decision its case expects, and the whole
//! report is pinned by an insta snapshot in `tests/vectors/snapshots/` that the other hosts
//! compare their own output with (through `mailroom-vectors`, which reads the cases for all).

use mailroom_core::render::is_template_path;
use mailroom_core::{
    BatchReport, Config, LookupFixtures, Mailroom, SqsEvent, TemplateSet, Timestamp,
};
use mailroom_vectors::Case;

/// A case as a host runs it: the configuration resolved from its routes file and variables,
/// the templates by the core's rule, every send answered as the case says.
pub fn run_case(case: &Case) -> BatchReport {
    let config = Config::resolve(case.routes.as_deref(), |name| case.env.get(name).cloned())
        .expect("the case's configuration is valid");
    let templates: TemplateSet = case
        .templates
        .iter()
        .filter(|(path, _)| is_template_path(path))
        .collect();
    let mailroom = Mailroom::new(config, &templates).expect("the case's subjects compile");
    let event: SqsEvent = serde_json::from_value(case.event.clone()).expect("a Lambda SQS event");
    let mut batch = mailroom
        .start_batch(event, Timestamp::from_millis(case.now), case.seed)
        .expect("the case's event is a valid batch");
    let mut fixtures = LookupFixtures::parse(case.lookups.as_deref().unwrap_or("{}"))
        .expect("the case's lookup fixtures are valid");
    batch.answer_lookups_from(&mut fixtures);
    while let Some(send) = batch.next_send() {
        let key = mailroom_core::channel::answer_key(&send.message_id, send.id.channel());
        let outcome = serde_json::from_value(case.outcome_for(&key))
            .expect("the case's outcomes are SendOutcomes");
        batch
            .complete_send(send.id, outcome)
            .expect("the send was handed out");
    }
    batch.finish()
}

#[test]
fn every_case_decides_as_expected_and_matches_its_snapshot() {
    insta::glob!("../../tests/vectors/cases", "*.json", |path| {
        let case = mailroom_vectors::load(path);
        let report = run_case(&case);
        assert_eq!(
            report.records.len(),
            case.message_ids().len(),
            "one report per record"
        );
        // A case without `expect` (the shipped examples) is pinned by its snapshot alone.
        for record in report.records.iter().filter(|_| !case.expect.is_empty()) {
            let got = match record.disposition.reason() {
                Some(reason) => format!("{} {reason}", record.disposition.kind()),
                None => record.disposition.kind().to_owned(),
            };
            assert_eq!(
                Some(&got),
                case.expect.get(&record.message_id),
                "{}: record {}",
                path.display(),
                record.message_id
            );
        }
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path("../../tests/vectors/snapshots");
        settings.set_description(case.description.clone());
        settings.set_prepend_module_to_snapshot(false);
        settings.bind(|| insta::assert_json_snapshot!("report", report));
    });
}
