# Fault injection: a few thousand messages through the real bootstrap against moto (SQS, SES v2,
# DynamoDB) with SES throttling and 5xx, lost answers, a CodeCommit outage, SQS failures, hung
# SES / SQS / CodeCommit calls, killed and frozen instances; every message must be accounted for (tests/fault-injection/run_faults.py).
# moto comes from 15-services; the idempotency store's own moto tests run in 20-rust.
# MAILROOM_FI_MESSAGES sets the message count (default 2000), MAILROOM_FI_SEED the seed.
# A run takes about three minutes; the timeout covers its wait limit (900 s, for messages the
# function delayed past the 360 s time limit; run_faults.py says when).
set -euo pipefail
export PATH="$MAILROOM_TOOLS/python/bin:$PATH"
cargo build -p mailroom-lambda --bin bootstrap --locked
export MAILROOM_BOOTSTRAP="$CARGO_TARGET_DIR/debug/bootstrap"
export MAILROOM_FI_REPORT="${MAILROOM_FI_REPORT:-$CARGO_TARGET_DIR/fault-injection.json}"
timeout 1000 python3 tests/fault-injection/run_faults.py
