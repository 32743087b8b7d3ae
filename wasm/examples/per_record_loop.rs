//! Runs the per-record path N times (argument) on the order record, for CPU-time comparisons
//! with the same loop in Node (`wasm/tests/bench-cpu.sh`): on a shared machine CPU time is a
//! steadier measure than wall time.

use order::{NOW_MILLIS, order_handle_and_event};

#[path = "../benches/support/order.rs"]
mod order;

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let (handle, event) = order_handle_and_event();
    let mut bytes = 0;
    for _ in 0..count {
        bytes += handle
            .process_event(&event, NOW_MILLIS, 7, None, None)
            .expect("report")
            .len();
    }
    println!("{bytes}");
}
