//! The Spark engine as far as it can be checked without a Spark server: the query a user can
//! read and run, and the errors that leave state untouched. tests/spark.sh compares the engines
//! on a live local Spark Connect server.

use crate::util::*;

#[test]
fn jobs_sql_prints_the_summary_query_of_a_job() {
    let sandbox = Sandbox::new();
    let out = sandbox
        .netrare(&[
            "--spark-source",
            "lake.ecs_network",
            "jobs",
            "sql",
            PORT_JOB,
            "--dialect",
            "spark",
            "--from",
            "2026-11-01T00:00:00Z",
            "--to",
            "2026-11-02T00:07:00Z",
        ])
        .success();
    for expected in [
        "-- netrare bucket summary v2: buckets of 900000 ms in [1793491200000, 1793577600000)",
        "MIN(ts_ms) AS first_event_ms",
        "FROM lake.ecs_network",
        "AS `influencer:destination.ip`",
        "NOT coalesce(",
        "GROUP BY 1, 2, 3",
    ] {
        assert!(
            out.stdout.contains(expected),
            "no {expected:?} in\n{}",
            out.stdout
        );
    }
}

#[test]
fn engine_spark_without_a_server_fails_before_touching_state() {
    let sandbox = Sandbox::new();
    let missing = sandbox
        .netrare(&["--engine", "spark", "run", "--now", "2026-11-02T00:00:00Z"])
        .failure(2);
    assert!(
        missing.stderr.contains("--spark-remote"),
        "{}",
        missing.stderr
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let remote = format!(
        "sc://127.0.0.1:{}",
        listener.local_addr().expect("bound").port()
    );
    drop(listener);
    let args = [
        "--engine",
        "spark",
        "--spark-remote",
        remote.as_str(),
        "run",
        "--now",
        "2026-11-02T00:00:00Z",
    ];
    let out = sandbox.netrare(&args);
    if cfg!(feature = "spark") {
        let out = out.failure(69);
        assert!(out.stderr.contains(&remote), "{}", out.stderr);
    } else {
        let out = out.failure(2);
        assert!(
            out.stderr.contains("build with --features spark"),
            "{}",
            out.stderr
        );
    }
    assert!(!sandbox.state().exists(), "no state may be written");
}
