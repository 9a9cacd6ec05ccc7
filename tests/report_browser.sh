#!/usr/bin/env bash
# The HTML report as an analyst sees it: rendered by a real headless Chromium (Debian's package),
# on a fleet whose process, host and user names are hostile (markup, quotes, `</script>`, a
# terminal escape). Fails on any console error, page error, dialog or network request; checks
# through the DOM that the alert rows, the investigations and every swimlane's cells number what
# the outputs hold (counted independently by DuckDB), that the hostile names show as literal
# text and made no element, and that every alert links to its investigation. Saves a screenshot.
#
# Installs what it needs: Debian's chromium (apt), playwright-core (npm) to drive it, duckdb
# (PyPI, in a venv). Usage: tests/report_browser.sh [NETRARE_BINARY] [--screenshot FILE.png]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${CARGO_TARGET_DIR:-$HOME/.cache/netrare-target}/debug/netrare
SHOT=
while [[ $# -gt 0 ]]; do
    case $1 in
        --screenshot) SHOT=$(realpath -m "$2"); shift 2 ;;
        *) BIN=$1; shift ;;
    esac
done
[[ -x $BIN ]] || { echo "no netrare binary at $BIN (cargo build first)" >&2; exit 2; }

if ! command -v chromium >/dev/null; then
    echo "== installing Debian's chromium"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
TOOLS=${NETRARE_BROWSER_TOOLS:-$HOME/.cache/netrare-browser}
mkdir -p "$TOOLS"
if [[ ! -d $TOOLS/node_modules/playwright-core ]]; then
    echo "== installing playwright-core"
    (cd "$TOOLS" && npm install --silent --no-audit --no-fund playwright-core@1 >/dev/null)
fi
if [[ ! -x $TOOLS/venv/bin/python ]] || ! "$TOOLS/venv/bin/python" -c 'import duckdb' 2>/dev/null; then
    echo "== installing duckdb"
    python3 -m venv "$TOOLS/venv"
    "$TOOLS/venv/bin/pip" install -q duckdb
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "== a fleet with hostile names, backfilled"
"$BIN" fixtures generate --out "$WORK/events" --hosts 12 --days 3 --seed 7 \
    --start 2026-11-01T00:00:00Z >/dev/null
for minute in 05 06; do
    printf '%s\n' "{\"@timestamp\": \"2026-11-03T10:${minute}:00Z\",
      \"event\": {\"category\": [\"network\"], \"type\": [\"start\", \"connection\"],
                \"action\": \"connection_attempted\", \"module\": \"endpoint\"},
      \"host\": {\"name\": \"db-9\\\"'</script><b>bold\", \"os\": {\"type\": \"linux\", \"family\": \"debian\"}},
      \"process\": {\"name\": \"<img src=x onerror=alert(1)>\", \"pid\": 4242, \"executable\": \"/tmp/x\"},
      \"user\": {\"name\": \"root\\u001b[31m\"},
      \"source\": {\"ip\": \"10.0.0.9\", \"port\": 400${minute}},
      \"destination\": {\"ip\": \"203.0.113.7\", \"port\": 31337},
      \"network\": {\"direction\": \"egress\", \"transport\": \"tcp\"}}" | tr -d '\n'
    echo
done >"$WORK/hostile.ndjson"
"$BIN" ingest ndjson --out "$WORK/events" "$WORK/hostile.ndjson" >/dev/null
NETRARE=("$BIN" --store "$WORK/events" --state-dir "$WORK/state" --out "$WORK/out" --jobs-dir "$ROOT/jobs")
"${NETRARE[@]}" backfill --from 2026-11-03T00:05:00Z --to 2026-11-04T00:05:00Z >/dev/null
"${NETRARE[@]}" report --html "$WORK/report.html"

echo "== what the outputs hold, counted by DuckDB"
"$TOOLS/venv/bin/python" "$ROOT/tests/browser/expected.py" "$WORK/out" "$WORK/report.html" \
    >"$WORK/expected.json"
cat "$WORK/expected.json"

echo "== the report in Chromium"
NODE_PATH="$TOOLS/node_modules" node "$ROOT/tests/browser/check.cjs" \
    "$WORK/report.html" "$WORK/expected.json" "${SHOT:-$WORK/report.png}"
echo "report_browser: ok"
