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
# Whole-workspace commands with the feature added, rather than `-p mailroom-cli --features
# ledger`: the dependencies' features then unify as in 20-rust, so its build is reused and only
# the CLI is compiled again (with -p, the AWS SDK was compiled a second time: minutes).
cargo clippy --workspace --all-targets --locked --features mailroom-cli/ledger -- -D warnings
# The tests whose names mention the ledger, now with the feature: the CLI's end-to-end test and
# its unit tests, and again the Lambda's and the core's (the core's lift and the shared crate's
# items do not depend on the feature and ran in 20-rust).
cargo test --workspace --locked --features mailroom-cli/ledger ledger
