"""The Parquet files of a netrare event store, as netrare's store finds them, for the peer
scripts of benches/e2e.sh (polars_presence.py, duckdb_presence.py)."""

import os

# The ECS fields the two jobs' datafeeds and influencers read, by the short name the peers' queries
# give them.
COLUMNS = {
    "ts": "@timestamp",
    "category": "event.category",
    "type": "event.type",
    "os_type": "host.os.type",
    "os_family": "host.os.family",
    "host": "host.name",
    "process": "process.name",
    "usr": "user.name",
    "dip": "destination.ip",
    "dport": "destination.port",
}


def parquet_files(store):
    """Every Parquet file under the store: hidden (`.`) and temporary (`_`) files and folders
    skipped, in sorted order."""
    found = []
    for root, dirs, files in os.walk(store):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        found += [
            os.path.join(root, f)
            for f in sorted(files)
            if f.lower().endswith(".parquet") and not f.startswith((".", "_"))
        ]
    return found
