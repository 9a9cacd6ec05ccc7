#!/usr/bin/env bash
# Ingest throughput: audit records per second and NDJSON documents per second on generated files
# of RECORDS lines each (default 1,000,000). Usage: benches/ingest.sh [RECORDS]
set -euo pipefail
cd "$(dirname "$0")/.."
records="${1:-1000000}"
work="${BENCH_DIR:-$(mktemp -d -t netrare-ingest-bench-XXXX)}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/netrare-target}"
cargo build --release --quiet
bin="$CARGO_TARGET_DIR/release/netrare"

python3 - "$records" "$work" <<'PY'
import json, sys
n, work = int(sys.argv[1]), sys.argv[2]
procs = [("curl", "/usr/bin/curl"), ("nginx", "/usr/sbin/nginx"), ("python3", "/usr/bin/python3.11"), ("java", "/usr/bin/java")]
ports = [443, 80, 5432, 8080, 9200, 53, 4444]
with open(f"{work}/audit.log", "w") as out:
    # One connect event = SYSCALL + SOCKADDR + PROCTITLE + EOE: four records per event.
    t, serial, written = 1_763_800_000, 1000, 0
    while written < n:
        comm, exe = procs[serial % len(procs)]
        port = ports[serial % len(ports)]
        ip = bytes([10, serial % 250, (serial // 250) % 250, 7])
        saddr = "0200" + f"{port:04X}" + ip.hex().upper() + "0000000000000000"
        stamp = f"audit({t + serial // 50}.{serial % 1000:03d}:{serial})"
        out.write(f"node=host-{serial % 300:03d} type=SYSCALL msg={stamp}: arch=c000003e syscall=42 success=yes exit=0 a0=3 a1=7ffd a2=10 a3=0 items=0 ppid=1 pid={serial % 30000} auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=(none) ses=1 comm=\"{comm}\" exe=\"{exe}\" key=(null)\n")
        out.write(f"node=host-{serial % 300:03d} type=SOCKADDR msg={stamp}: saddr={saddr}\n")
        out.write(f"node=host-{serial % 300:03d} type=PROCTITLE msg={stamp}: proctitle=\"{comm}\"\n")
        out.write(f"node=host-{serial % 300:03d} type=EOE msg={stamp}: \n")
        serial += 1
        written += 4
with open(f"{work}/export.ndjson", "w") as out:
    for i in range(n):
        doc = {"@timestamp": 1_763_800_000_000 + i * 20, "event": {"category": ["network"], "type": ["start"], "action": "connection_attempted"},
               "host": {"name": f"host-{i % 300:03d}", "os": {"type": "linux"}}, "process": {"name": procs[i % 4][0], "pid": str(i % 30000)},
               "user": {"name": "svc"}, "destination": {"ip": f"10.0.{i % 250}.7", "port": str(ports[i % len(ports)])}, "network": {"direction": "outgoing"}}
        out.write(json.dumps({"_source": doc}) + "\n")
PY

measure() {
  local label=$1; shift
  local start end
  start=$(date +%s.%N)
  "$@" > "$work/$label.out"
  end=$(date +%s.%N)
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); n=int(sys.argv[3]); print(f'| {sys.argv[4]} | {n:,} | {s:.2f} s | {n/s:,.0f}/s |')" "$start" "$end" "$records" "$label"
}
echo "| input | records | wall | throughput |"
echo "|---|---|---|---|"
measure "audit records" "$bin" ingest auditd "$work/audit.log" --out "$work/store-auditd"
measure "NDJSON documents" "$bin" ingest ndjson "$work/export.ndjson" --out "$work/store-ndjson"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); work dir $work"
