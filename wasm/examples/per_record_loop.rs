//! Runs the per-record path N times (argument) on the order record, for CPU-time comparisons
//! with the same loop in Node (`wasm/tests/bench-cpu.sh`): on a shared machine CPU time is a
//! steadier measure than wall time.

use std::path::{Path, PathBuf};

use mailroom_wasm::Handle;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn templates_json(dir: &Path) -> String {
    let mut templates = serde_json::Map::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).expect("templates folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let name = path
                    .strip_prefix(dir)
                    .expect("inside")
                    .to_string_lossy()
                    .replace('\\', "/");
                templates.insert(
                    name,
                    std::fs::read_to_string(&path).expect("template").into(),
                );
            }
        }
    }
    serde_json::Value::Object(templates).to_string()
}

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let routes = std::fs::read_to_string(examples().join("routes.json")).expect("routes");
    let templates = templates_json(&examples().join("templates"));
    let event =
        std::fs::read_to_string(examples().join("events/order-eventbridge.json")).expect("event");
    let handle = Handle::new(&templates, Some(&routes), "{}").expect("configuration");
    let mut bytes = 0;
    for _ in 0..count {
        bytes += handle
            .process_event(&event, 1_795_428_000_000.0, 7, None)
            .expect("report")
            .len();
    }
    println!("{bytes}");
}
