//! The new-terms jobs (`jobs/new_terms/`) on a generated fleet: every injected attack is a term new
//! on its host, alerted at 100 with an explanation naming it, and a backfill split in two resumes
//! from the job's snapshot to the same records and alerts.

use std::path::PathBuf;

use crate::util::*;

const NEW_TERMS_JOBS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/jobs/new_terms");
const FROM: &str = "2026-11-01T00:05:00Z";
const TO: &str = "2026-11-04T00:05:00Z";

/// A sandbox on a freshly generated 12-host, 3-day fleet with the new-terms jobs.
fn fleet_sandbox() -> Sandbox {
    let mut sandbox = Sandbox::new();
    let fleet = sandbox.path("fleet");
    let fleet_arg = fleet.to_str().expect("utf-8");
    sandbox
        .netrare(&[
            "fixtures", "generate", "--out", fleet_arg, "--hosts", "12", "--days", "3", "--seed",
            "7",
        ])
        .success();
    sandbox.store = fleet;
    sandbox.jobs = PathBuf::from(NEW_TERMS_JOBS);
    sandbox
}

#[test]
fn every_attack_is_a_new_term_on_its_host_alerted_at_100() {
    let sandbox = fleet_sandbox();
    sandbox.backfill(FROM, TO, &[]);
    let labels: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(sandbox.store.join("labels.json")).expect("labels"),
    )
    .expect("labels JSON");
    let records = sandbox.records();
    let alerted = alerted_ids(&sandbox.alerts());
    let attacks: Vec<&serde_json::Value> =
        labels.iter().filter(|l| l["kind"] == "attack").collect();
    assert!(!attacks.is_empty(), "the fleet has no attack");
    for label in attacks {
        let (field, value, host) = (
            label["field"].as_str().expect("field"),
            label["value"].as_str().expect("value"),
            label["host"].as_str().expect("host"),
        );
        let start = ms(label["start"].as_str().expect("start"));
        let record = records
            .iter()
            .find(|r| {
                r.text("job_id").ends_with("_new_terms")
                    && r.text("by_field_name") == field
                    && r.text("by_field_value") == value
                    && r.texts("host.name").contains(&host)
                    && r.number("timestamp") <= start
                    && start < r.number("timestamp") + 900_000.0
            })
            .unwrap_or_else(|| panic!("no record of the new term {host}, {value} ({field})"));
        assert_eq!(record.number("record_score"), 100.0);
        let explanation = record.text("explanation");
        assert!(
            explanation.contains(&format!("{host}, {value} (never seen)")),
            "{explanation}"
        );
        assert!(
            alerted.contains(record.text("record_id")),
            "the new term {host}, {value} was not alerted"
        );
    }
}

#[test]
fn a_split_backfill_resumes_from_the_snapshot_to_the_same_outputs() {
    let whole = fleet_sandbox();
    whole.backfill(FROM, TO, &[]);
    let mut parts = Sandbox::new();
    parts.store = whole.store.clone();
    parts.jobs = whole.jobs.clone();
    parts.backfill(FROM, "2026-11-02T13:50:00Z", &[]);
    parts.backfill(FROM, TO, &[]);
    let alerts = alert_bits(&whole.alerts());
    assert!(!alerts.is_empty());
    assert_eq!(record_bits(&parts.records()), record_bits(&whole.records()));
    assert_eq!(alert_bits(&parts.alerts()), alerts);
}
