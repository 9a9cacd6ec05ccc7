//! Tests of exception lists: the example list, each operator, the all-values rule, and the
//! errors of malformed entries.

use std::path::PathBuf;

use super::*;
use crate::bucket::{SeriesKey, ValueSummary};
use crate::model::Score;
use crate::results::{AnomalyRecord, RecordContext};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A port-job record of `port` with the given influencer values.
fn record(port: &str, influencers: &[(&str, &[&str])]) -> AnomalyRecord {
    AnomalyRecord::sample(port, 0, 90.0, influencers)
}

/// Writes `text` as `list.toml` in a new temporary folder and loads it.
fn load_text(text: &str) -> (tempfile::TempDir, Result<Exceptions, Error>) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("list.toml"), text).expect("write list");
    let loaded = Exceptions::load(dir.path(), &["list.toml".to_string()]);
    (dir, loaded)
}

fn list(conditions: &str) -> Exceptions {
    let text = format!(
        "description = \"t\"\n[[entry]]\nid = \"e\"\ncomment = \"why\"\nconditions = [{conditions}]\n"
    );
    load_text(&text).1.expect("list loads")
}

fn enabled_example() -> (tempfile::TempDir, Exceptions) {
    let text =
        std::fs::read_to_string(root().join("jobs/exceptions/example.toml")).expect("example list");
    assert!(
        text.contains("\nenabled = false\n"),
        "the example ships disabled"
    );
    let (dir, loaded) = load_text(&text.replace("\nenabled = false\n", "\nenabled = true\n"));
    (dir, loaded.expect("enabled example loads"))
}

fn matched_id(exceptions: &Exceptions, record: &AnomalyRecord) -> Option<String> {
    exceptions
        .matches(&Subject::Record(record))
        .map(|e| e.id.clone())
}

#[test]
fn example_list_loads_disabled_and_matches_nothing() {
    let exceptions = Exceptions::load(
        &root().join("jobs"),
        &["exceptions/example.toml".to_string()],
    )
    .expect("every entry compiles");
    let dev = record("31337", &[("host.name", &["dev-01"])]);
    assert_eq!(matched_id(&exceptions, &dev), None);
    assert!(!exceptions.acts_on_model());
}

#[test]
fn enabled_example_matches_each_category_and_not_its_near_miss() {
    let (_dir, exceptions) = enabled_example();
    let cases: [(&str, AnomalyRecord, AnomalyRecord); 5] = [
        (
            "admin-tools",
            record(
                "4505",
                &[
                    ("process.name", &["salt-minion"]),
                    ("destination.ip", &["10.10.0.5"]),
                ],
            ),
            record(
                "4505",
                &[
                    ("process.name", &["salt-minion"]),
                    ("destination.ip", &["203.0.113.5"]),
                ],
            ),
        ),
        (
            "internal-services-uncommon-ports",
            record("8443", &[("destination.ip", &["10.1.2.3"])]),
            record("7443", &[("destination.ip", &["10.1.2.3"])]),
        ),
        (
            "security-scanners",
            record(
                "31337",
                &[("host.name", &["scanner-02"]), ("process.name", &["nmap"])],
            ),
            record(
                "31337",
                &[("host.name", &["web-02"]), ("process.name", &["nmap"])],
            ),
        ),
        (
            "dev-test-environments",
            record("31337", &[("host.name", &["dev-01", "test-7"])]),
            record("31337", &[("host.name", &["dev-01", "prod-db-1"])]),
        ),
        (
            "legacy-applications",
            record(
                "7001",
                &[
                    ("process.name", &["billing-sync"]),
                    ("user.name", &["billing"]),
                ],
            ),
            record(
                "7001",
                &[
                    ("process.name", &["billing-sync"]),
                    ("user.name", &["root"]),
                ],
            ),
        ),
    ];
    for (id, hit, miss) in &cases {
        assert_eq!(
            matched_id(&exceptions, hit).as_deref(),
            Some(*id),
            "{id} should match"
        );
        assert_eq!(
            matched_id(&exceptions, miss),
            None,
            "{id}: the near miss should not match"
        );
    }
    assert!(exceptions.acts_on_model());
    assert_eq!(
        exceptions
            .matching(&Subject::Record(&cases[2].1), Action::SkipModelUpdate)
            .map(|e| e.id.as_str()),
        Some("security-scanners")
    );
    assert!(
        exceptions
            .matching(&Subject::Record(&cases[2].1), Action::SuppressAlert)
            .is_none()
    );
    assert_eq!(
        exceptions
            .matching(&Subject::Record(&cases[4].1), Action::SkipResult)
            .map(|e| e.id.as_str()),
        Some("legacy-applications")
    );
}

#[test]
fn equals_compares_whole_values() {
    let exceptions = list(r#"{ field = "process.name", operator = "equals", values = ["sshd"] }"#);
    assert!(
        exceptions
            .matches(&Subject::Record(&record(
                "22",
                &[("process.name", &["sshd"])]
            )))
            .is_some()
    );
    assert!(
        exceptions
            .matches(&Subject::Record(&record(
                "22",
                &[("process.name", &["sshd-session"])]
            )))
            .is_none()
    );
    assert!(
        exceptions
            .matches(&Subject::Record(&record(
                "22",
                &[("process.name", &["SSHD"])]
            )))
            .is_none()
    );
}

#[test]
fn by_field_and_named_record_fields_are_conditions_too() {
    let exceptions =
        list(r#"{ field = "destination.port", operator = "equals", values = ["8443"] }"#);
    assert!(
        exceptions
            .matches(&Subject::Record(&record("8443", &[])))
            .is_some()
    );
    let by_value = list(r#"{ field = "by_field_value", operator = "equals", values = ["8443"] }"#);
    assert!(
        by_value
            .matches(&Subject::Record(&record("8443", &[])))
            .is_some()
    );
    let job = list(r#"{ field = "job_id", operator = "equals", values = ["j"] }"#);
    assert!(job.matches(&Subject::Record(&record("1", &[]))).is_some());
}

#[test]
fn wildcard_matches_paths_and_star_crosses_slashes() {
    let exceptions = list(
        r#"{ field = "process.executable", operator = "wildcard", values = ["/opt/legacy/*", "/usr/lib/jvm/java-?/bin/java"] }"#,
    );
    assert!(
        exceptions
            .matches(&Subject::Record(&record(
                "1",
                &[("process.executable", &["/opt/legacy/billing"])]
            )))
            .is_some()
    );
    assert!(
        exceptions
            .matches(&Subject::Record(&record(
                "1",
                &[("process.executable", &["/opt/legacy/bin/sync"])]
            )))
            .is_some()
    );
    assert!(
        exceptions
            .matches(&Subject::Record(&record(
                "1",
                &[("process.executable", &["/usr/lib/jvm/java-8/bin/java"])]
            )))
            .is_some()
    );
    assert!(
        exceptions
            .matches(&Subject::Record(&record(
                "1",
                &[("process.executable", &["/usr/lib/jvm/java-17/bin/java"])]
            )))
            .is_none()
    );
    assert!(
        exceptions
            .matches(&Subject::Record(&record(
                "1",
                &[("process.executable", &["/opt/legacy-new/billing"])]
            )))
            .is_none()
    );
}

#[test]
fn cidr_matches_v4_and_v6_and_refuses_non_ips() {
    let exceptions = list(
        r#"{ field = "destination.ip", operator = "cidr", values = ["10.0.0.0/8", "fd00::/8"] }"#,
    );
    assert!(
        exceptions
            .matches(&Subject::Record(&record(
                "1",
                &[("destination.ip", &["10.255.0.1"])]
            )))
            .is_some()
    );
    assert!(
        exceptions
            .matches(&Subject::Record(&record(
                "1",
                &[("destination.ip", &["fd12::1"])]
            )))
            .is_some()
    );
    assert!(
        exceptions
            .matches(&Subject::Record(&record(
                "1",
                &[("destination.ip", &["11.0.0.1"])]
            )))
            .is_none()
    );
    assert!(
        exceptions
            .matches(&Subject::Record(&record(
                "1",
                &[("destination.ip", &["not-an-ip"])]
            )))
            .is_none()
    );
}

#[test]
fn port_range_is_inclusive_and_takes_single_ports() {
    let exceptions = list(
        r#"{ field = "destination.port", operator = "port_range", values = ["8000-8999", "443"] }"#,
    );
    for port in ["8000", "8999", "443"] {
        assert!(
            exceptions
                .matches(&Subject::Record(&record(port, &[])))
                .is_some(),
            "{port}"
        );
    }
    for port in ["7999", "9000", "444", "http"] {
        assert!(
            exceptions
                .matches(&Subject::Record(&record(port, &[])))
                .is_none(),
            "{port}"
        );
    }
}

#[test]
fn every_value_of_a_field_must_match_and_a_missing_field_never_does() {
    let exceptions = list(r#"{ field = "host.name", operator = "wildcard", values = ["dev-*"] }"#);
    assert!(
        exceptions
            .matches(&Subject::Record(&record(
                "1",
                &[("host.name", &["dev-1", "dev-2"])]
            )))
            .is_some()
    );
    assert!(
        exceptions
            .matches(&Subject::Record(&record(
                "1",
                &[("host.name", &["dev-1", "prod-1"])]
            )))
            .is_none()
    );
    assert!(
        exceptions
            .matches(&Subject::Record(&record("1", &[("user.name", &["dev-1"])])))
            .is_none()
    );
}

#[test]
fn all_conditions_of_an_entry_must_hold() {
    let exceptions = list(
        r#"{ field = "process.name", operator = "equals", values = ["curl"] }, { field = "user.name", operator = "equals", values = ["deploy"] }"#,
    );
    assert!(
        exceptions
            .matches(&Subject::Record(&record(
                "1",
                &[("process.name", &["curl"]), ("user.name", &["deploy"])]
            )))
            .is_some()
    );
    assert!(
        exceptions
            .matches(&Subject::Record(&record(
                "1",
                &[("process.name", &["curl"]), ("user.name", &["root"])]
            )))
            .is_none()
    );
}

fn bad_entry(conditions: &str, comment: &str) -> String {
    let text = format!(
        "description = \"t\"\nenabled = false\n[[entry]]\nid = \"broken-one\"\ncomment = \"{comment}\"\nconditions = [{conditions}]\n"
    );
    let (dir, loaded) = load_text(&text);
    let err = loaded.expect_err("a malformed entry is refused, even in a disabled list");
    assert!(matches!(err, Error::BadEntry { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&dir.path().join("list.toml").display().to_string()),
        "{message}"
    );
    assert!(message.contains("\"broken-one\""), "{message}");
    message
}

#[test]
fn malformed_entries_name_the_file_and_the_entry() {
    let cidr = bad_entry(
        r#"{ field = "destination.ip", operator = "cidr", values = ["10.0.0.0/33"] }"#,
        "why",
    );
    assert!(cidr.contains("10.0.0.0/33"), "{cidr}");
    let ports = bad_entry(
        r#"{ field = "destination.port", operator = "port_range", values = ["9000-8000"] }"#,
        "why",
    );
    assert!(ports.contains("9000-8000"), "{ports}");
    let too_big = bad_entry(
        r#"{ field = "destination.port", operator = "port_range", values = ["70000"] }"#,
        "why",
    );
    assert!(too_big.contains("70000"), "{too_big}");
    let comment = bad_entry(
        r#"{ field = "host.name", operator = "equals", values = ["a"] }"#,
        "  ",
    );
    assert!(comment.contains("comment"), "{comment}");
    let empty = bad_entry(
        r#"{ field = "host.name", operator = "equals", values = [] }"#,
        "why",
    );
    assert!(empty.contains("values"), "{empty}");
}

#[test]
fn unknown_keys_name_the_file_line_and_key() {
    let text = "description = \"t\"\n[[entry]]\nid = \"e\"\ncomment = \"why\"\ncolour = \"red\"\nconditions = []\n";
    let (dir, loaded) = load_text(text);
    let err = loaded.expect_err("unknown key refused");
    assert!(matches!(err, Error::Parse { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&dir.path().join("list.toml").display().to_string()),
        "{message}"
    );
    assert!(
        message.contains("colour") && message.contains("line 5"),
        "{message}"
    );
}

/// What a record of the port job takes from the job.
const PORT_JOB: RecordContext<'static> = RecordContext {
    job_id: "v3_linux_anomalous_network_port_activity",
    bucket_span_s: 900,
    function: "rare",
    by_field_name: "destination.port",
    partition_field_name: None,
};

/// The port job's by-value `4444` seen on `hosts`, with `influencers`, as the model stage sees
/// it, and the record the results stage builds from it.
fn bucket_value_and_record(
    hosts: &[&str],
    influencers: &[(&str, &[&str])],
) -> (SeriesKey, ValueSummary, AnomalyRecord) {
    let key = SeriesKey {
        partition: None,
        by: "4444".into(),
    };
    let value = ValueSummary {
        event_count: 1,
        hosts: hosts.iter().map(|&h| h.into()).collect(),
        influencers: influencers
            .iter()
            .map(|(f, v)| (f.to_string(), v.iter().map(|&s| s.into()).collect()))
            .collect(),
        influencers_capped: false,
        ..ValueSummary::default()
    };
    let score = Score {
        key: key.clone(),
        probability: 1e-6,
        raw_score: 90.0,
        record_score: 90.0,
        typical: 1e-6,
        first_seen_ms: 0,
        relative_rarity: 1.0,
        explanation: None,
    };
    let record = AnomalyRecord::new(&PORT_JOB, crate::time::EpochMs(0), &score, &value);
    (key, value, record)
}

#[test]
fn a_bucket_value_and_its_record_are_the_same_subject() {
    let (key, value, record) = bucket_value_and_record(
        &["web-1"],
        &[("host.name", &["web-1"]), ("process.name", &["nc"])],
    );
    let bucket = Subject::BucketValue {
        job: &PORT_JOB,
        key: &key,
        value: &value,
    };
    let record = Subject::Record(&record);
    for field in [
        "job_id",
        "by_field_value",
        "partition_field_value",
        "destination.port",
        "host.name",
        "process.name",
        "user.name",
    ] {
        assert_eq!(bucket.values_of(field), record.values_of(field), "{field}");
    }
    assert_eq!(bucket.values_of("job_id"), [PORT_JOB.job_id]);
    assert_eq!(bucket.values_of("destination.port"), ["4444"]);
    let only_port = list(
        r#"{ field = "job_id", operator = "equals", values = ["v3_linux_anomalous_network_port_activity"] }"#,
    );
    assert!(only_port.matches(&bucket).is_some());
    assert!(only_port.matches(&record).is_some());
}

#[test]
fn host_name_falls_back_to_the_hosts_of_a_bucket_value() {
    let (key, value, record) = bucket_value_and_record(&["web-1", "web-2"], &[]);
    let bucket = Subject::BucketValue {
        job: &PORT_JOB,
        key: &key,
        value: &value,
    };
    assert_eq!(bucket.values_of("host.name"), ["web-1", "web-2"]);
    assert!(
        Subject::Record(&record).values_of("host.name").is_empty(),
        "a record keeps no host list beyond its influencers"
    );
}
