//! The native figure for the wasm benchmark: the same per-record path the Node benchmark times
//! (`wasm/tests/bench.mjs`), run natively through the same adapter. Event JSON text in, report
//! JSON text out, on the realistic order record with the example routes and templates.
//!
//! `cargo bench -p mailroom-wasm --bench per_record`

use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
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
                let source = std::fs::read_to_string(&path).expect("template");
                templates.insert(name, source.into());
            }
        }
    }
    serde_json::Value::Object(templates).to_string()
}

fn per_record(c: &mut Criterion) {
    let routes = std::fs::read_to_string(examples().join("routes.json")).expect("routes");
    let templates = templates_json(&examples().join("templates"));
    let event =
        std::fs::read_to_string(examples().join("events/order-eventbridge.json")).expect("event");
    let handle = Handle::new(&templates, Some(&routes), "{}").expect("configuration");
    let now = 1_795_428_000_000.0;
    let report = handle.process_event(&event, now, 7, None).expect("report");
    assert!(report.contains(r#""decision":"send""#), "{report}");

    c.bench_function(
        "native per record (order-eventbridge, JSON in and out)",
        |b| {
            b.iter(|| handle.process_event(&event, now, 7, None).expect("report"));
        },
    );
    c.bench_function("native compile (example templates and routes)", |b| {
        b.iter(|| Handle::new(&templates, Some(&routes), "{}").expect("configuration"));
    });
}

criterion_group!(benches, per_record);
criterion_main!(benches);
