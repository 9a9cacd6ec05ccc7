"""DuckDB asked the history question `netrare investigate` answers, over the same event store.

The datafeed filter of the alert's job (jobs/v3_linux_anomalous_network_port_activity.toml or
jobs/v3_linux_anomalous_network_activity.toml: event.category network, event.type start, a Linux
host, destination.ip not loopback, user.name not jenkins; the process job also leaves out
Elastic's agents and Beats), over the flat Defend files and the nested auditd files unioned. For
the rare value (VALUE of the job's by-field) over the HISTORY_DAYS days before its bucket
(BUCKET_START, RFC 3339): its events, per-day and per-host counts, first and last seen, the
15-minute buckets holding it and those holding any selected event; and for the process(es) of the
bucket's connections (the bucket's selected events with the value), their events and destination
ports per host and fleet-wide.

One SQL script: the bucket's processes, then one pass over the window grouped by bucket (the
value's and the processes' rows also by host, day and port), and the answers from that. Prints
the script's own seconds (no interpreter start or import) and the counts netrare's JSON is
checked against, as KEY=VALUE.

Usage: python duckdb_history.py STORE_DIR THREADS port|process VALUE BUCKET_START [HISTORY_DAYS]
"""

import sys
import time

import duckdb

BUCKET_MS = 15 * 60 * 1000

EVENTS = """
CREATE TEMP VIEW events AS
    SELECT "@timestamp" AS ts, "event.category" AS category, "event.type" AS type,
           "host.os.type" AS os_type, "host.os.family" AS os_family, "host.name" AS host,
           "process.name" AS process, "user.name" AS usr, "destination.ip" AS dip,
           CAST("destination.port" AS VARCHAR) AS dport, date
    FROM read_parquet('{store}/**/defend.parquet', hive_partitioning = true)
    UNION ALL
    SELECT "@timestamp", event.category, event.type, host.os.type, host.os.family, host.name,
           process.name, "user".name, destination.ip, CAST(destination.port AS VARCHAR), date
    FROM read_parquet('{store}/**/auditd.parquet', hive_partitioning = true);

-- The job's datafeed; files are day partitions that may hold a few events of the next day.
CREATE TEMP VIEW selected AS
    SELECT ts, date, host, process, dport, epoch_ms(ts) AS ms, {by} AS by_value FROM events
    WHERE list_contains(category, 'network') AND list_contains(type, 'start')
      AND (coalesce(os_type = 'linux', false)
           OR coalesce(os_family IN ('debian', 'redhat', 'suse', 'ubuntu'), false))
      AND NOT coalesce(dip IN ('127.0.0.1', '127.0.0.53', '::', '::1'), false)
      AND NOT coalesce(usr = 'jenkins', false)
      {process_job};

-- The processes of the bucket's connections.
CREATE TEMP TABLE watched AS
    SELECT DISTINCT process FROM selected
    WHERE date BETWEEN DATE '{bucket_day}' - 1 AND DATE '{bucket_day}'
      AND ms >= {bucket} AND ms < {bucket} + {span} AND by_value = '{value}'
      AND process IS NOT NULL;

-- One pass over the window: every bucket with any event, and the value's and the watched
-- processes' rows by bucket, host and port.
CREATE TEMP TABLE pass AS
    SELECT ms // {span} AS bucket, by_value = '{value}' AS is_value,
           CASE WHEN process IN (SELECT process FROM watched) THEN process END AS wprocess,
           CASE WHEN by_value = '{value}' OR process IN (SELECT process FROM watched)
                THEN host END AS whost,
           CASE WHEN process IN (SELECT process FROM watched) THEN dport END AS wport,
           count(*) AS events, min(ms) AS first_ms, max(ms) AS last_ms
    FROM selected
    WHERE date BETWEEN DATE '{from_day}' - 1 AND DATE '{bucket_day}'
      AND ms >= {start} AND ms < {bucket}
    GROUP BY ALL;

CREATE TEMP TABLE value_days AS
    SELECT bucket * {span} // 86400000 * 86400000 AS day_ms, sum(events) AS events
    FROM pass WHERE is_value GROUP BY ALL;
CREATE TEMP TABLE value_hosts AS
    SELECT whost AS host, sum(events) AS events FROM pass WHERE is_value GROUP BY ALL;
CREATE TEMP TABLE process_ports AS
    SELECT wprocess AS process, wport AS port, sum(events) AS events
    FROM pass WHERE wprocess IS NOT NULL GROUP BY ALL;
CREATE TEMP TABLE process_host_ports AS
    SELECT wprocess AS process, whost AS host, wport AS port, sum(events) AS events
    FROM pass WHERE wprocess IS NOT NULL GROUP BY ALL;
CREATE TEMP TABLE answer AS
    SELECT (SELECT coalesce(sum(events), 0) FROM pass WHERE is_value) AS events,
           (SELECT count(*) FROM value_hosts WHERE host IS NOT NULL) AS host_count,
           (SELECT min(first_ms) FROM pass WHERE is_value) AS first_seen_ms,
           (SELECT max(last_ms) FROM pass WHERE is_value) AS last_seen_ms,
           (SELECT count(DISTINCT bucket) FROM pass) AS fleet_buckets,
           (SELECT count(DISTINCT bucket) FROM pass WHERE is_value) AS value_buckets,
           (SELECT count(*) FROM value_days) AS value_days;
"""

PROCESS_JOB = """AND NOT coalesce(process IN (
        'elastic-agent', 'elastic-agent.exe', 'metricbeat', 'metricbeat.exe', 'filebeat',
        'filebeat.exe', 'packetbeat', 'packetbeat.exe', 'winlogbeat', 'winlogbeat.exe'), false)"""


def main() -> None:
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    store, threads, job, value, bucket_start = sys.argv[1:6]
    history_days = int(sys.argv[6]) if len(sys.argv) > 6 else 30
    if job not in ("port", "process"):
        sys.exit(f"unknown job {job!r}: port or process")
    con = duckdb.connect()
    con.execute(f"SET threads={int(threads)}")
    bucket_ms = con.execute(f"SELECT epoch_ms(TIMESTAMPTZ '{bucket_start}')").fetchone()[0]
    start_ms = bucket_ms - history_days * 86_400_000
    day = lambda ms: time.strftime("%Y-%m-%d", time.gmtime(ms / 1000))  # noqa: E731
    script = EVENTS.format(
        store=store,
        by="dport" if job == "port" else "process",
        process_job=PROCESS_JOB if job == "process" else "",
        value=value.replace("'", "''"),
        span=BUCKET_MS,
        bucket=bucket_ms,
        start=start_ms,
        bucket_day=day(bucket_ms),
        from_day=day(start_ms),
    )
    started = time.perf_counter()
    con.execute(script)
    answer = con.execute("SELECT * FROM answer").fetchone()
    processes = con.execute(
        "SELECT process, sum(events) FROM process_ports GROUP BY ALL ORDER BY process"
    ).fetchall()
    watched = [row[0] for row in con.execute("SELECT process FROM watched ORDER BY 1").fetchall()]
    elapsed = time.perf_counter() - started
    names = ["events", "host_count", "first_seen_ms", "last_seen_ms", "fleet_buckets",
             "value_buckets", "value_days"]
    counts = " ".join(f"{k}={'null' if v is None else v}" for k, v in zip(names, answer))
    before = ",".join(f"{p}:{n}" for p, n in processes)
    print(f"query_seconds={elapsed:.3f} {counts} watched={','.join(watched)} "
          f"process_events={before}")
    ports = con.execute(
        "SELECT process, port, events FROM process_ports ORDER BY process, events DESC, port LIMIT 30"
    ).fetchall()
    for process, port, events in ports:
        print(f"  {process} port {port}: {events} events fleet-wide")


if __name__ == "__main__":
    main()
