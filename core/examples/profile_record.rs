//! Runs the per-record path in a loop, for profilers: `perf record` or `valgrind --tool=callgrind`.
//!
//! `cargo run --release -p mailroom-core --example profile_record -- 20000`

use common::{NOW, example_event_text, example_mailroom};
use mailroom_core::{SendOutcome, SqsEvent};

#[path = "../tests/common/mod.rs"]
mod common;

fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let mailroom = example_mailroom();
    let event_text = example_event_text("order-eventbridge.json");
    let started = std::time::Instant::now();
    let mut sent = 0usize;
    for _ in 0..iterations {
        let Ok(event) = SqsEvent::from_json(&event_text) else {
            return;
        };
        let Ok(mut batch) = mailroom.start_batch(event, NOW, 1) else {
            return;
        };
        while let Some(send) = batch.next_send() {
            sent += send.email().unwrap().html().len();
            let _ = batch.complete_send(
                send.id,
                SendOutcome::Accepted {
                    message_id: String::new(),
                },
            );
        }
        let _ = batch.finish();
    }
    let elapsed = started.elapsed();
    println!(
        "{iterations} records in {elapsed:?}: {:.2} µs per record ({sent} bytes of HTML)",
        elapsed.as_secs_f64() * 1e6 / iterations as f64
    );
}
