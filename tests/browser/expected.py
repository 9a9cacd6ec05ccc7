"""What the report must show, counted from the Parquet outputs by DuckDB, independently of netrare:
the alerts, and the cells of each swimlane (the latest version of each result; a cell per column
of the report's interval holding a score above 0; a job's host lane keeps its 10 best hosts).

Usage: expected.py OUT_DIR REPORT.html  (prints JSON)
"""

import json
import re
import sys

import duckdb

out, report = sys.argv[1], sys.argv[2]
page = open(report, encoding="utf-8").read()
lane = re.search(r'data-from-ms="(-?\d+)" data-interval-ms="(\d+)"', page)
start, interval = int(lane.group(1)), int(lane.group(2))
db = duckdb.connect()
db.execute("SET threads = 2")


def scalar(sql):
    return db.execute(sql).fetchone()[0]


column = f"floor((epoch_ms(timestamp) - {start}) / {interval})"
buckets = f"""
    SELECT job_id, {column} AS col, arg_max(anomaly_score, result_version) AS score
    FROM read_parquet('{out}/buckets/*/*.parquet') GROUP BY id, job_id, timestamp
"""
influencers = f"""
    SELECT job_id, influencer_field_value AS host, {column} AS col,
           arg_max(influencer_score, result_version) AS score
    FROM read_parquet('{out}/influencers/*/*.parquet')
    WHERE influencer_field_name = 'host.name'
    GROUP BY id, job_id, influencer_field_value, timestamp
"""
lanes = {
    "overall": scalar(f"SELECT count(DISTINCT col) FROM ({buckets}) WHERE score > 0")
    + scalar(f"SELECT count(DISTINCT (job_id, col)) FROM ({buckets}) WHERE score > 0")
}
jobs = [r[0] for r in db.execute(f"SELECT DISTINCT job_id FROM ({buckets})").fetchall()]
for job in jobs:
    lanes[job] = scalar(f"""
        WITH cells AS (SELECT host, col, max(score) AS score FROM ({influencers})
                       WHERE job_id = '{job}' AND score > 0 GROUP BY host, col),
             best AS (SELECT host FROM cells GROUP BY host ORDER BY max(score) DESC, host LIMIT 10)
        SELECT count(*) FROM cells WHERE host IN (SELECT host FROM best)
    """)
alerts = scalar(f"SELECT count(*) FROM read_parquet('{out}/alerts/*/*.parquet')")
print(json.dumps({"alerts": alerts, "investigations": min(alerts, 100), "lanes": lanes}))
