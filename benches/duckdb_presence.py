"""DuckDB's bare per-bucket presence aggregation of the port job over a netrare event store.

The same datafeed filter as jobs/v3_linux_anomalous_network_port_activity.toml, over the flat
Defend files and the nested auditd files unioned; grouped by 15-minute bucket and
destination.port with the distinct influencer values, the work netrare's fold does for one job.
Prints the query's own seconds and the number of (bucket, port) rows.

Usage: python duckdb_presence.py STORE_DIR [THREADS]
"""

import sys
import time

import duckdb

BUCKET_MS = 15 * 60 * 1000

QUERY = """
CREATE TEMP TABLE presence AS
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
)
SELECT epoch_ms(ts) // {bucket} * {bucket} AS bucket_ms, dport AS port, count(*) AS events,
       list(DISTINCT host) AS hosts, list(DISTINCT process) AS processes,
       list(DISTINCT usr) AS users, list(DISTINCT dip) AS ips
FROM events
WHERE list_contains(category, 'network') AND list_contains(type, 'start')
  AND (coalesce(os_type = 'linux', false)
       OR coalesce(os_family IN ('debian', 'redhat', 'suse', 'ubuntu'), false))
  AND NOT coalesce(dip IN ('127.0.0.1', '127.0.0.53', '::', '::1'), false)
  AND NOT coalesce(usr = 'jenkins', false)
  AND NOT coalesce(process IN ('elastic-agent', 'elastic-agent.exe', 'metricbeat', 'metricbeat.exe',
                               'filebeat', 'filebeat.exe', 'packetbeat', 'packetbeat.exe',
                               'winlogbeat', 'winlogbeat.exe'), false)
  AND dport IS NOT NULL
GROUP BY ALL
"""


def main() -> None:
    store = sys.argv[1]
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    con = duckdb.connect()
    con.execute(f"SET threads={threads}")
    started = time.perf_counter()
    con.execute(QUERY.format(store=store, bucket=BUCKET_MS))
    elapsed = time.perf_counter() - started
    rows = con.execute("SELECT count(*), sum(events) FROM presence").fetchone()
    print(f"query_seconds={elapsed:.3f} rows={rows[0]} events={rows[1]}")


if __name__ == "__main__":
    main()
