//! The native figure for the wasm benchmark: the same per-record path the Node benchmark times
//! (`wasm/tests/bench.mjs`), run natively through the same adapter. Event JSON text in, report
//! JSON text out, on the realistic order record with the example routes and templates.
//!
//! `cargo bench -p mailroom-wasm --bench per_record`

use criterion::{Criterion, criterion_group, criterion_main};
use mailroom_wasm::Handle;
use order::{NOW_MILLIS, example_routes, example_templates_json, order_handle_and_event};

#[path = "support/order.rs"]
mod order;

fn per_record(c: &mut Criterion) {
    let (handle, event) = order_handle_and_event();
    let (templates, routes) = (example_templates_json(), example_routes());
    let now = NOW_MILLIS;
    let report = handle
        .process_event(&event, now, 7, None, None)
        .expect("report");
    assert!(report.contains(r#""decision":"send""#), "{report}");

    c.bench_function(
        "native per record (order-eventbridge, JSON in and out)",
        |b| {
            b.iter(|| {
                handle
                    .process_event(&event, now, 7, None, None)
                    .expect("report")
            });
        },
    );
    c.bench_function("native compile (example templates and routes)", |b| {
        b.iter(|| Handle::new(&templates, Some(&routes), "{}").expect("configuration"));
    });
}

criterion_group!(benches, per_record);
criterion_main!(benches);
