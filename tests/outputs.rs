//! One owner per output folder and NDJSON file: outputs shared between state directories or
//! flags, and targets that are not plain files, are refused before anything is staged, and no
//! alert is lost.

use crate::util::*;

const EXIT_CONFIG: i32 = 2;

fn arg(path: &std::path::Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// `netrare` on the sandbox's store, jobs and outputs, with another state directory.
fn with_state(sandbox: &Sandbox, state: &std::path::Path, args: &[&str]) -> Output {
    let out = sandbox.out();
    let mut all = vec![
        "--store",
        arg(&sandbox.store),
        "--out",
        arg(&out),
        "--jobs-dir",
        arg(&sandbox.jobs),
        "--state-dir",
        arg(state),
    ];
    all.extend_from_slice(args);
    netrare_in(sandbox.dir.path(), &all, &[])
}

/// The `_id`s of the `create` actions of a `_bulk` text, by index.
fn created_ids(text: &str, index_prefix: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            let action = v.get("create").or_else(|| v.get("index"))?;
            let index = action["_index"].as_str()?;
            index
                .starts_with(index_prefix)
                .then(|| action["_id"].as_str().map(str::to_string))?
        })
        .collect()
}

#[test]
fn one_bulk_file_for_alerts_and_results_keeps_both() {
    let shared = Sandbox::new();
    let bulk = shared.path("bulk.ndjson");
    let flags = [
        "--alerts-ndjson",
        arg(&bulk),
        "--results-ndjson",
        arg(&bulk),
    ];
    shared.backfill(FIRST_RUN, LAST_RUN, &flags);

    let apart = Sandbox::new();
    let (alerts, results) = (apart.path("alerts.ndjson"), apart.path("results.ndjson"));
    let flags = [
        "--alerts-ndjson",
        arg(&alerts),
        "--results-ndjson",
        arg(&results),
    ];
    apart.backfill(FIRST_RUN, LAST_RUN, &flags);

    let text = std::fs::read_to_string(&bulk).expect("bulk file");
    let alert_ids = created_ids(&text, ".alerts");
    assert!(!alert_ids.is_empty(), "no alert in the shared file");
    assert_eq!(
        alert_ids,
        created_ids(
            &std::fs::read_to_string(&alerts).expect("alerts"),
            ".alerts"
        ),
        "the shared file lost or reordered alerts"
    );
    assert_eq!(
        created_ids(&text, ".ml-anomalies"),
        created_ids(
            &std::fs::read_to_string(&results).expect("results"),
            ".ml-anomalies"
        ),
        "the shared file lost results"
    );
    assert_eq!(text.lines().count() % 2, 0, "a torn line");
}

#[test]
fn a_second_state_directory_is_refused_the_output_folder_and_loses_nothing() {
    let sandbox = Sandbox::new();
    sandbox.backfill(FIRST_RUN, &plus(FIRST_RUN, 120), &[]);
    let before = snapshot(&sandbox.out());
    let other = sandbox.path("other-state");
    let err = with_state(&sandbox, &other, &["run", "--now", &plus(FIRST_RUN, 135)])
        .failure(EXIT_CONFIG)
        .stderr;
    assert!(
        err.contains(".netrare-owner") && err.contains(arg(&sandbox.state())),
        "the refusal names the marker and the owner: {err}"
    );
    assert_eq!(
        snapshot(&sandbox.out()),
        before,
        "the refused run changed the outputs"
    );
    // The owner goes on, and ends where a run that was never disturbed ends.
    sandbox.backfill(&plus(FIRST_RUN, 135), LAST_RUN, &[]);
    let clean = Sandbox::new();
    clean.backfill(FIRST_RUN, LAST_RUN, &[]);
    assert_eq!(
        record_bits(&sandbox.records()),
        record_bits(&clean.records())
    );
    assert_eq!(alert_bits(&sandbox.alerts()), alert_bits(&clean.alerts()));
}

#[test]
fn a_second_state_directory_is_refused_an_alerts_file() {
    let first = Sandbox::new();
    let shared = first.path("alerts.ndjson");
    first.backfill(
        FIRST_RUN,
        &plus(FIRST_RUN, 60),
        &["--alerts-ndjson", arg(&shared)],
    );
    let bytes = std::fs::read(&shared).ok();
    let second = Sandbox::new();
    let err = second
        .netrare(&[
            "run",
            "--now",
            &plus(FIRST_RUN, 60),
            "--alerts-ndjson",
            arg(&shared),
        ])
        .failure(EXIT_CONFIG)
        .stderr;
    assert!(err.contains("alerts.ndjson.netrare-owner"), "{err}");
    assert_eq!(
        std::fs::read(&shared).ok(),
        bytes,
        "the refused run touched the file"
    );
    assert!(!second.state().join("commit.json").exists());
}

#[test]
fn a_fresh_backfill_never_writes_the_production_ndjson_and_resumes_after_a_kill() {
    let sandbox = Sandbox::new();
    let production = sandbox.path("alerts.ndjson");
    let command: Vec<&str> = vec![
        "backfill",
        "--fresh",
        "--from",
        FIRST_RUN,
        "--to",
        LAST_RUN,
        "--alerts-ndjson",
        arg(&production),
    ];
    // Killed in its first commit, after the journal: the same command finishes it.
    let crashed = sandbox.netrare_with_env(&command, &[("NETRARE_FAILPOINT", "after-journal")]);
    assert_ne!(
        crashed.code,
        Some(0),
        "the failpoint did not stop the backfill"
    );
    sandbox.netrare(&command).success();
    assert!(
        !production.exists(),
        "the fresh backfill wrote the production NDJSON"
    );

    let fresh_out = sandbox.out().join("backfill-20261103T0005-20261104T0005");
    let fresh_alerts = read_rows(&fresh_out.join("alerts"));
    assert!(!fresh_alerts.is_empty());
    let text = std::fs::read_to_string(fresh_out.join("alerts.ndjson")).expect("fresh NDJSON");
    assert_eq!(
        created_ids(&text, ".alerts").len(),
        fresh_alerts.len(),
        "one NDJSON alert per alert, none twice"
    );
    let clean = Sandbox::new();
    clean.backfill(FIRST_RUN, LAST_RUN, &[]);
    assert_eq!(alert_bits(&fresh_alerts), alert_bits(&clean.alerts()));
    assert_eq!(
        record_bits(&latest_versions(read_rows(&fresh_out.join("anomalies")))),
        record_bits(&clean.records())
    );
    // Run again, it has nothing left to do.
    sandbox.netrare(&command).success();
    assert_eq!(
        read_rows(&fresh_out.join("alerts")).len(),
        fresh_alerts.len()
    );
}

#[test]
fn recovery_removes_only_what_netrare_staged() {
    let sandbox = Sandbox::new();
    let mine = sandbox.out().join(".staging/notes.txt");
    std::fs::create_dir_all(mine.parent().expect("parent")).expect("mkdir");
    std::fs::write(&mine, "an operator's file").expect("write");
    sandbox.backfill(FIRST_RUN, &plus(FIRST_RUN, 60), &[]);
    sandbox.run_at(&plus(FIRST_RUN, 75));
    assert_eq!(
        std::fs::read_to_string(&mine).expect("still there"),
        "an operator's file"
    );
    let staging = sandbox.out().join(".staging");
    let err = with_state(&sandbox, &staging, &["run", "--now", &plus(FIRST_RUN, 90)])
        .failure(EXIT_CONFIG)
        .stderr;
    assert!(err.contains(".staging"), "{err}");
}

#[test]
fn targets_that_are_not_regular_files_are_refused_before_the_commit() {
    let sandbox = Sandbox::new();
    sandbox.backfill(FIRST_RUN, &plus(FIRST_RUN, 60), &[]);
    let now = plus(FIRST_RUN, 75);
    let fifo = sandbox.path("alerts.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let link = sandbox.path("null.ndjson");
    std::os::unix::fs::symlink("/dev/null", &link).expect("symlink");
    let state = snapshot(&sandbox.state());
    for target in [
        std::path::Path::new("/dev/full"),
        std::path::Path::new("/dev/stdout"),
        &fifo,
        &link,
        &sandbox.state().join("alerts.ndjson"),
    ] {
        let err = sandbox
            .netrare(&["run", "--now", &now, "--alerts-ndjson", arg(target)])
            .failure(EXIT_CONFIG)
            .stderr;
        assert!(
            err.contains(arg(target)) || err.contains("alerts.ndjson"),
            "{err}"
        );
        assert_eq!(
            snapshot(&sandbox.state()),
            state,
            "{}: state changed",
            target.display()
        );
        assert!(!sandbox.state().join("commit.json").exists());
    }
    // The configuration fixed, the next run goes on.
    let good = sandbox.path("alerts.ndjson");
    sandbox
        .netrare(&["run", "--now", &now, "--alerts-ndjson", arg(&good)])
        .success();
}

#[test]
fn a_full_stdout_after_the_commit_is_an_error_not_a_panic() {
    let sandbox = Sandbox::new();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_netrare"));
    command
        .args([
            "--store",
            arg(&sandbox.store),
            "--state-dir",
            arg(&sandbox.state()),
            "--out",
            arg(&sandbox.out()),
            "--jobs-dir",
            arg(&sandbox.jobs),
            "run",
            "--now",
            FIRST_RUN,
        ])
        .stdout(full);
    let output = command.output().expect("run");
    assert_eq!(
        output.status.code(),
        Some(74),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("work is done"), "{err}");
    assert!(
        !sandbox.records().is_empty(),
        "the execution did not commit"
    );
}
