//! An arbitrary SQS record body through the whole decision: envelope, routing, recipients,
//! rendering, the batch and its response. Never a panic, always one disposition, and every
//! email header-safe and read back from its MIME message as it was.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailroom_fuzz::invariants::run_record_body;
use mailroom_fuzz::mime_check::check_message;

fuzz_target!(|data: &[u8]| {
    // Lambda hands the body over as a JSON string, so it is always valid UTF-8.
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(violation) = run_record_body(body, &check_message) {
        panic!("invariant violated: {violation}");
    }
});
