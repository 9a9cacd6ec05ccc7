#!/usr/bin/env bash
# Checks that two netrare binaries write the same bytes: the output trees, the job states and the
# `_bulk` NDJSON files of a backfill and a scheduled run after it, for every shipped job set (the v3
# jobs, the `_ea` jobs, the population jobs) and for the v3 jobs with an exception list acting at
# each stage. A change meant to keep the outputs (a restructuring, a speed-up) runs it with the
# binary built before the change and the one built after.
#
# Usage: tests/same_outputs.sh OLD_BINARY NEW_BINARY [--hosts N] [--days D] [--dir DIR]
# Exits 0 when every tree is identical, 1 with the differing files listed otherwise.

set -euo pipefail

[[ $# -ge 2 ]] || { sed -n '2,9p' "$0"; exit 2; }
OLD=$(realpath "$1")
NEW=$(realpath "$2")
shift 2
HOSTS=40
DAYS=21
WORK=${TMPDIR:-/tmp}/netrare-same-outputs
while [[ $# -gt 0 ]]; do
    case $1 in
        --hosts) HOSTS=$2; shift 2 ;;
        --days) DAYS=$2; shift 2 ;;
        --dir) WORK=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
REPO=$(cd "$(dirname "$0")/.." && pwd)
START=2026-11-01T00:00:00Z
FROM=2026-11-02T00:00:00Z
TO=$(date -u -d "2026-11-01 + $DAYS days - 15 minutes" +%Y-%m-%dT%H:%M:%SZ)
NOW=$(date -u -d "2026-11-01 + $DAYS days + 30 minutes" +%Y-%m-%dT%H:%M:%SZ)

rm -rf "$WORK"
mkdir -p "$WORK"
"$OLD" fixtures generate --out "$WORK/fleet" --hosts "$HOSTS" --days "$DAYS" --start "$START" \
    --scenarios full >/dev/null

# The v3 jobs with one exception list naming an entry of each action.
mkdir -p "$WORK/jobs-exceptions/exceptions"
cat >"$WORK/jobs-exceptions/exceptions/stages.toml" <<'EOF'
description = "One entry per stage"
enabled = true

[[entry]]
id = "not-learnt"
comment = "The model never learns these values."
action = "skip_model_update"
conditions = [{ field = "process.name", operator = "equals", values = ["sshd", "chronyd"] }]

[[entry]]
id = "not-scored"
comment = "Learnt but never a record."
action = "skip_result"
conditions = [{ field = "destination.port", operator = "port_range", values = ["8000-8999"] }]

[[entry]]
id = "not-alerted"
comment = "Recorded but never alerted."
action = "suppress_alert"
conditions = [{ field = "destination.ip", operator = "cidr", values = ["10.0.0.0/8"] }]
EOF
for job in "$REPO"/jobs/v3_*.toml; do
    sed 's/^\[rule\]$/[rule]\nexceptions = ["exceptions\/stages.toml"]/' "$job" \
        >"$WORK/jobs-exceptions/$(basename "$job")"
done
grep -q 'exceptions/stages.toml' "$WORK"/jobs-exceptions/*.toml

# Runs one binary over every job set into $WORK/run, then moves the tree to $WORK/$1, so both
# binaries write under the same absolute paths.
outputs_of() {
    local name=$1 bin=$2
    for set in v3 ea population exceptions; do
        case $set in
            v3) jobs=$REPO/jobs ;;
            ea) jobs=$REPO/jobs/ea ;;
            population) jobs=$REPO/jobs/population ;;
            exceptions) jobs=$WORK/jobs-exceptions ;;
        esac
        local run=$WORK/run
        rm -rf "$run"
        mkdir -p "$run"
        local common=(--store "$WORK/fleet" --state-dir "$run/state" --out "$run/out"
            --jobs-dir "$jobs" --results-ndjson "$run/results.ndjson")
        "$bin" backfill "${common[@]}" --from "$FROM" --to "$TO" \
            --alerts-ndjson "$run/alerts.ndjson" --format json >/dev/null
        "$bin" run "${common[@]}" --now "$NOW" --alerts-ndjson "$run/alerts.ndjson" \
            --format json >/dev/null
        mkdir -p "$WORK/$name"
        mv "$run" "$WORK/$name/$set"
    done
}

outputs_of old "$OLD"
outputs_of new "$NEW"
files=$(find "$WORK/old" -type f | wc -l)
if diff -r "$WORK/old" "$WORK/new"; then
    echo "same outputs: $files files identical ($HOSTS hosts, $DAYS days, 4 job sets)"
else
    echo "outputs differ (trees kept under $WORK)" >&2
    exit 1
fi
