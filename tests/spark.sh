#!/usr/bin/env bash
# The bucket stage on Spark against the native one, end to end: a local Spark Connect server on
# 127.0.0.1, a generated fleet backfilled by both engines and then one scheduled run each; the
# records, alerts and state must be identical. Also checks the errors: server unreachable (69),
# a query error and a missing column (65), state untouched.
#
# Needs only Java 17 and Python 3.11: pyspark (which carries Spark and its Connect server) goes
# into a venv at $NETRARE_SPARK_VENV (default ~/.cache/netrare-spark-venv); protoc is installed
# with apt-get when missing. Fails loudly when anything cannot be installed or started.
set -euo pipefail
cd "$(dirname "$0")/.."

PYSPARK_VERSION=4.2.1
VENV="${NETRARE_SPARK_VENV:-$HOME/.cache/netrare-spark-venv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/netrare-target}"

die() {
    echo "tests/spark.sh: FAILED: $*" >&2
    exit 1
}
step() { echo "tests/spark.sh: $*"; }

java -version >/dev/null 2>&1 || die "no java: install Java 17 (apt-get install openjdk-17-jre-headless)"
if ! command -v protoc >/dev/null; then
    step "installing protobuf-compiler"
    [ "$(id -u)" = 0 ] || die "protoc is missing and installing it needs root: apt-get install protobuf-compiler"
    { apt-get update -qq && apt-get install -y -qq protobuf-compiler >/dev/null; } ||
        die "apt-get install protobuf-compiler failed"
fi
if ! "$VENV/bin/python" -c "import pyspark, sys; sys.exit(pyspark.__version__ != '$PYSPARK_VERSION')" 2>/dev/null; then
    step "installing pyspark[connect]==$PYSPARK_VERSION into $VENV"
    python3 -m venv "$VENV" || die "cannot create the venv $VENV"
    "$VENV/bin/pip" install -q "pyspark[connect]==$PYSPARK_VERSION" pyarrow ||
        die "pip install pyspark[connect]==$PYSPARK_VERSION failed"
fi
PY="$VENV/bin/python"
SPARK_HOME="$("$PY" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')"
export SPARK_HOME

step "building netrare --features spark"
cargo build --quiet --features spark || die "cargo build --features spark failed"
NETRARE="$CARGO_TARGET_DIR/debug/netrare"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/netrare-spark-XXXXXX")"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT="$(free_port)"
REMOTE="sc://127.0.0.1:$PORT"
step "starting Spark Connect on $REMOTE"
"$SPARK_HOME/bin/spark-submit" \
    --class org.apache.spark.sql.connect.service.SparkConnectServer \
    --master 'local[2]' \
    --conf spark.connect.grpc.binding.address=127.0.0.1 \
    --conf "spark.connect.grpc.binding.port=$PORT" \
    --conf spark.ui.enabled=false \
    --conf spark.sql.shuffle.partitions=4 \
    --conf "spark.driver.extraJavaOptions=-Djava.io.tmpdir=$WORK" \
    spark-internal >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 180); do
    if "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)" 2>/dev/null; then
        break
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -40 "$WORK/server.log" >&2; die "the Spark Connect server exited"; }
    sleep 1
done
"$PY" -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)" 2>/dev/null ||
    { tail -40 "$WORK/server.log" >&2; die "the Spark Connect server did not listen on $PORT within 180 s"; }

step "generating a fleet"
"$NETRARE" fixtures generate --out "$WORK/events" --hosts 20 --days 3 --seed 11 >/dev/null

# Both engines run the same commands on their own state and output folders.
engine() {
    local name="$1"
    shift
    local flags=(--store "$WORK/events" --state-dir "$WORK/$name/state" --out "$WORK/$name/out" --jobs-dir "$JOBS")
    if [[ "$name" == spark* ]]; then
        flags+=(--engine spark --spark-remote "$REMOTE" --spark-source "$WORK/events")
    fi
    "$NETRARE" "${flags[@]}" "$@"
}

JOBS=jobs
FROM=2026-11-02T00:00:00Z
TO=2026-11-03T12:00:00Z
NOW=2026-11-03T18:00:00Z
for name in native spark; do
    step "backfill $FROM .. $TO and run at $NOW: $name"
    started=$(date +%s.%N)
    engine "$name" -v --log-format json backfill --from "$FROM" --to "$TO" >"$WORK/$name.backfill.txt" 2>"$WORK/$name.backfill.log" ||
        { cat "$WORK/$name.backfill.log" >&2; die "$name backfill failed"; }
    echo "$started $(date +%s.%N)" >"$WORK/$name.backfill.time"
    started=$(date +%s.%N)
    engine "$name" -v run --now "$NOW" >"$WORK/$name.run.txt" 2>"$WORK/$name.run.log" ||
        { cat "$WORK/$name.run.log" >&2; die "$name run failed"; }
    echo "$started $(date +%s.%N)" >"$WORK/$name.run.time"
done

cat >"$WORK/compare.py" <<'EOF'
import json, pathlib, sys
import pyarrow.parquet as pq

native, spark = (pathlib.Path(p) for p in sys.argv[1:3])

def files(root, pattern):
    return sorted(p.relative_to(root) for p in root.glob(pattern))

def rows(path):
    table = pq.read_table(path)
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in table.to_pylist())

failures = []
compared = {}
for kind in ("anomalies", "alerts"):
    a, b = files(native / "out", f"{kind}/*/*.parquet"), files(spark / "out", f"{kind}/*/*.parquet")
    if a != b:
        failures.append(f"{kind}: files differ:\n  native {a}\n  spark  {b}")
        continue
    n = 0
    for rel in a:
        ra, rb = rows(native / "out" / rel), rows(spark / "out" / rel)
        if ra != rb:
            failures.append(f"{rel}: {len(ra)} native rows, {len(rb)} spark rows, contents differ")
        n += len(ra)
    compared[kind] = n
states = files(native / "state", "*.json")
if states != files(spark / "state", "*.json") or not states:
    failures.append("state files differ")
for rel in states:
    if (native / "state" / rel).read_bytes() != (spark / "state" / rel).read_bytes():
        failures.append(f"state {rel} differs")
if compared.get("anomalies", 0) == 0 or compared.get("alerts", 0) == 0:
    failures.append(f"nothing to compare: {compared}")
for f in failures:
    print(f, file=sys.stderr)
if failures:
    sys.exit(1)
print(f"identical: {compared['anomalies']} records, {compared['alerts']} alerts, {len(states)} job states")
EOF
step "comparing records, alerts and state"
"$PY" "$WORK/compare.py" "$WORK/native" "$WORK/spark" || die "the engines disagree"

# The population model and a partitioned job, backfilled both ways.
JOBS="$WORK/jobs-more"
mkdir -p "$JOBS"
cp -r jobs/population/*.toml docs/examples/port_by_host.toml jobs/exceptions "$JOBS"/
for name in native-more spark-more; do
    step "backfill the population and partitioned jobs: $name"
    engine "$name" backfill --from "$FROM" --to "$TO" >/dev/null 2>"$WORK/$name.log" ||
        { cat "$WORK/$name.log" >&2; die "$name backfill failed"; }
done
"$PY" "$WORK/compare.py" "$WORK/native-more" "$WORK/spark-more" || die "the engines disagree on the population and partitioned jobs"

# What crossed the network, from the -v log lines of the Spark backfill.
"$PY" - "$WORK/spark.backfill.log" "$WORK/native.backfill.time" "$WORK/spark.backfill.time" "$WORK/events" \
    "$WORK/native.run.time" "$WORK/spark.run.time" <<'EOF'
import json, pathlib, sys
lines = [json.loads(l) for l in pathlib.Path(sys.argv[1]).read_text().splitlines() if l.startswith("{")]
queries = [l["fields"] for l in lines if l.get("fields", {}).get("message") == "spark summaries"]
rows = sum(q["rows"] for q in queries)
size = sum(q["bytes"] for q in queries)
seconds = sum(q["seconds"] for q in queries)
events = sum(p.stat().st_size for p in pathlib.Path(sys.argv[4]).rglob("*.parquet"))
native, spark, native_run, spark_run = (
    (lambda a, b: b - a)(*map(float, pathlib.Path(p).read_text().split())) for p in sys.argv[2:4] + sys.argv[5:7])
print(f"spark backfill: {len(queries)} queries ({seconds:.1f} s), {rows} summary rows, {size} Arrow bytes received "
      f"({size / max(rows, 1):.0f} B/row); event files {events} bytes; "
      f"wall time native {native:.1f} s, spark {spark:.1f} s; one scheduled run native {native_run:.1f} s, "
      f"spark {spark_run:.1f} s")
EOF

step "errors leave state untouched"
snapshot() { (cd "$WORK/spark" && find state out -type f -print0 | sort -z | xargs -0 sha256sum); }
before="$(snapshot)"
expect_exit() {
    local code="$1" pattern="$2"
    shift 2
    set +e
    "$NETRARE" --store "$WORK/events" --state-dir "$WORK/spark/state" --out "$WORK/spark/out" --jobs-dir jobs \
        --engine spark "$@" run --now 2026-11-03T23:00:00Z >"$WORK/err.out" 2>"$WORK/err.log"
    local got=$?
    set -e
    [ "$got" = "$code" ] || { cat "$WORK/err.log" >&2; die "expected exit $code, got $got ($*)"; }
    grep -q -- "$pattern" "$WORK/err.log" || { cat "$WORK/err.log" >&2; die "no '$pattern' in the message ($*)"; }
    [ "$(snapshot)" = "$before" ] || die "state or outputs changed after a failed run ($*)"
}
CLOSED="sc://127.0.0.1:$(free_port)"
expect_exit 69 "$CLOSED" --spark-remote "$CLOSED"
expect_exit 65 "the query failed" --spark-remote "$REMOTE" --spark-source "$WORK/no-such-folder"
"$PY" -c "
import sys, pyarrow as pa, pyarrow.parquet as pq
t = pa.table({'@timestamp': pa.array([0], pa.timestamp('ms', 'UTC')), 'host.name': ['h']})
pq.write_table(t, sys.argv[1])" "$WORK/no-by-field.parquet"
expect_exit 65 '"process.name"' --spark-remote "$REMOTE" --spark-source "$WORK/no-by-field.parquet"

step "passed"
