#!/usr/bin/env bash
# The fuzz targets of tests/fuzz/ for SECONDS each (default 600), two at a time on 2 cores, in
# release mode with netrare's own overflow checks and debug assertions kept on (so an arithmetic
# overflow still panics, as in `cargo test`; the dependencies are built as in any release build).
# Prints per target: inputs, inputs/s, failures, the highest peak heap over its bound, and the
# highest peak heap per input byte (inputs of 1 KiB or more). A failing input is shrunk and
# saved; the test output names it. Usage: benches/fuzz.sh [SECONDS [TARGET...]]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
shift || true
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(auditd ndjson job exceptions settings snapshot)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/netrare-target}"
export NETRARE_FUZZ_SECONDS="$seconds"
export NETRARE_FUZZ_SEED="${NETRARE_FUZZ_SEED:-$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')}"
report="$(mktemp -t netrare-fuzz-XXXX.tsv)"
export NETRARE_FUZZ_REPORT="$report"
checks=(--config 'profile.release.package.netrare.overflow-checks=true'
        --config 'profile.release.package.netrare.debug-assertions=true')
cargo "${checks[@]}" build --release --test fuzz --quiet
started=$(date +%s)
status=0
cargo "${checks[@]}" test --release --test fuzz --quiet -- --test-threads 2 --exact \
    "${targets[@]}" > "$report.log" 2>&1 || status=$?
wall=$(( $(date +%s) - started ))
grep -E '^fuzz ' "$report.log" || true
echo
echo "seed $NETRARE_FUZZ_SEED, $seconds s per target, $wall s wall, $(nproc) cores, $(date -u +%Y-%m-%d)"
echo
echo "| target | inputs | inputs/s | failures | peak heap / bound | peak heap per input byte (≥ 1 KiB) |"
echo "|---|---:|---:|---:|---:|---:|"
sort "$report" | while IFS=$'\t' read -r name inputs rate failures bound per_byte _secs _seed; do
    printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "$inputs" "$rate" "$failures" "$bound" "$per_byte"
done
if [ "$status" -ne 0 ]; then
    echo
    echo "failures: see $report.log"
    grep -E -A3 'failure\(s\) of target' "$report.log" | cut -c1-2000
fi
exit "$status"
