#!/usr/bin/env bash
# End-to-end benchmark: netrare against polars and DuckDB on the same Parquet event store.
#
# Builds netrare (release), generates a synthetic fleet, installs DuckDB and polars in a venv, then
# for several alternating rounds measures (wall time, CPU time and peak RSS, with /usr/bin/time -v):
#   backfill-2t   netrare backfill of both jobs over the whole range, fresh state, 2 threads
#   backfill-1t   the same on 1 thread and 1 CPU: the backfill's scaling (both backfills are
#                 pinned with taskset to as many CPUs as threads, so the commit writer's thread
#                 never lends the 1-thread run a second CPU)
#   fold-2t       netrare's scan, datafeed selection and fold of both jobs without the model
#                 (the scan_fold bench binary), 2 threads: the hand fold against polars
#   polars-1job   polars' lazy per-bucket presence aggregation of the port job, 2 threads
#   polars-2jobs  polars' aggregations of both jobs from one scan (collect_all), 2 threads
#   duckdb        DuckDB's per-bucket presence aggregation of the port job, 2 threads
#   duckdb-floor  DuckDB's scan, port datafeed filter and count(*) only, 2 threads
#   run           one scheduled `netrare run` at the end of a 30-day store, on backfilled state
# checks that every peer selects as many events as netrare's jobs, and prints a markdown table of
# medians and the ratios. See docs/performance.md.
#
# Usage: benches/e2e.sh [--hosts N] [--days D] [--rounds R] [--run-hosts N] [--large]
#                       [--only STEP,STEP...] [--layout mixed|flat|nested] [--traffic N]
#                       [--shapes LAYOUT:TRAFFIC,...] [--dir DIR]
# Environment: NETRARE_BENCH_HOSTS, NETRARE_BENCH_DAYS, NETRARE_BENCH_ROUNDS,
#   NETRARE_BENCH_RUN_HOSTS, NETRARE_BENCH_ONLY, NETRARE_BENCH_LAYOUT, NETRARE_BENCH_TRAFFIC,
#   NETRARE_BENCH_DIR,
#   CARGO_TARGET_DIR; NETRARE_BENCH_BIN: a netrare binary to measure instead of building one.
# --large: 4,000 hosts × 30 days at ~35 events/host/hour, about 100 million events.
# --only: measure only these steps (e.g. --only backfill-2t,polars-1job for --large).
# --layout: the store layout of `netrare fixtures generate --layout` (default mixed); every step
#   reads every layout.
# --traffic: `fixtures generate --traffic`, the hosts' connection rate multiplied (default 1, about
#   38 events a host-hour; 5 is as dense as the busy servers of a lake-written store).
# --shapes: measure each store shape in turn (e.g. mixed:1,flat:5: the generator's default and a
#   lake-written store), print each report, then the ratios of every shape side by side.

set -euo pipefail

STEPS_ALL=(backfill-2t backfill-1t fold-2t polars-1job polars-2jobs duckdb duckdb-floor run)
HOSTS=${NETRARE_BENCH_HOSTS:-300}
DAYS=${NETRARE_BENCH_DAYS:-21}
ROUNDS=${NETRARE_BENCH_ROUNDS:-3}
RUN_HOSTS=${NETRARE_BENCH_RUN_HOSTS:-}
ONLY=${NETRARE_BENCH_ONLY:-}
LAYOUT=${NETRARE_BENCH_LAYOUT:-mixed}
TRAFFIC=${NETRARE_BENCH_TRAFFIC:-1}
SHAPES=""
ARGS=("$@")
WORK=${NETRARE_BENCH_DIR:-$HOME/.cache/netrare-bench}
THREADS=2
START=2026-11-01T00:00:00Z
SEED=7

while [[ $# -gt 0 ]]; do
    case $1 in
        --hosts) HOSTS=$2; shift 2 ;;
        --days) DAYS=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --run-hosts) RUN_HOSTS=$2; shift 2 ;;
        --large) HOSTS=4000; DAYS=30; shift ;;
        --only) ONLY=$2; shift 2 ;;
        --dir) WORK=$2; shift 2 ;;
        --layout) LAYOUT=$2; shift 2 ;;
        --traffic) TRAFFIC=$2; shift 2 ;;
        --shapes) SHAPES=$2; shift 2 ;;
        -h|--help) sed -n '2,34p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
RUN_HOSTS=${RUN_HOSTS:-$HOSTS}
case $LAYOUT in
    mixed|flat|nested) ;;
    *) echo "unknown layout $LAYOUT (layouts: mixed flat nested)" >&2; exit 2 ;;
esac
STEPS=("${STEPS_ALL[@]}")
if [[ -n $ONLY ]]; then
    IFS=, read -r -a STEPS <<<"$ONLY"
    for step in "${STEPS[@]}"; do
        [[ " ${STEPS_ALL[*]} " == *" $step "* ]] || { echo "unknown step $step (steps: ${STEPS_ALL[*]})" >&2; exit 2; }
    done
fi
PEERS=(polars-1job polars-2jobs duckdb duckdb-floor)

REPO=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/netrare-target}
BIN=${NETRARE_BENCH_BIN:-$CARGO_TARGET_DIR/release/netrare}
JOBS_DIR=$REPO/jobs
PORT_JOB=v3_linux_anomalous_network_port_activity
PROCESS_JOB=v3_linux_anomalous_network_activity
PY=$WORK/venv/bin/python
mkdir -p "$WORK/logs"
RESULTS=$WORK/results.tsv

log() { echo "[e2e $(date +%H:%M:%S)] $*" >&2; }
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
    if selected fold-2t; then
        log "building the scan_fold bench binary"
        FOLD_BIN=$(cd "$REPO" && cargo bench --bench scan_fold --no-run --message-format=json 2>/dev/null |
            grep -o '"executable":"[^"]*scan_fold[^"]*"' | tail -1 | cut -d'"' -f4)
        [[ -x $FOLD_BIN ]] || fail "cargo bench --bench scan_fold --no-run built no binary"
    fi
    if [[ ! -x /usr/bin/time ]]; then
        log "installing GNU time"
        apt-get install -y time >/dev/null
    fi
    command -v taskset >/dev/null || fail "taskset (util-linux) is needed to pin the backfills to CPUs"
    if [[ ! -x $PY ]]; then
        log "creating the venv $WORK/venv"
        python3 -m venv "$WORK/venv"
    fi
    local peer needed=""
    for peer in "${PEERS[@]}"; do
        if selected "$peer"; then needed=yes; fi
    done
    [[ -n $needed ]] || return 0
    local module
    for module in duckdb polars; do
        if ! "$PY" -c "import $module" 2>/dev/null; then
            log "installing $module into $WORK/venv"
            "$WORK/venv/bin/pip" install --quiet "$module" || fail "pip install $module"
            "$PY" -c "import $module" || fail "$module does not import after pip install"
        fi
    done
}

# generate HOSTS DAYS: prints the store directory; generated once per size, seed, layout and
# traffic.
generate() {
    local store=$WORK/fleet-$1h-$2d-s$SEED
    [[ $LAYOUT == mixed ]] || store=$store-$LAYOUT
    [[ $TRAFFIC == 1 ]] || store=$store-x$TRAFFIC
    if [[ ! -f $store/.events ]]; then
        log "generating $1 hosts × $2 days into $store"
        rm -rf "$store"
        local line started=$SECONDS
        line=$("$BIN" fixtures generate --out "$store" --hosts "$1" --days "$2" --seed "$SEED" --start "$START" --layout "$LAYOUT" --traffic "$TRAFFIC")
        echo "$line" | sed -E 's/.*: ([0-9]+) Defend events, ([0-9]+) auditd events.*/\1 \2/' | awk '{print $1 + $2}' >"$store/.events"
        log "generated $(cat "$store/.events") events in $((SECONDS - started)) s"
    fi
    echo "$store"
}

# measure NAME ROUND CMD...: runs CMD under /usr/bin/time -v and appends
# "name round wall_s rss_kib cpu_s" (cpu = user + system) to the results; CMD's output goes to
# $WORK/logs/NAME-ROUND.log.
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
    RAYON_NUM_THREADS=$threads measure "backfill-${threads}t" "$round" taskset -c "0-$((threads - 1))" \
        "$BIN" backfill --store "$FLEET" --jobs-dir "$JOBS_DIR" \
        --state-dir "$scratch/state" --out "$scratch/out" --from "$(at 0 15)" --to "$(at "$DAYS" 15)" --format json
}

# prepare_run: a 30-day store and the state of a backfill up to its last execution but one.
prepare_run() {
    RUN_STORE=$(generate "$RUN_HOSTS" 30)
    RUN_BASE=$WORK/run-base-$RUN_HOSTS
    [[ $LAYOUT == mixed ]] || RUN_BASE=$RUN_BASE-$LAYOUT
    [[ $TRAFFIC == 1 ]] || RUN_BASE=$RUN_BASE-x$TRAFFIC
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

# step NAME ROUND: measures one step.
step() {
    case $1 in
        backfill-2t) backfill 2 "$2" ;;
        backfill-1t) backfill 1 "$2" ;;
        fold-2t) RAYON_NUM_THREADS=2 measure "$1" "$2" "$FOLD_BIN" "$FLEET" "$START" "$DAYS" ;;
        polars-1job) measure "$1" "$2" "$PY" "$REPO/benches/polars_presence.py" "$FLEET" "$THREADS" port "$(at "$DAYS")" ;;
        polars-2jobs) measure "$1" "$2" "$PY" "$REPO/benches/polars_presence.py" "$FLEET" "$THREADS" both "$(at "$DAYS")" ;;
        duckdb) measure "$1" "$2" "$PY" "$REPO/benches/duckdb_presence.py" "$FLEET" "$THREADS" presence "$(at "$DAYS")" ;;
        duckdb-floor) measure "$1" "$2" "$PY" "$REPO/benches/duckdb_presence.py" "$FLEET" "$THREADS" floor "$(at "$DAYS")" ;;
        run) scheduled_run "$2" ;;
    esac
}

# netrare_events ROUND JOB: the events JOB selected in the round's backfill, from its JSON summary;
# nothing when no backfill was measured.
netrare_events() {
    local name log count
    for name in backfill-2t backfill-1t; do
        log=$WORK/logs/$name-$1.log
        [[ -f $log ]] || continue
        count=$(grep '^{' "$log" | "$PY" -c 'import json, sys
print(next(j["events"] for j in json.load(sys.stdin)["jobs"] if j["job_id"] == sys.argv[1]))' "$2") ||
            fail "no event count of $2 in the JSON summary of $log"
        echo "$count"
        return
    done
}

# peer_count ROUND STEP KEY: the value of KEY=… the peer printed in the round.
peer_count() {
    grep -ho "\b$3=[0-9]*" "$WORK/logs/$2-$1.log" | cut -d= -f2
}

# check_counts ROUND: every peer of the round selected as many events as netrare's job. Fails the
# benchmark if not: a ratio between different selections means nothing.
check_counts() {
    local port process
    port=$(netrare_events "$1" "$PORT_JOB")
    process=$(netrare_events "$1" "$PROCESS_JOB")
    if [[ -z $port ]]; then
        log "no backfill measured: event counts not checked"
        return
    fi
    local name key want got
    for name in fold-2t:port polars-1job polars-2jobs duckdb duckdb-floor polars-2jobs:process fold-2t:process; do
        key=events want=$port
        if [[ $name == *:process ]]; then
            name=${name%:process} key=process_events want=$process
        elif [[ $name == *:port ]]; then
            name=${name%:port} key=port_events
        fi
        selected "$name" || continue
        got=$(peer_count "$1" "$name" "$key")
        [[ $got == "$want" ]] || fail "$name selected ${got:-no} events ($key) where netrare's job selected $want; see $WORK/logs/$name-$1.log"
    done
    log "round $1: every peer selected netrare's $port port-job events (process job: $process)"
    COUNTS="$port port-job events, $process process-job events"
}

# stat NAME FIELD: median (FIELD 3, wall; 5, CPU) or maximum (FIELD 4, RSS) over the rounds.
stat() {
    awk -F'\t' -v n="$1" -v f="$2" '$1 == n {print $f}' "$RESULTS" | sort -g |
        awk -v f="$2" '{v[NR] = $1} END {if (NR == 0) print "-"; else if (f == 4) print v[NR]; else print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'
}

range() {
    awk -F'\t' -v n="$1" '$1 == n {print $3}' "$RESULTS" | sort -g | awk '{v[NR] = $1} END {printf "%s–%s", v[1], v[NR]}'
}

# ratio A B: A / B to two decimals, or "-" when either is missing.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {if (a == "-" || b == "-" || a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b}'
}

# query_alone STEP [KEY]: the median of the seconds the step's own work took (KEY=…, default
# query_seconds), without the interpreter or process start.
query_alone() {
    grep -ho "${2:-query_seconds}=[0-9.]*" "$WORK"/logs/"$1"-*.log 2>/dev/null | cut -d= -f2 | sort -g |
        awk '{v[NR] = $1} END {if (NR == 0) print "-"; else print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'
}

describe() {
    case $1 in
        backfill-2t) echo "netrare backfill, both jobs, 2 threads" ;;
        backfill-1t) echo "netrare backfill, both jobs, 1 thread, 1 CPU" ;;
        fold-2t) echo "netrare scan + select + fold, both jobs, no model, 2 threads" ;;
        polars-1job) echo "polars presence aggregation, port job, 2 threads" ;;
        polars-2jobs) echo "polars presence aggregations, both jobs, one scan, 2 threads" ;;
        duckdb) echo "DuckDB presence aggregation, port job, 2 threads" ;;
        duckdb-floor) echo "DuckDB scan + port datafeed filter + count(*), 2 threads" ;;
        run) echo "netrare run, one execution at the end of 30 days" ;;
    esac
}

report() {
    local events run_store_line=""
    events=$(cat "$FLEET/.events")
    selected run && run_store_line="; run store: $RUN_HOSTS hosts × 30 days, $(cat "$RUN_STORE/.events") events"
    echo
    echo "Fleet: $HOSTS hosts × $DAYS days, $events events, layout $LAYOUT, traffic ×$TRAFFIC$run_store_line; rounds: $ROUNDS; selected: ${COUNTS:-not checked}."
    echo
    echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) RAM, $(date -u +%Y-%m-%d); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    echo "| step | layout | what | wall median (s) | wall range (s) | CPU median (s) | peak RSS (MiB) | events/s |"
    echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"
    local name wall rss eps
    for name in "${STEPS_ALL[@]}"; do
        selected "$name" || continue
        wall=$(stat "$name" 3)
        rss=$(stat "$name" 4)
        eps="-"
        [[ $name != run ]] && eps=$(awk -v e="$events" -v w="$wall" 'BEGIN {printf "%.0f", e / w}')
        echo "| $name | $LAYOUT | $(describe "$name") | $wall | $(range "$name") | $(stat "$name" 5) | $(awk -v r="$rss" 'BEGIN {printf "%.0f", r / 1024}') | $eps |"
    done
    echo
    local wall2 cpu2 peer target
    wall2=$(stat backfill-2t 3)
    cpu2=$(stat backfill-2t 5)
    echo "netrare backfill-2t (both jobs) against each peer (wall, CPU; query alone = the peer's own"
    echo "seconds without the Python start and import):"
    echo
    echo "| peer | target | ratio wall | ratio CPU | query alone (s) | ratio to query alone |"
    echo "| --- | --- | ---: | ---: | ---: | ---: |"
    for peer in "${PEERS[@]}"; do
        selected "$peer" || continue
        case $peer in
            polars-1job) target="≤ 1.0" ;;
            duckdb-floor) target="≤ 3" ;;
            *) target="" ;;
        esac
        echo "| $peer | $target | $(ratio "$wall2" "$(stat "$peer" 3)") | $(ratio "$cpu2" "$(stat "$peer" 5)") | $(query_alone "$peer") | $(ratio "$wall2" "$(query_alone "$peer")") |"
    done
    if selected fold-2t && selected polars-2jobs; then
        echo
        echo "The hand fold against polars doing the same work (both jobs' aggregations from one scan):"
        echo "fold-2t / polars-2jobs: $(ratio "$(stat fold-2t 3)" "$(stat polars-2jobs 3)") wall, $(ratio "$(stat fold-2t 5)" "$(stat polars-2jobs 5)") CPU;"
        echo "the fold's own seconds / polars' query alone: $(ratio "$(query_alone fold-2t fold_seconds)" "$(query_alone polars-2jobs)")."
    fi
    echo
    local speedup
    speedup=$(ratio "$(stat backfill-1t 3)" "$wall2")
    [[ $speedup == - ]] && speedup="not measured" || speedup="${speedup}x"
    echo "Speed-up 1 -> 2 threads (backfill-1t / backfill-2t wall; target ≥ 1.8): $speedup"
}

# shapes: runs this script once per shape of SHAPES (the other arguments kept), then prints
# the ratios of every shape side by side.
shapes() {
    local args=() skip=0 arg shape
    for arg in "${ARGS[@]}"; do
        if ((skip)); then skip=0; continue; fi
        case $arg in --shapes|--layout|--traffic) skip=1; continue ;; esac
        args+=("$arg")
    done
    local summary="| shape | backfill-2t / polars-1job (≤ 1.0) | backfill-2t / duckdb-floor (≤ 3) | 1 → 2 threads (≥ 1.8) |"
    summary+=$'\n| --- | ---: | ---: | ---: |'
    for shape in ${SHAPES//,/ }; do
        [[ $shape == *:* ]] || { echo "a shape is LAYOUT:TRAFFIC, not $shape" >&2; exit 2; }
        "$0" "${args[@]}" --layout "${shape%%:*}" --traffic "${shape##*:}" --dir "$WORK" || exit 1
        cp "$WORK/report.md" "$WORK/report-${shape/:/-x}.md"
        local polars duckdb speedup
        polars=$(awk -F'|' '$2 ~ /polars-1job/ && $3 ~ /≤ 1.0/ {gsub(/ /, "", $4); print $4}' "$WORK/report.md")
        duckdb=$(awk -F'|' '$2 ~ /duckdb-floor/ && $3 ~ /≤ 3/ {gsub(/ /, "", $4); print $4}' "$WORK/report.md")
        speedup=$(sed -n 's/^Speed-up 1 -> 2 threads.*: //p' "$WORK/report.md")
        summary+=$'\n'"| ${shape%%:*}, traffic ×${shape##*:} | ${polars:--} | ${duckdb:--} | ${speedup:--} |"
    done
    echo
    echo "$summary" | tee "$WORK/shapes.md"
}

main() {
    if [[ -n $SHAPES ]]; then
        shapes
        return
    fi
    setup
    FLEET=$(generate "$HOSTS" "$DAYS")
    selected run && prepare_run
    : >"$RESULTS"
    local name
    for name in "${STEPS_ALL[@]}"; do rm -f "$WORK/logs/$name"-*; done
    local order reversed=() i
    for ((i = ${#STEPS[@]} - 1; i >= 0; i--)); do reversed+=("${STEPS[i]}"); done
    for round in $(seq 1 "$ROUNDS"); do
        if ((round % 2)); then order=("${STEPS[@]}"); else order=("${reversed[@]}"); fi
        for name in "${order[@]}"; do step "$name" "$round"; done
        check_counts "$round"
    done
    report | tee "$WORK/report.md"
}

main
