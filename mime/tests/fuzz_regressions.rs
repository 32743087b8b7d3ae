//! Replays the fuzz seeds, the structured batch cases and every past crash with the MIME check
//! the fuzz targets add (`fuzz/src/mime_check.rs`): every email they produce, built into its
//! message and read back by mail-parser, says what the email says. The core's own replay
//! (`core/tests/fuzz_regressions.rs`) cannot: mailroom-mime depends on mailroom-core.

#[path = "../../fuzz/src/invariants.rs"]
mod invariants;
#[path = "../../fuzz/src/mime_check.rs"]
mod mime_check;
#[path = "../../fuzz/src/replay.rs"]
mod replay;

use mime_check::check_message;

#[test]
fn record_bodies_from_the_seeds_and_past_crashes_make_messages_that_read_back() {
    replay::record_bodies(&check_message);
}

#[test]
fn templates_from_the_seeds_and_past_crashes_make_messages_that_read_back() {
    replay::templates(&check_message);
}

#[test]
fn batch_cases_and_past_crashes_make_messages_that_read_back() {
    replay::batch_cases(&check_message);
}
