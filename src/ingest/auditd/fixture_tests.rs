//! Ingest of the project's own audit log, `fixtures/auditd/network.log`: each case the real-world
//! corpus covers, written for these tests (see `fixtures/README.md`).

use super::event::Grouper;
use super::record::parse_line;
use super::saddr::{Endian, SockAddr, decode};
use super::syscalls::Arch;
use super::{AuditdOptions, parse};
use crate::ingest::IngestReport;
use crate::ingest::input::lines;
use crate::ingest::testutil::{fixture, fixture_path, read_store};
use crate::store::EcsEvent;

/// The fixture's network events, in input order, and the report.
fn ingest_fixture() -> (Vec<EcsEvent>, IngestReport) {
    let mut report = IngestReport::default();
    let events = parse(
        &fixture("network.log"),
        "network.log",
        &AuditdOptions {
            host_name: Some("web-01".into()),
        },
        &mut report,
    );
    (events, report)
}

fn event<'a>(events: &'a [EcsEvent], process: &str) -> &'a EcsEvent {
    events
        .iter()
        .find(|e| e.process_name.as_deref() == Some(process))
        .unwrap_or_else(|| panic!("no event of {process}"))
}

#[test]
fn the_fixture_counts_its_network_events_and_skips() {
    let (events, report) = ingest_fixture();
    assert_eq!(
        (
            report.lines_read,
            report.malformed,
            report.skipped_non_network,
            report.skipped_not_ip,
            events.len()
        ),
        (27, 0, 1, 2, 5),
        "{report}"
    );
}

#[test]
fn connect_with_hex_exe_proctitle_and_cwd() {
    let (events, _) = ingest_fixture();
    let curl = event(&events, "curl");
    assert_eq!(curl.timestamp_ms, 1_793_613_600_100);
    assert_eq!(curl.event_action.as_deref(), Some("connected-to"));
    assert_eq!(curl.event_type, ["connection", "start"]);
    assert_eq!(
        (curl.destination_ip.as_deref(), curl.destination_port),
        (Some("10.0.0.5"), Some(80))
    );
    assert_eq!(curl.network_direction.as_deref(), Some("egress"));
    assert_eq!(curl.process_executable.as_deref(), Some("/usr/bin/curl"));
    assert_eq!(curl.process_args, ["curl", "http://10.0.0.5/"]);
    assert_eq!(curl.process_title.as_deref(), Some("curl http://10.0.0.5/"));
    assert_eq!(
        curl.process_working_directory.as_deref(),
        Some("/home/alice/my project")
    );
    assert_eq!(curl.process_parent_pid, Some(812));
    assert_eq!(curl.event_outcome.as_deref(), Some("success"));
    assert_eq!(curl.host_name.as_deref(), Some("web-01"));
}

#[test]
fn accept_on_a_node_prefixed_interleaved_event() {
    let (events, _) = ingest_fixture();
    let sshd = event(&events, "sshd");
    assert_eq!(
        sshd.event_action.as_deref(),
        Some("accepted-connection-from")
    );
    assert_eq!(sshd.network_direction.as_deref(), Some("ingress"));
    assert_eq!(
        (sshd.source_ip.as_deref(), sshd.source_port),
        (Some("192.168.1.20"), Some(51514))
    );
    assert_eq!(sshd.host_name.as_deref(), Some("web-02"));
}

#[test]
fn ipv6_connect_in_progress_has_an_unknown_outcome() {
    let (events, _) = ingest_fixture();
    let memcli = event(&events, "memcli");
    assert_eq!(
        (memcli.destination_ip.as_deref(), memcli.destination_port),
        (Some("::1"), Some(11211))
    );
    assert_eq!(memcli.event_outcome.as_deref(), Some("unknown"));
}

#[test]
fn enriched_records_give_user_names() {
    let (events, _) = ingest_fixture();
    let dig = event(&events, "dig");
    assert_eq!(
        (dig.user_name.as_deref(), dig.user_id.as_deref()),
        (Some("alice"), Some("1001"))
    );
    assert_eq!(
        (dig.destination_ip.as_deref(), dig.destination_port),
        (Some("8.8.8.8"), Some(53))
    );
    let log = fixture("network.log");
    let sockaddr = lines(&log)
        .filter_map(|(_, line)| parse_line(line).ok())
        .find(|r| r.kind == "SOCKADDR" && r.enriched("SADDR").is_some())
        .expect("an enriched SOCKADDR");
    assert_eq!(
        sockaddr.enriched("SADDR"),
        Some("saddr_fam=inet laddr=8.8.8.8 lport=53")
    );
}

#[test]
fn big_endian_ppc64_bind_is_local_only() {
    let (events, _) = ingest_fixture();
    let nc = event(&events, "nc");
    assert_eq!(nc.event_action.as_deref(), Some("bound-socket"));
    assert_eq!(
        (nc.destination_ip.as_deref(), nc.destination_port),
        (None, None)
    );
    assert_eq!(nc.process_args, ["nc", "-l", "55555"]);
    assert_eq!(nc.process_title.as_deref(), Some("nc -l 55555"));
    assert_eq!(nc.process_parent_pid, Some(600));
    let mut grouper = Grouper::default();
    let log = fixture("network.log");
    let mut grouped = Vec::new();
    for (_, line) in lines(&log) {
        grouped.extend(grouper.push(parse_line(line).expect("record")));
    }
    grouped.extend(grouper.finish());
    let bind = grouped.iter().find(|e| e.serial == 1006).expect("bind");
    let arch = Arch::from_audit(bind.record("SYSCALL").unwrap().raw("arch").unwrap()).unwrap();
    assert_eq!((arch, arch.syscall_name(327)), (Arch::Ppc64, Some("bind")));
    assert_eq!(
        decode(
            bind.record("SOCKADDR").unwrap().raw("saddr").unwrap(),
            Endian::Big
        ),
        SockAddr::Ip {
            ip: "0.0.0.0".parse().unwrap(),
            port: 55555
        }
    );
}

#[test]
fn family_0_and_unix_sockets_are_not_ip() {
    let (events, _) = ingest_fixture();
    assert!(
        events
            .iter()
            .all(|e| !matches!(e.process_name.as_deref(), Some("resolved" | "logger")))
    );
    assert_eq!(
        decode("00000000000000000000000000000000", Endian::Little),
        SockAddr::Unspec
    );
}

#[test]
fn ingesting_the_fixture_twice_writes_it_once() {
    let out = tempfile::tempdir().unwrap();
    let inputs = [crate::ingest::Input::Path(fixture_path("network.log"))];
    let opts = AuditdOptions::default();
    let first = super::ingest(&inputs, out.path(), &opts).unwrap();
    assert_eq!(first.events_written, 5);
    let written = read_store(out.path());
    assert_eq!(written.len(), 5);
    let second = super::ingest(&inputs, out.path(), &opts).unwrap();
    assert_eq!(
        (second.events_written, second.already_ingested.len()),
        (0, 1)
    );
    assert_eq!(read_store(out.path()), written);
}
