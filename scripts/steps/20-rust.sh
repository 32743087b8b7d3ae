# Format, lints and every Rust test of the workspace.
set -euo pipefail
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# The core must build for wasm with nothing host-specific in it.
cargo build -p mailroom-core --target wasm32-unknown-unknown --locked
if cargo tree -p mailroom-core -e normal --prefix none | grep -Ei '^(tokio|aws-|aws_|lambda|wasm-bindgen) '; then
  echo "mailroom-core must not depend on tokio, AWS, Lambda or wasm-bindgen crates" >&2
  exit 1
fi
