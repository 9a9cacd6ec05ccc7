//! Buckets, bucket influencers, influencers and model size statistics: written beside the records
//! with Elastic's ids and score relations, the same from scheduled runs as from a backfill, and as
//! `_bulk` NDJSON appended at each commit.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::util::*;

/// The backfill of the scheduled day, run once for the tests that read it.
fn backfilled_day() -> &'static Sandbox {
    static DAY: std::sync::OnceLock<Sandbox> = std::sync::OnceLock::new();
    DAY.get_or_init(|| {
        let sandbox = Sandbox::new();
        let file = sandbox.path("results.ndjson");
        let file = file.to_str().expect("utf-8");
        sandbox.backfill(FIRST_RUN, LAST_RUN, &["--results-ndjson", file]);
        sandbox
    })
}

/// The `valuesToId` part of a record or influencer id: its last two `_`-separated parts.
fn values_suffix(id: &str) -> String {
    let parts: Vec<&str> = id.rsplitn(3, '_').collect();
    format!("{}_{}", parts[1], parts[0])
}

/// `(job_id, timestamp)` of a row.
fn bucket_key(row: &Row) -> (String, i64) {
    (
        row.text("job_id").to_string(),
        row.number("timestamp") as i64,
    )
}

#[test]
fn buckets_carry_elastic_ids_and_the_max_of_their_bucket_influencers() {
    let sandbox = backfilled_day();
    let buckets = latest_by(read_rows(&sandbox.out().join("buckets")), "id");
    let records = sandbox.records();
    let with_records: BTreeSet<(String, i64)> = records.iter().map(bucket_key).collect();
    // Every bucket from each job's first bucket with data, once.
    let mut per_job: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for bucket in &buckets {
        let (job, ts) = bucket_key(bucket);
        assert!(
            per_job.entry(job).or_default().insert(ts),
            "{bucket:?} twice"
        );
    }
    for (job, times) in &per_job {
        let (first, last) = (
            times.first().expect("a bucket"),
            times.last().expect("a bucket"),
        );
        assert_eq!(
            times.len() as i64,
            (last - first) / 900_000 + 1,
            "{job} has gaps"
        );
        // The last complete bucket at 00:05 (2 minutes of query delay) starts at 23:45.
        assert_eq!(*last as f64, ms(&plus(LAST_RUN, -20)), "{job} stops early");
    }
    assert_eq!(per_job.len(), 2);
    let mut scored = 0;
    for bucket in &buckets {
        let (job, ts) = bucket_key(bucket);
        assert_eq!(bucket.text("id"), format!("{job}_bucket_{ts}_900"));
        assert_eq!(bucket.text("result_type"), "bucket");
        let nested = bucket["bucket_influencers"].as_array().expect("list");
        let max = nested
            .iter()
            .map(|b| b["anomaly_score"].as_f64().expect("score"))
            .fold(0.0, f64::max);
        assert_eq!(bucket.number("anomaly_score"), max, "{bucket:?}");
        if bucket.number("result_version") == 1.0 {
            assert_eq!(
                bucket.number("initial_anomaly_score").to_bits(),
                bucket.number("anomaly_score").to_bits()
            );
        }
        let has_time = nested
            .iter()
            .any(|b| b["influencer_field_name"] == "bucket_time");
        assert_eq!(has_time, with_records.contains(&(job, ts)), "{bucket:?}");
        scored += usize::from(max > 0.0);
    }
    assert!(scored > 0, "no bucket scored above 0");
}

#[test]
fn bucket_influencers_are_also_written_alone_with_their_own_ids() {
    let sandbox = backfilled_day();
    let buckets = latest_by(read_rows(&sandbox.out().join("buckets")), "id");
    let alone = latest_by(read_rows(&sandbox.out().join("bucket_influencers")), "id");
    let nested: BTreeSet<String> = buckets
        .iter()
        .flat_map(|b| {
            let (job, ts) = bucket_key(b);
            b["bucket_influencers"]
                .as_array()
                .expect("list")
                .iter()
                .map(move |i| {
                    let field = i["influencer_field_name"].as_str().expect("name");
                    format!("{job}_bucket_influencer_{ts}_900_{field}")
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let ids: BTreeSet<String> = alone.iter().map(|r| r.text("id").to_string()).collect();
    assert_eq!(ids.len(), alone.len(), "duplicate bucket influencer ids");
    assert_eq!(ids, nested);
    for row in &alone {
        assert_eq!(row.text("result_type"), "bucket_influencer");
        assert!((0.0..=1.0).contains(&row.number("probability")));
        if row.number("result_version") == 1.0 {
            assert_eq!(
                row.number("initial_anomaly_score"),
                row.number("anomaly_score")
            );
        }
    }
}

#[test]
fn influencers_use_values_to_id_and_belong_to_a_written_bucket_influencer() {
    let sandbox = backfilled_day();
    let influencers = read_rows(&sandbox.out().join("influencers"));
    let alone = read_rows(&sandbox.out().join("bucket_influencers"));
    let fields: BTreeSet<(String, i64, String)> = alone
        .iter()
        .map(|r| {
            let (job, ts) = bucket_key(r);
            (job, ts, r.text("influencer_field_name").to_string())
        })
        .collect();
    // The record id suffix of a process is valuesToId of its name, as is an influencer's.
    let suffixes: BTreeMap<String, String> = sandbox
        .records()
        .iter()
        .filter(|r| r.text("job_id") == PROCESS_JOB)
        .map(|r| {
            let suffix = values_suffix(r.text("record_id"));
            (r.text("by_field_value").to_string(), suffix)
        })
        .collect();
    assert!(!influencers.is_empty());
    let mut checked = 0;
    let mut top = 0.0_f64;
    for row in &influencers {
        let (job, ts) = bucket_key(row);
        let (field, value) = (
            row.text("influencer_field_name"),
            row.text("influencer_field_value"),
        );
        let prefix = format!("{job}_influencer_{ts}_900_{field}_");
        let id = row.text("id");
        assert!(id.starts_with(&prefix), "{id}");
        assert!(
            id.ends_with(&format!("_{}", value.encode_utf16().count())),
            "{id}"
        );
        if job == PROCESS_JOB
            && field == "process.name"
            && let Some(suffix) = suffixes.get(value)
        {
            assert_eq!(&values_suffix(id), suffix, "{id}");
            checked += 1;
        }
        assert!(fields.contains(&(job, ts, field.to_string())), "{row:?}");
        if row.number("result_version") == 1.0 {
            assert_eq!(
                row.number("initial_influencer_score").to_bits(),
                row.number("influencer_score").to_bits()
            );
        }
        top = top.max(row.number("influencer_score"));
    }
    assert!(checked > 0, "no process influencer matched a record");
    assert!(top > 0.0, "every influencer scored 0");
}

#[test]
fn model_size_stats_are_written_per_execution() {
    let sandbox = backfilled_day();
    let stats = read_rows(&sandbox.out().join("model_size_stats"));
    let executions = every_15m(FIRST_RUN, LAST_RUN).len();
    assert_eq!(stats.len(), 2 * executions);
    for row in &stats {
        let job = row.text("job_id");
        let log_time = row.number("log_time") as i64;
        assert_eq!(row.text("id"), format!("{job}_model_size_stats_{log_time}"));
        assert_eq!(row.text("memory_status"), "ok");
        assert_eq!(row.text("assignment_memory_basis"), "model_memory_limit");
        assert_eq!(row.text("categorization_status"), "ok");
        assert_eq!(row.number("total_category_count"), 0.0);
        assert!(row.number("total_by_field_count") > 0.0);
        assert!(row.number("model_bytes") > 0.0);
        assert_eq!(row.number("bucket_allocation_failures_count"), 0.0);
    }
}

#[test]
fn scheduled_runs_write_the_same_buckets_and_influencers_as_the_backfill() {
    let day = scheduled_day();
    let backfill = backfilled_day();
    for folder in ["buckets", "bucket_influencers", "influencers"] {
        let bits = |sandbox: &Sandbox| -> BTreeMap<(String, u64), (u64, u64)> {
            let rows = read_rows(&sandbox.out().join(folder));
            let bits: BTreeMap<_, _> = rows
                .iter()
                .map(|r| {
                    let score = ["anomaly_score", "influencer_score"]
                        .iter()
                        .find_map(|c| r.get(*c).and_then(Value::as_f64))
                        .expect("a score");
                    let p = r.get("probability").and_then(Value::as_f64).unwrap_or(0.0);
                    let version = r.number("result_version") as u64;
                    (
                        (r.text("id").to_string(), version),
                        (score.to_bits(), p.to_bits()),
                    )
                })
                .collect();
            assert_eq!(bits.len(), rows.len(), "{folder}: a version written twice");
            bits
        };
        assert_eq!(bits(&day.sandbox), bits(backfill), "{folder} differ");
    }
}

/// The `_bulk` lines of a file as (action, document) pairs.
fn bulk(text: &str) -> Vec<(Value, Value)> {
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len() % 2, 0);
    lines
        .chunks(2)
        .map(|pair| (pair[0].clone(), pair[1].clone()))
        .collect()
}

#[test]
fn results_ndjson_indexes_every_result_with_its_id() {
    let sandbox = backfilled_day();
    let text = std::fs::read_to_string(sandbox.path("results.ndjson")).expect("ndjson");
    let pairs = bulk(&text);
    let mut ids = BTreeSet::new();
    // A renormalised result is indexed again under its id, as Elasticsearch re-indexes it: the
    // last line of an id holds its latest score.
    let mut last_scores: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_type: BTreeMap<String, usize> = BTreeMap::new();
    for (action, doc) in &pairs {
        let index = &action["index"];
        assert_eq!(index["_index"], ".ml-anomalies-shared");
        let id = index["_id"].as_str().expect("_id").to_string();
        let score = ["record_score", "anomaly_score", "influencer_score"]
            .iter()
            .find_map(|c| doc[*c].as_f64());
        match score {
            Some(score) => {
                last_scores.insert(id.clone(), score.to_bits());
                ids.insert(id);
            }
            None => assert!(ids.insert(id), "duplicate _id"),
        }
        *by_type
            .entry(doc["result_type"].as_str().expect("type").to_string())
            .or_default() += 1;
    }
    let parquet_ids = |folder: &str, column: &str| -> BTreeSet<String> {
        read_rows(&sandbox.out().join(folder))
            .iter()
            .map(|r| r.text(column).to_string())
            .collect()
    };
    let mut expected = parquet_ids("anomalies", "record_id");
    for folder in [
        "buckets",
        "bucket_influencers",
        "influencers",
        "model_size_stats",
    ] {
        expected.extend(parquet_ids(folder, "id"));
    }
    assert_eq!(ids, expected);
    assert_eq!(by_type["record"], sandbox.record_rows().len());
    let mut latest: BTreeMap<String, u64> = BTreeMap::new();
    let folders = [
        ("anomalies", "record_id", "record_score"),
        ("buckets", "id", "anomaly_score"),
        ("bucket_influencers", "id", "anomaly_score"),
        ("influencers", "id", "influencer_score"),
    ];
    for (folder, id, score) in folders {
        for row in latest_by(read_rows(&sandbox.out().join(folder)), id) {
            latest.insert(row.text(id).to_string(), row.number(score).to_bits());
        }
    }
    assert_eq!(
        last_scores, latest,
        "the last line of a result is not its latest version"
    );
    assert_eq!(
        by_type["bucket"],
        read_rows(&sandbox.out().join("buckets")).len()
    );
}

#[test]
fn results_ndjson_is_appended_and_survives_a_crash_after_appending() {
    let crash_at = "2026-11-03T03:35:00Z";
    let sequence = |failpoint: Option<&str>| -> String {
        let sandbox = Sandbox::new();
        let file = sandbox.path("results.ndjson");
        let flag = ["--results-ndjson", file.to_str().expect("utf-8")];
        sandbox.backfill(FIRST_RUN, &plus(crash_at, -15), &flag);
        let before = std::fs::read(&file).expect("ndjson");
        if let Some(failpoint) = failpoint {
            let mut args = flag.to_vec();
            args.extend(["run", "--now", crash_at]);
            let crashed = sandbox.netrare_with_env(&args, &[("NETRARE_FAILPOINT", failpoint)]);
            assert_ne!(
                crashed.code,
                Some(0),
                "the failpoint did not stop the process"
            );
        }
        let mut args = flag.to_vec();
        args.extend(["run", "--now", crash_at]);
        sandbox.netrare(&args).success();
        let after = std::fs::read(&file).expect("ndjson");
        assert!(after.len() > before.len(), "the run appended nothing");
        assert_eq!(
            &after[..before.len()],
            &before[..],
            "earlier lines were rewritten"
        );
        String::from_utf8(after).expect("utf-8")
    };
    let clean = sequence(None);
    assert_eq!(sequence(Some("after-appends")), clean);
    assert_eq!(sequence(Some("after-journal")), clean);
}

#[test]
fn a_state_from_before_bucket_results_is_refused() {
    let sandbox = Sandbox::new();
    sandbox.run_at("2026-11-02T12:05:00Z");
    let path = sandbox.state().join(format!("{PORT_JOB}.json"));
    let mut state: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("state")).expect("json");
    state["version"] = Value::from(1);
    state.as_object_mut().expect("object").remove("levels");
    std::fs::write(&path, serde_json::to_vec(&state).expect("json")).expect("write");
    let before = snapshot(sandbox.dir.path());
    let refused = sandbox
        .netrare(&["run", "--now", "2026-11-02T12:20:00Z"])
        .failure(65);
    assert!(
        refused.stderr.contains("version Some(1)") || refused.stderr.contains("version 1"),
        "{}",
        refused.stderr
    );
    assert_eq!(snapshot(sandbox.dir.path()), before);
}

#[test]
fn result_files_keep_stable_column_types() {
    use arrow::datatypes::{DataType, TimeUnit};
    let sandbox = backfilled_day();
    let time = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
    let (text, double, long, flag) = (
        DataType::Utf8,
        DataType::Float64,
        DataType::Int64,
        DataType::Boolean,
    );
    let common = [
        ("id", &text),
        ("job_id", &text),
        ("result_type", &text),
        ("timestamp", &time),
    ];
    let expected: [(&str, Vec<(&str, &DataType)>); 4] = [
        (
            "buckets",
            vec![
                ("bucket_span", &long),
                ("is_interim", &flag),
                ("anomaly_score", &double),
                ("initial_anomaly_score", &double),
                ("result_version", &long),
                ("event_count", &long),
                ("processing_time_ms", &long),
            ],
        ),
        (
            "bucket_influencers",
            vec![
                ("influencer_field_name", &text),
                ("anomaly_score", &double),
                ("initial_anomaly_score", &double),
                ("raw_anomaly_score", &double),
                ("probability", &double),
                ("result_version", &long),
            ],
        ),
        (
            "influencers",
            vec![
                ("influencer_field_name", &text),
                ("influencer_field_value", &text),
                ("influencer_score", &double),
                ("initial_influencer_score", &double),
                ("result_version", &long),
                ("probability", &double),
            ],
        ),
        (
            "model_size_stats",
            vec![
                ("log_time", &time),
                ("model_bytes", &long),
                ("total_by_field_count", &long),
                ("bucket_allocation_failures_count", &long),
                ("memory_status", &text),
                ("assignment_memory_basis", &text),
                ("categorized_doc_count", &long),
                ("failed_category_count", &long),
                ("categorization_status", &text),
            ],
        ),
    ];
    for (folder, columns) in expected {
        let files = parquet_files(&sandbox.out().join(folder));
        assert!(!files.is_empty(), "no {folder} file");
        let schemas: Vec<_> = files.iter().map(|f| parquet_schema(f)).collect();
        assert!(
            schemas.windows(2).all(|w| w[0] == w[1]),
            "{folder}: schemas differ"
        );
        for (column, kind) in common.iter().copied().chain(columns) {
            let field = schemas[0]
                .field_with_name(column)
                .unwrap_or_else(|_| panic!("{folder}: no column {column}"));
            assert_eq!(field.data_type(), kind, "{folder}.{column}");
        }
    }
    let buckets = parquet_schema(&parquet_files(&sandbox.out().join("buckets"))[0]);
    let nested = buckets
        .field_with_name("bucket_influencers")
        .expect("nested");
    let DataType::List(item) = nested.data_type() else {
        panic!("bucket_influencers is not a list: {nested:?}")
    };
    let DataType::Struct(fields) = item.data_type() else {
        panic!("bucket_influencers items are not structs: {item:?}")
    };
    let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
    assert!(names.contains(&"influencer_field_name") && names.contains(&"anomaly_score"));
}

#[test]
fn a_fresh_backfill_keeps_its_results_ndjson_inside_its_own_folder() {
    let sandbox = Sandbox::new();
    let file = sandbox.path("results.ndjson");
    let flag = ["--results-ndjson", file.to_str().expect("utf-8")];
    let mut args = flag.to_vec();
    args.push("--fresh");
    sandbox.backfill(FIRST_RUN, &plus(FIRST_RUN, 15), &args);
    assert!(!file.exists(), "--fresh wrote the configured results file");
    let fresh = sandbox
        .out()
        .join("backfill-20261103T0005-20261103T0020")
        .join("results.ndjson");
    let text = std::fs::read_to_string(&fresh).expect("the fresh results file");
    assert!(!bulk(&text).is_empty());
}
