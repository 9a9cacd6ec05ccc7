#!/usr/bin/env bash
# Events, state and outputs on object storage, end to end against a real S3 API server (moto's
# server mode on 127.0.0.1): a backfill and a scheduled run reading the store from S3 and keeping
# state, outputs and NDJSON there give the same bytes as on a local disk; a crash at every commit
# failpoint recovers to the same bytes; a second execution while the lock is held exits 75 and
# takes the lock over once it expired; of two executions started at once one works and the other
# exits 75; one frozen past its lease's expiry publishes nothing; an unreachable endpoint (69), a
# missing bucket (66) and denied credentials (77) are refused with their own exit codes and
# change nothing.
#
# Needs only Python 3.11: moto[server] and boto3 go into a venv at $NETRARE_MOTO_VENV (default
# ~/.cache/netrare-moto-venv). Fails loudly when anything cannot be installed or started.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION=5.2.6
VENV="${NETRARE_MOTO_VENV:-$HOME/.cache/netrare-moto-venv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/netrare-target}"

die() {
    echo "tests/objects.sh: FAILED: $*" >&2
    exit 1
}
step() { echo "tests/objects.sh: $*"; }

if ! "$VENV/bin/python" -c "import moto, boto3, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
    step "installing moto[server]==$MOTO_VERSION into $VENV"
    python3 -m venv "$VENV" || die "cannot create the venv $VENV"
    "$VENV/bin/pip" install -q "moto[server]==$MOTO_VERSION" boto3 || die "pip install moto[server] failed"
fi
PY="$VENV/bin/python"

step "building netrare"
cargo build --quiet || die "cargo build failed"
NETRARE="$CARGO_TARGET_DIR/debug/netrare"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/netrare-objects-XXXXXX")"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
start_moto() { # PORT LOG [ENV=VALUE...]
    local port="$1" log="$2"
    shift 2
    env "$@" "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 60); do
        "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && return 0
        sleep 0.5
    done
    tail -20 "$log" >&2
    die "moto did not listen on $port"
}
PORT="$(free_port)"
DENY_PORT="$(free_port)"
start_moto "$PORT" "$WORK/moto.log"
# A second server that checks credentials, so unknown keys are refused (403).
start_moto "$DENY_PORT" "$WORK/moto-deny.log" INITIAL_NO_AUTH_ACTION_COUNT=0

export AWS_ACCESS_KEY_ID=netrare AWS_SECRET_ACCESS_KEY=netrare AWS_REGION=us-east-1
export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT" AWS_ALLOW_HTTP=true
BUCKET=netrare-test
S3="s3://$BUCKET"

# Bucket chores through boto3: make, upload, copy, download, fingerprint.
cat >"$WORK/s3.py" <<'PYEOF'
import hashlib, os, pathlib, sys
import boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
def split(url):
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    return bucket, prefix.strip("/")
def keys(bucket, prefix):
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for o in page.get("Contents", []):
            yield o["Key"]
cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "mkbucket":
    s3.create_bucket(Bucket=args[0])
elif cmd == "upload":  # DIR URL
    bucket, prefix = split(args[1])
    root = pathlib.Path(args[0])
    for p in sorted(root.rglob("*")):
        if p.is_file():
            s3.upload_file(str(p), bucket, f"{prefix}/{p.relative_to(root).as_posix()}")
elif cmd == "copy":  # URL URL, leaving out owner markers and the lock
    (b1, p1), (b2, p2) = split(args[0]), split(args[1])
    for k in keys(b1, p1):
        name = k.rsplit("/", 1)[-1]
        if name in (".netrare-owner", ".lock"):
            continue
        s3.copy_object(Bucket=b2, Key=p2 + k[len(p1):], CopySource={"Bucket": b1, "Key": k})
elif cmd == "download":  # URL DIR: the objects as files; each NDJSON folder also as one file
    bucket, prefix = split(args[0])
    root = pathlib.Path(args[1])
    for k in keys(bucket, prefix):
        path = root / k[len(prefix) + 1:]
        path.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, k, str(path))
elif cmd == "concat":  # URL FILE: an NDJSON folder's objects in name order
    bucket, prefix = split(args[0])
    names = sorted(k for k in keys(bucket, prefix) if k.endswith(".ndjson"))
    with open(args[1], "wb") as out:
        for k in names:
            out.write(s3.get_object(Bucket=bucket, Key=k)["Body"].read())
    print(len(names))
elif cmd == "fingerprint":  # URL: every object's key and digest
    bucket, prefix = split(args[0])
    for k in sorted(keys(bucket, prefix)):
        if k.endswith("/.lock"):
            continue
        print(k, hashlib.sha256(s3.get_object(Bucket=bucket, Key=k)["Body"].read()).hexdigest())
elif cmd == "hold":  # URL SECONDS: a live execution's lock on a state location
    import json, time
    bucket, prefix = split(args[0])
    body = json.dumps({"holder": "other-runner/1/0", "expires_ms": int((time.time() + float(args[1])) * 1000)})
    s3.put_object(Bucket=bucket, Key=f"{prefix}/.lock", Body=body.encode())
PYEOF
s3() { "$PY" "$WORK/s3.py" "$@"; }
s3 mkbucket "$BUCKET" || die "cannot create the bucket"

step "generating a fleet and uploading it"
"$NETRARE" fixtures generate --out "$WORK/events" --hosts 20 --days 3 --seed 11 >/dev/null
s3 upload "$WORK/events" "$S3/events" || die "upload failed"

cat >"$WORK/netrare.toml" <<'TOML'
[object_storage]
lock_expiry = "3s"
TOML
FROM=2026-11-02T00:00:00Z
TO=2026-11-03T12:00:00Z
NOW=2026-11-03T18:00:00Z
# netrare STORE STATE OUT RESULTS ALERTS COMMAND...: one execution with these locations.
netrare() {
    local store="$1" state="$2" out="$3" results="$4" alerts="$5" command="$6"
    shift 6
    "$NETRARE" --config "$WORK/netrare.toml" --jobs-dir "$PWD/jobs" --store "$store" --state-dir "$state" \
        --out "$out" --results-ndjson "$results" "$command" --alerts-ndjson "$alerts" "$@"
}
backfill() { netrare "$@" backfill --from "$FROM" --to "$TO"; }
run() { netrare "$@" run --now "$NOW"; }
disk_at() { echo "$WORK/$1/state" "$WORK/$1/out" "$WORK/$1/results.ndjson" "$WORK/$1/alerts.ndjson"; }
s3_at() { echo "$S3/$1/state" "$S3/$1/out" "$S3/$1/results" "$S3/$1/alerts"; }

step "on disk: backfill and a scheduled run"
# shellcheck disable=SC2046
backfill "$WORK/events" $(disk_at disk) >/dev/null 2>"$WORK/disk.log" || { cat "$WORK/disk.log" >&2; die "disk backfill failed"; }
# shellcheck disable=SC2046
run "$WORK/events" $(disk_at disk) >/dev/null 2>>"$WORK/disk.log" || { cat "$WORK/disk.log" >&2; die "disk run failed"; }

# same DIR-ON-DISK S3-NAME: the S3 folders, downloaded, hold the disk folders' bytes.
same() {
    local disk="$1" remote="$2" got="$WORK/got-$2"
    rm -rf "$got"
    s3 download "$S3/$remote/state" "$got/state"
    s3 download "$S3/$remote/out" "$got/out"
    s3 concat "$S3/$remote/results" "$got/results.ndjson" >/dev/null
    s3 concat "$S3/$remote/alerts" "$got/alerts.ndjson" >/dev/null
    "$PY" - "$disk" "$got" <<'PYEOF' || die "$remote on S3 differs from the disk"
import pathlib, sys
disk, got = (pathlib.Path(p) for p in sys.argv[1:3])
def files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and p.name not in (".lock", ".netrare-owner") and not p.name.endswith(".netrare-owner")
            and ".staging" not in p.parts}
a, b = files(disk), files(got)
problems = [f"only on disk: {k}" for k in sorted(a.keys() - b.keys())]
problems += [f"only on S3: {k}" for k in sorted(b.keys() - a.keys())]
problems += [f"differs: {k}" for k in sorted(a.keys() & b.keys()) if a[k] != b[k]]
for p in problems:
    print(p, file=sys.stderr)
if problems or not any(k.startswith("out/alerts/") for k in a):
    sys.exit(1)
print(f"identical: {len(a)} files")
PYEOF
}

step "store on S3, state and outputs on disk"
# shellcheck disable=SC2046
backfill "$S3/events" $(disk_at s3store) >/dev/null 2>"$WORK/s3store.log" || { cat "$WORK/s3store.log" >&2; die "backfill from S3 failed"; }
# shellcheck disable=SC2046
run "$S3/events" $(disk_at s3store) >/dev/null 2>>"$WORK/s3store.log" || { cat "$WORK/s3store.log" >&2; die "run from S3 failed"; }
diff -r -x .lock -x '*.netrare-owner' -x .staging "$WORK/disk" "$WORK/s3store" || die "reading the store from S3 changed the outputs or state"

step "everything on S3: a backfill, then a scheduled run on a brand-new runner"
# shellcheck disable=SC2046
backfill "$S3/events" $(s3_at base) >/dev/null 2>"$WORK/base.log" || { cat "$WORK/base.log" >&2; die "backfill to S3 failed"; }
s3 copy "$S3/base" "$S3/all"
# shellcheck disable=SC2046
run "$S3/events" $(s3_at all) >/dev/null 2>"$WORK/all.log" || { cat "$WORK/all.log" >&2; die "run on S3 failed"; }
same "$WORK/disk" all
[ "$(s3 concat "$S3/all/alerts" /dev/null)" = 2 ] || die "expected one alerts object per commit"

step "a crash at every commit failpoint, then the next execution"
for point in before-commit after-journal remote-before-journal remote-after-journal remote-mid-publish \
    remote-after-publish remote-before-journal-removal; do
    name="crash-$point"
    s3 copy "$S3/base" "$S3/$name"
    set +e
    # shellcheck disable=SC2046
    NETRARE_FAILPOINT="$point" run "$S3/events" $(s3_at "$name") >/dev/null 2>"$WORK/$name.log"
    got=$?
    set -e
    [ "$got" -ge 128 ] || { cat "$WORK/$name.log" >&2; die "$point: expected a crash, got exit $got"; }
    if [ "$point" = remote-before-journal ]; then
        # The crashed execution's lock holds until it expires: a second execution is refused.
        set +e
        # shellcheck disable=SC2046
        run "$S3/events" $(s3_at "$name") >/dev/null 2>"$WORK/$name.locked.log"
        got=$?
        set -e
        [ "$got" = 75 ] || { cat "$WORK/$name.locked.log" >&2; die "a second execution under a held lock exited $got, not 75"; }
        grep -q "holds the lock until" "$WORK/$name.locked.log" || die "no holder in the lock message"
    fi
    sleep 3.5
    # shellcheck disable=SC2046
    run "$S3/events" $(s3_at "$name") >/dev/null 2>"$WORK/$name.after.log" ||
        { cat "$WORK/$name.after.log" >&2; die "$point: the execution after the crash failed"; }
    same "$WORK/disk" "$name"
done

step "a live lock is respected, an expired one taken over"
s3 copy "$S3/base" "$S3/held"
s3 hold "$S3/held/state" 60
set +e
# shellcheck disable=SC2046
run "$S3/events" $(s3_at held) >/dev/null 2>"$WORK/held.log"
got=$?
set -e
[ "$got" = 75 ] || { cat "$WORK/held.log" >&2; die "a held lock gave exit $got, not 75"; }
grep -q "other-runner/1/0" "$WORK/held.log" || die "the message does not name the holder"
s3 hold "$S3/held/state" -1
# shellcheck disable=SC2046
run "$S3/events" $(s3_at held) >/dev/null 2>"$WORK/held.after.log" || { cat "$WORK/held.after.log" >&2; die "an expired lock was not taken over"; }
same "$WORK/disk" held

step "an execution paused past its lease loses it and publishes nothing"
# The backfill's outputs as published once, to compare with.
rm -rf "$WORK/base-local"
s3 download "$S3/base/state" "$WORK/base-local/state"
s3 download "$S3/base/out" "$WORK/base-local/out"
s3 concat "$S3/base/results" "$WORK/base-local/results.ndjson" >/dev/null
s3 concat "$S3/base/alerts" "$WORK/base-local/alerts.ndjson" >/dev/null
# The execution stops just before its commit point: its uploads are there, its journal is not.
# Frozen there (its lease renewals too) past the lease's expiry, it is overtaken by another.
# shellcheck disable=SC2046
NETRARE_FAILPOINT=remote-before-journal NETRARE_FAILPOINT_PAUSE=2 \
    backfill "$S3/events" $(s3_at paused) >/dev/null 2>"$WORK/paused.log" &
paused=$!
"$PY" - <<'PYEOF' || die "the paused backfill never uploaded its commit"
import boto3, os, time
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
for _ in range(1000):
    if s3.list_objects_v2(Bucket="netrare-test", Prefix="paused/state/.commits/").get("KeyCount"):
        raise SystemExit(0)
    time.sleep(0.02)
raise SystemExit(1)
PYEOF
# The backfill function runs in a subshell: freeze it and the netrare process under it.
frozen="$paused $(pgrep -P "$paused" || true)"
# shellcheck disable=SC2086
kill -STOP $frozen
sleep 4
# shellcheck disable=SC2046
backfill "$S3/events" $(s3_at paused) >/dev/null 2>"$WORK/taker.log" ||
    { kill -CONT $frozen; cat "$WORK/taker.log" >&2; die "the backfill after an expired lease failed"; }
# shellcheck disable=SC2086
kill -CONT $frozen
set +e
wait "$paused"
got=$?
set -e
[ "$got" = 75 ] || { cat "$WORK/paused.log" >&2; die "the execution that lost its lease exited $got, not 75"; }
grep -q "took over the lock" "$WORK/paused.log" || { cat "$WORK/paused.log" >&2; die "no lost-lock message"; }
same "$WORK/base-local" paused

step "two executions at once: one works, the other exits 75"
# shellcheck disable=SC2046
backfill "$S3/events" $(s3_at twins) >/dev/null 2>"$WORK/twin-a.log" &
first=$!
# shellcheck disable=SC2046
backfill "$S3/events" $(s3_at twins) >/dev/null 2>"$WORK/twin-b.log" &
second=$!
set +e
wait "$first"
a=$?
wait "$second"
b=$?
set -e
[ "$(printf '%s\n' "$a" "$b" | sort -n | tr '\n' ' ')" = "0 75 " ] ||
    { cat "$WORK/twin-a.log" "$WORK/twin-b.log" >&2; die "two executions at once exited $a and $b, not 0 and 75"; }
same "$WORK/base-local" twins

step "errors: unreachable, missing bucket, denied; nothing changes"
before="$(s3 fingerprint "$S3/all")"
expect_exit() { # CODE PATTERN ENV... -- LOCATIONS...
    local code="$1" pattern="$2"
    shift 2
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    set +e
    env "${envs[@]}" "$NETRARE" --config "$WORK/netrare.toml" --jobs-dir "$PWD/jobs" "$@" \
        run --now 2026-11-03T23:00:00Z >"$WORK/err.out" 2>"$WORK/err.log"
    local got=$?
    set -e
    [ "$got" = "$code" ] || { cat "$WORK/err.log" >&2; die "expected exit $code, got $got ($*)"; }
    grep -q -- "$pattern" "$WORK/err.log" || { cat "$WORK/err.log" >&2; die "no '$pattern' in the message ($*)"; }
    [ "$(s3 fingerprint "$S3/all")" = "$before" ] || die "state or outputs changed after a failed run ($*)"
}
CLOSED="http://127.0.0.1:$(free_port)"
ALL=(--state-dir "$S3/all/state" --out "$S3/all/out" --results-ndjson "$S3/all/results")
expect_exit 69 "cannot be reached" AWS_ENDPOINT_URL="$CLOSED" -- --store "$S3/events" "${ALL[@]}"
expect_exit 69 "cannot be reached" AWS_ENDPOINT_URL="$CLOSED" -- --store "$WORK/events" "${ALL[@]}"
expect_exit 66 "no-such-bucket-x" X=1 -- --store "s3://no-such-bucket-x/events" "${ALL[@]}"
expect_exit 66 "no-such-bucket-x" X=1 -- --store "$S3/events" --state-dir "$S3/all/state" --out "s3://no-such-bucket-x/out" --results-ndjson "$S3/all/results"
expect_exit 77 "access denied" AWS_ENDPOINT_URL="http://127.0.0.1:$DENY_PORT" -- --store "$S3/events" "${ALL[@]}"
expect_exit 2 "all of them are on object storage or none" X=1 -- --store "$S3/events" --state-dir "$S3/all/state" --out "$WORK/local-out" --results-ndjson "$S3/all/results"
expect_exit 65 "no Parquet files found" X=1 -- --store "$S3/no-such-prefix" "${ALL[@]}"

step "passed"
