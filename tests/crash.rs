//! Crash recovery: an execution killed at any point of its commit, then run again, leaves the
//! same records and alerts (Parquet and appended NDJSON) as one never interrupted, none lost and
//! none written twice.

use crate::util::*;

/// An execution whose commit publishes records and alerts of both jobs (the beacon's first
/// bucket), so every failpoint, `mid-publish` included, is reached.
const CRASHED_RUN: &str = "2026-11-03T03:35:00Z";
/// An execution whose commit publishes a renormalised record: port 4444 of 03:45, re-scored
/// after the 13:30 bucket.
const RESCORE_RUN: &str = "2026-11-03T13:50:00Z";

fn crash_and_recover(failpoint: &str) {
    crash_at_and_recover(failpoint, CRASHED_RUN);
}

fn crash_at_and_recover(failpoint: &str, crashed_run: &str) {
    let day = scheduled_day();
    let sandbox = Sandbox::new();
    let ndjson = sandbox.path("alerts.ndjson");
    let flag = ["--alerts-ndjson", ndjson.to_str().expect("utf-8")];
    sandbox.backfill(FIRST_RUN, &plus(crashed_run, -15), &flag);
    let published_before = sandbox.published().len();

    let crashed = sandbox.netrare_with_env(
        &["run", "--now", crashed_run, flag[0], flag[1]],
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
        .netrare(&[
            "run",
            "--format",
            "json",
            "--now",
            crashed_run,
            flag[0],
            flag[1],
        ])
        .success();
    assert_eq!(
        rerun.summary()["recovered"],
        journal,
        "{failpoint}: recovery report:\n{}",
        rerun.stdout
    );
    assert!(!sandbox.state().join("commit.json").exists());
    assert_eq!(
        state_files(&sandbox),
        state_files(&day.sandbox),
        "{failpoint}: the state folder holds other files than a clean run's"
    );
    sandbox.backfill(&plus(crashed_run, 15), LAST_RUN, &flag);

    assert_eq!(
        version_bits(&sandbox.record_rows()),
        version_bits(&day.sandbox.record_rows()),
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

/// The names of the files in a sandbox's state folder.
fn state_files(sandbox: &Sandbox) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(sandbox.state())
        .expect("state folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
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
fn a_crash_while_a_state_is_written_is_finished_by_the_next_run() {
    crash_and_recover("mid-state-write");
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
fn a_crash_mid_publish_of_a_renormalisation_is_finished_by_the_next_run() {
    let sandbox = Sandbox::new();
    sandbox.backfill(FIRST_RUN, &plus(RESCORE_RUN, -15), &[]);
    assert!(
        sandbox
            .record_rows()
            .iter()
            .all(|r| r.text("by_field_value") != "4444" || r.number("result_version") == 1.0),
        "4444 renormalised before {RESCORE_RUN}"
    );
    sandbox.run_at(RESCORE_RUN);
    assert!(
        sandbox
            .record_rows()
            .iter()
            .any(|r| r.text("by_field_value") == "4444" && r.number("result_version") == 2.0),
        "the run at {RESCORE_RUN} should write a renormalised 4444"
    );
    for failpoint in ["after-journal", "mid-publish"] {
        crash_at_and_recover(failpoint, RESCORE_RUN);
    }
}

#[test]
fn a_crash_mid_append_is_finished_by_the_next_run() {
    crash_and_recover("mid-append");
}
