//! An arbitrary template with arbitrary JSON data (input: template, NUL byte, data), rendered
//! as HTML, as text and as a subject with the core's limits on. Never a panic or a hang, output
//! within the size limit, subjects on one line, data escaped in HTML, and the output read back
//! from the MIME message of an email made of it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailroom_fuzz::invariants::{run_render_template, split_render_input};
use mailroom_fuzz::mime_check::check_message;

fuzz_target!(|data: &[u8]| {
    let (template, json) = split_render_input(data);
    if let Err(violation) = run_render_template(&template, &json, &check_message) {
        panic!("invariant violated: {violation}");
    }
});
