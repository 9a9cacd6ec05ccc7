//! `netrare ingest`: a store built only by ingest is one `netrare run` reads.

use crate::util::*;

/// The project's own audit log: five network events on 2026-11-02, around 10:00 UTC.
const AUDIT_LOG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/auditd/network.log");

#[test]
fn run_reads_a_store_built_only_by_ingest() {
    let mut sandbox = Sandbox::new();
    sandbox.store = sandbox.path("ingested");
    let store = sandbox.store.to_str().expect("utf-8").to_string();
    let first = sandbox
        .netrare(&[
            "ingest",
            "auditd",
            AUDIT_LOG,
            "--host-name",
            "web-01",
            "--out",
            &store,
        ])
        .success();
    assert!(first.stdout.contains("wrote 5 events"), "{}", first.stdout);
    let again = sandbox
        .netrare(&[
            "ingest",
            "auditd",
            AUDIT_LOG,
            "--host-name",
            "web-01",
            "--out",
            &store,
        ])
        .success();
    assert!(
        again.stdout.contains("already ingested"),
        "{}",
        again.stdout
    );

    // Of its five events, two are connections the port job selects: to 10.0.0.5:80 and
    // 8.8.8.8:53 (a connect to ::1 is excluded, an accept and a bind have no destination port).
    let run = sandbox.run_at("2026-11-02T12:00:00Z");
    let events = run.job(PORT_JOB)["events"].as_u64();
    assert_eq!(events, Some(2), "{}", run.stdout);
}

/// Runs `netrare ingest args` in the sandbox with `input` on its standard input.
fn ingest_stdin(sandbox: &Sandbox, args: &[&str], input: Vec<u8>) -> Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_netrare"))
        .arg("ingest")
        .args(args)
        .current_dir(sandbox.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start netrare");
    let mut stdin = child.stdin.take().expect("stdin");
    // Written from another thread: the binary may stop reading (and exit) before the end.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let output = child.wait_with_output().expect("wait for netrare");
    writer.join().expect("stdin writer");
    Output {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn standard_input_is_ingested_and_named_by_its_content_like_a_file() {
    let sandbox = Sandbox::new();
    let store = sandbox.path("ingested");
    let store = store.to_str().expect("utf-8");
    let log = std::fs::read(AUDIT_LOG).expect("fixture");
    let piped = ingest_stdin(
        &sandbox,
        &["auditd", "-", "--host-name", "web-01", "--out", store],
        log,
    )
    .success();
    assert!(
        piped
            .stdout
            .contains("read 27 lines; wrote 5 events in 1 files"),
        "{}",
        piped.stdout
    );
    let from_file = sandbox
        .netrare(&["ingest", "auditd", AUDIT_LOG, "--out", store])
        .success();
    assert!(
        from_file.stdout.contains("already ingested"),
        "{}",
        from_file.stdout
    );

    let doc = r#"{"@timestamp":"2026-11-02T10:00:00Z","event":{"category":["network"]},"destination":{"port":443}}"#;
    let response = format!("{{\n  \"hits\": {{\n    \"hits\": [{doc},\n {doc}]\n  }}\n}}\n");
    let piped = ingest_stdin(&sandbox, &["ndjson", "-", "--out", store], response.into()).success();
    assert!(piped.stdout.contains("wrote 2 events"), "{}", piped.stdout);
}

#[test]
fn a_huge_line_that_is_not_a_search_response_fails_naming_the_input_and_line() {
    let sandbox = Sandbox::new();
    let store = sandbox.path("ingested");
    let huge = format!(
        "{{}}\n{{\"message\":\"{}\"}}\n",
        "x".repeat(netrare::ingest::ndjson::MAX_LINE_BYTES)
    );
    let failed = ingest_stdin(
        &sandbox,
        &["ndjson", "-", "--out", store.to_str().expect("utf-8")],
        huge.into(),
    )
    .failure(65);
    assert!(
        failed.stderr.contains("<stdin>:2: line longer than"),
        "{}",
        failed.stderr
    );
    assert!(!store.exists(), "nothing written");
}
