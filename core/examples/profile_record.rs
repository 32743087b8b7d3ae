//! Runs the per-record path in a loop, for profilers: `perf record` or `valgrind --tool=callgrind`.
//!
//! `cargo run --release -p mailroom-core --example profile_record -- 20000`

use std::path::Path;

use mailroom_core::{Config, Mailroom, SendOutcome, SqsEvent, TemplateSet, Timestamp};

fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut templates = TemplateSet::new();
    let mut pending = vec![root.join("templates")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if let (Ok(name), Ok(source)) = (
                path.strip_prefix(root.join("templates")),
                std::fs::read_to_string(&path),
            ) {
                templates.insert(name.to_string_lossy().replace('\\', "/"), source);
            }
        }
    }
    let routes = std::fs::read_to_string(root.join("routes.json")).unwrap_or_default();
    let Ok(config) = Config::from_routes_json(&routes, |_| None) else {
        eprintln!("examples/routes.json is invalid");
        return;
    };
    let mailroom = Mailroom::new(config, &templates);
    let event_text =
        std::fs::read_to_string(root.join("events/order-eventbridge.json")).unwrap_or_default();
    let started = std::time::Instant::now();
    let mut sent = 0usize;
    for _ in 0..iterations {
        let Ok(event) = SqsEvent::from_json(&event_text) else {
            return;
        };
        let Ok(mut batch) =
            mailroom.start_batch(&event, Timestamp::from_millis(1_795_428_000_000), 1)
        else {
            return;
        };
        while let Some(send) = batch.next_send() {
            sent += send.email.html.len();
            batch.complete_send(
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
