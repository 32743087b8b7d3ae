# The CLI beyond `cargo test`: the README's quick start exactly as a newcomer runs it, and a
# smoke run of the benchmark script (few records, debug build, no timing gate).
set -euo pipefail
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo run -q --locked -p mailroom-cli -- process examples/events/quickstart.json --outbox "$work/outbox" \
  | tee "$work/quickstart.txt"
grep -q '^12 records: 9 sent, 0 retried, 3 rejected · lookups: examples/templates/lookups.json' "$work/quickstart.txt"
grep -q 'lookup_missing: lookup "student" found nothing in enrollments for PK=STUDENT#stu_00000' "$work/quickstart.txt"
[[ "$(find "$work/outbox" -name '*.eml' | wc -l)" -ge 3 ]]
# The welcome emails (raw, SNS, EventBridge) greet the student the lookups found.
[[ "$(grep -l 'Hi Ana,' "$work/outbox"/*.eml | wc -l)" -eq 3 ]]
# The order service's domain events: five emails and, beside four of them, the texts, each line
# reporting the text's encoding and segments.
cargo run -q --locked -p mailroom-cli -- process examples/events/domain-events.json --outbox "$work/domain" \
  | tee "$work/domain.txt"
grep -q '^5 records: 5 sent, 0 retried, 0 rejected' "$work/domain.txt"
[[ "$(find "$work/domain" -name '*.eml' | wc -l)" -eq 5 ]]
[[ "$(find "$work/domain" -name '*.sms.json' | wc -l)" -eq 4 ]]
grep -q '+ sms → +34612345678 (UCS-2, 1 segment)' "$work/domain.txt"
MAILROOM_BENCH_PROFILE=debug hosts/cli/benches/process.sh 50 1
