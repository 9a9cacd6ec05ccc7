//! The command line's contract: exit codes and messages for a held lock and bad input data, the
//! state left untouched when the input is bad, and help for every subcommand.

use std::fs::File;
use std::path::Path;

use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::util::*;

const EXIT_CONFIG: i32 = 2;
const EXIT_DATA: i32 = 65;
const EXIT_IO: i32 = 74;
const EXIT_LOCKED: i32 = 75;

#[test]
fn a_held_lock_exits_75_and_says_another_execution_runs() {
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.state()).expect("state dir");
    let lock = File::create(sandbox.state().join(".lock")).expect("lock file");
    lock.try_lock().expect("take the lock");
    let out = sandbox
        .netrare(&["run", "--now", FIRST_RUN])
        .failure(EXIT_LOCKED);
    assert!(
        out.stderr.contains("another netrare execution is running"),
        "{}",
        out.stderr
    );
    assert!(sandbox.published().is_empty());
    drop(lock);
    sandbox.run_at(FIRST_RUN);
}

#[test]
fn a_truncated_store_file_exits_65_naming_it_and_leaves_the_state_alone() {
    let mut sandbox = Sandbox::new();
    let store = sandbox.copy_store();
    sandbox.run_at("2026-11-02T12:05:00Z");
    let damaged = store.join("date=2026-11-03").join("defend.parquet");
    let bytes = std::fs::read(&damaged).expect("fixture file");
    std::fs::write(&damaged, &bytes[..bytes.len() / 2]).expect("truncate");
    let (state, out) = (snapshot(&sandbox.state()), snapshot(&sandbox.out()));

    let failed = sandbox
        .netrare(&["run", "--now", "2026-11-03T12:05:00Z"])
        .failure(EXIT_DATA);
    assert!(
        failed.stderr.contains("date=2026-11-03/defend.parquet"),
        "{}",
        failed.stderr
    );
    assert_eq!(snapshot(&sandbox.state()), state, "the state changed");
    assert_eq!(snapshot(&sandbox.out()), out, "the outputs changed");
}

#[test]
fn a_store_file_without_the_by_field_exits_65_naming_the_column() {
    let mut sandbox = Sandbox::new();
    let store = sandbox.path("events");
    for day in ["date=2026-11-01", "date=2026-11-02", "date=2026-11-03"] {
        let from = Path::new(FIXTURE).join(day).join("defend.parquet");
        write_without(
            &from,
            &store.join(day).join("defend.parquet"),
            "destination.port",
        );
    }
    sandbox.store = store;
    let failed = sandbox
        .netrare(&["run", "--now", FIRST_RUN])
        .failure(EXIT_DATA);
    assert!(
        failed.stderr.contains("destination.port"),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains("defend.parquet"),
        "{}",
        failed.stderr
    );
}

/// Copies a Parquet file without one column.
fn write_without(from: &Path, to: &Path, column: &str) {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(from).expect("open"))
        .expect("footer")
        .build()
        .expect("reader");
    std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
    let mut writer = None;
    for batch in reader {
        let mut batch = batch.expect("batch");
        let index = batch
            .schema()
            .index_of(column)
            .expect("the fixture has the column");
        batch.remove_column(index);
        let writer = writer.get_or_insert_with(|| {
            ArrowWriter::try_new(File::create(to).expect("create"), batch.schema(), None)
                .expect("writer")
        });
        writer.write(&batch).expect("write");
    }
    writer.expect("at least one batch").close().expect("close");
}

#[test]
fn a_corrupt_state_file_exits_65_and_is_not_relearnt() {
    let sandbox = Sandbox::new();
    sandbox.run_at(FIRST_RUN);
    let state_file = sandbox.state().join(format!("{PROCESS_JOB}.json"));
    std::fs::write(&state_file, b"{\"format\": \"netrare-job-st").expect("corrupt");
    let (state, out) = (snapshot(&sandbox.state()), snapshot(&sandbox.out()));

    let failed = sandbox
        .netrare(&["run", "--now", &plus(FIRST_RUN, 15)])
        .failure(EXIT_DATA);
    assert!(
        failed.stderr.contains(&format!("{PROCESS_JOB}.json")),
        "{}",
        failed.stderr
    );
    assert_eq!(
        snapshot(&sandbox.state()),
        state,
        "the corrupt state was replaced"
    );
    assert_eq!(
        snapshot(&sandbox.out()),
        out,
        "outputs were written from a restarted job"
    );
}

#[test]
fn an_unknown_key_in_a_job_file_exits_2_naming_the_file_and_key() {
    let mut sandbox = Sandbox::new();
    let jobs = sandbox.copy_jobs();
    let path = jobs.join(format!("{PORT_JOB}.toml"));
    let text = std::fs::read_to_string(&path).expect("job file");
    std::fs::write(
        &path,
        text.replace("risk_score = 21", "risk_score = 21\nriskscore = 21"),
    )
    .expect("write");
    let failed = sandbox
        .netrare(&["run", "--now", FIRST_RUN])
        .failure(EXIT_CONFIG);
    assert!(
        failed.stderr.contains(&format!("{PORT_JOB}.toml")),
        "{}",
        failed.stderr
    );
    assert!(failed.stderr.contains("riskscore"), "{}", failed.stderr);
    assert!(
        !sandbox.state().exists(),
        "the state was touched before the job files were checked"
    );
}

#[test]
fn from_after_to_and_a_zero_or_tiny_interval_are_bad_flags_exiting_2() {
    let sandbox = Sandbox::new();
    let cases = [
        (LAST_RUN, FIRST_RUN, "15m", "--to"),
        (FIRST_RUN, LAST_RUN, "0s", "--interval"),
        (FIRST_RUN, LAST_RUN, "1ms", "at most"),
    ];
    for (from, to, interval, named) in cases {
        let failed = sandbox
            .netrare(&[
                "backfill",
                "--from",
                from,
                "--to",
                to,
                "--interval",
                interval,
            ])
            .failure(EXIT_CONFIG);
        assert!(failed.stderr.contains(named), "{}", failed.stderr);
    }
    assert!(!sandbox.state().exists(), "the state was touched");
}

#[test]
fn a_state_dir_or_out_dir_that_is_a_file_exits_74_naming_it() {
    let sandbox = Sandbox::new();
    std::fs::write(sandbox.state(), b"not a folder").expect("file");
    let failed = sandbox
        .netrare(&["run", "--now", FIRST_RUN])
        .failure(EXIT_IO);
    assert!(
        failed
            .stderr
            .contains(&sandbox.state().display().to_string()),
        "{}",
        failed.stderr
    );
    std::fs::remove_file(sandbox.state()).expect("remove");

    std::fs::write(sandbox.out(), b"not a folder").expect("file");
    let failed = sandbox
        .netrare(&["run", "--now", FIRST_RUN])
        .failure(EXIT_IO);
    assert!(
        failed.stderr.contains(&sandbox.out().display().to_string()),
        "{}",
        failed.stderr
    );
    assert!(
        !sandbox.state().join(format!("{PROCESS_JOB}.json")).exists(),
        "a job state was written"
    );
}

#[test]
fn logs_to_a_pipe_carry_no_colour_codes() {
    let sandbox = Sandbox::new();
    let out = sandbox
        .netrare(&["-vv", "run", "--now", FIRST_RUN])
        .success();
    assert!(out.stderr.contains("planned scan"), "{}", out.stderr);
    assert!(!out.stderr.contains('\x1b'), "{:?}", out.stderr);
}

#[test]
fn an_error_names_its_cause_once() {
    let sandbox = Sandbox::new();
    let failed = sandbox
        .netrare(&["--config", "missing.toml", "jobs", "list"])
        .failure(EXIT_CONFIG);
    assert!(failed.stderr.contains("missing.toml"), "{}", failed.stderr);
    assert_eq!(
        failed.stderr.matches("No such file or directory").count(),
        1,
        "{}",
        failed.stderr
    );
    let failed = sandbox
        .netrare(&["ingest", "ndjson", "absent.ndjson", "--out", "events"])
        .failure(EXIT_IO);
    assert_eq!(
        failed.stderr.matches("No such file or directory").count(),
        1,
        "{}",
        failed.stderr
    );
}

#[test]
fn every_subcommand_has_help() {
    let sandbox = Sandbox::new();
    let commands: [&[&str]; 13] = [
        &[],
        &["run"],
        &["backfill"],
        &["jobs"],
        &["jobs", "list"],
        &["jobs", "show"],
        &["fixtures"],
        &["fixtures", "generate"],
        &["ingest"],
        &["ingest", "auditd"],
        &["ingest", "ndjson"],
        &["demo"],
        &["evaluate"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let out = netrare_in(sandbox.dir.path(), &args, &[]).success();
        assert!(
            out.stdout.contains("Usage:"),
            "{command:?} --help:\n{}",
            out.stdout
        );
    }
}
