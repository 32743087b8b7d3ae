#!/usr/bin/env bash
# Times `mailroom process --json` on a generated Lambda SQS event and prints records per second,
# with the .eml outbox on and off.
#
#   hosts/cli/benches/process.sh [RECORDS] [RUNS]        defaults: 10000 records, 5 runs
#
# The event cycles through examples/events/quickstart.json (every envelope, a malformed body, a
# missing recipient, a student the lookups do not find) with a unique identity per copy, so every sent record writes its own file.
# MAILROOM_BENCH_PROFILE=debug uses the debug build (the smoke run of scripts/test does, with few
# records: it checks that the script works, not how fast the binary is).
set -euo pipefail
cd "$(dirname "$0")/../../.."

records="${1:-10000}"
runs="${2:-5}"
profile="${MAILROOM_BENCH_PROFILE:-release}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mailroom/target}"

if [[ "$profile" == release ]]; then
  cargo build --release --locked -q -p mailroom-cli
else
  cargo build --locked -q -p mailroom-cli
fi
bin="$CARGO_TARGET_DIR/$profile/mailroom"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 hosts/cli/benches/make_event.py "$records" "$work/event.json"
echo "event: $records records, $(( $(stat -c %s "$work/event.json") / 1024 )) KiB; $(nproc) cores; $runs runs each"

# measure LABEL ARGS...: runs the command $runs times; prints the best and median wall time, the
# records per second of the best and the median run, and the CPU time (user + sys) of the best run.
measure() {
  local label="$1"
  shift
  local walls=() line outbox="$work/outbox"
  [[ "${2:-}" == /* ]] && outbox="$2"
  for _ in $(seq "$runs"); do
    rm -rf "$outbox"
    TIMEFORMAT='%R %U %S'
    line="$( { time "$bin" process "$work/event.json" --json --now 2026-11-23T10:00:00Z "$@" \
      > "$work/report.json"; } 2>&1 )"
    walls+=("$line")
  done
  python3 - "$records" "$label" "$work/report.json" "$outbox" "${walls[@]}" <<'PY'
import json, os, statistics, sys
records, label, report_path, outbox = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
runs = [tuple(float(x) for x in line.split()) for line in sys.argv[5:]]
report = json.load(open(report_path))
assert len(report["records"]) == records, "the report must have every record"
sent = sum(1 for r in report["records"] if r["decision"] == "send")
files = len(os.listdir(outbox)) if os.path.isdir(outbox) else 0
best = min(runs)
median = statistics.median(r[0] for r in runs)
cpu = best[1] + best[2]
print(f"{label:<11} best {best[0]*1000:6.0f} ms = {records/best[0]:7,.0f} records/s | median {median*1000:6.0f} ms"
      f" = {records/median:7,.0f} records/s | cpu of best {cpu*1000:5.0f} ms = {records/max(cpu, 1e-9):7,.0f} records"
      f" per cpu-second | sent {sent}, .eml files {files}")
PY
}

measure "outbox on" --outbox "$work/outbox"
measure "outbox off" --no-outbox
# The same outbox on tmpfs: the .eml work without the disk (shared with builds here) in the way.
if [[ -d /dev/shm && -w /dev/shm ]]; then
  shm="$(mktemp -d -p /dev/shm)"
  trap 'rm -rf "$work" "$shm"' EXIT
  measure "outbox shm" --outbox "$shm/outbox"
fi
