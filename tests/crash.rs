//! Crash recovery: an execution killed at any point of its commit, then run again, leaves the
//! same records and alerts (Parquet and appended NDJSON) as one never interrupted, none lost and
//! none written twice.

use crate::util::*;

/// An execution whose commit publishes records and alerts of both jobs (the beacon's first
/// bucket), so every failpoint, `mid-publish` included, is reached.
const CRASHED_RUN: &str = "2026-11-03T03:35:00Z";

fn crash_and_recover(failpoint: &str) {
    let day = scheduled_day();
    let sandbox = Sandbox::new();
    let ndjson = sandbox.path("alerts.ndjson");
    let flag = ["--alerts-ndjson", ndjson.to_str().expect("utf-8")];
    sandbox.backfill(FIRST_RUN, &plus(CRASHED_RUN, -15), &flag);
    let published_before = sandbox.published().len();

    let crashed = sandbox.netrare_with_env(
        &["run", "--now", CRASHED_RUN, flag[0], flag[1]],
        &[("NETRARE_FAILPOINT", failpoint)],
    );
    assert_ne!(
        crashed.code,
        Some(0),
        "{failpoint}: the failpoint did not stop the process"
    );
    let journal = sandbox.state().join("commit.json").exists();
    assert_eq!(
        journal,
        failpoint != "before-commit",
        "{failpoint}: the commit journal is in the wrong state after the crash"
    );
    let published_by_crash = match failpoint {
        "mid-publish" => Some(1),
        // Every file is published before the NDJSON is appended.
        "mid-append" => None,
        _ => Some(0),
    };
    if let Some(n) = published_by_crash {
        assert_eq!(
            sandbox.published().len(),
            published_before + n,
            "{failpoint}: outputs published before the crash"
        );
    }

    let rerun = sandbox
        .netrare(&["run", "--now", CRASHED_RUN, flag[0], flag[1]])
        .success();
    assert_eq!(
        rerun
            .stdout
            .contains("finished the commit of an interrupted"),
        journal,
        "{failpoint}: recovery report:\n{}",
        rerun.stdout
    );
    assert!(!sandbox.state().join("commit.json").exists());
    sandbox.backfill(&plus(CRASHED_RUN, 15), LAST_RUN, &flag);

    assert_eq!(
        record_bits(&sandbox.records()),
        record_bits(&day.sandbox.records()),
        "{failpoint}: records differ from a clean run"
    );
    assert_eq!(
        alert_bits(&sandbox.alerts()),
        alert_bits(&day.sandbox.alerts()),
        "{failpoint}: alerts differ from a clean run"
    );
    let text = std::fs::read_to_string(&ndjson).expect("ndjson written");
    let ids: Vec<String> = text
        .lines()
        .filter_map(|l| {
            let line: serde_json::Value = serde_json::from_str(l).expect("one JSON value per line");
            line["create"]["_id"].as_str().map(str::to_string)
        })
        .collect();
    assert_eq!(
        text.lines().count(),
        2 * ids.len(),
        "{failpoint}: a torn NDJSON line"
    );
    let unique: std::collections::BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "{failpoint}: an alert appended twice"
    );
    assert_eq!(
        unique,
        alert_bits(&day.sandbox.alerts()).into_keys().collect(),
        "{failpoint}: the NDJSON differs from a clean run's alerts"
    );
}

#[test]
fn a_crash_before_the_commit_is_redone() {
    crash_and_recover("before-commit");
}

#[test]
fn a_crash_after_the_journal_is_finished_by_the_next_run() {
    crash_and_recover("after-journal");
}

#[test]
fn a_crash_after_the_states_is_finished_by_the_next_run() {
    crash_and_recover("after-states");
}

#[test]
fn a_crash_mid_publish_is_finished_by_the_next_run() {
    crash_and_recover("mid-publish");
}

#[test]
fn a_crash_mid_append_is_finished_by_the_next_run() {
    crash_and_recover("mid-append");
}
