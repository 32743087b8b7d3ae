//! Replays, on stable, the fuzz seeds, the structured batch cases and every input the fuzzer
//! ever crashed on, through the very checks the fuzz targets run (`fuzz/src/invariants.rs` is
//! compiled into this test). See `fuzz/README.md` for how a crash gets into
//! `fuzz/regressions/`.

#[path = "../../fuzz/src/invariants.rs"]
mod invariants;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use invariants::BatchCase;
use mailroom_core::{RenderLimits, SqsEvent, Timestamp};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The input files of a folder, sorted; documentation files are not inputs.
fn inputs(folder: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(fuzz_dir().join(folder)) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            path.is_file() && !name.starts_with('.') && !name.ends_with(".md")
        })
        .collect();
    files.sort();
    files
}

/// Runs `check` on every input of `folders`, catching panics, and fails listing every input
/// that broke an invariant or panicked. Returns how many inputs ran.
fn replay(folders: &[&str], check: impl Fn(&Path, &[u8]) -> Result<(), String>) -> usize {
    let mut failures = Vec::new();
    let mut count = 0;
    for folder in folders {
        for path in inputs(folder) {
            count += 1;
            let bytes = std::fs::read(&path).unwrap();
            match catch_unwind(AssertUnwindSafe(|| check(&path, &bytes))) {
                Ok(Ok(())) => {}
                Ok(Err(violation)) => failures.push(format!("{}: {violation}", path.display())),
                Err(_) => failures.push(format!(
                    "{}: panicked (see the output above)",
                    path.display()
                )),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} inputs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    count
}

#[test]
fn record_bodies_from_the_seeds_and_past_crashes_keep_every_invariant() {
    let count = replay(
        &["seeds/record_body", "regressions/record_body"],
        |_, bytes| {
            // The target skips bodies that are not UTF-8: Lambda never delivers one.
            match std::str::from_utf8(bytes) {
                Ok(body) => invariants::run_record_body(body),
                Err(_) => Ok(()),
            }
        },
    );
    assert!(
        count >= 10,
        "only {count} record_body inputs: are the seeds missing?"
    );
}

#[test]
fn templates_from_the_seeds_and_past_crashes_keep_every_invariant() {
    let count = replay(
        &["seeds/render_template", "regressions/render_template"],
        |_, bytes| {
            let (template, data) = invariants::split_render_input(bytes);
            invariants::run_render_template(&template, &data)
        },
    );
    assert!(
        count >= 10,
        "only {count} render_template inputs: are the seeds missing?"
    );
}

#[test]
fn batch_cases_and_past_crashes_keep_every_invariant() {
    let count = replay(
        &["cases/batch_invariants", "regressions/batch_invariants"],
        |path, bytes| {
            let case: BatchCase = serde_json::from_slice(bytes).map_err(|error| {
            format!(
                "not a JSON batch case ({error}); reproduce the crash with MAILROOM_FUZZ_PRINT_CASE=1 \
                 and keep the printed case instead ({})",
                path.display()
            )
        })?;
            invariants::run_batch_case(&case)
        },
    );
    assert!(count >= 4, "only {count} batch cases");
}

/// The checks themselves must be able to fail, or the replays above prove nothing.
#[test]
fn the_invariants_catch_what_they_are_meant_to_catch() {
    assert!(invariants::check_header_text("subject", "Hi\r\nBcc: x@example.com").is_err());
    assert!(invariants::check_header_text("subject", "Hi\u{2028}there").is_err());
    assert!(invariants::check_header_text("subject", "Grüße, Ana").is_ok());

    assert!(invariants::check_echo_html("<p title=\"\"></p><b></b>").is_ok());
    assert!(invariants::check_echo_html("<p title=\"&lt;i&gt;\">&#x27;</p><b></b>").is_ok());
    assert!(invariants::check_echo_html("<p title=\"\"><i></p><b></b>").is_err());
    assert!(invariants::check_echo_html("<p title=\"\" onload=\"x\"></p><b></b>").is_err());

    // A report whose batch response forgets a failed record, or whose email carries a line
    // break in a header, is caught.
    let case: BatchCase = serde_json::from_slice(
        &std::fs::read(
            fuzz_dir().join("cases/batch_invariants/rejects-parked-and-duplicate-ids.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let event = SqsEvent {
        records: case.records.clone(),
    };
    let mailroom = invariants::fuzz_mailroom(false);
    let limits = RenderLimits::default();
    let run = || {
        let mut batch = mailroom
            .start_batch(event.clone(), Timestamp::from_millis(0), 1)
            .unwrap();
        while let Some(send) = batch.next_send() {
            batch
                .complete_send(
                    send.id,
                    mailroom_core::SendOutcome::Accepted {
                        message_id: "ses".into(),
                    },
                )
                .unwrap();
        }
        batch.finish()
    };
    let report = run();
    assert!(invariants::check_report(&event, &report, &limits).is_ok());

    let mut forgetful = run();
    assert!(!forgetful.batch_response.batch_item_failures.is_empty());
    forgetful.batch_response.batch_item_failures.pop();
    assert!(invariants::check_report(&event, &forgetful, &limits).is_err());
    // A header injected into a sent email can no longer be made up here: an `Email`'s fields
    // are the core's own, and `Email::new` cleans a subject as rendering does.
}
