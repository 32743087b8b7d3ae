# The npm package: wasm-bindgen CLI at the crate's exact version, the Node tooling (npm ci),
# the package build (wasm/build.sh), its Node tests, the type checks of the declarations and of
# the Node Lambda example, the example against moto, and the module sizes.
set -euo pipefail
root="$(pwd)"
tools="${MAILROOM_TOOLS:?MAILROOM_TOOLS is set by scripts/test}"
export PATH="$tools/bin:$PATH"

# wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock (the glue format changes).
wanted=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [[ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $wanted" ]]; then
  echo "installing wasm-bindgen-cli $wanted"
  cargo install wasm-bindgen-cli --version "$wanted" --root "$tools" --force
fi

# Node tooling (typescript, handlebars, binaryen's wasm-opt) from the committed lockfile.
npm_ci() { (cd "$1" && if ! npm ci --no-audit --no-fund --prefer-offline >/tmp/npm-ci.log 2>&1; then cat /tmp/npm-ci.log >&2; exit 1; fi); }
npm_ci wasm/tests

wasm/build.sh

cd "$root/wasm/tests"
node --test
./node_modules/.bin/tsc -p tsconfig.json

# The example Lambda depends on the package folder built above: type-check and compile it, then
# run it against moto's SES v2 (installed by 15-services).
cd "$root"
npm_ci examples/node-lambda
export PATH="$tools/python/bin:$PATH"
(cd examples/node-lambda && ./node_modules/.bin/tsc -p tsconfig.json && node --test)

for target in node web; do
  file="wasm/pkg/$target/mailroom_wasm_bg.wasm"
  echo "wasm ($target): $(wc -c <"$file") bytes raw, $(gzip -9c "$file" | wc -c) bytes gzip -9"
done
