//! `netrare run` called as cron calls it: every qualifying record alerted exactly once, through
//! missed executions and the per-execution cap; a repeated execution is a no-op.

use std::collections::BTreeSet;

use crate::util::*;

/// Lookback of both Elastic rules (`from = "now-45m"`).
const LOOKBACK_MIN: i64 = 45;

/// Ids of the records the rule must alert: not interim, score at least `threshold` when first
/// written, and not older than the first execution's window (earlier ones belong to no execution's
/// window). Every run writes a record in the execution that alerts it; later versions come from
/// renormalisation, and on this fixture the only one crossing 50 (port 4444 at 03:45, 49.2 to
/// 50.1) comes ten hours later, outside the lookback, so it is rightly not alerted.
fn qualifying(rows: &[Row], threshold: f64, first_run: &str) -> BTreeSet<String> {
    let window_start = ms(&plus(first_run, -LOOKBACK_MIN));
    rows.iter()
        .filter(|r| r.number("result_version") == 1.0)
        .filter(|r| r.get("is_interim") == Some(&serde_json::Value::Bool(false)))
        .filter(|r| r.number("record_score") >= threshold && r.number("timestamp") >= window_start)
        .map(|r| r.text("record_id").to_string())
        .collect()
}

/// Qualifying records of `job` the cap left for later executions.
fn pending(output: &Output, job: &str) -> u64 {
    output.job(job)["pending"].as_u64().expect("pending count")
}

#[test]
fn every_qualifying_record_is_alerted_exactly_once_by_scheduled_runs() {
    let day = scheduled_day();
    let expected = qualifying(&day.sandbox.record_rows(), 50.0, FIRST_RUN);
    assert!(
        expected.len() >= 4,
        "the attacks should give qualifying records, found {expected:?}"
    );
    let alerts = day.sandbox.alerts();
    assert_eq!(alerted_ids(&alerts), expected);
    assert!(alerts.iter().all(|a| a.number("record_score") >= 50.0));
    let missed: Vec<&String> = day
        .times
        .iter()
        .zip(&day.outputs)
        .filter(|(_, o)| o.reports_a_gap())
        .map(|(t, _)| t)
        .collect();
    assert!(
        missed.is_empty(),
        "no execution was missed, yet a gap was reported at {missed:?}"
    );
}

#[test]
fn missed_runs_widen_the_window_so_no_alert_is_lost() {
    let day = scheduled_day();
    let (gap_from, gap_to) = (at("2026-11-03T03:00:00Z"), at("2026-11-03T09:00:00Z"));
    let times: Vec<String> = day
        .times
        .iter()
        .filter(|t| at(t) < gap_from || at(t) > gap_to)
        .cloned()
        .collect();
    let sandbox = Sandbox::new();
    let outputs = sandbox.run_each(&times);

    let after_gap = times
        .iter()
        .position(|t| at(t) > gap_to)
        .expect("a run after the gap");
    assert!(
        outputs[after_gap].reports_a_gap(),
        "gap not reported:\n{}",
        outputs[after_gap].stdout
    );
    assert_eq!(
        record_bits(&sandbox.records()),
        record_bits(&day.sandbox.records()),
        "missed runs changed the records"
    );
    let alerts = sandbox.alerts();
    assert_eq!(
        alerted_ids(&alerts),
        qualifying(&sandbox.record_rows(), 50.0, FIRST_RUN)
    );
    assert_eq!(alert_bits(&alerts), alert_bits(&day.sandbox.alerts()));
}

#[test]
fn capped_executions_alert_the_rest_later_without_loss_or_duplicates() {
    let mut sandbox = Sandbox::new();
    let jobs = sandbox.copy_jobs();
    for job in [PROCESS_JOB, PORT_JOB] {
        let path = jobs.join(format!("{job}.toml"));
        let text = std::fs::read_to_string(&path).expect("job file");
        let capped = text
            .replace("anomaly_threshold = 50", "anomaly_threshold = 0")
            .replace("max_signals = 100", "max_signals = 1");
        assert_ne!(text, capped);
        std::fs::write(&path, capped).expect("write job file");
    }
    let first = "2026-11-03T03:05:00Z";
    let outputs = sandbox.run_each(&every_15m(first, "2026-11-03T12:05:00Z"));

    let most_pending = outputs
        .iter()
        .map(|o| pending(o, PROCESS_JOB))
        .max()
        .unwrap_or(0);
    assert!(most_pending >= 2, "the cap should have held records back");
    assert_eq!(
        pending(outputs.last().expect("runs"), PROCESS_JOB),
        0,
        "pending records never drained"
    );
    assert!(
        !outputs.iter().any(|o| o.reports_a_gap()),
        "held-back records were reported as missed executions"
    );
    let alerts = sandbox.alerts();
    for execution in alerts
        .iter()
        .map(|a| (a.text("job_id"), a.number("@timestamp").to_bits()))
        .collect::<BTreeSet<_>>()
    {
        let n = alerts
            .iter()
            .filter(|a| (a.text("job_id"), a.number("@timestamp").to_bits()) == execution)
            .count();
        assert_eq!(
            n, 1,
            "an execution wrote more alerts than max_signals: {execution:?}"
        );
    }
    assert_eq!(
        alerted_ids(&alerts),
        qualifying(&sandbox.record_rows(), 0.0, first)
    );
}

#[test]
fn a_repeated_execution_writes_nothing_new() {
    let sandbox = Sandbox::new();
    let now = "2026-11-03T03:35:00Z";
    sandbox.run_at(now);
    assert!(
        !sandbox.alerts().is_empty(),
        "the beacon's first bucket should alert at {now}"
    );
    let before = snapshot(sandbox.dir.path());
    sandbox.run_at(now);
    assert_eq!(snapshot(sandbox.dir.path()), before);
}

#[test]
fn alerts_ndjson_has_a_create_action_and_a_document_per_alert() {
    let sandbox = Sandbox::new();
    let file = sandbox.path("alerts.ndjson");
    sandbox.backfill(
        FIRST_RUN,
        LAST_RUN,
        &["--alerts-ndjson", file.to_str().expect("utf-8")],
    );
    let alerts = sandbox.alerts();
    assert!(!alerts.is_empty());
    let text = std::fs::read_to_string(&file).expect("ndjson written");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON value per line"))
        .collect();
    assert_eq!(lines.len(), 2 * alerts.len());
    let mut ids = BTreeSet::new();
    for pair in lines.chunks(2) {
        let id = pair[0]["create"]["_id"]
            .as_str()
            .expect("create action with _id");
        assert_eq!(pair[1]["kibana.alert.uuid"].as_str(), Some(id));
        ids.insert(id.to_string());
    }
    assert_eq!(ids, alert_bits(&alerts).into_keys().collect());
}
