//! A job's snapshot is checked field by field on restore: a value no execution writes, or a
//! missing snapshot while the job has outputs, exits 65 naming the file and field and changes
//! nothing.

use serde_json::Value;

use crate::util::*;

const EXIT_DATA: i32 = 65;

/// A sandbox after one run, with the process job's snapshot edited by `edit`.
fn with_edited_snapshot(edit: impl FnOnce(&mut Value)) -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.run_at(FIRST_RUN);
    let path = sandbox.state().join(format!("{PROCESS_JOB}.json"));
    let mut state: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("state")).expect("json");
    edit(&mut state);
    std::fs::write(&path, serde_json::to_vec(&state).expect("json")).expect("write");
    sandbox
}

/// Runs the next execution, which must exit 65 naming the file and `field` and leave state and
/// outputs as they were.
fn refused_naming(sandbox: &Sandbox, field: &str) {
    let (state, out) = (snapshot(&sandbox.state()), snapshot(&sandbox.out()));
    let failed = sandbox
        .netrare(&["run", "--now", &plus(FIRST_RUN, 15)])
        .failure(EXIT_DATA);
    assert!(
        failed.stderr.contains(&format!("{PROCESS_JOB}.json")) && failed.stderr.contains(field),
        "{}",
        failed.stderr
    );
    assert_eq!(snapshot(&sandbox.state()), state, "the state changed");
    assert_eq!(snapshot(&sandbox.out()), out, "the outputs changed");
}

#[test]
fn a_checkpoint_out_of_range_off_the_grid_or_zero_exits_65() {
    for checkpoint in [Value::from(i64::MAX), Value::from(i64::MIN), Value::from(0)] {
        let sandbox = with_edited_snapshot(|s| s["checkpoint_ms"] = checkpoint.clone());
        refused_naming(&sandbox, "checkpoint_ms");
    }
    let sandbox = with_edited_snapshot(|s| {
        let off_grid = s["checkpoint_ms"].as_i64().expect("checkpoint") + 1;
        s["checkpoint_ms"] = Value::from(off_grid);
    });
    refused_naming(&sandbox, "checkpoint_ms");
}

#[test]
fn a_last_execution_out_of_range_exits_65() {
    let sandbox = with_edited_snapshot(|s| s["rule"]["last_execution_ms"] = Value::from(-1));
    refused_naming(&sandbox, "last_execution_ms");
}

#[test]
fn a_missing_snapshot_with_outputs_exits_65_unless_relearn_is_asked() {
    let sandbox = Sandbox::new();
    sandbox.run_at(FIRST_RUN);
    assert!(
        !read_rows(&sandbox.out().join("anomalies").join(PROCESS_JOB)).is_empty(),
        "the first run wrote no records: the case is not exercised"
    );
    std::fs::remove_file(sandbox.state().join(format!("{PROCESS_JOB}.json"))).expect("remove");
    refused_naming(&sandbox, "--relearn");

    sandbox
        .netrare(&["run", "--now", &plus(FIRST_RUN, 15), "--relearn"])
        .success();
    assert!(sandbox.state().join(format!("{PROCESS_JOB}.json")).exists());
}

#[test]
fn a_held_candidate_out_of_range_exits_65() {
    let sandbox = with_edited_snapshot(|s| {
        let mut record = s["recent_records"][0].clone();
        assert!(record.is_object(), "the first run wrote a record");
        record["timestamp_ms"] = Value::from(i64::MAX);
        s["rule"]["candidates"] = Value::Array(vec![record]);
    });
    refused_naming(&sandbox, "rule.candidates");
}
