#!/usr/bin/env bash
# Triage benchmark: `netrare investigate` and `netrare report` on a synthetic fleet, and DuckDB
# asked the same history question over the same Parquet event store.
#
# Builds netrare (release), generates a synthetic fleet, installs DuckDB in a venv, backfills both
# jobs over the fleet once (reused after), picks the alert to investigate (the highest
# record_score among the alerts of the fleet's second half, so that its 30 days of history cover
# at least half the store), then for several alternating rounds measures (wall time, CPU time and
# peak RSS, with /usr/bin/time -v; 2 threads on CPUs 0-1):
#   investigate     netrare investigate <alert uuid> --format json, 30 days of history
#   duckdb-history  DuckDB's answer to the same history question (benches/duckdb_history.py):
#                   the rare value's events per day and host, first and last seen, its buckets
#                   and the fleet's, and the destination ports of the bucket's processes
#   report          netrare report --html over the whole range, and the file's size
# checks in every round that DuckDB's counts equal netrare's JSON (history.events, host_count,
# first/last seen, fleet_buckets, value_buckets, each process's events before), and prints a
# markdown table of medians, the ratio investigate / duckdb-history and the verdict per target.
# See docs/performance.md.
#
# Usage: benches/triage.sh [--hosts N] [--days D] [--rounds R] [--large] [--only STEP,STEP...]
#                          [--dir DIR]
# Environment: NETRARE_BENCH_HOSTS, NETRARE_BENCH_DAYS, NETRARE_BENCH_ROUNDS, NETRARE_BENCH_ONLY,
#   NETRARE_BENCH_DIR (default ~/.cache/netrare-bench-triage), CARGO_TARGET_DIR;
#   NETRARE_BENCH_BIN: a netrare binary to measure instead of building one.
# Default: 300 hosts × 30 days. --large: 4,000 hosts × 30 days, about 107 million events.

set -euo pipefail

STEPS_ALL=(investigate duckdb-history report)
HOSTS=${NETRARE_BENCH_HOSTS:-300}
DAYS=${NETRARE_BENCH_DAYS:-30}
ROUNDS=${NETRARE_BENCH_ROUNDS:-3}
ONLY=${NETRARE_BENCH_ONLY:-}
WORK=${NETRARE_BENCH_DIR:-$HOME/.cache/netrare-bench-triage}
THREADS=2
CPUS=0-1
HISTORY_DAYS=30
START=2026-11-01T00:00:00Z
SEED=7

while [[ $# -gt 0 ]]; do
    case $1 in
        --hosts) HOSTS=$2; shift 2 ;;
        --days) DAYS=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --large) HOSTS=4000; DAYS=30; shift ;;
        --only) ONLY=$2; shift 2 ;;
        --dir) WORK=$2; shift 2 ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
STEPS=("${STEPS_ALL[@]}")
if [[ -n $ONLY ]]; then
    IFS=, read -r -a STEPS <<<"$ONLY"
    for step in "${STEPS[@]}"; do
        [[ " ${STEPS_ALL[*]} " == *" $step "* ]] || { echo "unknown step $step (steps: ${STEPS_ALL[*]})" >&2; exit 2; }
    done
fi

REPO=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/netrare-target}
BIN=${NETRARE_BENCH_BIN:-$CARGO_TARGET_DIR/release/netrare}
JOBS_DIR=$REPO/jobs
PY=$WORK/venv/bin/python
SIZE=${HOSTS}h-${DAYS}d
LOGS=$WORK/logs-$SIZE
mkdir -p "$LOGS"
RESULTS=$WORK/results-$SIZE.tsv

log() { echo "[triage $(date +%H:%M:%S)] $*" >&2; }
fail() { log "FAILED: $*"; exit 1; }
selected() { [[ " ${STEPS[*]} " == *" $1 "* ]]; }

# RFC 3339 time `days` days (plus optional minutes) after START.
at() { date -u -d "$START + $1 days + ${2:-0} minutes" +%Y-%m-%dT%H:%M:%SZ; }

setup() {
    if [[ -n ${NETRARE_BENCH_BIN:-} ]]; then
        [[ -x $BIN ]] || fail "NETRARE_BENCH_BIN=$BIN is not an executable"
        log "measuring $BIN"
    else
        log "building release binary"
        (cd "$REPO" && cargo build --release --quiet)
    fi
    if [[ ! -x /usr/bin/time ]]; then
        log "installing GNU time"
        apt-get install -y time >/dev/null
    fi
    command -v taskset >/dev/null || fail "taskset (util-linux) is needed to pin the steps to CPUs"
    if [[ ! -x $PY ]]; then
        log "creating the venv $WORK/venv"
        python3 -m venv "$WORK/venv"
    fi
    if ! "$PY" -c "import duckdb" 2>/dev/null; then
        log "installing duckdb into $WORK/venv"
        "$WORK/venv/bin/pip" install --quiet duckdb || fail "pip install duckdb"
        "$PY" -c "import duckdb" || fail "duckdb does not import after pip install"
    fi
}

# generate HOSTS DAYS: prints the store directory; generated once per size and seed.
generate() {
    local store=$WORK/fleet-$1h-$2d-s$SEED
    if [[ ! -f $store/.events ]]; then
        log "generating $1 hosts × $2 days into $store"
        rm -rf "$store"
        local line started=$SECONDS
        line=$("$BIN" fixtures generate --out "$store" --hosts "$1" --days "$2" --seed "$SEED" --start "$START")
        echo "$line" | sed -E 's/.*: ([0-9]+) Defend events, ([0-9]+) auditd events.*/\1 \2/' | awk '{print $1 + $2}' >"$store/.events"
        log "generated $(cat "$store/.events") events in $((SECONDS - started)) s"
    fi
    echo "$store"
}

# backfill_once: both jobs backfilled over the whole fleet into BASE/{state,out}, once per fleet.
backfill_once() {
    BASE=$WORK/base-$SIZE
    if [[ ! -f $BASE/.done ]]; then
        log "backfilling both jobs over $FLEET into $BASE"
        rm -rf "$BASE" && mkdir -p "$BASE"
        local started=$SECONDS
        RAYON_NUM_THREADS=$THREADS taskset -c "$CPUS" \
            "$BIN" --store "$FLEET" --jobs-dir "$JOBS_DIR" --state-dir "$BASE/state" --out "$BASE/out" \
            backfill --from "$(at 0 15)" --to "$(at "$DAYS" 15)" --format json >"$BASE/backfill.json" ||
            fail "backfill, see $BASE/backfill.json"
        log "backfilled in $((SECONDS - started)) s: $(cat "$BASE/backfill.json")"
        touch "$BASE/.done"
    fi
}

# pick_alert: ALERT_UUID, ALERT_JOB (port|process), ALERT_VALUE, ALERT_BUCKET (RFC 3339) of the
# alert with the highest record_score whose bucket starts at or after the fleet's middle.
pick_alert() {
    MID=$(at "$((DAYS / 2))")
    local line
    line=$("$PY" - "$BASE/out" "$MID" <<'EOF'
import sys
import duckdb
out, mid = sys.argv[1:3]
row = duckdb.connect().execute(f"""
    SELECT "kibana.alert.uuid", job_id, by_field_value,
           strftime(timestamp AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ'), record_score
    FROM read_parquet('{out}/alerts/*/*.parquet', union_by_name = true)
    WHERE timestamp >= TIMESTAMPTZ '{mid}'
    ORDER BY record_score DESC, "kibana.alert.uuid" LIMIT 1
""").fetchone()
if row is None:
    sys.exit(f"no alert at or after {mid} under {out}/alerts")
print(*row, sep="\t")
EOF
) || fail "no alert to investigate"
    IFS=$'\t' read -r ALERT_UUID ALERT_JOB_ID ALERT_VALUE ALERT_BUCKET ALERT_SCORE <<<"$line"
    case $ALERT_JOB_ID in
        *port_activity) ALERT_JOB=port ;;
        *network_activity) ALERT_JOB=process ;;
        *) fail "unknown job $ALERT_JOB_ID" ;;
    esac
    log "investigating alert $ALERT_UUID: $ALERT_JOB_ID, value $ALERT_VALUE, bucket $ALERT_BUCKET, record_score $ALERT_SCORE (mid-fleet: $MID)"
}

# measure NAME ROUND CMD...: runs CMD under /usr/bin/time -v and appends
# "name round wall_s rss_kib cpu_s" (cpu = user + system) to the results; CMD's stdout goes to
# $LOGS/NAME-ROUND.log, its stderr to $LOGS/NAME-ROUND.err.
measure() {
    local name=$1 round=$2
    shift 2
    local out=$LOGS/$name-$round
    /usr/bin/time -v -o "$out.time" "$@" >"$out.log" 2>"$out.err" || { log "$name failed, see $out.err"; tail -5 "$out.err" >&2; exit 1; }
    local wall rss cpu
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$out.time")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out.time")
    cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$out.time")
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$round" "$wall" "$rss" "$cpu" >>"$RESULTS"
    log "$name round $round: ${wall}s, ${cpu}s CPU, $((rss / 1024)) MiB"
}

# netrare_args: the pinned netrare command line over the fleet and its backfilled outputs.
netrare_args() {
    NETRARE=(env RAYON_NUM_THREADS="$THREADS" taskset -c "$CPUS" "$BIN" --store "$FLEET" --jobs-dir "$JOBS_DIR"
        --state-dir "$BASE/state" --out "$BASE/out")
}

# step NAME ROUND: measures one step.
step() {
    case $1 in
        investigate) measure "$1" "$2" "${NETRARE[@]}" investigate "$ALERT_UUID" --history "${HISTORY_DAYS}d" --format json ;;
        duckdb-history)
            measure "$1" "$2" taskset -c "$CPUS" "$PY" "$REPO/benches/duckdb_history.py" "$FLEET" "$THREADS" \
                "$ALERT_JOB" "$ALERT_VALUE" "$ALERT_BUCKET" "$HISTORY_DAYS" ;;
        report)
            local html=$LOGS/report-$2.html
            rm -f "$html"
            measure "$1" "$2" "${NETRARE[@]}" report --html "$html"
            [[ -s $html ]] || fail "report wrote no $html"
            wc -c <"$html" >>"$LOGS/report-bytes"
            ;;
    esac
}

# check_counts ROUND: DuckDB's counts equal those of netrare's JSON in the round, or the benchmark
# fails: a ratio between different answers means nothing.
check_counts() {
    selected investigate && selected duckdb-history || { log "investigate or duckdb-history not measured: counts not checked"; return; }
    local result
    result=$("$PY" - "$LOGS/investigate-$1.log" "$LOGS/duckdb-history-$1.log" <<'EOF'
import json
import sys
mine = json.load(open(sys.argv[1]))
theirs = dict(kv.split("=", 1) for kv in open(sys.argv[2]).readline().split())
history = mine["history"]
wrong = []
for key in ["events", "host_count", "first_seen_ms", "last_seen_ms", "fleet_buckets", "value_buckets"]:
    want = "null" if history[key] is None else str(history[key])
    if theirs[key] != want:
        wrong.append(f"history.{key}: netrare {want}, DuckDB {theirs[key]}")
days = sum(1 for _, n in history["days"] if n > 0)
if str(days) != theirs["value_days"]:
    wrong.append(f"days with the value: netrare {days}, DuckDB {theirs['value_days']}")
processes = {p["name"]: p["events_before"] for p in mine["processes"]}
duck = dict(kv.split(":") for kv in theirs["process_events"].split(",") if kv)
watched = sorted(w for w in theirs["watched"].split(",") if w)
if sorted(processes) != watched:
    wrong.append(f"the bucket's processes: netrare {sorted(processes)}, DuckDB {watched}")
for name, n in processes.items():
    if str(n) != duck.get(name, "0"):
        wrong.append(f"{name} events before: netrare {n}, DuckDB {duck.get(name, '0')}")
if wrong:
    sys.exit("; ".join(wrong))
print(f"{history['events']} events of the value on {history['host_count']} hosts, "
      f"{history['value_buckets']} of {history['fleet_buckets']} buckets; processes "
      + ", ".join(f"{k} {v}" for k, v in sorted(processes.items())))
EOF
) || fail "DuckDB's history differs from netrare's in round $1 (see $LOGS/investigate-$1.log, $LOGS/duckdb-history-$1.log)"
    log "round $1: same answer on both sides: $result"
    COUNTS=$result
}

# stat NAME FIELD: median (FIELD 3, wall; 5, CPU) or maximum (FIELD 4, RSS) over the rounds.
stat() {
    awk -F'\t' -v n="$1" -v f="$2" '$1 == n {print $f}' "$RESULTS" | sort -g |
        awk -v f="$2" '{v[NR] = $1} END {if (NR == 0) print "-"; else if (f == 4) print v[NR]; else print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'
}

range() {
    awk -F'\t' -v n="$1" '$1 == n {print $3}' "$RESULTS" | sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "-"; else printf "%s–%s", v[1], v[NR]}'
}

# ratio A B: A / B to two decimals, or "-" when either is missing.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {if (a == "-" || b == "-" || a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b}'
}

# query_alone: the median of DuckDB's own seconds (query_seconds=…), without the interpreter start
# or import.
query_alone() {
    grep -ho "query_seconds=[0-9.]*" "$LOGS"/duckdb-history-*.log 2>/dev/null | cut -d= -f2 | sort -g |
        awk '{v[NR] = $1} END {if (NR == 0) print "-"; else print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'
}

# verdict VALUE OP LIMIT: "met" or "missed", or "-" without a value.
verdict() {
    awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {if (v == "-" || v == "") print "-"; else if ((op == "<=" && v <= l) || (op == ">=" && v >= l)) print "**met**"; else print "**missed**"}'
}

describe() {
    case $1 in
        investigate) echo "netrare investigate <uuid> --format json, ${HISTORY_DAYS} days of history" ;;
        duckdb-history) echo "DuckDB, the same history question, one SQL script" ;;
        report) echo "netrare report --html, every alert investigated" ;;
    esac
}

report() {
    local events bytes="-"
    events=$(cat "$FLEET/.events")
    [[ -s $LOGS/report-bytes ]] && bytes=$(sort -g "$LOGS/report-bytes" | tail -1)
    echo
    echo "Fleet: $HOSTS hosts × $DAYS days, $events events; rounds: $ROUNDS; $THREADS threads on CPUs $CPUS."
    echo "Alert: $ALERT_UUID ($ALERT_JOB_ID, $ALERT_VALUE, bucket $ALERT_BUCKET, record_score $ALERT_SCORE)."
    echo "Answer: ${COUNTS:-not checked}."
    echo
    echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) RAM, $(date -u +%Y-%m-%d); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    echo "| step | what | wall median (s) | wall range (s) | CPU median (s) | peak RSS (MiB) | output (bytes) |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
    local name rss out
    for name in "${STEPS_ALL[@]}"; do
        selected "$name" || continue
        rss=$(stat "$name" 4)
        out="-"
        [[ $name == report ]] && out=$bytes
        echo "| $name | $(describe "$name") | $(stat "$name" 3) | $(range "$name") | $(stat "$name" 5) | $(awk -v r="$rss" 'BEGIN {printf "%.0f", r / 1024}') | $out |"
    done
    echo
    local inv duck
    inv=$(stat investigate 3)
    duck=$(stat duckdb-history 3)
    echo "investigate / duckdb-history: $(ratio "$inv" "$duck") wall, $(ratio "$(stat investigate 5)" "$(stat duckdb-history 5)") CPU;"
    echo "investigate / DuckDB's query alone ($(query_alone) s, no Python start or import): $(ratio "$inv" "$(query_alone)")."
    echo
    echo "| target | measured | verdict |"
    echo "| --- | --- | --- |"
    # The targets hold for one fleet each: on another, the verdict is shown in brackets.
    local large=no default=no
    [[ $HOSTS == 4000 && $DAYS == 30 ]] && large=yes
    [[ $HOSTS == 300 && $DAYS == 30 ]] && default=yes
    aside() { if [[ $1 == yes ]]; then echo "$2"; else echo "($2: not the target's fleet)"; fi; }
    echo "| investigate ≤ 5 s (on --large) | $inv s | $(aside $large "$(verdict "$inv" "<=" 5)") |"
    echo "| investigate not slower than DuckDB | ratio $(ratio "$inv" "$duck") | $(verdict "$(ratio "$inv" "$duck")" "<=" 1) |"
    echo "| report ≤ 3 s (on 300 hosts × 30 days) | $(stat report 3) s | $(aside $default "$(verdict "$(stat report 3)" "<=" 3)") |"
    echo "| report ≤ 5 MB (on 300 hosts × 30 days) | $bytes bytes | $(aside $default "$(verdict "$bytes" "<=" 5000000)") |"
}

main() {
    setup
    FLEET=$(generate "$HOSTS" "$DAYS")
    backfill_once
    pick_alert
    netrare_args
    : >"$RESULTS"
    rm -f "$LOGS"/*
    local order reversed=() i name
    for ((i = ${#STEPS[@]} - 1; i >= 0; i--)); do reversed+=("${STEPS[i]}"); done
    for round in $(seq 1 "$ROUNDS"); do
        if ((round % 2)); then order=("${STEPS[@]}"); else order=("${reversed[@]}"); fi
        for name in "${order[@]}"; do step "$name" "$round"; done
        check_counts "$round"
    done
    report | tee "$WORK/report-$SIZE.md"
}

main
