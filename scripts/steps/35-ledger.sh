# `mailroom ledger`, the operators' commands (cargo feature `ledger`): the default build of the
# CLI stays free of AWS crates, the feature's build passes clippy, and its end-to-end test runs
# the binary against moto's DynamoDB (moto installed by 15-services).
set -euo pipefail
export PATH="$MAILROOM_TOOLS/python/bin:$PATH"
# The quick start's build must not pull in the AWS SDK.
if cargo tree -p mailroom-cli -e normal --prefix none --locked | grep -Ei '^(aws-|aws_)'; then
  echo "mailroom-cli's default build must not depend on AWS crates (they belong behind --features ledger)" >&2
  exit 1
fi
cargo clippy -p mailroom-cli --features ledger --all-targets --locked -- -D warnings
cargo test -p mailroom-cli --features ledger --locked --bins --test ledger
