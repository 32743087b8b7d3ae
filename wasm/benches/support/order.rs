//! The order record's set-up, shared by the per-record bench and the CPU-time loop
//! (`examples/per_record_loop.rs`): the adapter's handle over the example routes and templates,
//! and the Lambda event of `examples/events/order-eventbridge.json`.

use mailroom_wasm::Handle;

#[path = "../../../core/tests/common/mod.rs"]
mod common;

/// 2026-11-23T10:00:00Z, as the adapter takes it (milliseconds, a JavaScript number).
pub const NOW_MILLIS: f64 = 1_795_428_000_000.0;

/// The templates as the adapter takes them: one JSON object of name → source.
pub fn example_templates_json() -> String {
    let templates: serde_json::Map<String, serde_json::Value> = common::example_templates()
        .iter()
        .map(|(name, source)| (name.to_owned(), source.into()))
        .collect();
    serde_json::Value::Object(templates).to_string()
}

/// The example routes file.
pub fn example_routes() -> String {
    std::fs::read_to_string(common::example_dir().join("routes.json")).expect("routes")
}

/// A handle over the examples, and the order event's JSON text.
pub fn order_handle_and_event() -> (Handle, String) {
    let handle = Handle::new(&example_templates_json(), Some(&example_routes()), "{}")
        .expect("the examples configure a handle");
    (handle, common::example_event_text("order-eventbridge.json"))
}
