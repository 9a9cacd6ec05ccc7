#!/usr/bin/env bash
# Ingest memory: peak RSS and throughput of `netrare ingest` on large generated inputs, to check
# that memory does not grow with the input. Generates, from the shapes of the checked-in
# fixtures with changing serials and timestamps:
#   - an NDJSON export of SIZE_MB (default 1000) MB, one search hit per line;
#   - the same documents as ONE search-response line of LINE_MB (default 256) MB;
#   - an audit log of SIZE_MB MB, fixtures/auditd/network.log repeated (interleaved events,
#     non-network and non-IP events included).
# Each is ingested by the release binary under /usr/bin/time -v. Target: peak RSS <= 300 MB.
# Usage: benches/ingest_memory.sh [SIZE_MB [LINE_MB]]   (BENCH_DIR keeps the files; they are
# reused when present)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb="${1:-1000}"
line_mb="${2:-256}"
work="${BENCH_DIR:-$(mktemp -d -t netrare-ingest-memory-XXXX)}"
mkdir -p "$work"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/netrare-target}"
cargo build --release --quiet
bin="$CARGO_TARGET_DIR/release/netrare"

python3 - "$size_mb" "$line_mb" "$work" fixtures/auditd/network.log <<'PY'
import os, re, sys
size, line_size, work, fixture = int(sys.argv[1]) * 10**6, int(sys.argv[2]) * 10**6, sys.argv[3], sys.argv[4]
procs = ["curl", "nginx", "python3", "java", "sshd", "postgres"]
ports = [443, 80, 5432, 8080, 9200, 53, 4444, 22]
start_ms = 1_793_613_600_000 - 20 * 86_400_000  # 20 days before the fixture's day

def hit(i):
    # One ECS network document as Elasticsearch returns a hit; ~10 documents a second.
    return ('{"_index":".ds-logs-endpoint.events.network-default","_id":"%d","_score":1.0,"_source":'
            '{"@timestamp":%d,"event":{"category":["network"],"type":["start"],"action":"connection_attempted",'
            '"dataset":"endpoint.events.network","module":"endpoint","outcome":"success"},'
            '"host":{"name":"host-%03d","id":"h-%03d","os":{"type":"linux","family":"debian"}},'
            '"process":{"pid":"%d","name":"%s","executable":"/usr/bin/%s","args":["%s","-q"],"parent":{"pid":1}},'
            '"user":{"id":"1000","name":"svc"},"source":{"ip":"10.1.%d.%d","port":%d},'
            '"destination":{"ip":"10.0.%d.7","port":"%d"},"network":{"direction":"outgoing","transport":"tcp"}}}'
            % (i, start_ms + i * 100, i % 300, i % 300, i % 30000, procs[i % 6], procs[i % 6], procs[i % 6],
               i % 250, i % 200, 32768 + i % 28000, i % 250, ports[i % 8]))

def generate(path, size, write):
    if os.path.exists(path) and os.path.getsize(path) >= size:
        return
    with open(path, "w") as out:
        write(out)

def export(out):
    i, written = 0, 0
    while written < size:
        chunk = "".join(hit(j) + "\n" for j in range(i, i + 10000))
        out.write(chunk)
        written += len(chunk)
        i += 10000

def response(out):
    out.write('{"took":4213,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},'
              '"hits":{"total":{"value":10000,"relation":"gte"},"max_score":1.0,"hits":[')
    i, written = 0, 0
    while written < line_size:
        chunk = ",".join(hit(j) for j in range(i, i + 10000))
        out.write(("," if i else "") + chunk)
        written += len(chunk) + 1
        i += 10000
    out.write(']},"aggregations":{"hosts":{"buckets":[]}}}\n')

def audit(out):
    text = open(fixture).read()
    stamps = sorted(set(re.findall(r"audit\((\d+)\.(\d+):(\d+)\)", text)), key=lambda s: int(s[2]))
    base = int(stamps[0][0])
    index = {s: n for n, s in enumerate(stamps)}
    template = re.sub(r"\{|\}", lambda m: m.group(0) * 2, text)
    template = re.sub(r"audit\((\d+)\.(\d+):(\d+)\)",
                      lambda m: "audit({t%d}.%s:{s%d})" % (index[m.groups()], m.group(2), index[m.groups()]), template)
    span = 20 * 86_400 - 60
    reps = size // len(text) + 1
    written, rep = 0, 0
    while written < size:
        values = {}
        for (t, _, s), n in index.items():
            values["t%d" % n] = base - 20 * 86_400 + rep * span // reps + (int(t) - base)
            values["s%d" % n] = 1000 + rep * len(stamps) + n
        chunk = template.format(**values)
        out.write(chunk)
        written += len(chunk)
        rep += 1

generate(f"{work}/export.ndjson", size, export)
generate(f"{work}/response.json", line_size, response)
generate(f"{work}/audit.log", size, audit)
PY

measure() {
  local label=$1 input=$2; shift 2
  local store="$work/store-$label"
  rm -rf "$store"
  /usr/bin/time -v "$bin" ingest "$@" "$input" --out "$store" > "$work/$label.out" 2> "$work/$label.time"
  python3 - "$label" "$input" "$work/$label.time" "$work/$label.out" <<'PY'
import os, re, sys
label, path, timing, out = sys.argv[1:5]
text = open(timing).read()
rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text).group(1)
seconds = sum(float(part) * 60 ** i for i, part in enumerate(reversed(wall.split(":"))))
size = os.path.getsize(path)
events = re.search(r"wrote (\d+) events", open(out).read()).group(1)
print(f"| {label} | {size / 1e6:,.0f} MB | {int(events):,} | {seconds:.1f} s | {size / 1e6 / seconds:,.1f} MB/s | {rss_kb / 1024:,.0f} MB |")
PY
}
echo "| input | size | events | wall | throughput | peak RSS |"
echo "|---|---|---|---|---|---|"
measure "NDJSON export" "$work/export.ndjson" ndjson
measure "one search-response line" "$work/response.json" ndjson
measure "audit log" "$work/audit.log" auditd --host-name bench
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); work dir $work"
