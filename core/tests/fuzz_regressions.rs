//! Replays, on stable, the fuzz seeds, the structured batch cases and every input the fuzzer
//! ever crashed on, through the very checks the fuzz targets run (`fuzz/src/invariants.rs` and
//! `fuzz/src/feedback_invariants.rs` are compiled into this test) except the MIME check, which
//! `mime/tests/fuzz_regressions.rs` replays. See `fuzz/README.md` for how a crash gets into
//! `fuzz/regressions/`.

#[path = "../../fuzz/src/feedback_invariants.rs"]
mod feedback_invariants;
#[path = "../../fuzz/src/invariants.rs"]
mod invariants;
#[path = "../../fuzz/src/replay.rs"]
mod replay;

use invariants::{BatchCase, no_email_check};
use mailroom_core::{RenderLimits, SqsEvent, Timestamp};

#[test]
fn record_bodies_from_the_seeds_and_past_crashes_keep_every_invariant() {
    replay::record_bodies(&no_email_check);
}

#[test]
fn templates_from_the_seeds_and_past_crashes_keep_every_invariant() {
    replay::templates(&no_email_check);
}

#[test]
fn batch_cases_and_past_crashes_keep_every_invariant() {
    replay::batch_cases(&no_email_check);
}

#[test]
fn feedback_bodies_from_the_seeds_and_past_crashes_keep_every_invariant() {
    let count = replay::replay(
        &["seeds/feedback_body", "regressions/feedback_body"],
        |_, bytes| {
            // The target skips bodies that are not UTF-8: SQS and Lambda never deliver one.
            match std::str::from_utf8(bytes) {
                Ok(body) => feedback_invariants::check_body(body),
                Err(_) => Ok(()),
            }
        },
    );
    assert!(
        count >= 60,
        "only {count} feedback_body inputs: are the seeds missing?"
    );
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
            replay::fuzz_dir().join("cases/batch_invariants/rejects-parked-and-duplicate-ids.json"),
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
