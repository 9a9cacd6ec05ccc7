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
