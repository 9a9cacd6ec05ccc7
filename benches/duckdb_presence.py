"""DuckDB's bare per-bucket presence aggregation of the port job over a netrare event store.

The datafeed filter of jobs/v3_linux_anomalous_network_port_activity.toml, over the store's files
in any layout (`mixed`, `flat` or `nested`: flat dotted or nested struct columns, in
`defend.parquet`, `auditd.parquet` or `events.parquet`) unioned. `presence` groups by 15-minute
bucket and destination.port with the distinct influencer values, the work netrare's fold does for
one job;
`floor` only counts the selected events: the cost of one scan and filter, the floor for any pass.
Prints the query's own seconds (no interpreter start or import), the number of rows and the
events they count.

Only events before UNTIL (RFC 3339, default: all) count: a backfill models only the buckets
complete at its last execution, and a store's last file may hold events stamped past its day.

Usage: python duckdb_presence.py STORE_DIR [THREADS] [presence|floor] [UNTIL]
"""

import os
import sys
import time

import duckdb

from store_files import COLUMNS, parquet_files

BUCKET_MS = 15 * 60 * 1000


SELECTED = """
WITH events AS (
{events}
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


def quote(name):
    return '"' + name.replace('"', '""') + '"'


def column(top_level, dotted):
    """The ECS field `dotted` of a file: its flat dotted column (`destination.port`) if the file
    has one, else the field inside the nested struct columns (`destination: {port}`)."""
    if dotted in top_level:
        return quote(dotted)
    head, *fields = dotted.split(".")
    expr = quote(head)
    for field in fields:
        expr = f"struct_extract({expr}, '{field}')"
    return expr


def literal(text):
    return "'" + text.replace("'", "''") + "'"


def events(con, store):
    """A UNION ALL of every event of the store, in any layout, with the columns the jobs read:
    the files grouped by schema (flat dotted columns, nested struct columns, or the Defend and
    auditd files' different fields), each group read at once."""
    files = parquet_files(store)
    if not files:
        sys.exit(f"no Parquet files under {store}")
    groups = {}
    for path in files:
        described = con.execute(f"DESCRIBE SELECT * FROM read_parquet({literal(path)})")
        schema = tuple((row[0], row[1]) for row in described.fetchall())
        groups.setdefault(schema, []).append(path)
    selects = []
    for schema, paths in groups.items():
        top_level = {name for name, _ in schema}
        listed = ", ".join(literal(p) for p in paths)
        columns = ", ".join(
            f"{column(top_level, dotted)} AS {name}" for name, dotted in COLUMNS.items()
        )
        selects.append(f"    SELECT {columns}\n    FROM read_parquet([{listed}])")
    return "\n    UNION ALL\n".join(selects)


QUERIES = {
    "presence": """
CREATE TEMP TABLE result AS {selected}
SELECT epoch_ms(ts) // {bucket} * {bucket} AS bucket_ms, dport AS port, count(*) AS events,
       list(DISTINCT host) AS hosts, list(DISTINCT process) AS processes,
       list(DISTINCT usr) AS users, list(DISTINCT dip) AS ips
FROM selected
GROUP BY ALL
""",
    "floor": """
CREATE TEMP TABLE result AS {selected}
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
    selected = SELECTED.format(events=events(con, store), until=until)
    query = QUERIES[mode].format(selected=selected, bucket=BUCKET_MS)
    started = time.perf_counter()
    con.execute(query)
    elapsed = time.perf_counter() - started
    rows = con.execute("SELECT count(*), sum(events) FROM result").fetchone()
    print(f"query_seconds={elapsed:.3f} rows={rows[0]} events={rows[1]}")


if __name__ == "__main__":
    main()
