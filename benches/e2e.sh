#!/usr/bin/env bash
# End-to-end benchmark: netrare against DuckDB on the same Parquet event store.
#
# Builds netrare (release), generates a synthetic fleet, installs DuckDB in a venv, then for
# several alternating rounds measures (wall time and peak RSS, with /usr/bin/time -v):
#   backfill-2t  netrare backfill of both jobs over the whole range, fresh state, 2 threads
#   backfill-1t  the same on 1 thread (RAYON_NUM_THREADS=1): the fold's scaling
#   duckdb       DuckDB's bare per-bucket presence aggregation of the port job, 2 threads
#   run          one scheduled `netrare run` at the end of a 30-day store, on backfilled state
# and prints a markdown table of medians. See docs/performance.md.
#
# Usage: benches/e2e.sh [--hosts N] [--days D] [--rounds R] [--run-hosts N] [--large] [--dir DIR]
# Environment: NETRARE_BENCH_HOSTS, NETRARE_BENCH_DAYS, NETRARE_BENCH_ROUNDS,
#   NETRARE_BENCH_RUN_HOSTS, NETRARE_BENCH_DIR, CARGO_TARGET_DIR.
# --large: 4,000 hosts × 30 days at ~35 events/host/hour, about 100 million events.

set -euo pipefail

HOSTS=${NETRARE_BENCH_HOSTS:-300}
DAYS=${NETRARE_BENCH_DAYS:-21}
ROUNDS=${NETRARE_BENCH_ROUNDS:-3}
RUN_HOSTS=${NETRARE_BENCH_RUN_HOSTS:-}
WORK=${NETRARE_BENCH_DIR:-$HOME/.cache/netrare-bench}
START=2026-11-01T00:00:00Z
SEED=7

while [[ $# -gt 0 ]]; do
    case $1 in
        --hosts) HOSTS=$2; shift 2 ;;
        --days) DAYS=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --run-hosts) RUN_HOSTS=$2; shift 2 ;;
        --large) HOSTS=4000; DAYS=30; shift ;;
        --dir) WORK=$2; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
RUN_HOSTS=${RUN_HOSTS:-$HOSTS}

REPO=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/netrare-target}
BIN=$CARGO_TARGET_DIR/release/netrare
JOBS_DIR=$REPO/jobs
mkdir -p "$WORK/logs"
RESULTS=$WORK/results.tsv

log() { echo "[e2e $(date +%H:%M:%S)] $*" >&2; }

# RFC 3339 time `days` days (plus optional minutes) after START.
at() { date -u -d "$START + $1 days + ${2:-0} minutes" +%Y-%m-%dT%H:%M:%SZ; }

setup() {
    log "building release binary"
    (cd "$REPO" && cargo build --release --quiet)
    if [[ ! -x /usr/bin/time ]]; then
        log "installing GNU time"
        apt-get install -y time >/dev/null
    fi
    if [[ ! -x $WORK/venv/bin/python ]]; then
        log "installing duckdb into $WORK/venv"
        python3 -m venv "$WORK/venv"
    fi
    "$WORK/venv/bin/python" -c 'import duckdb' 2>/dev/null || "$WORK/venv/bin/pip" install --quiet duckdb
}

# generate HOSTS DAYS: prints the store directory; generated once per size and seed.
generate() {
    local store=$WORK/fleet-$1h-$2d-s$SEED
    if [[ ! -f $store/.events ]]; then
        log "generating $1 hosts × $2 days into $store"
        rm -rf "$store"
        local line
        line=$("$BIN" fixtures generate --out "$store" --hosts "$1" --days "$2" --seed "$SEED" --start "$START")
        echo "$line" | sed -E 's/.*: ([0-9]+) Defend events, ([0-9]+) auditd events.*/\1 \2/' | awk '{print $1 + $2}' >"$store/.events"
    fi
    echo "$store"
}

# measure NAME ROUND CMD...: runs CMD under /usr/bin/time -v and appends
# "name round wall_s rss_kib cpu_s" (cpu = user + system) to the results; CMD's output goes to
# $WORK/logs.
measure() {
    local name=$1 round=$2
    shift 2
    local out=$WORK/logs/$name-$round
    /usr/bin/time -v -o "$out.time" "$@" >"$out.log" 2>&1 || { log "$name failed, see $out.log"; tail -5 "$out.log" >&2; exit 1; }
    local wall rss cpu
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$out.time")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out.time")
    cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$out.time")
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$round" "$wall" "$rss" "$cpu" >>"$RESULTS"
    log "$name round $round: ${wall}s, $((rss / 1024)) MiB"
}

backfill() {
    local threads=$1 round=$2 scratch=$WORK/scratch
    rm -rf "$scratch" && mkdir -p "$scratch"
    RAYON_NUM_THREADS=$threads measure "backfill-${threads}t" "$round" "$BIN" backfill --store "$FLEET" --jobs-dir "$JOBS_DIR" \
        --state-dir "$scratch/state" --out "$scratch/out" --from "$(at 0 15)" --to "$(at "$DAYS" 15)"
}

duckdb_presence() {
    measure duckdb "$1" "$WORK/venv/bin/python" "$REPO/benches/duckdb_presence.py" "$FLEET" 2
}

# prepare_run: a 30-day store and the state of a backfill up to its last execution but one.
prepare_run() {
    RUN_STORE=$(generate "$RUN_HOSTS" 30)
    RUN_BASE=$WORK/run-base-$RUN_HOSTS
    if [[ ! -d $RUN_BASE/state ]]; then
        log "backfilling the 30-day store to build the run's state"
        rm -rf "$RUN_BASE"
        "$BIN" backfill --store "$RUN_STORE" --jobs-dir "$JOBS_DIR" --state-dir "$RUN_BASE/state.tmp" --out "$RUN_BASE/out" \
            --from "$(at 0 15)" --to "$(at 30 -15)" >"$WORK/logs/run-base.log" 2>&1
        mv "$RUN_BASE/state.tmp" "$RUN_BASE/state"
    fi
}

scheduled_run() {
    local scratch=$WORK/run-scratch
    rm -rf "$scratch" && mkdir -p "$scratch"
    cp -r "$RUN_BASE/state" "$scratch/state"
    measure run "$1" "$BIN" run --store "$RUN_STORE" --jobs-dir "$JOBS_DIR" --state-dir "$scratch/state" --out "$scratch/out" --now "$(at 30)"
}

# stat NAME FIELD: median (FIELD 3, wall; 5, CPU) or maximum (FIELD 4, RSS) over the rounds.
stat() {
    awk -F'\t' -v n="$1" -v f="$2" '$1 == n {print $f}' "$RESULTS" | sort -g |
        awk -v f="$2" '{v[NR] = $1} END {if (NR == 0) print "-"; else if (f == 4) print v[NR]; else print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'
}

range() {
    awk -F'\t' -v n="$1" '$1 == n {print $3}' "$RESULTS" | sort -g | awk '{v[NR] = $1} END {printf "%s–%s", v[1], v[NR]}'
}

report() {
    local events run_events
    events=$(cat "$FLEET/.events")
    run_events=$(cat "$RUN_STORE/.events")
    echo
    echo "Fleet: $HOSTS hosts × $DAYS days, $events events; run store: $RUN_HOSTS hosts × 30 days, $run_events events; $ROUNDS rounds."
    echo
    echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) RAM, $(date -u +%Y-%m-%d); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    echo "| step | what | wall median (s) | wall range (s) | CPU median (s) | peak RSS (MiB) | events/s |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
    local name what wall rss eps
    for name in backfill-2t backfill-1t duckdb run; do
        case $name in
            backfill-2t) what="netrare backfill, both jobs, 2 threads" ;;
            backfill-1t) what="netrare backfill, both jobs, 1 thread" ;;
            duckdb) what="DuckDB presence aggregation, port job, 2 threads" ;;
            run) what="netrare run, one execution at the end of 30 days" ;;
        esac
        wall=$(stat "$name" 3)
        rss=$(stat "$name" 4)
        eps="-"
        [[ $name != run ]] && eps=$(awk -v e="$events" -v w="$wall" 'BEGIN {printf "%.0f", e / w}')
        echo "| $name | $what | $wall | $(range "$name") | $(stat "$name" 5) | $(awk -v r="$rss" 'BEGIN {printf "%.0f", r / 1024}') | $eps |"
    done
    echo
    awk -v a="$(stat backfill-2t 3)" -v b="$(stat duckdb 3)" -v c="$(stat backfill-1t 3)" -v ac="$(stat backfill-2t 5)" -v bc="$(stat duckdb 5)" 'BEGIN {
        printf "Ratio netrare backfill (2 jobs) / DuckDB (1 job): %.2f wall, %.2f CPU\n", a / b, ac / bc
        printf "Speed-up 1 -> 2 threads: %.2fx\n", c / a
    }'
    local query
    query=$(grep -ho 'query_seconds=[0-9.]*' "$WORK"/logs/duckdb-*.log | cut -d= -f2 | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
    awk -v a="$(stat backfill-2t 3)" -v q="$query" 'BEGIN {
        printf "DuckDB query alone (no interpreter start): %.2f s; ratio netrare / query alone: %.2f\n", q, a / q
    }'
}

main() {
    setup
    FLEET=$(generate "$HOSTS" "$DAYS")
    prepare_run
    : >"$RESULTS"
    rm -f "$WORK"/logs/duckdb-*
    for round in $(seq 1 "$ROUNDS"); do
        if ((round % 2)); then
            backfill 2 "$round"; duckdb_presence "$round"; backfill 1 "$round"
        else
            duckdb_presence "$round"; backfill 1 "$round"; backfill 2 "$round"
        fi
        scheduled_run "$round"
    done
    report | tee "$WORK/report.md"
}

main
