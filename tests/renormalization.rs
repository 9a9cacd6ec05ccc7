//! Renormalisation and the record document: re-scored records are new rows of the same record,
//! the latest version is current, and the explanation is nested as Elastic writes it.

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
    assert_eq!(state["version"], 2);
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
