//! Renormalisation and the record document: re-scored records, buckets, bucket influencers and
//! influencers are new rows of the same result, the latest version is current, and the
//! explanation is nested as Elastic writes it.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::util::*;

/// Port 4444 of the 03:45 bucket: 49.2 when written, re-scored to 50.1 after the 13:30 bucket.
const RESCORED_BUCKET: &str = "2026-11-03T03:45:00Z";

#[test]
fn renormalised_records_are_new_versions_of_the_same_record() {
    let rows = scheduled_day().sandbox.record_rows();
    let versions = version_bits(&rows);
    let rescored: Vec<&Row> = rows
        .iter()
        .filter(|r| r.number("result_version") > 1.0)
        .collect();
    assert!(
        !rescored.is_empty(),
        "the fixture should renormalise some records"
    );
    for row in rescored {
        let id = row.text("record_id");
        let version = row.number("result_version") as u64;
        let previous = rows
            .iter()
            .find(|r| r.text("record_id") == id && r.number("result_version") as u64 == version - 1)
            .unwrap_or_else(|| panic!("{id}: version {version} without version {}", version - 1));
        for (column, value) in row {
            if column != "record_score" && column != "result_version" {
                assert_eq!(previous.get(column), Some(value), "{id}: {column} changed");
            }
        }
        assert_ne!(previous.number("record_score"), row.number("record_score"));
        assert!(versions.contains_key(&(id.to_string(), 1)));
    }
}

#[test]
fn the_latest_version_of_each_record_is_its_current_score() {
    let day = scheduled_day();
    // The DuckDB query of docs/outputs.md, in Rust: one row per record_id, the highest version.
    let current = day.sandbox.records();
    let rows = day.sandbox.record_rows();
    assert!(current.len() < rows.len());
    let port = current
        .iter()
        .find(|r| {
            r.text("by_field_value") == "4444" && r.number("timestamp") == ms(RESCORED_BUCKET)
        })
        .expect("the 03:45 record of port 4444");
    assert_eq!(port.number("result_version"), 2.0);
    assert!(port.number("initial_record_score") < 50.0, "{port:?}");
    assert!(port.number("record_score") >= 50.0, "{port:?}");
    // Re-scored ten hours later, outside the 45-minute lookback: the rule never saw it at 50.
    assert!(!alerted_ids(&day.sandbox.alerts()).contains(port.text("record_id")));
}

#[test]
fn records_carry_elastic_s_explanation_and_typical() {
    let rows = scheduled_day().sandbox.record_rows();
    let mut first_occurrences = 0;
    for row in &rows {
        let explanation = row
            .get("anomaly_score_explanation")
            .and_then(|e| e.as_object())
            .unwrap_or_else(|| panic!("no anomaly_score_explanation in {row:?}"));
        let first = row.number("by_field_first_occurrence") == row.number("timestamp");
        // ml-cpp writes `by_field_first_occurrence` only when true.
        let expected = if first {
            serde_json::Value::Bool(true)
        } else {
            serde_json::Value::Null
        };
        assert_eq!(explanation["by_field_first_occurrence"], expected);
        first_occurrences += usize::from(first);
        let rarity = explanation["by_field_relative_rarity"]
            .as_f64()
            .unwrap_or_else(|| panic!("no relative rarity in {row:?}"));
        assert_eq!(rarity, row.number("by_field_relative_rarity"));
        // ml-cpp's typical for rare is the value's probability.
        assert_eq!(
            row.get("typical"),
            Some(&serde_json::json!([row.number("probability")]))
        );
    }
    assert!(first_occurrences > 0 && first_occurrences < rows.len());
}

#[test]
fn a_state_of_the_previous_format_is_refused_not_relearnt() {
    let sandbox = Sandbox::new();
    sandbox.run_at(FIRST_RUN);
    let state_file = sandbox.state().join(format!("{PORT_JOB}.json"));
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_file).expect("state")).expect("JSON");
    assert_eq!(state["version"], 3);
    // Version 1 sampled the normaliser per two buckets and kept no renormalisation window.
    state["version"] = 1.into();
    std::fs::write(&state_file, serde_json::to_vec(&state).expect("JSON")).expect("write");
    let before = snapshot(sandbox.dir.path());
    let failed = sandbox
        .netrare(&["run", "--now", &plus(FIRST_RUN, 15)])
        .failure(65);
    assert!(
        failed.stderr.contains(&format!("{PORT_JOB}.json")) && failed.stderr.contains("version"),
        "{}",
        failed.stderr
    );
    assert_eq!(snapshot(sandbox.dir.path()), before);
}

/// First execution of the generated fleet's backfill: a day of history before the attacks.
const FLEET_FROM: &str = "2026-11-02T00:05:00Z";
/// Where the backfill is cut in two, in the middle of the attack day.
const FLEET_SPLIT: &str = "2026-11-03T12:05:00Z";
const FLEET_TO: &str = "2026-11-04T00:05:00Z";

/// Each result folder: id column, current score column, initial score column.
const RESULT_FOLDERS: [(&str, &str, &str, &str); 4] = [
    (
        "anomalies",
        "record_id",
        "record_score",
        "initial_record_score",
    ),
    ("buckets", "id", "anomaly_score", "initial_anomaly_score"),
    (
        "bucket_influencers",
        "id",
        "anomaly_score",
        "initial_anomaly_score",
    ),
    (
        "influencers",
        "id",
        "influencer_score",
        "initial_influencer_score",
    ),
];

/// A sandbox on a generated fleet with every attack kind and look-alike: unlike the checked-in
/// one, its later buckets score far above earlier ones at the bucket level, so bucket and
/// bucket influencer scores are renormalised too.
fn generated_fleet() -> Sandbox {
    let mut sandbox = Sandbox::new();
    sandbox.store = sandbox.generate_full_fleet(12, 3, 7);
    sandbox
}

/// The generated fleet backfilled in one go, with the results NDJSON.
fn rescored_fleet() -> &'static Sandbox {
    static FLEET: OnceLock<Sandbox> = OnceLock::new();
    FLEET.get_or_init(|| {
        let sandbox = generated_fleet();
        let file = sandbox.path("results.ndjson");
        let flag = ["--results-ndjson", file.to_str().expect("utf-8")];
        sandbox.backfill(FLEET_FROM, FLEET_TO, &flag);
        sandbox
    })
}

/// The rows of `folder` keyed by id and version; panics on a version written twice.
fn by_version(sandbox: &Sandbox, folder: &str, id: &str) -> BTreeMap<(String, u64), Row> {
    let rows = read_rows(&sandbox.out().join(folder));
    let count = rows.len();
    let keyed: BTreeMap<(String, u64), Row> = rows
        .into_iter()
        .map(|r| {
            (
                (r.text(id).to_string(), r.number("result_version") as u64),
                r,
            )
        })
        .collect();
    assert_eq!(keyed.len(), count, "{folder}: a version written twice");
    keyed
}

#[test]
fn renormalised_buckets_and_influencers_are_new_versions_with_their_initial_scores() {
    let sandbox = rescored_fleet();
    for (folder, id, score, initial) in RESULT_FOLDERS {
        let rows = by_version(sandbox, folder, id);
        let mut rescored = 0;
        for ((key, version), row) in &rows {
            if *version == 1 {
                assert_eq!(row.number(initial), row.number(score), "{folder} {key}");
                continue;
            }
            rescored += 1;
            let previous = rows
                .get(&(key.clone(), version - 1))
                .unwrap_or_else(|| panic!("{folder} {key}: version {version} alone"));
            // A bucket carries its re-scored bucket influencers too.
            let rewritten = [score, "result_version", "bucket_influencers"];
            for (column, value) in row {
                if !rewritten.contains(&column.as_str()) {
                    assert_eq!(previous.get(column), Some(value), "{key}: {column} changed");
                }
            }
            let first = &rows[&(key.clone(), 1)];
            assert_eq!(row.number(initial), first.number(score), "{key}");
        }
        assert!(rescored > 0, "no {folder} row was renormalised");
    }
}

#[test]
fn a_bucket_scores_the_max_of_its_latest_bucket_influencers() {
    let sandbox = rescored_fleet();
    let buckets = latest_by(read_rows(&sandbox.out().join("buckets")), "id");
    let alone: BTreeMap<String, Row> =
        latest_by(read_rows(&sandbox.out().join("bucket_influencers")), "id")
            .into_iter()
            .map(|r| (r.text("id").to_string(), r))
            .collect();
    let mut moved = 0;
    for bucket in &buckets {
        let version = bucket.number("result_version");
        let mut max = 0.0_f64;
        for nested in bucket["bucket_influencers"].as_array().expect("list") {
            let field = nested["influencer_field_name"].as_str().expect("name");
            let id = format!(
                "{}_bucket_influencer_{}_900_{field}",
                bucket.text("job_id"),
                bucket.number("timestamp")
            );
            let row = &alone[&id];
            // Re-indexed with its bucket, with the score nested in it.
            assert_eq!(row.number("result_version"), version, "{id}");
            assert_eq!(
                Some(row.number("anomaly_score")),
                nested["anomaly_score"].as_f64()
            );
            max = max.max(row.number("anomaly_score"));
        }
        assert_eq!(bucket.number("anomaly_score"), max, "{bucket:?}");
        moved += usize::from(version > 1.0 && max != bucket.number("initial_anomaly_score"));
    }
    assert!(
        moved > 0,
        "no renormalisation moved a bucket's anomaly_score"
    );
    // The `_bulk` file indexes each version again under the bucket's id: the last line wins.
    let text = std::fs::read_to_string(sandbox.path("results.ndjson")).expect("ndjson");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let mut last: BTreeMap<String, f64> = BTreeMap::new();
    for pair in lines.chunks(2) {
        if pair[1]["result_type"] == "bucket" {
            let id = pair[0]["index"]["_id"].as_str().expect("_id");
            last.insert(
                id.to_string(),
                pair[1]["anomaly_score"].as_f64().expect("score"),
            );
        }
    }
    let latest: BTreeMap<String, f64> = buckets
        .iter()
        .map(|b| (b.text("id").to_string(), b.number("anomaly_score")))
        .collect();
    assert_eq!(last, latest);
}

#[test]
fn a_backfill_cut_in_two_renormalises_as_one_in_one_go() {
    let whole = rescored_fleet();
    let cut = generated_fleet();
    cut.backfill(FLEET_FROM, FLEET_SPLIT, &[]);
    cut.backfill(&plus(FLEET_SPLIT, 15), FLEET_TO, &[]);
    for (folder, id, score, _) in RESULT_FOLDERS {
        let bits = |sandbox: &Sandbox| -> BTreeMap<(String, u64), u64> {
            by_version(sandbox, folder, id)
                .into_iter()
                .map(|(key, row)| (key, row.number(score).to_bits()))
                .collect()
        };
        assert_eq!(bits(&cut), bits(whole), "{folder} differ");
    }
}
