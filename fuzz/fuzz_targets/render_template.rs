//! An arbitrary template with arbitrary JSON data (input: template, NUL byte, data), rendered
//! as HTML, as text and as a subject with the core's limits on. Never a panic or a hang, output
//! within the size limit, subjects on one line, and data escaped in HTML.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailroom_fuzz::invariants::{run_render_template, split_render_input};

fuzz_target!(|data: &[u8]| {
    let (template, json) = split_render_input(data);
    if let Err(violation) = run_render_template(&template, &json) {
        panic!("invariant violated: {violation}");
    }
});
