#!/usr/bin/env bash
# A hostile user's run: bad files, bad flags, corrupt state, clock jumps both ways, a full disk,
# wrong-type paths, a held lock and kill -9 mid-backfill. Prints each case with its exit code and
# fails if any case exits with another code than the documented one (above all, 0 for a bad case),
# or if state or outputs are not what a clean run leaves.
#
# Usage: tests/hostile.sh [path/to/netrare]   (default: $CARGO_TARGET_DIR/debug/netrare)
set -uo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-${CARGO_TARGET_DIR:-$repo/target}/debug/netrare}"
[ -x "$bin" ] || { echo "hostile: no netrare binary at $bin (build it first)" >&2; exit 2; }
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
work="$(mktemp -d "${TMPDIR:-/tmp}/netrare-hostile.XXXXXX")"
trap 'rm -rf "$work"' EXIT

fixture="$repo/fixtures/fleet-small"
jobs="$repo/jobs"
first="2026-11-03T00:05:00Z"
next="2026-11-03T00:20:00Z"
later="2026-11-03T06:05:00Z"
process_job="v3_linux_anomalous_network_activity"
failures=0

# A sandbox folder with its own store, state and output folders; prints its path.
sandbox() {
  local dir="$work/$1"
  mkdir -p "$dir"
  cp -r "$fixture" "$dir/events"
  echo "$dir"
}

# netrare with a sandbox's folders.
nr() {
  local dir="$1"
  shift
  "$bin" --store "$dir/events" --state-dir "$dir/state" --out "$dir/out" --jobs-dir "${JOBS:-$jobs}" "$@"
}

# expect CODE NAME COMMAND...: runs the command, prints the case and its exit code.
expect() {
  local want="$1" name="$2"
  shift 2
  "$@" >"$work/last.out" 2>"$work/last.err"
  local got=$?
  if [ "$got" = "$want" ]; then
    printf 'ok    exit %3s  %s\n' "$got" "$name"
  else
    printf 'FAIL  exit %3s  %s (expected %s)\n' "$got" "$name" "$want"
    sed 's/^/        /' "$work/last.err" | head -5
    failures=$((failures + 1))
  fi
}

# check NAME CONDITION...: a property of the files after a case.
check() {
  local name="$1"
  shift
  if "$@"; then
    printf 'ok              %s\n' "$name"
  else
    printf 'FAIL            %s\n' "$name"
    failures=$((failures + 1))
  fi
}

# A fingerprint of every file under a folder (names and bytes), or "none".
tree_sum() {
  if [ -d "$1" ]; then
    # The owner marker names the state directory, which differs between any two sandboxes.
    (cd "$1" && find . -type f ! -path './.staging/*' ! -name '.netrare-owner' -print0 | sort -z | xargs -0 -r sha256sum)
  else
    echo none
  fi
}

# same_tree A B: whether two folders hold the same files; prints the files that differ.
same_tree() {
  local a b
  a="$(tree_sum "$1")"
  b="$(tree_sum "$2")"
  [ "$a" = "$b" ] && return 0
  diff <(echo "$a") <(echo "$b") | grep '^[<>]' | sed 's/^/        /' | head -10
  return 1
}

# set_field DIR KEY VALUE: sets a top-level number of the process job's snapshot (one JSON line).
set_field() {
  sed -i -E "s/\"$2\":-?[0-9]+/\"$2\":$3/" "$1/state/$process_job.json"
}

# field DIR KEY: a top-level number of the process job's snapshot.
field() {
  grep -oE "\"$2\":-?[0-9]+" "$1/state/$process_job.json" | head -1 | cut -d: -f2
}

echo "== bad flags"
d="$(sandbox flags)"
expect 2 "--to before --from" nr "$d" backfill --from "$later" --to "$first"
expect 2 "--interval 0s" nr "$d" backfill --from "$first" --to "$later" --interval 0s
expect 2 "--interval 1ms (millions of executions)" nr "$d" backfill --from "$first" --to "$later" --interval 1ms
expect 2 "--now not a time" nr "$d" run --now yesterday
expect 2 "unknown flag" nr "$d" run --bogus
expect 2 "unknown job" nr "$d" run --now "$first" --jobs nosuchjob
expect 2 "bad store glob" "$bin" --store "$d/[" --state-dir "$d/state" --out "$d/out" --jobs-dir "$jobs" run --now "$first"
check "bad flags wrote nothing" [ ! -e "$d/state" ] && check "bad flags published nothing" [ ! -e "$d/out" ]

echo "== bad files"
d="$(sandbox files)"
head -c 2000 "$fixture/date=2026-11-02/defend.parquet" >"$d/events/date=2026-11-02/defend.parquet"
expect 65 "truncated event file" nr "$d" run --now "$first"
d="$(sandbox text)"
echo "not parquet" >"$d/events/date=2026-11-02/notes.parquet"
expect 65 "text file named .parquet" nr "$d" run --now "$first"
expect 65 "empty store" "$bin" --store "$work/nowhere" --state-dir "$d/state" --out "$d/out" --jobs-dir "$jobs" run --now "$first"
mkdir -p "$work/badjobs"
cp "$jobs"/*.toml "$work/badjobs/"
sed -i 's/^risk_score = 21/risk_score = 21\nriskscore = 21/' "$work/badjobs/v3_linux_anomalous_network_port_activity.toml"
JOBS="$work/badjobs" expect 2 "unknown key in a job file" nr "$d" run --now "$first"
sed -i 's/^model_memory_limit = .*/model_memory_limit = "0mb"/; /^riskscore/d' "$work/badjobs/v3_linux_anomalous_network_port_activity.toml"
JOBS="$work/badjobs" expect 2 'model_memory_limit = "0mb"' nr "$d" run --now "$first"
sed -i 's/^model_memory_limit = .*/model_memory_limit = "32mb"/; s/^bucket_span = .*/bucket_span = "300000000y"/' "$work/badjobs/v3_linux_anomalous_network_port_activity.toml"
JOBS="$work/badjobs" expect 2 'bucket_span = "300000000y"' nr "$d" run --now "$first"
sed -i 's/^bucket_span = .*/bucket_span = "15m"/; s/^from = .*/from = "now-300000000y"/' "$work/badjobs/v3_linux_anomalous_network_port_activity.toml"
JOBS="$work/badjobs" expect 2 'rule from = "now-300000000y"' nr "$d" run --now "$first"
echo 'store = ' >"$work/netrare.toml"
expect 2 "broken settings file" "$bin" --config "$work/netrare.toml" jobs list
printf '{"@timestamp":-100000000000000,"event":{"category":"network"}}\n' >"$work/old.ndjson"
expect 0 "ndjson of year -1199 (skipped, counted)" "$bin" ingest ndjson "$work/old.ndjson" --out "$work/ndjson-store"
check "the year -1199 event was counted, not stored" grep -q "dated before 1970" "$work/last.out"
check "no partition for year -1199" [ ! -e "$work/ndjson-store" ]

echo "== corrupt state"
corrupt_case() {
  local name="$1" key="$2" value="$3"
  local d
  d="$(sandbox "state-${name// /-}")"
  nr "$d" run --now "$first" >/dev/null 2>&1
  [ "$value" = "+1" ] && value=$(( $(field "$d" "$key") + 1 ))
  set_field "$d" "$key" "$value"
  local before
  before="$(tree_sum "$d/state")$(tree_sum "$d/out")"
  expect 65 "snapshot: $name" timeout 60 bash -c "$(declare -f nr); bin='$bin' jobs='$jobs' nr '$d' run --now '$next'"
  check "snapshot: $name: the message names $key" grep -q "$key" "$work/last.err"
  check "snapshot: $name: state and outputs unchanged" [ "$before" = "$(tree_sum "$d/state")$(tree_sum "$d/out")" ]
}
corrupt_case "checkpoint i64::MAX" checkpoint_ms 9223372036854775807
corrupt_case "checkpoint i64::MIN" checkpoint_ms -9223372036854775808
corrupt_case "checkpoint 0" checkpoint_ms 0
corrupt_case "checkpoint off the grid" checkpoint_ms +1
corrupt_case "another version" version +1
d="$(sandbox state-garbage)"
nr "$d" run --now "$first" >/dev/null 2>&1
echo '{"format": "netrare-job-st' >"$d/state/$process_job.json"
expect 65 "snapshot: truncated JSON" nr "$d" run --now "$next"
d="$(sandbox state-missing)"
nr "$d" run --now "$first" >/dev/null 2>&1
rm "$d/state/$process_job.json"
expect 65 "snapshot missing while the job has outputs" nr "$d" run --now "$next"
expect 0 "snapshot missing, --relearn" nr "$d" run --now "$next" --relearn
d="$(sandbox journal)"
nr "$d" run --now "$first" >/dev/null 2>&1
echo '{"states": [' >"$d/state/commit.json"
expect 65 "corrupt commit journal" nr "$d" run --now "$next"

echo "== clock jumps"
d="$(sandbox clock)"
expect 0 "run at $later" nr "$d" run --now "$later"
before="$(tree_sum "$d/state")$(tree_sum "$d/out")"
expect 3 "run back in time at $first" nr "$d" run --now "$first"
expect 0 "backfill of executions already done (skipped)" nr "$d" backfill --from "$first" --to "$later"
tomorrow="$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)"
expect 3 "run a day ahead of the clock" nr "$d" run --now "$tomorrow"
expect 3 "backfill to a day ahead of the clock" nr "$d" backfill --from "$later" --to "$tomorrow"
check "clock jumps changed nothing" [ "$before" = "$(tree_sum "$d/state")$(tree_sum "$d/out")" ]

echo "== environment"
d="$(sandbox lock)"
mkdir -p "$d/state"
flock "$d/state/.lock" sleep 3 &
locker=$!
sleep 0.5
expect 75 "state lock held by another process" nr "$d" run --now "$first"
wait "$locker"
d="$(sandbox wrongtype)"
echo "a file" >"$d/state"
expect 74 "--state-dir is a file" nr "$d" run --now "$first"
d="$(sandbox wrongtype-out)"
echo "a file" >"$d/out"
expect 74 "--out is a file" nr "$d" run --now "$first"
expect 74 "ingest of an unreadable input (a folder)" "$bin" ingest auditd "$work" --out "$work/audit-store"

# A full disk: the file size limit makes every write past 1 KiB fail (EFBIG), as ENOSPC would.
clean="$(sandbox disk-clean)"
nr "$clean" run --now "$first" >/dev/null 2>&1
d="$(sandbox disk-full)"
expect 74 "disk full during the commit" bash -c "trap '' XFSZ; ulimit -f 1; $(declare -f nr); bin='$bin' jobs='$jobs' nr '$d' run --now '$first'"
check "disk full: no job state written" [ ! -e "$d/state/$process_job.json" ]
check "disk full: nothing published" [ ! -e "$d/out/anomalies" ]
expect 0 "rerun once there is space" nr "$d" run --now "$first"
check "disk full then rerun: outputs equal a clean run's" same_tree "$d/out" "$clean/out"
check "disk full then rerun: state equals a clean run's" same_tree "$d/state" "$clean/state"

echo "== shared and misdirected outputs"
clean="$(sandbox share-clean)"
nr "$clean" backfill --from "$first" --to "$later" --alerts-ndjson "$clean/alerts.ndjson" --results-ndjson "$clean/results.ndjson" >/dev/null 2>&1
d="$(sandbox share)"
expect 0 "one _bulk file for alerts and results" nr "$d" backfill --from "$first" --to "$later" --alerts-ndjson "$d/bulk.ndjson" --results-ndjson "$d/bulk.ndjson"
check "the shared _bulk file holds every alert and result line" [ "$(wc -l <"$d/bulk.ndjson")" = "$(cat "$clean/alerts.ndjson" "$clean/results.ndjson" | wc -l)" ]
expect 2 "a second state directory on the same --out" "$bin" --store "$d/events" --state-dir "$d/state-ea" --out "$d/out" --jobs-dir "$jobs" run --now "$later"
expect 2 "a second state directory on the same alerts file" "$bin" --store "$d/events" --state-dir "$d/state-ea" --out "$d/out-ea" --jobs-dir "$jobs" run --now "$later" --alerts-ndjson "$d/bulk.ndjson"
check "the refused runs left the owner's outputs as a clean run's" same_tree "$d/out" "$clean/out"
expect 2 "--state-dir inside <out>/.staging" "$bin" --store "$d/events" --state-dir "$d/out/.staging" --out "$d/out" --jobs-dir "$jobs" run --now "$later"
mkfifo "$d/alerts.fifo"
expect 2 "a FIFO as the alerts file (refused, not blocked on)" timeout 30 bash -c "$(declare -f nr); bin='$bin' jobs='$jobs' nr '$d' run --now '$later' --alerts-ndjson '$d/alerts.fifo'"
expect 2 "/dev/full as the alerts file" nr "$d" run --now "$later" --alerts-ndjson /dev/full
ln -s /dev/null "$d/null.ndjson"
expect 2 "a symlink to /dev/null as the results file" nr "$d" run --now "$later" --results-ndjson "$d/null.ndjson"
check "no refused target left a journal" [ ! -e "$d/state/commit.json" ]
expect 74 "stdout on a full disk after the commit (an error, not a panic)" bash -c "$(declare -f nr); bin='$bin' jobs='$jobs' nr '$d' run --now '2026-11-03T06:20:00Z' >/dev/full"
expect 0 "the next run after a full stdout" nr "$d" run --now "2026-11-03T06:35:00Z"

echo "== a killed --fresh backfill resumes"
d="$(sandbox fresh)"
fresh="$d/out/backfill-20261103T0005-20261103T0605"
NETRARE_FAILPOINT=after-journal expect 134 "--fresh killed in its first commit" nr "$d" backfill --fresh --from "$first" --to "$later" --alerts-ndjson "$d/prod-alerts.ndjson"
expect 0 "the same command again resumes it" nr "$d" backfill --fresh --from "$first" --to "$later" --alerts-ndjson "$d/prod-alerts.ndjson"
check "--fresh never wrote the production alerts file" [ ! -e "$d/prod-alerts.ndjson" ]
for kind in anomalies alerts buckets influencers; do
  check "the resumed --fresh $kind equal a clean backfill's" same_tree "$fresh/$kind" "$clean/out/$kind"
done
check "no scratch folder leaked" [ -z "$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'netrare-backfill-*' -newer "$work" 2>/dev/null)" ]

echo "== kill -9 mid-backfill"
from="2026-11-01T00:05:00Z"
to="2026-11-04T00:05:00Z"
clean="$(sandbox kill-clean)"
started=$(date +%s%N)
expect 0 "clean backfill" nr "$clean" backfill --from "$from" --to "$to"
took_ms=$(( ($(date +%s%N) - started) / 1000000 ))
for trial in 1 2 3; do
  d="$(sandbox "kill-$trial")"
  delay_ms=$(( took_ms * (20 + RANDOM % 60) / 100 ))
  "$bin" --store "$d/events" --state-dir "$d/state" --out "$d/out" --jobs-dir "$jobs" \
    backfill --from "$from" --to "$to" >/dev/null 2>&1 &
  pid=$!
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  [ $? = 137 ] || echo "      trial $trial: the backfill finished before the kill"
  expect 0 "trial $trial: killed at ${delay_ms} ms, then run again" nr "$d" backfill --from "$from" --to "$to"
  check "trial $trial: outputs equal the clean backfill's" same_tree "$d/out" "$clean/out"
  check "trial $trial: state equals the clean backfill's" same_tree "$d/state" "$clean/state"
done

echo
if [ "$failures" -gt 0 ]; then
  echo "hostile: $failures case(s) failed"
  exit 1
fi
echo "hostile: every case exited as documented"
