#!/usr/bin/env bash
# CPU time per record, native against wasm, on the same loop: Handle::process_event on the order
# record with JSON text in and out, N times, minus the same program run 0 times (start-up and
# compilation). Usage: wasm/tests/bench-cpu.sh [N]   (after wasm/build.sh)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mailroom/target}"
n="${1:-3000}"
cargo build -q --release --example per_record_loop -p mailroom-wasm
native="$CARGO_TARGET_DIR/release/examples/per_record_loop"
cpu() { local TIMEFORMAT="%U %S"; { time "$@" >/dev/null; } 2>&1 | awk '{ print $1 + $2 }'; }
loop_js="$here/per-record-loop.cjs"
per_record() { # command...: microseconds of CPU per record
  local base full
  base=$(cpu "$@" 0); full=$(cpu "$@" "$n")
  awk -v b="$base" -v f="$full" -v n="$n" 'BEGIN { printf "%.1f", (f - b) * 1e6 / n }'
}
echo "native: $(per_record "$native") us CPU per record"
echo "wasm:   $(per_record node "$loop_js") us CPU per record"
echo "handlebars: $(per_record node "$here/per-record-loop-handlebars.mjs") us CPU per record"
