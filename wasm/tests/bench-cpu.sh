#!/usr/bin/env bash
# CPU time per record in one run, side by side: the native core (the same adapter path, a
# release build of wasm/examples/per_record_loop.rs), the wasm package and Handlebars, on the
# order record; see bench.mjs. Usage: wasm/tests/bench-cpu.sh   (after wasm/build.sh)
# BENCH_ROUNDS / BENCH_ROUND_MS / MAILROOM_WASM_PKG are passed on to bench.mjs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mailroom/target}"
cargo build -q --release --example per_record_loop -p mailroom-wasm
cd "$here"
MAILROOM_NATIVE_LOOP="$CARGO_TARGET_DIR/release/examples/per_record_loop" node --expose-gc bench.mjs
