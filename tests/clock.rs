//! The scheduler's clock: a run before a job's last execution, or ahead of the wall clock, is
//! refused with exit 3 before anything is written; a backfill over executions already done skips
//! them.

use chrono::{Duration, Utc};

use crate::util::*;

const EXIT_CLOCK: i32 = 3;

#[test]
fn a_run_before_the_last_execution_exits_3_and_a_backfill_skips_what_is_done() {
    let sandbox = Sandbox::new();
    sandbox.run_at(&plus(FIRST_RUN, 30));
    let (state, out) = (snapshot(&sandbox.state()), snapshot(&sandbox.out()));

    let failed = sandbox
        .netrare(&["run", "--now", FIRST_RUN])
        .failure(EXIT_CLOCK);
    assert!(
        failed.stderr.contains("before the job's last execution"),
        "{}",
        failed.stderr
    );
    assert!(failed.stderr.contains(".json"), "{}", failed.stderr);
    let resumed = sandbox
        .netrare(&[
            "backfill",
            "--from",
            FIRST_RUN,
            "--to",
            &plus(FIRST_RUN, 30),
        ])
        .success();
    assert!(
        resumed.stdout.contains("resumed: skipped 3 execution(s)"),
        "{}",
        resumed.stdout
    );
    assert_eq!(snapshot(&sandbox.state()), state, "the state changed");
    assert_eq!(snapshot(&sandbox.out()), out, "the outputs changed");

    sandbox.run_at(&plus(FIRST_RUN, 30));
    sandbox.run_at(&plus(FIRST_RUN, 45));
}

#[test]
fn a_now_ahead_of_the_clock_exits_3_unless_allowed() {
    let sandbox = Sandbox::new();
    let tomorrow = rfc3339(Utc::now() + Duration::days(1));
    let failed = sandbox
        .netrare(&["run", "--now", &tomorrow])
        .failure(EXIT_CLOCK);
    assert!(
        failed.stderr.contains("ahead of the clock") && failed.stderr.contains("--allow-future"),
        "{}",
        failed.stderr
    );
    sandbox
        .netrare(&["backfill", "--from", FIRST_RUN, "--to", &tomorrow])
        .failure(EXIT_CLOCK);
    assert!(!sandbox.state().exists(), "the state was touched");
    assert!(!sandbox.out().exists(), "outputs were written");

    sandbox
        .netrare(&["run", "--now", &tomorrow, "--allow-future"])
        .success();
}
