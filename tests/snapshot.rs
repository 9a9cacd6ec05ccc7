//! A job's snapshot is checked field by field on restore: a value no execution writes, a window
//! log that does not hold what the snapshot records, or a missing snapshot while the job has
//! outputs, exits 65 naming the file and field and changes nothing. The window log grows by what
//! each execution adds, and a snapshot of the format before window logs is carried over.

use serde_json::Value;

use crate::util::*;

const EXIT_DATA: i32 = 65;

/// A sandbox after one run, with the process job's snapshot edited by `edit`.
fn with_edited_snapshot(edit: impl FnOnce(&mut Value)) -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.run_at(FIRST_RUN);
    edit_snapshot(&sandbox, edit);
    sandbox
}

/// Edits the process job's snapshot in `sandbox`.
fn edit_snapshot(sandbox: &Sandbox, edit: impl FnOnce(&mut Value)) {
    let path = sandbox.state().join(format!("{PROCESS_JOB}.json"));
    let mut state: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("state")).expect("json");
    edit(&mut state);
    std::fs::write(&path, serde_json::to_vec(&state).expect("json")).expect("write");
}

/// The process job's window log in `sandbox`.
fn window_log(sandbox: &Sandbox) -> std::path::PathBuf {
    sandbox.state().join(format!("{PROCESS_JOB}.window.ndjson"))
}

/// The lines of the process job's window log, parsed.
fn window_lines(sandbox: &Sandbox) -> Vec<Value> {
    std::fs::read_to_string(window_log(sandbox))
        .expect("a window log")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

/// Runs the next execution, which must exit 65 naming the process job's state file and `field`
/// and leave state and outputs as they were.
fn refused_naming(sandbox: &Sandbox, field: &str) {
    refused(sandbox, &format!("{PROCESS_JOB}.json"), field);
}

/// Runs the next execution, which must exit 65 naming `file` and `problem` and leave state and
/// outputs as they were.
fn refused(sandbox: &Sandbox, file: &str, problem: &str) {
    let (state, out) = (snapshot(&sandbox.state()), snapshot(&sandbox.out()));
    let failed = sandbox
        .netrare(&["run", "--now", &plus(FIRST_RUN, 15)])
        .failure(EXIT_DATA);
    assert!(
        failed.stderr.contains(file) && failed.stderr.contains(problem),
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
    let sandbox = Sandbox::new();
    sandbox.run_at(FIRST_RUN);
    let mut record = window_lines(&sandbox)
        .into_iter()
        .find_map(|line| line.get("record").cloned())
        .expect("the first run wrote a record");
    record["timestamp_ms"] = Value::from(i64::MAX);
    edit_snapshot(&sandbox, |s| {
        s["rule"]["candidates"] = Value::Array(vec![record]);
    });
    refused_naming(&sandbox, "rule.candidates");
}

/// Runs the next execution, which must exit 65 naming the window log and `problem`.
fn log_refused(sandbox: &Sandbox, problem: &str) {
    refused(sandbox, &format!("{PROCESS_JOB}.window.ndjson"), problem);
}

#[test]
fn a_cut_corrupt_or_missing_window_log_exits_65() {
    let sandbox = Sandbox::new();
    sandbox.run_at(FIRST_RUN);
    let log = window_log(&sandbox);
    let bytes = std::fs::read(&log).expect("a window log");
    std::fs::write(&log, &bytes[..bytes.len() - 10]).expect("cut");
    log_refused(&sandbox, "the job state records");

    let mut corrupt = bytes.clone();
    corrupt[3] = b'#';
    std::fs::write(&log, corrupt).expect("corrupt");
    log_refused(&sandbox, "line 1: corrupt window log entry");

    std::fs::remove_file(&log).expect("remove");
    log_refused(&sandbox, "is missing");
    std::fs::write(&log, &bytes).expect("restore");
    let mut record = window_lines(&sandbox)
        .into_iter()
        .find(|line| line.get("record").is_some())
        .expect("a record line");
    record["record"]["bucket_span"] = Value::from(60);
    let text = format!("{record}\n");
    let mut lines: Vec<String> = std::fs::read_to_string(&log)
        .expect("log")
        .lines()
        .map(|line| format!("{line}\n"))
        .collect();
    let at = lines
        .iter()
        .position(|line| line.starts_with(r#"{"record""#))
        .expect("a record line");
    lines[at] = text;
    let edited = lines.concat();
    edit_snapshot(&sandbox, |s| {
        s["window_log"]["bytes"] = Value::from(edited.len())
    });
    std::fs::write(&log, edited).expect("edit");
    log_refused(&sandbox, "recent_records");
}

#[test]
fn an_execution_appends_to_the_window_log_and_the_snapshot_holds_no_window() {
    let sandbox = Sandbox::new();
    sandbox.run_at(FIRST_RUN);
    let first = std::fs::read(window_log(&sandbox)).expect("a window log");
    let mut before = first.clone();
    for minutes in (15..=180).step_by(15) {
        sandbox.run_at(&plus(FIRST_RUN, minutes));
        let after = std::fs::read(window_log(&sandbox)).expect("a window log");
        assert!(
            after.starts_with(&before),
            "the log was rewritten at +{minutes} min"
        );
        before = after;
    }
    assert!(
        before.len() > first.len(),
        "no execution added to the window"
    );
    let after = before;
    let state: Value = serde_json::from_slice(
        &std::fs::read(sandbox.state().join(format!("{PROCESS_JOB}.json"))).expect("state"),
    )
    .expect("json");
    assert_eq!(state["version"], 3);
    assert!(state.get("recent_records").is_none(), "{state}");
    assert_eq!(state["window_log"]["bytes"], after.len());
    assert_eq!(state["window_log"]["lines"], window_lines(&sandbox).len());
}

#[test]
fn a_snapshot_with_the_window_inline_is_carried_over_to_the_same_outputs() {
    let inline = Sandbox::new();
    let logged = Sandbox::new();
    for sandbox in [&inline, &logged] {
        sandbox.run_at(FIRST_RUN);
    }
    // Version 2 held the window's latest versions in the snapshot, under these names.
    let mut window = serde_json::Map::new();
    for (kind, field) in [
        ("record", "recent_records"),
        ("bucket", "recent_buckets"),
        ("influencer", "recent_influencers"),
    ] {
        let mut latest: Vec<Value> = Vec::new();
        for line in window_lines(&inline) {
            let Some(result) = line.get(kind).cloned() else {
                continue;
            };
            let key = |v: &Value| {
                [
                    &v["record_id"],
                    &v["timestamp_ms"],
                    &v["influencer_field_value"],
                ]
                .map(Value::to_string)
            };
            match latest.iter_mut().find(|r| key(r) == key(&result)) {
                Some(r) => *r = result,
                None => latest.push(result),
            }
        }
        window.insert(field.to_string(), Value::Array(latest));
    }
    edit_snapshot(&inline, |s| {
        s["version"] = Value::from(2);
        s.as_object_mut().expect("an object").remove("window_log");
        s.as_object_mut().expect("an object").extend(window);
    });
    std::fs::remove_file(window_log(&inline)).expect("remove");
    for minutes in [15, 30] {
        for sandbox in [&inline, &logged] {
            sandbox.run_at(&plus(FIRST_RUN, minutes));
        }
    }
    let rows = read_rows(&logged.out());
    assert!(!rows.is_empty());
    assert_eq!(read_rows(&inline.out()), rows);
    assert_eq!(window_lines(&inline).len() as u64, {
        let state: Value = serde_json::from_slice(
            &std::fs::read(inline.state().join(format!("{PROCESS_JOB}.json"))).expect("state"),
        )
        .expect("json");
        assert_eq!(state["version"], 3);
        state["window_log"]["lines"].as_u64().expect("a line count")
    });
}
