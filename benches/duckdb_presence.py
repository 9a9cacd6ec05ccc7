"""DuckDB's bare per-bucket presence aggregation of the port job over a netrare event store.

The datafeed filter of jobs/v3_linux_anomalous_network_port_activity.toml, over the flat Defend
files and the nested auditd files unioned. `presence` groups by 15-minute bucket and
destination.port with the distinct influencer values, the work netrare's fold does for one job;
`floor` only counts the selected events: the cost of one scan and filter, the floor for any pass.
Prints the query's own seconds (no interpreter start or import), the number of rows and the
events they count.

Only events before UNTIL (RFC 3339, default: all) count: a backfill models only the buckets
complete at its last execution, and a store's last file may hold events stamped past its day.

Usage: python duckdb_presence.py STORE_DIR [THREADS] [presence|floor] [UNTIL]
"""

import sys
import time

import duckdb

BUCKET_MS = 15 * 60 * 1000

EVENTS = """
WITH events AS (
    SELECT "@timestamp" AS ts, "event.category" AS category, "event.type" AS type,
           "host.os.type" AS os_type, "host.os.family" AS os_family, "host.name" AS host,
           "process.name" AS process, "user.name" AS usr, "destination.ip" AS dip,
           "destination.port" AS dport
    FROM read_parquet('{store}/**/defend.parquet')
    UNION ALL
    SELECT "@timestamp", event.category, event.type, host.os.type, host.os.family, host.name,
           process.name, "user".name, destination.ip, destination.port
    FROM read_parquet('{store}/**/auditd.parquet')
), selected AS (
    SELECT * FROM events
    WHERE list_contains(category, 'network') AND list_contains(type, 'start')
      AND (coalesce(os_type = 'linux', false)
           OR coalesce(os_family IN ('debian', 'redhat', 'suse', 'ubuntu'), false))
      AND NOT coalesce(dip IN ('127.0.0.1', '127.0.0.53', '::', '::1'), false)
      AND NOT coalesce(usr = 'jenkins', false)
      AND dport IS NOT NULL
      AND ts < TIMESTAMPTZ '{until}'
)
"""

QUERIES = {
    "presence": """
CREATE TEMP TABLE result AS {events}
SELECT epoch_ms(ts) // {bucket} * {bucket} AS bucket_ms, dport AS port, count(*) AS events,
       list(DISTINCT host) AS hosts, list(DISTINCT process) AS processes,
       list(DISTINCT usr) AS users, list(DISTINCT dip) AS ips
FROM selected
GROUP BY ALL
""",
    "floor": """
CREATE TEMP TABLE result AS {events}
SELECT count(*) AS events FROM selected
""",
}


def main() -> None:
    store = sys.argv[1]
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    mode = sys.argv[3] if len(sys.argv) > 3 else "presence"
    until = sys.argv[4] if len(sys.argv) > 4 else "infinity"
    if mode not in QUERIES:
        sys.exit(f"unknown mode {mode!r}: presence or floor")
    con = duckdb.connect()
    con.execute(f"SET threads={threads}")
    events = EVENTS.format(store=store, until=until)
    query = QUERIES[mode].format(events=events, bucket=BUCKET_MS)
    started = time.perf_counter()
    con.execute(query)
    elapsed = time.perf_counter() - started
    rows = con.execute("SELECT count(*), sum(events) FROM result").fetchone()
    print(f"query_seconds={elapsed:.3f} rows={rows[0]} events={rows[1]}")


if __name__ == "__main__":
    main()
