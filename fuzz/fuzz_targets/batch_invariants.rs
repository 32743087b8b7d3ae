//! Whole batches built by the fuzzer (records from the examples or fuzzed fields, every
//! envelope, FIFO groups, SES answers, lost sends, deadlines, parking) through the batch
//! protocol, checking every invariant of `mailroom_fuzz::invariants::run_batch_case` and the
//! MIME message of every email (`mailroom_fuzz::mime_check`).
//!
//! Set `MAILROOM_FUZZ_PRINT_CASE=1` when reproducing to print the case as JSON, the form
//! regressions are kept in (`fuzz/regressions/batch_invariants/*.json`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailroom_fuzz::batch_case_from_bytes;
use mailroom_fuzz::invariants::run_batch_case;
use mailroom_fuzz::mime_check::check_message;

fuzz_target!(|data: &[u8]| {
    let Ok(case) = batch_case_from_bytes(data) else {
        return;
    };
    if std::env::var_os("MAILROOM_FUZZ_PRINT_CASE").is_some() {
        eprintln!(
            "{}",
            serde_json::to_string_pretty(&case).unwrap_or_default()
        );
    }
    if let Err(violation) = run_batch_case(&case, &check_message) {
        let json = serde_json::to_string(&case).unwrap_or_default();
        panic!("invariant violated: {violation}\ncase: {json}");
    }
});
