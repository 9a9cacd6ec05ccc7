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

/// The `_bulk` pairs of an NDJSON file: the `create` action's index and id, and the document.
fn bulk_pairs(text: &str) -> Vec<(String, String, serde_json::Value)> {
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON value per line"))
        .collect();
    assert_eq!(lines.len() % 2, 0, "an action without its document");
    lines
        .chunks(2)
        .map(|pair| {
            let action = &pair[0]["create"];
            let id = action["_id"].as_str().expect("create action with _id");
            assert_eq!(pair[1]["kibana.alert.uuid"].as_str(), Some(id));
            let index = action["_index"]
                .as_str()
                .expect("create action with _index");
            (index.to_string(), id.to_string(), pair[1].clone())
        })
        .collect()
}

#[test]
fn alerts_ndjson_is_appended_at_each_commit_one_create_per_alert() {
    let sandbox = Sandbox::new();
    let file = sandbox.path("alerts.ndjson");
    let flag = ["--alerts-ndjson", file.to_str().expect("utf-8")];
    let split = "2026-11-03T03:35:00Z";
    sandbox.backfill(FIRST_RUN, split, &flag);
    let first = std::fs::read_to_string(&file).expect("ndjson written");
    assert!(!first.is_empty());
    // Two commits of one backfill (every 96 executions), then a second invocation.
    sandbox.backfill(&plus(split, 15), LAST_RUN, &flag);
    let text = std::fs::read_to_string(&file).expect("ndjson written");
    assert!(
        text.len() > first.len() && text.starts_with(&first),
        "the second invocation must append, not rewrite"
    );
    let pairs = bulk_pairs(&text);
    assert!(
        pairs
            .iter()
            .all(|(index, ..)| index == ".alerts-security.alerts-default")
    );
    let ids: BTreeSet<String> = pairs.iter().map(|(_, id, _)| id.clone()).collect();
    assert_eq!(ids.len(), pairs.len(), "an alert written twice");
    assert_eq!(ids, alert_bits(&sandbox.alerts()).into_keys().collect());
    let (_, _, doc) = &pairs[0];
    assert_eq!(doc["kibana.space_ids"], serde_json::json!(["default"]));
    assert_eq!(doc["kibana.version"], "9.4.0");
    assert!(doc["kibana.alert.rule.threat"][0]["tactic"]["id"].is_string());
    assert!(doc["host"]["name"].is_array(), "{doc}");
}

/// Runs `run --now now extra...` in the sandbox with `settings` as its `netrare.toml`; bare file
/// names in `extra` are relative to the sandbox.
fn run_with_settings(sandbox: &Sandbox, settings: &str, now: &str, extra: &[&str]) -> Output {
    let config = sandbox.path("netrare.toml");
    std::fs::write(&config, settings).expect("write settings");
    let config_flag = config.to_str().expect("utf-8");
    let mut args = vec!["--config", config_flag, "run", "--now", now];
    args.extend_from_slice(extra);
    sandbox.netrare(&args)
}

#[test]
fn the_kibana_space_and_rule_object_of_the_settings_enter_the_alert_ids() {
    let sandbox = Sandbox::new();
    let settings = r#"
[kibana]
space_id = "soc"
version = "8.19.3"
rule_uuids = { "3c7e32e6-6104-46d9-a06e-da0f8b5795a0" = "11111111-2222-3333-4444-555555555555" }
"#;
    let now = "2026-11-03T03:35:00Z";
    // A bare file name: relative to the working directory, the sandbox.
    run_with_settings(
        &sandbox,
        settings,
        now,
        &["--alerts-ndjson", "alerts.ndjson"],
    )
    .success();
    let file = sandbox.path("alerts.ndjson");
    let pairs = bulk_pairs(&std::fs::read_to_string(&file).expect("ndjson"));
    assert!(!pairs.is_empty());
    for (index, _, doc) in &pairs {
        assert_eq!(index, ".alerts-security.alerts-soc");
        assert_eq!(doc["kibana.space_ids"], serde_json::json!(["soc"]));
        assert_eq!(doc["kibana.version"], "8.19.3");
        let expected_rule =
            if doc["kibana.alert.rule.rule_id"] == "3c7e32e6-6104-46d9-a06e-da0f8b5795a0" {
                "11111111-2222-3333-4444-555555555555"
            } else {
                doc["kibana.alert.rule.rule_id"].as_str().expect("rule_id")
            };
        assert_eq!(doc["kibana.alert.rule.uuid"], expected_rule);
    }
    let default = Sandbox::new();
    default.run_at(now);
    let default_ids: BTreeSet<String> = alert_bits(&default.alerts()).into_keys().collect();
    let soc_ids: BTreeSet<String> = alert_bits(&sandbox.alerts()).into_keys().collect();
    assert_eq!(default_ids.len(), soc_ids.len());
    assert!(
        default_ids.is_disjoint(&soc_ids),
        "the space is part of the id"
    );
}

#[test]
fn results_go_to_the_configured_alias_and_alert_ids_keep_the_concrete_index() {
    let sandbox = Sandbox::new();
    let settings = r#"
[elasticsearch]
results_bulk_index = ".ml-anomalies-.write-{job_id}"

[kibana]
results_index = ".ml-anomalies-shared-000001"
"#;
    let ndjson = [
        "--alerts-ndjson",
        "alerts.ndjson",
        "--results-ndjson",
        "results.ndjson",
    ];
    run_with_settings(&sandbox, settings, "2026-11-03T03:35:00Z", &ndjson).success();
    let results = std::fs::read_to_string(sandbox.path("results.ndjson")).expect("results");
    let mut lines = 0;
    for pair in results.lines().collect::<Vec<_>>().chunks(2) {
        let action: serde_json::Value = serde_json::from_str(pair[0]).expect("action");
        let doc: serde_json::Value = serde_json::from_str(pair[1]).expect("document");
        let job = doc["job_id"].as_str().expect("job_id");
        assert_eq!(
            action["index"]["_index"],
            format!(".ml-anomalies-.write-{job}")
        );
        lines += 1;
    }
    assert!(lines > 0, "no results written");
    let alerts = std::fs::read_to_string(sandbox.path("alerts.ndjson")).expect("alerts");
    let pairs = bulk_pairs(&alerts);
    assert!(!pairs.is_empty());
    for (_, id, doc) in &pairs {
        let ancestor = &doc["kibana.alert.ancestors"][0];
        assert_eq!(ancestor["index"], ".ml-anomalies-shared-000001");
        let record_id = ancestor["id"].as_str().expect("record id");
        let rule = doc["kibana.alert.rule.uuid"].as_str().expect("rule uuid");
        let expected =
            netrare::rule::alert_uuid(".ml-anomalies-shared-000001", record_id, "default", rule);
        assert_eq!(id, &expected);
    }
}

#[test]
fn a_results_index_with_an_unknown_placeholder_is_refused() {
    let sandbox = Sandbox::new();
    let settings = "[elasticsearch]\nresults_bulk_index = \".ml-anomalies-.write-{jobid}\"\n";
    let refused = run_with_settings(&sandbox, settings, "2026-11-03T03:35:00Z", &[]).failure(2);
    assert!(refused.stderr.contains("{jobid}"), "{}", refused.stderr);
    assert!(sandbox.published().is_empty(), "outputs published");
}

#[test]
fn an_unwritable_ndjson_file_fails_before_the_commit() {
    let sandbox = Sandbox::new();
    let now = "2026-11-03T03:35:00Z";
    // A folder where the file should be: it cannot be opened for appending.
    std::fs::create_dir_all(sandbox.path("alerts.ndjson")).expect("mkdir");
    let failed = sandbox.netrare(&["run", "--now", now, "--alerts-ndjson", "alerts.ndjson"]);
    assert_ne!(failed.code, Some(0));
    assert!(failed.stderr.contains("alerts.ndjson"), "{}", failed.stderr);
    assert!(!sandbox.state().join("commit.json").exists());
    assert!(sandbox.published().is_empty(), "outputs published");
    std::fs::remove_dir(sandbox.path("alerts.ndjson")).expect("rmdir");
    sandbox
        .netrare(&["run", "--now", now, "--alerts-ndjson", "alerts.ndjson"])
        .success();
    assert!(
        !sandbox.alerts().is_empty(),
        "the execution is redone in full"
    );
}
