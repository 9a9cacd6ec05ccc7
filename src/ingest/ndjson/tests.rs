//! NDJSON ingest: document shapes, field drift, malformed lines, the auditd_manager sample,
//! a write/read round trip and idempotency.

use super::{ingest, parse};
use crate::ingest::testutil::{read_store, testdata, testdata_dir};
use crate::ingest::{IngestReport, Input};
use crate::store::EcsEvent;

fn run(text: &str) -> (Vec<EcsEvent>, IngestReport) {
    let mut report = IngestReport::default();
    let events = parse(text.as_bytes(), "in.ndjson", &mut report);
    (events, report)
}

const DOC: &str = r#"{"@timestamp":"2024-05-01T10:00:00Z","event":{"category":["network"],"type":["start"]},"destination":{"port":443}}"#;

#[test]
fn plain_hit_bulk_and_search_response_shapes() {
    let text = [
        DOC.to_string(),
        format!(r#"{{"_index":"logs","_id":"1","_source":{DOC}}}"#),
        r#"{"index":{"_index":"logs","_id":"2"}}"#.to_string(),
        DOC.to_string(),
        r#"{"delete":{"_id":"3"}}"#.to_string(),
        r#"{"update":{"_id":"4"}}"#.to_string(),
        format!(r#"{{"doc":{DOC}}}"#),
        format!(r#"{{"hits":{{"total":2,"hits":[{{"_source":{DOC}}},{{"_source":{DOC}}}]}}}}"#),
        format!("[{DOC},{DOC}]"),
        String::new(),
    ]
    .join("\n");
    let (events, report) = run(&text);
    assert_eq!(
        (events.len(), report.malformed, report.lines_read),
        (8, 0, 9)
    );
    assert!(
        events
            .iter()
            .all(|e| e.destination_port == Some(443) && e.event_type == ["start"])
    );
}

#[test]
fn nested_dotted_and_mixed_keys_agree() {
    let nested = r#"{"@timestamp":1714557600000,"event":{"category":"network"},"process":{"name":"curl","pid":7,"title":"curl -s x","working_directory":"/tmp","parent":{"pid":6}},"destination":{"ip":"10.0.0.1","port":80}}"#;
    let dotted = r#"{"@timestamp":1714557600000,"event.category":"network","process.name":"curl","process.pid":7,"process.title":"curl -s x","process.working_directory":"/tmp","process.parent.pid":6,"destination.ip":"10.0.0.1","destination.port":80}"#;
    let mixed = r#"{"@timestamp":1714557600000,"event":{"category":"network"},"process.name":"curl","process":{"pid":7,"title":"curl -s x","parent.pid":"6"},"process.working_directory":"/tmp","destination":{"ip":"10.0.0.1","port":80}}"#;
    let (events, _) = run(&[nested, dotted, mixed].join("\n"));
    assert_eq!(events.len(), 3);
    assert_eq!(events[0], events[1]);
    assert_eq!(events[0], events[2]);
    assert_eq!(
        (events[0].process_name.as_deref(), events[0].process_pid),
        (Some("curl"), Some(7))
    );
    assert_eq!(
        (
            events[0].process_title.as_deref(),
            events[0].process_working_directory.as_deref(),
            events[0].process_parent_pid
        ),
        (Some("curl -s x"), Some("/tmp"), Some(6))
    );
}

#[test]
fn a_field_given_flat_and_nested_with_different_values_names_the_field() {
    let conflict = r#"{"@timestamp":1714557600000,"event":{"category":"network"},"destination.port":80,"destination":{"port":443}}"#;
    let agree = r#"{"@timestamp":1714557600000,"event":{"category":"network"},"destination.port":80,"destination":{"port":80}}"#;
    let (events, report) = run(&[conflict, agree].join("\n"));
    assert_eq!((events.len(), report.malformed), (1, 1));
    assert_eq!(events[0].destination_port, Some(80));
    let reason = &report.malformed_examples[0].reason;
    assert!(
        reason.contains("destination.port") && reason.contains("flat and nested"),
        "{reason}"
    );
}

#[test]
fn events_before_1970_or_far_ahead_are_skipped_and_counted() {
    let doc = |t: &str| {
        format!(
            r#"{{"@timestamp":{t},"event":{{"category":"network"}},"destination":{{"port":22}}}}"#
        )
    };
    let text = [
        doc("-100000000000000"),
        doc("\"1969-12-31T23:59:59Z\""),
        doc("\"2100-01-01T00:00:00Z\""),
        doc("\"2024-05-01T10:00:00Z\""),
    ]
    .join("\n");
    let (events, report) = run(&text);
    assert_eq!(events.len(), 1);
    assert_eq!((report.skipped_implausible_time, report.malformed), (3, 0));
    assert!(
        report
            .to_string()
            .contains("skipped 3 events dated before 1970")
    );
}

#[test]
fn drift_is_normalised() {
    let lines = [
        r#"{"@timestamp":"1714557600000","event":{"category":"network","type":"start"},"source":{"port":"5353"},"process":{"pid":"42"},"network":{"direction":"incoming","transport":"TCP"},"user":{"id":0}}"#,
        r#"{"@timestamp":1714557600000.0,"event":{"category":["Network"]},"network":{"direction":"outbound"}}"#,
        r#"{"@timestamp":"2024-05-01T12:00:00+02:00","event":{"category":["network"]},"network":{"direction":"inbound"}}"#,
        r#"{"@timestamp":"2024-05-01T10:00:00.000","event":{"category":["network"]},"network":{"direction":"outgoing"}}"#,
    ];
    let (events, report) = run(&lines.join("\n"));
    assert_eq!(report.malformed, 0, "{:?}", report.malformed_examples);
    assert!(
        events.iter().all(|e| e.timestamp_ms == 1_714_557_600_000),
        "{events:?}"
    );
    let first = &events[0];
    assert_eq!(
        (
            first.source_port,
            first.process_pid,
            first.user_id.as_deref()
        ),
        (Some(5353), Some(42), Some("0"))
    );
    assert_eq!(
        (
            first.event_type.as_slice(),
            first.network_transport.as_deref()
        ),
        (&["start".to_string()][..], Some("tcp"))
    );
    let directions: Vec<_> = events
        .iter()
        .map(|e| e.network_direction.as_deref().unwrap())
        .collect();
    assert_eq!(directions, ["ingress", "egress", "ingress", "egress"]);
    assert_eq!(events[1].event_category, ["network"]);
}

#[test]
fn broken_first_line_does_not_hide_the_rest() {
    let (events, report) = run(&format!("{{\"@timestamp\":\n{DOC}\n{DOC}"));
    assert_eq!(
        (
            events.len(),
            report.malformed,
            report.malformed_examples[0].line
        ),
        (2, 1, 1)
    );
}

#[test]
fn pretty_printed_documents_are_read_as_a_stream() {
    let (events, report) = run(&format!("{DOC}\n").replace(",", ",\n  ").repeat(2));
    assert_eq!((events.len(), report.malformed), (2, 0));
    let (events, report) =
        run("{\n\"@timestamp\": 1,\n\"event\": {\"category\": \"network\"}\n}\n{\n oops");
    assert_eq!(
        (
            events.len(),
            report.malformed,
            report.malformed_examples[0].line
        ),
        (1, 1, 6)
    );
}

#[test]
fn non_network_documents_are_counted_not_stored() {
    let text = r#"{"@timestamp":1,"event":{"category":["process"]}}
{"@timestamp":1,"message":"no category"}"#;
    let (events, report) = run(text);
    assert_eq!(
        (events.len(), report.skipped_non_network, report.malformed),
        (0, 2, 0)
    );
}

#[test]
fn malformed_lines_are_reported_with_line_numbers() {
    let text = format!(
        "{DOC}\nnot json\n{}\n{}\n42\n{DOC}\n",
        r#"{"@timestamp":"yesterday","event":{"category":"network"}}"#,
        r#"{"@timestamp":1,"event":{"category":"network"},"destination":{"port":"http"}}"#,
    );
    let (events, report) = run(&text);
    assert_eq!((events.len(), report.malformed), (2, 4));
    let lines: Vec<u64> = report.malformed_examples.iter().map(|m| m.line).collect();
    assert_eq!(lines, [2, 3, 4, 5]);
    assert!(report.malformed_examples[1].reason.contains("@timestamp"));
    assert!(
        report.malformed_examples[2]
            .reason
            .contains("destination.port")
    );
    assert_eq!(report.malformed_examples[0].input, "in.ndjson");
}

#[test]
fn auditd_manager_sample_event_maps_to_ecs() {
    let Some(dir) = testdata_dir("auditd_manager_sample_event_maps_to_ecs") else {
        return;
    };
    let pretty = testdata(&dir, "integrations-auditd_manager__sample_event.json");
    let value: serde_json::Value = serde_json::from_slice(&pretty).unwrap();
    for text in [String::from_utf8(pretty).unwrap(), value.to_string()] {
        let (events, report) = run(&text);
        assert_eq!((events.len(), report.malformed), (1, 0));
        let e = &events[0];
        assert_eq!(e.timestamp_ms, 1_652_361_013_230);
        assert_eq!(e.event_category, ["process", "configuration", "network"]);
        assert_eq!(e.event_type, ["change", "connection", "info"]);
        assert_eq!(
            e.event_action.as_deref(),
            Some("changed-audit-configuration")
        );
        assert_eq!(
            (e.event_module.as_deref(), e.event_dataset.as_deref()),
            (Some("auditd"), Some("auditd_manager.auditd"))
        );
        assert_eq!(
            (e.event_outcome.as_deref(), e.host_name.as_deref()),
            (Some("success"), Some("custom-agent"))
        );
        assert_eq!(e.host_os_type.as_deref(), Some("linux"));
        assert_eq!(
            (
                e.process_pid,
                e.process_name.as_deref(),
                e.process_parent_pid
            ),
            (Some(22501), Some("auditbeat"), Some(9509))
        );
        assert!(
            e.process_title
                .as_deref()
                .unwrap()
                .ends_with("/auditbeat -c auditbeat.elastic-agent.yml")
        );
        assert_eq!(e.process_working_directory, None);
        assert!(
            e.process_executable
                .as_deref()
                .unwrap()
                .ends_with("/auditbeat")
        );
        assert_eq!(
            (e.user_id.as_deref(), e.user_name.as_deref()),
            (Some("0"), Some("root"))
        );
        assert_eq!(e.network_direction.as_deref(), Some("egress"));
        assert_eq!(
            (
                e.destination_ip.as_deref(),
                e.destination_port,
                e.network_transport.as_deref()
            ),
            (None, None, None)
        );
    }
}

fn sample_events() -> Vec<EcsEvent> {
    let base = EcsEvent {
        timestamp_ms: 1_714_557_600_123,
        event_category: vec!["network".into()],
        event_type: vec!["connection".into(), "start".into()],
        event_action: Some("connection_attempted".into()),
        event_dataset: Some("endpoint.events.network".into()),
        event_module: Some("endpoint".into()),
        event_outcome: Some("success".into()),
        host_name: Some("web-1".into()),
        host_id: Some("h-1".into()),
        host_os_type: Some("linux".into()),
        host_os_family: Some("debian".into()),
        process_pid: Some(4242),
        process_name: Some("curl".into()),
        process_executable: Some("/usr/bin/curl".into()),
        process_args: vec!["curl".into(), "https://example.com".into()],
        process_title: Some("curl https://example.com".into()),
        process_working_directory: Some("/home/alice".into()),
        process_parent_pid: Some(4100),
        user_id: Some("1000".into()),
        user_name: Some("alice".into()),
        source_ip: Some("10.0.0.5".into()),
        source_port: Some(51234),
        destination_ip: Some("93.184.216.34".into()),
        destination_port: Some(443),
        network_direction: Some("egress".into()),
        network_transport: Some("tcp".into()),
    };
    let accepted = EcsEvent {
        timestamp_ms: base.timestamp_ms + 86_400_000,
        event_action: Some("connection_accepted".into()),
        event_type: vec!["start".into()],
        process_pid: Some(17),
        process_args: vec![],
        process_title: None,
        process_working_directory: None,
        destination_port: Some(22),
        network_direction: Some("ingress".into()),
        user_name: None,
        ..base.clone()
    };
    vec![base, accepted]
}

/// Formats an event as a nested ECS document, with ports and pids as strings (auditbeat style).
fn to_ndjson(e: &EcsEvent) -> String {
    serde_json::json!({
        "@timestamp": chrono::DateTime::from_timestamp_millis(e.timestamp_ms).unwrap().to_rfc3339(),
        "event": {"category": e.event_category, "type": e.event_type, "action": e.event_action, "dataset": e.event_dataset,
                  "module": e.event_module, "outcome": e.event_outcome},
        "host": {"name": e.host_name, "id": e.host_id, "os": {"type": e.host_os_type, "family": e.host_os_family}},
        "process": {"pid": e.process_pid.map(|p| p.to_string()), "name": e.process_name, "executable": e.process_executable, "args": e.process_args,
                    "title": e.process_title, "working_directory": e.process_working_directory, "parent": {"pid": e.process_parent_pid.map(|p| p.to_string())}},
        "user": {"id": e.user_id, "name": e.user_name},
        "source.ip": e.source_ip, "source.port": e.source_port.map(|p| p.to_string()),
        "destination": {"ip": e.destination_ip, "port": e.destination_port},
        "network": {"direction": e.network_direction, "transport": e.network_transport},
    })
    .to_string()
}

#[test]
fn events_round_trip_through_ndjson_and_parquet() {
    let events = sample_events();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.ndjson");
    std::fs::write(
        &path,
        events.iter().map(to_ndjson).collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    let out = dir.path().join("store");
    let report = ingest(&[Input::Path(path)], &out).unwrap();
    assert_eq!(
        (
            report.events_written,
            report.files_written.len(),
            report.malformed
        ),
        (2, 2, 0)
    );
    assert_eq!(read_store(&out), events);
}

#[test]
fn ingesting_twice_keeps_one_copy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.ndjson");
    std::fs::write(
        &path,
        sample_events()
            .iter()
            .map(to_ndjson)
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    let out = dir.path().join("store");
    let inputs = [Input::Path(path.clone())];
    ingest(&inputs, &out).unwrap();
    let second = ingest(&inputs, &out).unwrap();
    assert_eq!(
        (second.events_written, second.already_ingested.clone()),
        (0, vec![path.display().to_string()])
    );
    assert_eq!(read_store(&out).len(), 2);
    assert!(second.to_string().contains("already ingested"));
}

#[test]
fn a_generated_fleet_round_trips_through_ndjson_ingest() {
    let opts = crate::fixtures::FleetOptions {
        hosts: 6,
        days: 1,
        ..crate::fixtures::FleetOptions::default()
    };
    let mut events = crate::fixtures::generate(&opts).events;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.ndjson");
    std::fs::write(
        &path,
        events.iter().map(to_ndjson).collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    let out = dir.path().join("store");
    let report = ingest(&[Input::Path(path)], &out).unwrap();
    assert_eq!(
        (report.events_written, report.malformed),
        (events.len() as u64, 0)
    );
    let mut read = read_store(&out);
    let key = |e: &EcsEvent| format!("{e:?}");
    events.sort_by_key(key);
    read.sort_by_key(key);
    assert_eq!(read, events);
}

/// Reads `text` as `ingest` reads a file, through small buffers, holding lines of at most `limit`
/// bytes whole.
fn stream_with_limit(
    text: &str,
    limit: usize,
) -> Result<(Vec<EcsEvent>, IngestReport), crate::ingest::Error> {
    let mut report = IngestReport::default();
    let mut events = Vec::new();
    let mut src = std::io::BufReader::with_capacity(16, text.as_bytes());
    super::read(&mut src, "in.ndjson", limit, &mut report, &mut |event| {
        events.push(event);
        Ok(())
    })?;
    Ok((events, report))
}

fn search_response(hits: usize) -> String {
    let hit = format!(r#"{{"_index":"logs","_source":{DOC}}}"#);
    format!(
        r#"{{"took":5,"_shards":{{"total":1}},"hits":{{"total":{{"value":{hits}}},"max_score":1.0,"hits":[{}]}},"aggregations":{{"a":[1,2]}}}}"#,
        vec![hit; hits].join(",")
    )
}

/// Counts the bytes read through it.
struct CountingReader<'c, R> {
    inner: R,
    read: &'c std::cell::Cell<usize>,
}

impl<R: std::io::Read> std::io::Read for CountingReader<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        self.read.set(self.read.get() + n);
        Ok(n)
    }
}

#[test]
fn a_search_response_is_read_hit_by_hit() {
    use serde::de::DeserializeSeed;
    let hits = 5_000;
    let response = search_response(hits);
    let read = std::cell::Cell::new(0);
    let reader = std::io::BufReader::with_capacity(
        1024,
        CountingReader {
            inner: response.as_bytes(),
            read: &read,
        },
    );
    let mut report = IngestReport::default();
    let mut read_at_each_hit = Vec::new();
    let mut emit = |_event| {
        read_at_each_hit.push(read.get());
        Ok(())
    };
    let mut sink = super::Sink {
        name: "in.json",
        report: &mut report,
        emit: &mut emit,
        failed: None,
    };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let walked = super::walk::Walk::new(&mut sink, 1, false)
        .deserialize(&mut de)
        .unwrap();
    assert!(matches!(walked, super::walk::Walked::Streamed));
    assert_eq!(read_at_each_hit.len(), hits);
    // Each hit was handed over as soon as it was read: when it came, no more of the response had
    // been read than the hits before it and one buffer beyond them.
    let hit_bytes = response.len() / hits;
    for (i, &read) in read_at_each_hit.iter().enumerate() {
        assert!(
            read <= (i + 2) * hit_bytes + 2 * 1024,
            "hit {i} after {read} bytes"
        );
    }
    assert_eq!(report.malformed, 0);
}

#[test]
fn an_object_that_is_not_a_search_response_is_kept_whole() {
    use serde::de::DeserializeSeed;
    let doc =
        r#"{"_source":{"a":1},"hits":{"total":3,"hits":{"not":"a list"}},"z":[1,{"b":null}]}"#;
    let mut report = IngestReport::default();
    let mut emit = |_event| Ok(());
    let mut sink = super::Sink {
        name: "in.json",
        report: &mut report,
        emit: &mut emit,
        failed: None,
    };
    let mut de = serde_json::Deserializer::from_str(doc);
    match super::walk::Walk::new(&mut sink, 1, true).deserialize(&mut de) {
        Ok(super::walk::Walked::Kept(value)) => {
            assert_eq!(
                value,
                serde_json::from_str::<serde_json::Value>(doc).unwrap()
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_shape_reads_the_same_through_the_streaming_path() {
    let text = [
        DOC.to_string(),
        format!(r#"{{"_index":"logs","_id":"1","_source":{DOC}}}"#),
        r#"{"index":{"_index":"logs","_id":"2"}}"#.to_string(),
        DOC.to_string(),
        r#"{"delete":{"_id":"3"}}"#.to_string(),
        r#"{"update":{"_id":"4"}}"#.to_string(),
        format!(r#"{{"doc":{DOC}}}"#),
        search_response(3),
        format!("[{DOC},{DOC}]"),
        "not json".to_string(),
        String::new(),
    ]
    .join("\n");
    let (whole, whole_report) = run(&text);
    // Documents fit the smaller limits; the search response and the array do not.
    for limit in [usize::MAX, 2 * DOC.len() + 10, DOC.len() + 40] {
        let (events, report) = stream_with_limit(&text, limit).unwrap();
        assert_eq!(events, whole, "limit {limit}");
        assert_eq!(
            (report.malformed, &report.malformed_examples),
            (whole_report.malformed, &whole_report.malformed_examples),
            "limit {limit}"
        );
    }
    assert_eq!(whole.len(), 9);
}

#[test]
fn a_long_line_that_is_a_search_response_or_an_array_is_streamed() {
    let text = format!(
        "{DOC}\n{}\n[{DOC},{DOC},{DOC}]\n{DOC}\n",
        search_response(100)
    );
    let (events, report) = stream_with_limit(&text, DOC.len() + 10).unwrap();
    assert_eq!((events.len(), report.malformed), (105, 0));
}

#[test]
fn a_long_line_broken_midway_is_one_malformed_line_and_the_rest_is_read() {
    let hit = format!(r#"{{"_index":"logs","_source":{DOC}}}"#);
    let broken = format!(r#"{{"hits":{{"hits":[{hit},{hit},{hit},{{"_index"::1}},{hit}]}}}}"#);
    let text = format!("{DOC}\n{broken}\n{DOC}\n");
    let (events, report) = stream_with_limit(&text, DOC.len() + 40).unwrap();
    // Three hits came before the break; the line is counted once, by its number.
    assert_eq!((events.len(), report.malformed), (1 + 3 + 1, 1));
    assert_eq!(report.malformed_examples[0].line, 2);
    assert!(
        report.malformed_examples[0]
            .reason
            .starts_with("invalid JSON")
    );
}

#[test]
fn a_long_line_that_is_a_document_is_an_error_naming_input_and_line() {
    let big = format!(
        r#"{{"_source":{{"@timestamp":1,"event":{{"category":"network"}},"message":"{}"}}}}"#,
        "x".repeat(500)
    );
    let text = format!("{DOC}\n{DOC}\n{big}\n{DOC}\n");
    let limit = DOC.len() + 40;
    let err = stream_with_limit(&text, limit).unwrap_err();
    assert!(
        matches!(&err, crate::ingest::Error::LineTooLong { input, line: 3, limit: l } if input == "in.ndjson" && *l == limit),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("in.ndjson:3: line longer than {limit} bytes")),
        "{err}"
    );
    let err = stream_with_limit(&format!("\"{}\"\n", "y".repeat(200)), 100).unwrap_err();
    assert!(
        matches!(err, crate::ingest::Error::LineTooLong { line: 1, .. }),
        "{err:?}"
    );
}

#[test]
fn a_pretty_printed_response_longer_than_the_limit_is_still_a_stream() {
    let response: serde_json::Value = serde_json::from_str(&search_response(50)).unwrap();
    let pretty = serde_json::to_string_pretty(&response).unwrap();
    let text = format!("{pretty}\n{pretty}\n");
    let (whole, _) = run(&text);
    let (events, report) = stream_with_limit(&text, 500).unwrap();
    assert_eq!((events.len(), report.malformed), (100, 0));
    assert_eq!(events, whole);
    let broken = format!("{pretty}\n{{\n oops");
    let (_, whole_report) = run(&broken);
    let (events, report) = stream_with_limit(&broken, 500).unwrap();
    assert_eq!(events.len(), 50);
    assert_eq!(report.malformed_examples, whole_report.malformed_examples);
}

#[test]
fn a_failing_store_stops_the_read_with_its_error() {
    for text in [
        format!("{DOC}\n{DOC}\n"),
        search_response(5),
        format!("{}\n", search_response(5).replace(',', ",\n")),
    ] {
        let mut calls = 0;
        let mut report = IngestReport::default();
        let limit = DOC.len() + 40;
        let err = super::read(&mut text.as_bytes(), "in", limit, &mut report, &mut |_| {
            calls += 1;
            Err(crate::ingest::Error::Read {
                input: "store".into(),
                source: std::io::Error::other("disk full"),
            })
        })
        .unwrap_err();
        assert_eq!(calls, 1, "{text}");
        assert!(err.to_string().contains("store"), "{err}");
    }
}

#[test]
fn a_file_with_one_huge_search_response_line_is_ingested_hit_by_hit() {
    let padded = format!(
        r#"{{"_source":{{"@timestamp":"2024-05-01T10:00:00Z","event":{{"category":["network"]}},"destination":{{"port":443}},"message":"{}"}}}}"#,
        "m".repeat(1000)
    );
    let hits = super::MAX_LINE_BYTES / padded.len() + 10;
    let response = format!(
        r#"{{"hits":{{"hits":[{}]}}}}"#,
        vec![padded; hits].join(",")
    );
    assert!(response.len() > super::MAX_LINE_BYTES);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("response.json");
    std::fs::write(&path, format!("{response}\n{DOC}\n")).unwrap();
    let out = dir.path().join("store");
    let report = ingest(&[Input::Path(path)], &out).unwrap();
    assert_eq!(
        (report.events_written, report.lines_read, report.malformed),
        (hits as u64 + 1, 2, 0)
    );
    assert_eq!(read_store(&out).len(), hits + 1);
}

#[test]
fn a_file_with_a_huge_document_line_fails_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.ndjson");
    let huge = format!(
        r#"{{"@timestamp":1,"event":{{"category":"network"}},"message":"{}"}}"#,
        "x".repeat(super::MAX_LINE_BYTES)
    );
    std::fs::write(&path, format!("{DOC}\n{huge}\n")).unwrap();
    let out = dir.path().join("store");
    let err = ingest(&[Input::Path(path.clone())], &out).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("{}:2: line longer than", path.display())),
        "{err}"
    );
    let left: Vec<_> = walkdir::WalkDir::new(&out)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
