//! Crash recovery: an execution killed at any point of its commit, then run again, leaves the
//! same records and alerts as one never interrupted, none lost and none written twice.

use crate::util::*;

/// An execution whose commit publishes records and alerts of both jobs (the beacon's first
/// bucket), so every failpoint, `mid-publish` included, is reached.
const CRASHED_RUN: &str = "2026-11-03T03:35:00Z";

fn crash_and_recover(failpoint: &str) {
    let day = scheduled_day();
    let sandbox = Sandbox::new();
    sandbox.backfill(FIRST_RUN, &plus(CRASHED_RUN, -15), &[]);
    let published_before = sandbox.published().len();

    let crashed = sandbox.netrare_with_env(
        &["run", "--now", CRASHED_RUN],
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
    let published_by_crash = if failpoint == "mid-publish" { 1 } else { 0 };
    assert_eq!(
        sandbox.published().len(),
        published_before + published_by_crash,
        "{failpoint}: outputs published before the crash"
    );

    let rerun = sandbox.run_at(CRASHED_RUN);
    assert_eq!(
        rerun.summary()["recovered"],
        journal,
        "{failpoint}: recovery report:\n{}",
        rerun.stdout
    );
    assert!(!sandbox.state().join("commit.json").exists());
    sandbox.backfill(&plus(CRASHED_RUN, 15), LAST_RUN, &[]);

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
