# Benchmarks in test mode: every criterion bench runs each case once, so a broken bench fails
# here. No timings are measured or compared in CI; BENCHMARKS.md says how to measure.
set -euo pipefail
cargo bench -p mailroom-core --bench pipeline --locked -- --test
