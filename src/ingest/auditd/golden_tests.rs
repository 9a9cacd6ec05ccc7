//! Golden tests over the shared real-world audit logs (never copied into the repository), run
//! when `NETRARE_TESTDATA` names their folder; the project's own fixtures are tested in
//! `fixture_tests`.

use chrono::DateTime;
use serde_json::Value;

use super::event::{AuditEvent, Grouper};
use super::record::{Record, parse_line};
use super::saddr::{Endian, SockAddr, decode};
use super::syscalls::Arch;
use super::{AuditdOptions, parse};
use crate::ingest::IngestReport;
use crate::ingest::input::lines;
use std::path::Path;

use crate::ingest::testutil::{testdata, testdata_dir};
use crate::store::EcsEvent;

fn ingest_file(dir: &Path, name: &str) -> (Vec<EcsEvent>, IngestReport) {
    let mut report = IngestReport::default();
    let events = parse(
        &testdata(dir, name),
        name,
        &AuditdOptions::default(),
        &mut report,
    );
    (events, report)
}

fn group(dir: &Path, name: &str) -> Vec<AuditEvent> {
    let mut grouper = Grouper::default();
    let mut events = Vec::new();
    for (_, line) in lines(&testdata(dir, name)) {
        events.extend(grouper.push(parse_line(line).unwrap()));
    }
    events.extend(grouper.finish());
    events
}

/// Whether our value of `key` agrees with go-libaudit's, allowing for its interpretations.
fn agrees(record: &Record, key: &str, golden: &str) -> bool {
    let mine = record.text(key).unwrap_or_default();
    let arch = record.raw("arch").and_then(Arch::from_audit);
    match key {
        "arch" => arch.map(Arch::name) == Some(golden),
        "syscall" => arch
            .and_then(|a| a.syscall_name(mine.parse().ok()?))
            .is_none_or(|name| name == golden),
        "exit" => mine == golden || (mine == "-115" && golden == "EINPROGRESS"),
        _ => mine == golden || (golden == "unset" && matches!(mine.as_str(), "4294967295" | "-1")),
    }
}

fn saddr_as_golden(addr: &SockAddr) -> Vec<(&'static str, String)> {
    match addr {
        SockAddr::Ip { ip, port } => vec![
            ("family", if ip.is_ipv4() { "ipv4" } else { "ipv6" }.into()),
            ("addr", ip.to_string()),
            ("port", port.to_string()),
        ],
        SockAddr::Unix { path } => vec![("family", "unix".into()), ("path", path.clone())],
        SockAddr::Netlink => vec![("family", "netlink".into())],
        SockAddr::Unspec => vec![("family", "0".into())],
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn rhel7_records_match_go_libaudit_golden_parse() {
    let Some(dir) = testdata_dir("rhel7_records_match_go_libaudit_golden_parse") else {
        return;
    };
    let log = testdata(&dir, "auparse__testdata__audit-rhel7.log");
    let golden: Vec<Value> =
        serde_json::from_slice(&testdata(&dir, "auparse__testdata__audit-rhel7.log.golden"))
            .unwrap();
    let log_lines: Vec<_> = lines(&log).collect();
    assert_eq!(log_lines.len(), golden.len());
    let mut compared = 0;
    for ((number, line), expected) in log_lines.into_iter().zip(&golden) {
        let parsed = parse_line(line);
        if expected.is_null() {
            assert!(parsed.is_err(), "line {number} should be rejected");
            continue;
        }
        let record = parsed.unwrap_or_else(|e| panic!("line {number}: {e}"));
        assert_eq!(
            record.kind.to_lowercase(),
            expected["record_type"],
            "line {number}"
        );
        assert_eq!(
            record.serial,
            expected["sequence"].as_u64().unwrap(),
            "line {number}"
        );
        let time = DateTime::parse_from_rfc3339(expected["@timestamp"].as_str().unwrap()).unwrap();
        assert_eq!(
            record.timestamp_ms,
            time.timestamp_millis(),
            "line {number}"
        );
        for (key, value) in expected["data"].as_object().unwrap() {
            let value = value.as_str().unwrap();
            if record.raw(key).is_some() {
                assert!(
                    agrees(&record, key, value),
                    "line {number} {key}: ours {:?}, golden {value:?}",
                    record.text(key)
                );
                compared += 1;
            }
        }
        if let Some(saddr) = record.raw("saddr") {
            for (key, value) in saddr_as_golden(&decode(saddr, Endian::Little)) {
                assert_eq!(expected["data"][key], value, "line {number} {key}");
                compared += 1;
            }
        }
    }
    assert!(compared >= 360, "only {compared} values compared");
}

#[test]
fn normal_log_connect_and_accept() {
    let Some(dir) = testdata_dir("normal_log_connect_and_accept") else {
        return;
    };
    let (events, report) = ingest_file(&dir, "testdata__normal.log");
    assert_eq!(
        (
            report.malformed,
            report.skipped_non_network,
            report.skipped_not_ip
        ),
        (0, 2, 1)
    );
    assert_eq!(events.len(), 2);
    let connect = &events[0];
    assert_eq!(connect.timestamp_ms, 1_492_037_289_295);
    assert_eq!(connect.event_action.as_deref(), Some("connected-to"));
    assert_eq!(connect.event_type, ["connection", "start"]);
    assert_eq!(connect.event_category, ["network"]);
    assert_eq!(connect.destination_ip.as_deref(), Some("169.254.169.254"));
    assert_eq!(connect.destination_port, Some(80));
    assert_eq!(
        (connect.source_ip.as_deref(), connect.source_port),
        (None, None)
    );
    assert_eq!(connect.network_direction.as_deref(), Some("egress"));
    assert_eq!(connect.event_outcome.as_deref(), Some("unknown"));
    assert_eq!(
        connect.process_executable.as_deref(),
        Some("/usr/bin/python2.7;58d1ccfb (deleted)")
    );
    assert_eq!(connect.process_name.as_deref(), Some("google_accounts"));
    assert_eq!(
        (connect.process_pid, connect.user_id.as_deref()),
        (Some(1172), Some("0"))
    );
    assert_eq!(
        (
            connect.process_parent_pid,
            connect.process_title.as_deref(),
            connect.process_working_directory.as_deref()
        ),
        (Some(1), None, None)
    );
    assert_eq!(connect.event_module.as_deref(), Some("auditd"));
    assert_eq!(
        connect.event_dataset.as_deref(),
        Some("auditd_manager.auditd")
    );
    assert_eq!(connect.host_os_type.as_deref(), Some("linux"));
    let accept = &events[1];
    assert_eq!(
        accept.event_action.as_deref(),
        Some("accepted-connection-from")
    );
    assert_eq!(accept.process_name.as_deref(), Some("pickup"));
    assert_eq!(accept.network_direction.as_deref(), Some("ingress"));
    assert_eq!(accept.event_type, ["connection", "start"]);
    assert_eq!(
        (accept.destination_ip.as_deref(), accept.user_id.as_deref()),
        (None, Some("89"))
    );
    assert_eq!(accept.event_outcome.as_deref(), Some("success"));
    assert_eq!(accept.process_parent_pid, Some(1229));
}

#[test]
fn record_connect_ipv4_and_in_progress_ipv6() {
    let Some(dir) = testdata_dir("record_connect_ipv4_and_in_progress_ipv6") else {
        return;
    };
    let (events, report) = ingest_file(&dir, "record-connect.txt");
    assert_eq!(
        (
            report.malformed,
            report.skipped_non_network,
            report.skipped_not_ip
        ),
        (0, 0, 0)
    );
    let got: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.destination_ip.as_deref(),
                e.destination_port,
                e.event_outcome.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (Some("127.0.0.1"), Some(11211), Some("success")),
            (Some("::1"), Some(11211), Some("unknown"))
        ]
    );
    assert!(events.iter().all(|e| e.process_name.as_deref() == Some("php") && e.user_id.as_deref() == Some("48")));
}

#[test]
fn big_endian_ppc64_bind_is_local_only() {
    let Some(dir) = testdata_dir("big_endian_ppc64_bind_is_local_only") else {
        return;
    };
    let events = group(&dir, "record-bind-ipv4-bigendian.txt");
    assert_eq!(events.len(), 1);
    let syscall = events[0].record("SYSCALL").unwrap();
    let arch = Arch::from_audit(syscall.raw("arch").unwrap()).unwrap();
    assert_eq!((arch, arch.syscall_name(327)), (Arch::Ppc64, Some("bind")));
    let saddr = events[0].record("SOCKADDR").unwrap().raw("saddr").unwrap();
    assert_eq!(
        decode(saddr, Endian::Big),
        SockAddr::Ip {
            ip: "0.0.0.0".parse().unwrap(),
            port: 55555
        }
    );
    let (ecs, _) = ingest_file(&dir, "record-bind-ipv4-bigendian.txt");
    assert_eq!(ecs.len(), 1);
    assert_eq!(ecs[0].event_action.as_deref(), Some("bound-socket"));
    assert_eq!(ecs[0].event_type, ["start"]);
    assert_eq!(
        (
            ecs[0].destination_ip.as_deref(),
            ecs[0].destination_port,
            ecs[0].source_port
        ),
        (None, None, None)
    );
    assert_eq!(ecs[0].network_direction, None);
    assert_eq!(ecs[0].process_args, ["nc", "-l", "-p", "55555"]);
    assert_eq!(ecs[0].process_title.as_deref(), Some("nc -l -p 55555"));
    assert_eq!(ecs[0].process_parent_pid, Some(2649));
}

/// Ingests `records` with each SOCKADDR's address replaced by 1.2.3.4:80, so that an event on
/// another kind of socket maps to a network event.
fn ingest_with_ipv4_saddr(records: impl Iterator<Item = String>) -> Vec<EcsEvent> {
    let log: Vec<String> = records
        .map(|r| match r.split_once(" saddr=") {
            Some((head, _)) => format!("{head} saddr=02000050010203040000000000000000"),
            None => r,
        })
        .collect();
    let mut report = IngestReport::default();
    let ecs = parse(
        log.join("\n").as_bytes(),
        "ipv4",
        &AuditdOptions::default(),
        &mut report,
    );
    assert_eq!(report.malformed, 0, "{report}");
    ecs
}

/// The nscd event is the corpus's one with a CWD record (its connect looked up a socket path).
#[test]
fn a_cwd_record_gives_the_working_directory() {
    let Some(dir) = testdata_dir("a_cwd_record_gives_the_working_directory") else {
        return;
    };
    let nscd = testdata(&dir, "record-nscd.txt");
    let records = lines(&nscd).map(|(_, line)| String::from_utf8_lossy(line).into_owned());
    let ecs = ingest_with_ipv4_saddr(records);
    assert_eq!(ecs.len(), 1);
    assert_eq!(
        (
            ecs[0].process_working_directory.as_deref(),
            ecs[0].process_parent_pid
        ),
        (Some("/home/user"), Some(1_064_378))
    );
}

/// auditd_manager's own document for an event says what go-libaudit makes of its raw records:
/// its `process.title` and `process.parent.pid` must be ours. The event is a netlink `sendto`,
/// which we skip as not IP, so its SOCKADDR is swapped for an IPv4 one to map it.
#[test]
fn title_and_parent_pid_match_auditd_managers_document() {
    let Some(dir) = testdata_dir("title_and_parent_pid_match_auditd_managers_document") else {
        return;
    };
    let doc: Value = serde_json::from_slice(&testdata(
        &dir,
        "integrations-auditd_manager__sample_event.json",
    ))
    .unwrap();
    let records = doc["auditd"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string());
    let ecs = ingest_with_ipv4_saddr(records);
    assert_eq!(ecs.len(), 1);
    assert_eq!(
        ecs[0].process_title.as_deref(),
        doc["process"]["title"].as_str()
    );
    assert_eq!(
        ecs[0].process_parent_pid,
        doc["process"]["parent"]["pid"].as_i64()
    );
    assert_eq!(ecs[0].process_working_directory, None);
}

#[test]
fn enriched_nscd_event_parses_and_its_unix_socket_is_skipped() {
    let Some(dir) = testdata_dir("enriched_nscd_event_parses_and_its_unix_socket_is_skipped")
    else {
        return;
    };
    let events = group(&dir, "record-nscd.txt");
    assert_eq!(events.len(), 1);
    let syscall = events[0].record("SYSCALL").unwrap();
    assert_eq!(
        (
            syscall.enriched("SYSCALL"),
            syscall.enriched("UID"),
            syscall.raw("key")
        ),
        (Some("connect"), Some("user"), Some("(null)"))
    );
    let sockaddr = events[0].record("SOCKADDR").unwrap();
    assert_eq!(
        decode(sockaddr.raw("saddr").unwrap(), Endian::Little),
        SockAddr::Unix {
            path: "/var/run/nscd/socket".into()
        }
    );
    assert_eq!(
        sockaddr.enriched("SADDR"),
        Some("saddr_fam=local path=/var/run/nscd/socket")
    );
    let (ecs, report) = ingest_file(&dir, "record-nscd.txt");
    assert_eq!(
        (ecs.len(), report.skipped_not_ip, report.malformed),
        (0, 1, 0)
    );
}

#[test]
fn enriched_user_names_fill_user_name() {
    let Some(dir) = testdata_dir("enriched_user_names_fill_user_name") else {
        return;
    };
    let nscd = testdata(&dir, "record-nscd.txt");
    let syscall = lines(&nscd).next().unwrap().1;
    let mut log = syscall.to_vec();
    log.extend_from_slice(b"\ntype=SOCKADDR msg=audit(1705071450.879:29498378): saddr=02000035080808080000000000000000\n");
    let mut report = IngestReport::default();
    let events = parse(
        &log,
        "enriched",
        &AuditdOptions {
            host_name: Some("h1".into()),
        },
        &mut report,
    );
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].user_name.as_deref(), events[0].user_id.as_deref()),
        (Some("user"), Some("1000"))
    );
    assert_eq!(
        (
            events[0].destination_ip.as_deref(),
            events[0].destination_port
        ),
        (Some("8.8.8.8"), Some(53))
    );
    assert_eq!(events[0].event_outcome.as_deref(), Some("failure"));
    assert_eq!(events[0].host_name.as_deref(), Some("h1"));
}

#[test]
fn enriched_sockaddr_lines_parse() {
    let Some(dir) = testdata_dir("enriched_sockaddr_lines_parse") else {
        return;
    };
    let expected = [
        (
            "line-sockaddr-unix.txt",
            SockAddr::Unix {
                path: "/tmp/.{FD2DD8D4-F6AA-4D74-A6E1-AEFAB183DEEB}".into(),
            },
        ),
        (
            "line-sockaddr-unix-2.txt",
            SockAddr::Unix {
                path: "/tmp/{9e2cb087-9744-417b-845f-05ca6ce457c1}".into(),
            },
        ),
        ("line-sockaddr-unknown-1.txt", SockAddr::Unspec),
        ("line-sockaddr-unknown-2.txt", SockAddr::Unspec),
        ("line-sockaddr-unknown-3.txt", SockAddr::Unspec),
    ];
    for (file, addr) in expected {
        let record = parse_line(lines(&testdata(&dir, file)).next().unwrap().1).unwrap();
        assert_eq!(
            decode(record.raw("saddr").unwrap(), Endian::Little),
            addr,
            "{file}"
        );
        assert!(record.enriched("SADDR").is_some(), "{file}");
    }
    let log = testdata(
        &dir,
        "integrations-auditd__test-auditd-enriched.SOCKADDR-lines.log",
    );
    let addrs: Vec<SockAddr> = lines(&log)
        .map(|(_, l)| decode(parse_line(l).unwrap().raw("saddr").unwrap(), Endian::Little))
        .collect();
    assert_eq!(
        addrs[0],
        SockAddr::Ip {
            ip: "0.0.0.0".parse().unwrap(),
            port: 0
        }
    );
    assert!(matches!(addrs[1], SockAddr::Ip { ip, port: 56985 } if ip.is_ipv6()));
    assert_eq!(
        addrs[2],
        SockAddr::Unix {
            path: String::new()
        }
    );
}

/// Every data file in the shared directory is read by one of the two ingest paths, and only
/// the one record go-libaudit rejects too is malformed.
#[test]
fn every_shared_file_ingests() {
    let Some(dir) = testdata_dir("every_shared_file_ingests") else {
        return;
    };
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let expected_malformed = match name.as_str() {
            "auparse__testdata__audit-rhel7.log" => 1,
            n if n.ends_with(".log")
                || (n.ends_with(".txt")
                    && !n.starts_with("LICENSE")
                    && !n.starts_with("NOTICE")) =>
            {
                0
            }
            n if n.ends_with(".json") => {
                let mut report = IngestReport::default();
                let events = crate::ingest::ndjson::parse(&testdata(&dir, n), n, &mut report);
                assert_eq!((events.len(), report.malformed), (1, 0), "{n}");
                seen += 1;
                continue;
            }
            _ => continue,
        };
        let (_, report) = ingest_file(&dir, &name);
        assert_eq!(
            report.malformed, expected_malformed,
            "{name}: {:?}",
            report.malformed_examples
        );
        assert!(report.lines_read > 0, "{name}");
        seen += 1;
    }
    assert_eq!(seen, 12);
}

#[test]
fn ingesting_the_same_log_twice_writes_it_once() {
    let Some(dir) = testdata_dir("ingesting_the_same_log_twice_writes_it_once") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let inputs = [
        crate::ingest::Input::Path(dir.join("testdata__normal.log")),
        crate::ingest::Input::Path(dir.join("record-connect.txt")),
    ];
    let opts = AuditdOptions {
        host_name: Some("web1".into()),
    };
    let first = super::ingest(&inputs, out.path(), &opts).unwrap();
    assert_eq!((first.events_written, first.files_written.len()), (4, 2));
    let written = crate::ingest::testutil::read_store(out.path());
    assert_eq!(written.len(), 4);
    assert!(
        written
            .iter()
            .all(|e| e.host_name.as_deref() == Some("web1"))
    );
    let second = super::ingest(&inputs, out.path(), &opts).unwrap();
    assert_eq!(
        (second.events_written, second.already_ingested.len()),
        (0, 2)
    );
    assert_eq!(crate::ingest::testutil::read_store(out.path()), written);
    assert!(second.files_written.is_empty());
}
