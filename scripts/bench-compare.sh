#!/usr/bin/env bash
# Renders the example order confirmation with the core (minijinja, criterion), Jinja2 (Python)
# and Handlebars (Node) in one run and prints a table. Installs Jinja2 into a venv under
# MAILROOM_TOOLS and Handlebars from bench/compare/handlebars/package-lock.json.
#   scripts/bench-compare.sh [ITERATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mailroom/target}"
tools="${MAILROOM_TOOLS:-$HOME/.cache/mailroom/tools}"
iterations="${1:-2000}"

venv="$tools/bench-venv"
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -c 'import jinja2' 2>/dev/null || "$venv/bin/pip" install --quiet 'jinja2==3.1.6'
(cd bench/compare/handlebars && { [[ -d node_modules/handlebars ]] || npm ci --no-audit --no-fund --silent; })

echo "core: cargo bench (per_record, about a minute)..." >&2
core_log="$(mktemp)"
cargo bench -p mailroom-core --bench pipeline --locked -- 'per_record/' \
  --warm-up-time 2 --measurement-time 5 >"$core_log" 2>&1
core_time() {
  # The middle (estimate) of criterion's "time: [low estimate high]" line after the bench name.
  grep -A1 -E "^per_record/$1( |$)" "$core_log" | sed -nE 's/.*time: +\[[^ ]+ [^ ]+ ([^ ]+) ([^ ]+) .*/\1 \2/p' | head -1
}
with_text="$(core_time order_eventbridge)"
derived_text="$(core_time order_eventbridge_text_from_html)"
rm -f "$core_log"

echo "Jinja2 and Handlebars ($iterations renders x 5 rounds, best round)..." >&2
jinja="$("$venv/bin/python" bench/compare/jinja2_render.py "$iterations")"
handlebars="$(node bench/compare/handlebars/render.js "$iterations")"
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

printf '\n%-42s %-34s %s\n' "engine" "what is timed, per record" "time"
printf '%-42s %-34s %s\n' "mailroom-core (minijinja), .txt template" "event JSON in -> email out" "$with_text"
printf '%-42s %-34s %s\n' "mailroom-core, text derived from HTML" "event JSON in -> email out" "$derived_text"
for result in "$jinja" "$handlebars"; do
  engine="$(field "$result" engine)"
  printf '%-42s %-34s %s µs\n' "$engine" "render (subject, HTML, text)" "$(field "$result" render_us)"
  printf '%-42s %-34s %s µs\n' "$engine" "body JSON parse + render" "$(field "$result" parse_render_us)"
done
echo "machine: $(nproc) cores, $(lscpu | sed -nE 's/^Model name: +//p' | head -1), load average $(cut -d' ' -f1-3 /proc/loadavg)"
