#!/usr/bin/env bash
# Builds the npm package folder wasm/pkg/: the release module through wasm-bindgen for Node
# (CommonJS, with an ES module entry over it) and for the web, optimized by wasm-opt when that
# makes the gzipped module smaller, plus the JavaScript API, types, package.json and README.
#
# Needs: the wasm32-unknown-unknown target, wasm-bindgen (the CLI at the crate's exact version)
# on PATH or in $MAILROOM_TOOLS/bin, and optionally wasm-opt from wasm/tests/node_modules
# (the npm `binaryen` package; Debian's binaryen writes modules Node 20 cannot load).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mailroom/target}"
tools="${MAILROOM_TOOLS:-$HOME/.cache/mailroom/tools}"
export PATH="$tools/bin:$PATH"
pkg="$here/pkg"

cargo build -p mailroom-wasm --target wasm32-unknown-unknown --profile wasm-release --locked
module="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/mailroom_wasm.wasm"

rm -rf "$pkg"
mkdir -p "$pkg/node" "$pkg/web"
bindgen=(wasm-bindgen --no-typescript --remove-name-section --remove-producers-section)
"${bindgen[@]}" --target nodejs --out-dir "$pkg/node" "$module"
"${bindgen[@]}" --target web --out-dir "$pkg/web" "$module"

# wasm-opt -Oz, kept only where it shrinks what is shipped (the gzipped module).
wasm_opt="$here/tests/node_modules/.bin/wasm-opt"
gz_size() { gzip -9c "$1" | wc -c; }
if [[ -x "$wasm_opt" ]]; then
  for target in node web; do
    file="$pkg/$target/mailroom_wasm_bg.wasm"
    "$wasm_opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
      --enable-mutable-globals --enable-reference-types --enable-multivalue \
      "$file" -o "$file.opt"
    if (( $(gz_size "$file.opt") < $(gz_size "$file") )); then
      mv "$file.opt" "$file"
    else
      rm "$file.opt"
    fi
  done
else
  echo "build.sh: wasm-opt not installed (npm ci in wasm/tests); shipping the unoptimized module" >&2
fi

# The API: one body, two module formats.
cat "$here/js/node-prelude.cjs" "$here/js/api.js" "$here/js/node-epilogue.cjs" >"$pkg/node/index.cjs"
cp "$here/js/node.mjs" "$pkg/node/index.mjs"
cat "$here/js/web-prelude.js" "$here/js/api.js" "$here/js/web-epilogue.js" >"$pkg/web/index.js"
echo '{ "type": "module" }' >"$pkg/web/package.json"
cp "$here/js/types.d.ts" "$pkg/index.d.ts"
cat "$here/js/types.d.ts" "$here/js/web.d.ts" >"$pkg/web/index.d.ts"
cp "$here/js/package.json" "$pkg/package.json"
cp "$here/README.md" "$pkg/README.md"

# Services (and the tests) import the package by name.
for consumer in "$here/tests"; do
  mkdir -p "$consumer/node_modules"
  ln -sfn "$pkg" "$consumer/node_modules/mailroom-wasm"
done

raw=$(wc -c <"$pkg/node/mailroom_wasm_bg.wasm")
echo "mailroom-wasm: $raw bytes raw, $(gz_size "$pkg/node/mailroom_wasm_bg.wasm") bytes gzip -9 ($pkg)"
