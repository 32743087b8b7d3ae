# The template previewer in a real browser: Debian's Chromium (installed when absent), the
# page's npm tooling (playwright-core only; it never downloads a browser), the wasm web build
# that 50-wasm made, then the browser tests against the page served on 127.0.0.1: by the page's
# own static server, and by `mailroom preview` when the CLI has that command.
# The screenshot is kept in $PREVIEW_ARTIFACTS (default: beside the cargo target dir).
set -euo pipefail
root="$(pwd)"
export PATH="${MAILROOM_TOOLS:?MAILROOM_TOOLS is set by scripts/test}/bin:$PATH"

if [[ ! -x /usr/bin/chromium ]]; then
  echo "installing chromium from Debian"
  as_root=()
  [[ "$(id -u)" -eq 0 ]] || as_root=(sudo)
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version 2>/dev/null  # (Debian's wrapper prints a harmless shell warning)

(cd wasm/preview && if ! npm ci --no-audit --no-fund --prefer-offline >/tmp/npm-ci-preview.log 2>&1; then
  cat /tmp/npm-ci-preview.log >&2
  exit 1
fi)

# 50-wasm builds wasm/pkg; run alone, this step builds it the same way.
[[ -f wasm/pkg/web/index.js ]] || wasm/build.sh

export PREVIEW_ARTIFACTS="${PREVIEW_ARTIFACTS:-$CARGO_TARGET_DIR/../preview-artifacts}"
echo "previewer, served by wasm/preview/serve.mjs"
(cd wasm/preview && PREVIEW_SERVER="node serve.mjs --port 0" node --test --test-reporter=spec tests/)

cargo build -q --locked -p mailroom-cli
mailroom="$CARGO_TARGET_DIR/debug/mailroom"
if "$mailroom" preview --help >/dev/null 2>&1; then
  echo "previewer, served by mailroom preview"
  (cd wasm/preview && PREVIEW_SERVER="$mailroom preview examples/templates --port 0" node --test --test-reporter=spec tests/)
else
  echo "mailroom has no preview command yet: the page was tested with its own server only"
fi
echo "screenshot: $(cd "$PREVIEW_ARTIFACTS" && pwd)/preview.png"
cd "$root"
