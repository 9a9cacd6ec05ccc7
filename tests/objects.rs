//! Locations on object storage, as far as they can be checked without a server: what is refused
//! before anything is read, and an endpoint that does not answer. `tests/objects.sh` runs the rest
//! against a real S3 API server.

use crate::util::*;

const EXIT_CONFIG: i32 = 2;
const EXIT_UNAVAILABLE: i32 = 69;

/// An endpoint nothing listens on, and credentials that are never checked.
const CLOSED_ENDPOINT: [(&str, &str); 5] = [
    ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
    ("AWS_ALLOW_HTTP", "true"),
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_REGION", "us-east-1"),
];

#[test]
fn state_and_outputs_are_all_on_object_storage_or_none() {
    let sandbox = Sandbox::new();
    let out = sandbox.out();
    let locations = [
        FIXTURE,
        "s3://bucket/netrare/state",
        out.to_str().expect("utf-8"),
    ];
    let refused = sandbox
        .netrare_at(locations, &["run", "--now", FIRST_RUN], &CLOSED_ENDPOINT)
        .failure(EXIT_CONFIG);
    assert!(
        refused
            .stderr
            .contains("either all of them are on object storage or none"),
        "{}",
        refused.stderr
    );
    assert!(!out.exists(), "nothing is written");
    let ndjson = sandbox.path("alerts.ndjson");
    let args = [
        "run",
        "--now",
        FIRST_RUN,
        "--alerts-ndjson",
        ndjson.to_str().expect("utf-8"),
    ];
    let locations = [FIXTURE, "s3://bucket/state", "s3://bucket/out"];
    sandbox
        .netrare_at(locations, &args, &CLOSED_ENDPOINT)
        .failure(EXIT_CONFIG);
    assert!(!ndjson.exists());
}

#[test]
fn the_report_and_triage_refuse_outputs_on_object_storage() {
    let sandbox = Sandbox::new();
    std::fs::write(
        sandbox.path("netrare.toml"),
        "report_html = \"report.html\"\n",
    )
    .expect("settings");
    let config = sandbox.path("netrare.toml");
    let locations = [FIXTURE, "s3://bucket/state", "s3://bucket/out"];
    let args = [
        "--config",
        config.to_str().expect("utf-8"),
        "run",
        "--now",
        FIRST_RUN,
    ];
    let refused = sandbox
        .netrare_at(locations, &args, &CLOSED_ENDPOINT)
        .failure(EXIT_CONFIG);
    assert!(refused.stderr.contains("report_html"), "{}", refused.stderr);
    let refused = sandbox
        .netrare_at(locations, &["report", "--html", "r.html"], &CLOSED_ENDPOINT)
        .failure(EXIT_CONFIG);
    assert!(
        refused.stderr.contains("from a local disk"),
        "{}",
        refused.stderr
    );
}

#[test]
fn an_endpoint_that_does_not_answer_exits_69_naming_the_location_and_writes_nothing() {
    let sandbox = Sandbox::new();
    let (state, out) = (sandbox.state(), sandbox.out());
    let local = [state.to_str().expect("utf-8"), out.to_str().expect("utf-8")];
    let store = "s3://bucket/events";
    let failed = sandbox
        .netrare_at(
            [store, local[0], local[1]],
            &["run", "--now", FIRST_RUN],
            &CLOSED_ENDPOINT,
        )
        .failure(EXIT_UNAVAILABLE);
    assert!(
        failed
            .stderr
            .contains("s3://bucket/events: the object store cannot be reached"),
        "{}",
        failed.stderr
    );
    assert!(sandbox.published().is_empty());
    let remote = [FIXTURE, "s3://bucket/state", "s3://bucket/out"];
    let failed = sandbox
        .netrare_at(remote, &["run", "--now", FIRST_RUN], &CLOSED_ENDPOINT)
        .failure(EXIT_UNAVAILABLE);
    assert!(
        failed.stderr.contains("s3://bucket/state"),
        "{}",
        failed.stderr
    );
}
