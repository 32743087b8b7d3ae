//! Any text as an SES feedback notification, as a host receives it (an SQS body or a Lambda
//! SNS event): never a panic, and every invariant of `src/feedback_invariants.rs` holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailroom_fuzz::feedback_invariants::check_body;

fuzz_target!(|data: &[u8]| {
    // SQS bodies and Lambda events are JSON text, so always valid UTF-8.
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(violation) = check_body(body) {
        panic!("invariant violated: {violation}");
    }
});
