"""polars' bare per-bucket presence aggregation of the shipped jobs over a netrare event store.

A lazy query: the store's files in any layout (`mixed`, `flat` or `nested`: flat dotted or
nested struct columns, in `defend.parquet`, `auditd.parquet` or `events.parquet`) scanned and
unioned, each job's datafeed filter as its file in jobs/ has it, grouped by 15-minute bucket and
the job's by-field with the event count and the distinct influencer values: the work netrare's
fold does.
`port` aggregates the port job alone; `both` aggregates the port and process jobs from one scan
with `collect_all`. Prints the query's own seconds (no interpreter start or import), the number
of (bucket, by-value) rows and the events they count, per job.

Only events before UNTIL (RFC 3339, default: all) count: a backfill models only the buckets
complete at its last execution, and a store's last file may hold events stamped past its day.

Usage: python polars_presence.py STORE_DIR [THREADS] [port|both] [UNTIL]
"""

import os
import sys
import time
from datetime import datetime

from store_files import COLUMNS, parquet_files

BUCKET_MS = 15 * 60 * 1000
LINUX_FAMILIES = ["debian", "redhat", "suse", "ubuntu"]
LOOPBACK_IPS = ["127.0.0.1", "127.0.0.53", "::", "::1"]
AGENTS_AND_BEATS = [
    "elastic-agent", "elastic-agent.exe", "metricbeat", "metricbeat.exe",
    "filebeat", "filebeat.exe", "packetbeat", "packetbeat.exe", "winlogbeat", "winlogbeat.exe",
]
INFLUENCERS = {"host": "hosts", "process": "processes", "usr": "users", "dip": "ips"}


def column(pl, schema, dotted):
    """The ECS field `dotted` of a file: its flat dotted column (`destination.port`) if the file
    has one, else the field inside the nested struct columns (`destination: {port}`)."""
    if dotted in schema:
        return pl.col(dotted)
    head, *fields = dotted.split(".")
    expr = pl.col(head)
    for field in fields:
        expr = expr.struct.field(field)
    return expr


def events(pl, store):
    """Every event of the store, in any layout, with the columns the jobs read: the files are
    grouped by schema (flat dotted columns, nested struct columns, or the Defend and auditd
    files' different fields), each group scanned at once, and the groups unioned."""
    groups = {}
    for path in parquet_files(store):
        schema = pl.read_parquet_schema(path)
        key = tuple((name, str(dtype)) for name, dtype in schema.items())
        groups.setdefault(key, (schema, []))[1].append(path)
    if not groups:
        sys.exit(f"no Parquet files under {store}")
    return pl.concat(
        [
            pl.scan_parquet(paths, hive_partitioning=False).select(
                column(pl, schema, dotted).alias(name) for name, dotted in COLUMNS.items()
            )
            for schema, paths in groups.values()
        ]
    )


def port_filter(pl):
    """jobs/v3_linux_anomalous_network_port_activity.toml's datafeed query: a missing field
    never matches a term, so it never flips a must_not."""
    return (
        pl.col("category").list.contains("network")
        & pl.col("type").list.contains("start")
        & (
            (pl.col("os_type") == "linux").fill_null(False)
            | pl.col("os_family").is_in(LINUX_FAMILIES).fill_null(False)
        )
        & ~pl.col("dip").is_in(LOOPBACK_IPS).fill_null(False)
        & ~(pl.col("usr") == "jenkins").fill_null(False)
    )


def process_filter(pl):
    """jobs/v3_linux_anomalous_network_activity.toml's datafeed query: the port job's, plus the
    exclusion of Elastic's agents and Beats."""
    return port_filter(pl) & ~pl.col("process").is_in(AGENTS_AND_BEATS).fill_null(False)


def presence(pl, frame, selected, by):
    """Per 15-minute bucket and value of `by` (rows without one skipped, as netrare and Elastic
    skip them): the event count and the distinct values of each influencer."""
    return (
        frame.filter(selected & pl.col(by).is_not_null())
        .group_by(
            (pl.col("ts").dt.epoch("ms") // BUCKET_MS * BUCKET_MS).alias("bucket_ms"),
            pl.col(by).alias("value"),
        )
        .agg(
            pl.len().alias("events"),
            *(pl.col(c).drop_nulls().unique().alias(name) for c, name in INFLUENCERS.items()),
        )
    )


def main() -> None:
    store = sys.argv[1]
    threads = sys.argv[2] if len(sys.argv) > 2 else "2"
    jobs = sys.argv[3] if len(sys.argv) > 3 else "port"
    until = sys.argv[4] if len(sys.argv) > 4 else None
    if jobs not in ("port", "both"):
        sys.exit(f"unknown jobs {jobs!r}: port or both")
    os.environ["POLARS_MAX_THREADS"] = threads
    import polars as pl

    frame = events(pl, store)
    if until is not None:
        frame = frame.filter(pl.col("ts") < datetime.fromisoformat(until.replace("Z", "+00:00")))
    queries = {"port": presence(pl, frame, port_filter(pl), "dport")}
    if jobs == "both":
        queries["process"] = presence(pl, frame, process_filter(pl), "process")
    started = time.perf_counter()
    results = pl.collect_all(list(queries.values()))
    elapsed = time.perf_counter() - started
    counts = [
        f"{prefix}rows={result.height} {prefix}events={result['events'].sum()}"
        for prefix, result in zip(("", "process_"), results)
    ]
    print(f"query_seconds={elapsed:.3f} threads={pl.thread_pool_size()} " + " ".join(counts))


if __name__ == "__main__":
    main()
