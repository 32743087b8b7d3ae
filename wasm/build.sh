#!/usr/bin/env bash
# Builds the npm package folder wasm/pkg/: the module through wasm-bindgen for Node (CommonJS,
# with an ES module entry over it; built for speed) and for the web (built for size, then
# optimized by wasm-opt when that makes the gzipped module smaller), plus the JavaScript API,
# types, package.json and README.
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

# Two modules from the same code: the web one for size (a page downloads it), the Node one for
# speed (a Lambda loads it once per cold start, then runs it for every record). Each has its own
# cargo profile in the root Cargo.toml, so both stay built in the target directory.
build() { cargo build -p mailroom-wasm --target wasm32-unknown-unknown --locked "$@"; }
module() { echo "$CARGO_TARGET_DIR/wasm32-unknown-unknown/$1/mailroom_wasm.wasm"; }
bindgen=(wasm-bindgen --no-typescript --remove-name-section --remove-producers-section)

# Web: `wasm-release`, opt-level "z". z alone leaves iterator and slice helpers out of line in
# every hot loop (the JSON escaping of the report, the parser, the template VM); LLVM's inliner
# at threshold 25 instead of z's 5 makes the module ~20% faster per record for ~1.5% more
# gzipped bytes (BENCHMARKS.md). Only the wasm32 target sees the flag; a RUSTFLAGS of the
# caller's own takes precedence over it.
web_flags="${CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS:--Cllvm-args=-inline-threshold=25}"
# Without the MIME builder (feature `mime`, Batch.rawMessage): a page sends no raw email.
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$web_flags" build --profile wasm-release --no-default-features
# Node: `wasm-node`, opt-level 2 (as fast as 3 here, and smaller), LLVM's own inlining, and
# 128-bit SIMD (Node has it since 16.4): LLVM vectorizes the byte loops, ~10% less time per
# record (BENCHMARKS.md). MAILROOM_WASM_NODE_OPT_LEVEL overrides the level for comparisons (e.g.
# 3, or z); a caller's CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS replaces the flags.
node_config=()
if [[ -n "${MAILROOM_WASM_NODE_OPT_LEVEL:-}" ]]; then
  level="$MAILROOM_WASM_NODE_OPT_LEVEL"
  [[ "$level" =~ ^[0-9]$ ]] || level="\"$level\""
  node_config=(--config "profile.wasm-node.opt-level=$level")
fi
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="${CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS:--Ctarget-feature=+simd128}" \
  build --profile wasm-node "${node_config[@]}"

rm -rf "$pkg"
mkdir -p "$pkg/node" "$pkg/web"
"${bindgen[@]}" --target web --out-dir "$pkg/web" "$(module wasm-release)"
"${bindgen[@]}" --target nodejs --out-dir "$pkg/node" "$(module wasm-node)"

# wasm-opt on the web module, kept only where it shrinks what is shipped (the gzipped module).
# Its inlining is what made `-Oz` cost: the raw file ~9% smaller but the gzipped one ~5%
# larger. `-Os` without any inlining (-aimfs/-ocimfs/-fimfs 0) is ~2% smaller gzipped instead
# (BENCHMARKS.md). `--low-memory-unused`: Rust puts nothing in the first 1 KB of memory. The
# Node module is left as LLVM made it: wasm-opt's speed levels made it no faster.
wasm_opt="$here/tests/node_modules/.bin/wasm-opt"
gz_size() { gzip -9c "$1" | wc -c; }
optimize() {
  "$wasm_opt" -Os -aimfs 0 -ocimfs 0 -fimfs 0 --low-memory-unused \
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue "$1" -o "$1.opt"
}
if [[ "${MAILROOM_WASM_OPT:-1}" == 0 ]]; then
  echo "build.sh: wasm-opt skipped" >&2
elif [[ -x "$wasm_opt" ]]; then
  web_module="$pkg/web/mailroom_wasm_bg.wasm"
  optimize "$web_module"
  before=$(gz_size "$web_module") after=$(gz_size "$web_module.opt")
  if (( after < before )); then
    mv "$web_module.opt" "$web_module"
    echo "build.sh: wasm-opt kept on the web module (gzip $before -> $after bytes)"
  else
    rm "$web_module.opt"
    echo "build.sh: wasm-opt dropped (gzip $before -> $after bytes)"
  fi
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

for target in node web; do
  file="$pkg/$target/mailroom_wasm_bg.wasm"
  echo "mailroom-wasm ($target): $(wc -c <"$file") bytes raw, $(gz_size "$file") bytes gzip -9 ($pkg)"
done
