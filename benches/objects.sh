#!/usr/bin/env bash
# The store read from object storage against the same files on disk, side by side in one run.
#
# Starts a local S3 API server (moto's server mode, from a venv of the Python registry), uploads a
# generated fleet, then for several alternating rounds times a backfill of both jobs reading the
# store from disk and from S3 (state and outputs on disk, fresh each round), and checks their
# outputs are identical. One more S3 backfill goes through a counting proxy in front of the
# server: the requests by method and the bytes fetched, against the size of the store. Prints a
# markdown table (docs/performance.md#the-store-on-object-storage).
#
# Then one scheduled run at the end of the store, with state, outputs and NDJSON on disk and on
# S3 (each round from a copy of a backfilled state), timed the same way and counted once.
#
# Usage: benches/objects.sh [--hosts N] [--days D] [--rounds R]   (default: the fixtures' default
# fleet, 12 hosts × 3 days, 5 rounds). Environment: CARGO_TARGET_DIR, NETRARE_MOTO_VENV,
# NETRARE_BENCH_BIN: a netrare binary to measure instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."

HOSTS=12
DAYS=3
ROUNDS=5
while [ $# -gt 0 ]; do
    case "$1" in
    --hosts) HOSTS="$2"; shift 2 ;;
    --days) DAYS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
MOTO_VERSION=5.2.6
VENV="${NETRARE_MOTO_VENV:-$HOME/.cache/netrare-moto-venv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/netrare-target}"
die() { echo "benches/objects.sh: FAILED: $*" >&2; exit 1; }

if ! "$VENV/bin/python" -c "import moto, boto3, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
    python3 -m venv "$VENV" || die "cannot create the venv $VENV"
    "$VENV/bin/pip" install -q "moto[server]==$MOTO_VERSION" boto3 || die "pip install moto[server] failed"
fi
PY="$VENV/bin/python"
if [ -n "${NETRARE_BENCH_BIN:-}" ]; then
    NETRARE="$NETRARE_BENCH_BIN"
else
    cargo build --release --quiet || die "cargo build --release failed"
    NETRARE="$CARGO_TARGET_DIR/release/netrare"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/netrare-bench-objects-XXXXXX")"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
listening() { "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null; }
wait_port() { for _ in $(seq 1 60); do listening "$1" && return 0; sleep 0.5; done; die "nothing listens on $1"; }

PORT="$(free_port)"
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
PIDS+=($!)
wait_port "$PORT"

# Forwards to the server, counting requests by method and the bytes of the responses.
PROXY_PORT="$(free_port)"
cat >"$WORK/proxy.py" <<'PYEOF'
import http.client, http.server, json, sys, threading
upstream, port, report = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
counts, lock = {"requests": {}, "bytes_in": 0, "bytes_out": 0}, threading.Lock()
class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def forward(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        conn = http.client.HTTPConnection("127.0.0.1", upstream)
        conn.request(self.command, self.path, body=body, headers=dict(self.headers))
        reply = conn.getresponse()
        data = reply.read()
        kind = self.command + (" range" if "Range" in self.headers else "")
        with lock:
            counts["requests"][kind] = counts["requests"].get(kind, 0) + 1
            counts["bytes_in"] += len(data)
            counts["bytes_out"] += len(body)
            with open(report, "w") as f:
                json.dump(counts, f)
        self.send_response(reply.status)
        for k, v in reply.getheaders():
            if k.lower() not in ("transfer-encoding", "content-length", "connection"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = forward
http.server.ThreadingHTTPServer(("127.0.0.1", port), Proxy).serve_forever()
PYEOF
"$PY" "$WORK/proxy.py" "$PORT" "$PROXY_PORT" "$WORK/counts.json" &
PIDS+=($!)
wait_port "$PROXY_PORT"

export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 AWS_ALLOW_HTTP=true
export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT"
"$NETRARE" fixtures generate --out "$WORK/events" --hosts "$HOSTS" --days "$DAYS" >/dev/null
"$PY" - "$WORK/events" <<'PYEOF'
import boto3, os, pathlib, sys
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
s3.create_bucket(Bucket="netrare-bench")
root = pathlib.Path(sys.argv[1])
for p in sorted(root.rglob("*.parquet")):
    s3.upload_file(str(p), "netrare-bench", f"events/{p.relative_to(root).as_posix()}")
PYEOF
STORE_BYTES=$(find "$WORK/events" -name '*.parquet' -printf '%s\n' | awk '{s += $1} END {print s}')
STORE_FILES=$(find "$WORK/events" -name '*.parquet' | wc -l)
RANGE=$("$PY" - "$WORK/events" <<'PYEOF'
import pathlib, re, sys
days = sorted({m.group(1) for p in pathlib.Path(sys.argv[1]).rglob("*.parquet")
               for m in [re.search(r"(\d{4}-\d{2}-\d{2})", str(p))] if m})
print(f"{days[1]}T00:00:00Z {days[-1]}T23:45:00Z")
PYEOF
)
read -r FROM TO <<<"$RANGE"

backfill() { # NAME STORE
    rm -rf "$WORK/$1"
    "$NETRARE" --jobs-dir jobs --store "$2" --state-dir "$WORK/$1/state" --out "$WORK/$1/out" \
        backfill --from "$FROM" --to "$TO" >/dev/null 2>"$WORK/$1.log" || { cat "$WORK/$1.log" >&2; die "$1 backfill failed"; }
}
# timed NAME COMMAND...: runs the command in this shell (a failure stops the script) and notes
# its wall time.
timed() {
    local name="$1" start end
    shift
    start=$(date +%s.%N)
    "$@"
    end=$(date +%s.%N)
    echo "$name $(echo "$end - $start" | bc)" >>"$WORK/times"
}
: >"$WORK/times"
for round in $(seq 1 "$ROUNDS"); do
    timed disk backfill disk "$WORK/events"
    timed s3 backfill s3 s3://netrare-bench/events
    echo "round $round: $(tail -2 "$WORK/times" | tr '\n' ' ')" >&2
done
diff -r -x .lock -x '*.netrare-owner' -x .staging "$WORK/disk" "$WORK/s3" >/dev/null || die "the outputs read from S3 differ from the disk's"
AWS_ENDPOINT_URL="http://127.0.0.1:$PROXY_PORT" backfill counted s3://netrare-bench/events
cp "$WORK/counts.json" "$WORK/counts-backfill.json"

# A scheduled run with state, outputs and NDJSON on S3 too, on the state of a backfill up to the
# execution before, against the same on disk: its wall time, requests and bytes.
LAST=$("$PY" -c "import datetime as d; t = d.datetime.fromisoformat('$TO'.replace('Z', '+00:00')); print((t - d.timedelta(minutes=15)).strftime('%Y-%m-%dT%H:%M:%SZ'))")
# everywhere STORE STATE OUT RESULTS ALERTS COMMAND...: quiet, failing loudly.
everywhere() {
    local store="$1" state="$2" out="$3" results="$4" alerts="$5" command="$6"
    shift 6
    "$NETRARE" --jobs-dir jobs --store "$store" --state-dir "$state" --out "$out" \
        --results-ndjson "$results" "$command" --alerts-ndjson "$alerts" "$@" >/dev/null 2>"$WORK/everywhere.log" ||
        { cat "$WORK/everywhere.log" >&2; die "$command on $state failed"; }
}
disk_at() { echo "$WORK/events" "$WORK/$1/state" "$WORK/$1/out" "$WORK/$1/results.ndjson" "$WORK/$1/alerts.ndjson"; }
s3_at() {
    local at="s3://netrare-bench/$1"
    echo "s3://netrare-bench/events" "$at/state" "$at/out" "$at/results" "$at/alerts"
}
# shellcheck disable=SC2046
everywhere $(disk_at run-disk) backfill --from "$FROM" --to "$LAST"
# shellcheck disable=SC2046
everywhere $(s3_at run-base) backfill --from "$FROM" --to "$LAST"
copy_prefix() { # FROM TO: server-side, without the owner markers and the lease
    "$PY" - "$1" "$2" <<'PYEOF'
import boto3, os, sys
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
source, target = sys.argv[1:3]
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="netrare-bench", Prefix=source + "/"):
    for o in page.get("Contents", []):
        if o["Key"].rsplit("/", 1)[-1] not in (".netrare-owner", ".lock"):
            s3.copy_object(Bucket="netrare-bench", Key=target + o["Key"][len(source):],
                           CopySource={"Bucket": "netrare-bench", "Key": o["Key"]})
PYEOF
}
for round in $(seq 0 "$ROUNDS"); do
    copy_prefix run-base "run-$round"
    if [ "$round" = 0 ]; then
        # Counted through the proxy, not timed.
        # shellcheck disable=SC2046
        AWS_ENDPOINT_URL="http://127.0.0.1:$PROXY_PORT" everywhere $(s3_at run-0) run --now "$TO"
        cp "$WORK/counts.json" "$WORK/counts-run.json"
        continue
    fi
    rm -rf "$WORK/run-disk-$round"
    cp -r "$WORK/run-disk" "$WORK/run-disk-$round"
    # The copy is written by its own state folder.
    find "$WORK/run-disk-$round" -name '*.netrare-owner' -delete
    # shellcheck disable=SC2046
    timed run-disk everywhere $(disk_at "run-disk-$round") run --now "$TO"
    # shellcheck disable=SC2046
    timed run-s3 everywhere $(s3_at "run-$round") run --now "$TO"
done

"$PY" - "$WORK/times" "$WORK/counts-backfill.json" "$WORK/counts-run.json" "$STORE_BYTES" "$STORE_FILES" "$HOSTS" "$DAYS" "$ROUNDS" <<'PYEOF'
import json, statistics, sys
times = {}
for line in open(sys.argv[1]):
    name, value = line.split()
    times.setdefault(name, []).append(float(value))
counts = json.load(open(sys.argv[2]))
after_run = json.load(open(sys.argv[3]))
store, files, hosts, days, rounds = int(sys.argv[4]), int(sys.argv[5]), *sys.argv[6:9]
disk, s3 = statistics.median(times["disk"]), statistics.median(times["s3"])
print(f"backfill of both jobs, {hosts} hosts × {days} days ({files} files, {store / 1e6:.2f} MB), median of {rounds} rounds\n")
print("| store | wall time (s) | ratio |")
print("|---|---:|---:|")
print(f"| disk | {disk:.2f} | 1.00 |")
print(f"| S3 (local server) | {s3:.2f} | {s3 / disk:.2f} |")
def describe(requests, fetched, sent):
    listed = ", ".join(f"{k} {v}" for k, v in sorted(requests.items()) if v)
    return f"{sum(requests.values())} requests ({listed}), {fetched / 1e6:.3f} MB fetched, {sent / 1e6:.3f} MB sent"
print(f"\nthe S3 backfill: {describe(counts['requests'], counts['bytes_in'], counts['bytes_out'])}; "
      f"fetched = {counts['bytes_in'] / store:.2f} of the store")
run_requests = {k: v - counts["requests"].get(k, 0) for k, v in after_run["requests"].items()}
run_disk, run_s3 = statistics.median(times["run-disk"]), statistics.median(times["run-s3"])
print(f"\none scheduled run at the end, state and outputs on disk {run_disk:.2f} s, on S3 {run_s3:.2f} s "
      f"({run_s3 / run_disk:.2f}×); the S3 run: "
      f"{describe(run_requests, after_run['bytes_in'] - counts['bytes_in'], after_run['bytes_out'] - counts['bytes_out'])}")
PYEOF
