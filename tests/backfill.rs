//! `netrare backfill`: the same records and alerts as the scheduled runs it replays, however the
//! range is split, and it finds the injected attacks.

use std::collections::BTreeSet;

use crate::util::*;

#[test]
fn backfill_equals_the_scheduled_runs_at_the_same_times() {
    let day = scheduled_day();
    let sandbox = Sandbox::new();
    sandbox.backfill(FIRST_RUN, LAST_RUN, &[]);
    let (records, alerts) = (sandbox.records(), sandbox.alerts());
    assert!(
        !records.is_empty() && !alerts.is_empty(),
        "the day should produce records and alerts, or the comparison proves nothing"
    );
    assert_eq!(record_bits(&records), record_bits(&day.sandbox.records()));
    assert_eq!(alert_bits(&alerts), alert_bits(&day.sandbox.alerts()));
}

#[test]
fn fresh_backfill_leaves_the_configured_state_and_outputs_alone() {
    let day = scheduled_day();
    let sandbox = Sandbox::new();
    sandbox.run_at("2026-11-02T12:05:00Z");
    let (state, out) = (snapshot(&sandbox.state()), snapshot(&sandbox.out()));
    assert!(
        state
            .keys()
            .any(|p| p.extension().is_some_and(|e| e == "json")),
        "the run should have written job states"
    );

    sandbox.backfill(FIRST_RUN, LAST_RUN, &["--fresh"]);
    assert_eq!(
        snapshot(&sandbox.state()),
        state,
        "--fresh changed the state directory"
    );
    let fresh_out = sandbox.out().join("backfill-20261103T0005-20261104T0005");
    let outside: Vec<_> = snapshot(&sandbox.out())
        .into_iter()
        .filter(|(p, _)| !p.starts_with(&fresh_out))
        .collect();
    assert_eq!(
        outside,
        out.into_iter().collect::<Vec<_>>(),
        "--fresh changed the configured outputs"
    );
    assert_eq!(
        record_bits(&latest_versions(read_rows(&fresh_out.join("anomalies")))),
        record_bits(&day.sandbox.records())
    );
    assert_eq!(
        alert_bits(&read_rows(&fresh_out.join("alerts"))),
        alert_bits(&day.sandbox.alerts())
    );
}

#[test]
fn a_backfill_run_again_resumes_bit_identical_to_one_in_a_go() {
    let (from, to) = ("2026-11-01T00:05:00Z", LAST_RUN);
    let whole = Sandbox::new();
    whole.backfill(from, to, &[]);
    let (records, alerts) = (record_bits(&whole.records()), alert_bits(&whole.alerts()));
    assert!(!alerts.is_empty());
    for split in [
        "2026-11-01T13:50:00Z",
        "2026-11-02T23:50:00Z",
        "2026-11-03T03:35:00Z",
    ] {
        let parts = Sandbox::new();
        parts.backfill(from, split, &[]);
        parts.backfill(from, to, &[]);
        assert_eq!(
            record_bits(&parts.records()),
            records,
            "records differ when split at {split}"
        );
        assert_eq!(
            alert_bits(&parts.alerts()),
            alerts,
            "alerts differ when split at {split}"
        );
    }
}

#[test]
fn the_injected_attacks_are_the_top_scoring_records_after_learning() {
    let labels: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(format!("{FIXTURE}/labels.json")).expect("labels"),
    )
    .expect("labels JSON");
    let sandbox = Sandbox::new();
    sandbox.backfill("2026-11-01T00:05:00Z", LAST_RUN, &[]);
    let attack_day = ms("2026-11-03T00:00:00Z");
    let records: Vec<Row> = sandbox
        .records()
        .into_iter()
        .filter(|r| r.number("timestamp") >= attack_day)
        .collect();

    for (job, field) in [
        (PROCESS_JOB, "process.name"),
        (PORT_JOB, "destination.port"),
    ] {
        let labelled: BTreeSet<&str> = labels
            .iter()
            .filter(|l| l["field"] == field)
            .filter_map(|l| l["value"].as_str())
            .collect();
        let job_records: Vec<&Row> = records.iter().filter(|r| r.text("job_id") == job).collect();
        let best = |value: &str| {
            job_records
                .iter()
                .filter(|r| r.text("by_field_value") == value)
                .map(|r| r.number("record_score"))
                .fold(f64::NAN, f64::max)
        };
        let best_benign = job_records
            .iter()
            .filter(|r| !labelled.contains(r.text("by_field_value")))
            .map(|r| r.number("record_score"))
            .fold(0.0, f64::max);
        for value in &labelled {
            assert!(
                best(value) > best_benign,
                "{job}: attack {field}={value} scored {} but a benign value scored {best_benign}",
                best(value)
            );
        }
    }
}
