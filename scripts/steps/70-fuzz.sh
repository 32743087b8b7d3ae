# Fuzzing: builds every cargo-fuzz target of fuzz/ and runs each for a fixed time (60 s in CI,
# 15 s elsewhere; MAILROOM_FUZZ_SECONDS overrides). Fails on any crash, hang (10 s per input)
# or out-of-memory. Crashes land in fuzz/artifacts/TARGET/; fuzz/README.md says what to do next.
#
# Built without AddressSanitizer (MAILROOM_FUZZ_SANITIZER=address puts it back): the core forbids
# unsafe code and the harness has none, so ASan only watches the dependencies' unsafe code, and
# it made every target 6 to 8 times slower (fuzz/README.md, "Speed"). Debug assertions and
# overflow checks stay on: an overflow that wraps silently in a release build is a finding.
set -euo pipefail

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "the fuzz targets need the nightly toolchain (rustup toolchain install nightly)" >&2
  exit 1
fi
export PATH="$MAILROOM_TOOLS/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --version 0.13.2 --root "$MAILROOM_TOOLS"
fi

if [[ "${CI:-}" == "true" ]]; then default_seconds=60; else default_seconds=15; fi
seconds="${MAILROOM_FUZZ_SECONDS:-$default_seconds}"

sanitizer="${MAILROOM_FUZZ_SANITIZER:-none}"
targets=(record_body render_template batch_invariants feedback_body)
# `run` must get the same flags as `build`, or it rebuilds.
cargo +nightly fuzz build -s "$sanitizer"
for target in "${targets[@]}"; do
  # Committed seeds: generated corpora, or the structured JSON cases of batch_invariants.
  seeds="fuzz/seeds/$target"
  [[ -d "$seeds" ]] || seeds="fuzz/cases/$target"
  mkdir -p "fuzz/corpus/$target"
  log="$(mktemp)"
  echo "fuzzing $target for ${seconds}s"
  if ! cargo +nightly fuzz run -s "$sanitizer" "$target" "fuzz/corpus/$target" "$seeds" -- \
      -max_total_time="$seconds" -dict=fuzz/dict/mailroom.dict -max_len=16384 -timeout=10 \
      -print_final_stats=1 >"$log" 2>&1; then
    tail -n 80 "$log" >&2
    echo "fuzz target $target failed: see the input in fuzz/artifacts/$target/ and fuzz/README.md" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
  corpus=$(find "fuzz/corpus/$target" -type f | wc -l)
  echo "$target: $runs inputs in ${seconds}s ($rate/s), corpus $corpus files, peak RSS ${rss} MB, no crash"
  rm -f "$log"
done
