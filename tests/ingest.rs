//! `netrare ingest`: a store built only by ingest is one `netrare run` reads.

use std::path::PathBuf;

use crate::util::*;

fn audit_testdata() -> PathBuf {
    let candidates = [
        std::env::var_os("NETRARE_TESTDATA").map(PathBuf::from),
        Some(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/testdata/auditd"
        ))),
        Some(PathBuf::from("/work/shared/testdata/auditd")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.is_dir())
        .expect("audit test data: set NETRARE_TESTDATA to shared/testdata/auditd")
}

#[test]
fn run_reads_a_store_built_only_by_ingest() {
    let mut sandbox = Sandbox::new();
    sandbox.store = sandbox.path("ingested");
    let store = sandbox.store.to_str().expect("utf-8").to_string();
    let log = audit_testdata().join("testdata__normal.log");
    let first = sandbox
        .netrare(&[
            "ingest",
            "auditd",
            log.to_str().expect("utf-8"),
            "--host-name",
            "web-01",
            "--out",
            &store,
        ])
        .success();
    assert!(first.stdout.contains("wrote 2 events"), "{}", first.stdout);
    let again = sandbox
        .netrare(&[
            "ingest",
            "auditd",
            log.to_str().expect("utf-8"),
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

    // The log holds a connect to 169.254.169.254:80 and an accept without an address: one event
    // has a destination port.
    let run = sandbox.run_at("2017-04-13T00:00:00Z");
    let events = run.job(PORT_JOB)["events"].as_u64();
    assert_eq!(events, Some(1), "{}", run.stdout);
}
