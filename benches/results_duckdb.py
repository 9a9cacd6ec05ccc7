"""Reads every result type netrare writes with DuckDB, as docs/outputs.md shows, and checks
the column types and the documented relations on the latest version of each result
(anomaly_score = max of bucket influencers, initial = current in version 1, one row per id and
version, NDJSON ids = Parquet ids).

Usage: python results_duckdb.py OUT_DIR [RESULTS_NDJSON]
"""

import json
import sys

import duckdb

EXPECTED = {
    "anomalies": {"record_id": "VARCHAR", "timestamp": "TIMESTAMP WITH TIME ZONE",
                  "record_score": "DOUBLE"},
    "buckets": {"id": "VARCHAR", "timestamp": "TIMESTAMP WITH TIME ZONE",
                "anomaly_score": "DOUBLE", "initial_anomaly_score": "DOUBLE",
                "result_version": "BIGINT", "event_count": "BIGINT", "processing_time_ms": "BIGINT", "is_interim": "BOOLEAN"},
    "bucket_influencers": {"id": "VARCHAR", "influencer_field_name": "VARCHAR",
                           "anomaly_score": "DOUBLE", "raw_anomaly_score": "DOUBLE",
                           "probability": "DOUBLE", "result_version": "BIGINT"},
    "influencers": {"id": "VARCHAR", "influencer_field_name": "VARCHAR",
                    "influencer_field_value": "VARCHAR", "influencer_score": "DOUBLE",
                    "initial_influencer_score": "DOUBLE", "result_version": "BIGINT",
                    "probability": "DOUBLE"},
    "model_size_stats": {"id": "VARCHAR", "log_time": "TIMESTAMP WITH TIME ZONE",
                         "model_bytes": "BIGINT", "total_by_field_count": "BIGINT",
                         "bucket_allocation_failures_count": "BIGINT", "memory_status": "VARCHAR",
                         "assignment_memory_basis": "VARCHAR", "categorized_doc_count": "BIGINT",
                         "categorization_status": "VARCHAR"},
}


def latest(out, folder):
    """The latest version of each result of `folder`, as docs/outputs.md reads it."""
    id_column = "record_id" if folder == "anomalies" else "id"
    return f"""(SELECT * FROM read_parquet('{out}/{folder}/*/*.parquet')
        QUALIFY row_number() OVER (PARTITION BY {id_column} ORDER BY result_version DESC) = 1)"""


def main():
    out = sys.argv[1]
    con = duckdb.connect()
    ids = set()
    for folder, columns in EXPECTED.items():
        source = f"read_parquet('{out}/{folder}/*/*.parquet')"
        types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        for column, kind in columns.items():
            assert types.get(column) == kind, f"{folder}.{column}: {types.get(column)} != {kind}"
        id_column = "record_id" if folder == "anomalies" else "id"
        version = "" if folder == "model_size_stats" else ", result_version"
        rows, distinct = con.execute(
            f"SELECT count(*), count(DISTINCT ({id_column}{version})) FROM {source}").fetchone()
        assert rows == distinct, f"{folder}: duplicate ids"
        ids |= {r[0] for r in con.execute(f"SELECT {id_column} FROM {source}").fetchall()}
        print(f"{folder}: {rows} rows, types as documented")
    bad = con.execute(f"""
        SELECT count(*) FROM {latest(out, "buckets")}
        WHERE anomaly_score != coalesce(list_max([b.anomaly_score for b in bucket_influencers]), 0)
           OR (result_version = 1 AND anomaly_score != initial_anomaly_score)""").fetchone()[0]
    assert bad == 0, f"{bad} buckets whose score is not the max of their bucket influencers"
    top = con.execute(f"""
        SELECT influencer_field_value AS host, max(influencer_score) AS score, count(*) AS buckets
        FROM {latest(out, "influencers")}
        WHERE influencer_field_name = 'host.name'
        GROUP BY host ORDER BY score DESC LIMIT 3""").fetchall()
    print("most anomalous hosts:", top)
    timeline = con.execute(f"""
        SELECT timestamp, job_id, anomaly_score, event_count, bi.influencer_field_name AS top_field
        FROM (SELECT *, unnest(bucket_influencers) AS bi FROM {latest(out, "buckets")})
        WHERE anomaly_score > 0 AND bi.anomaly_score = anomaly_score
        ORDER BY timestamp""").fetchall()
    print(f"bucket timeline: {len(timeline)} scored buckets")
    if len(sys.argv) > 2:
        with open(sys.argv[2]) as f:
            lines = [json.loads(line) for line in f]
        bulk_ids = {a["index"]["_id"] for a in lines[0::2]}
        assert bulk_ids == ids, "the NDJSON ids differ from the Parquet ids"
        print(f"results NDJSON: {len(bulk_ids)} documents, the same ids as the Parquet files")


if __name__ == "__main__":
    main()
