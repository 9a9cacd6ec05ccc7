//! Mapping an audit event to an ECS network event, as go-libaudit (auditbeat, auditd_manager)
//! does for socket syscalls:
//!
//! | syscalls | event.action | event.type | address goes to | direction |
//! |---|---|---|---|---|
//! | connect | connected-to | connection, start | destination | egress |
//! | sendto, sendmsg, sendmmsg, send | sent-to | connection, info | destination | egress |
//! | accept, accept4 | accepted-connection-from | connection, start | source (the peer) | ingress |
//! | recvfrom, recvmsg, recvmmsg, recv | received-from | connection, info | source | ingress |
//! | bind | bound-socket | start | nowhere (local socket) | none |
//! | listen | listen-for-connections | start | nowhere | none |
//!
//! Other syscalls (execve, ...) and events without a SYSCALL record are not network events.
//! A socket address that is not IP (AF_UNIX, netlink, AF_UNSPEC, truncated) means the call
//! did not talk to an IP peer: skipped as not IP. `network.transport` stays empty: audit
//! records do not say whether the socket is TCP or UDP.

use super::event::AuditEvent;
use super::record::Record;
use super::saddr::{self, Endian, SockAddr};
use super::syscalls::{Arch, socketcall_name};
use crate::store::EcsEvent;

/// `exit=` of a non-blocking connect still in progress (EINPROGRESS).
const EXIT_EINPROGRESS: &str = "-115";

/// What an audit event becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapped {
    /// A network event to store.
    Network(Box<EcsEvent>),
    /// Not a socket syscall.
    NotNetwork,
    /// A socket syscall on a non-IP socket; the family name says which.
    NotIp(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Destination,
    Source,
    Local,
}

struct Call {
    action: &'static str,
    event_type: &'static [&'static str],
    side: Side,
}

fn classify(syscall: &str) -> Option<Call> {
    let (action, event_type, side): (_, &'static [&'static str], _) = match syscall {
        "connect" => ("connected-to", &["connection", "start"], Side::Destination),
        "sendto" | "sendmsg" | "sendmmsg" | "send" => {
            ("sent-to", &["connection", "info"], Side::Destination)
        }
        "accept" | "accept4" => (
            "accepted-connection-from",
            &["connection", "start"],
            Side::Source,
        ),
        "recvfrom" | "recvmsg" | "recvmmsg" | "recv" => {
            ("received-from", &["connection", "info"], Side::Source)
        }
        "bind" => ("bound-socket", &["start"], Side::Local),
        "listen" => ("listen-for-connections", &["start"], Side::Local),
        _ => return None,
    };
    Some(Call {
        action,
        event_type,
        side,
    })
}

/// Maps `event`; `host_name` is used when the records carry no `node=`.
pub fn map(event: &AuditEvent, host_name: Option<&str>) -> Mapped {
    let Some(syscall) = event.record("SYSCALL") else {
        return Mapped::NotNetwork;
    };
    let arch = syscall.raw("arch").and_then(Arch::from_audit);
    let Some(call) = syscall_name(syscall, arch).and_then(classify) else {
        return Mapped::NotNetwork;
    };
    let endian = match arch {
        Some(a) if a.big_endian() => Endian::Big,
        Some(_) => Endian::Little,
        None => Endian::Unknown,
    };
    let addr = event
        .record("SOCKADDR")
        .and_then(|r| r.raw("saddr"))
        .map(|hex| saddr::decode(hex, endian));
    let peer = match addr {
        Some(SockAddr::Ip { ip, port }) => Some((ip.to_string(), i64::from(port))),
        Some(other) => return Mapped::NotIp(other.family_name()),
        None => None,
    };
    let mut ecs = base(event, syscall, host_name);
    ecs.event_action = Some(call.action.to_string());
    ecs.event_type = call.event_type.iter().map(|t| t.to_string()).collect();
    match call.side {
        Side::Destination => {
            ecs.network_direction = Some("egress".into());
            (ecs.destination_ip, ecs.destination_port) = peer.unzip();
        }
        Side::Source => {
            ecs.network_direction = Some("ingress".into());
            (ecs.source_ip, ecs.source_port) = peer.unzip();
        }
        Side::Local => {}
    }
    Mapped::Network(Box::new(ecs))
}

/// The syscall's name: from the table for its arch, else the ENRICHED `SYSCALL=`; a
/// `socketcall` is resolved to the call its first argument names.
fn syscall_name(record: &Record, arch: Option<Arch>) -> Option<&'static str> {
    let number: u32 = record.raw("syscall")?.parse().ok()?;
    let name = match arch.and_then(|a| a.syscall_name(number)) {
        Some(name) => name,
        None => classify_enriched(record.enriched("SYSCALL")?)?,
    };
    if name != "socketcall" {
        return Some(name);
    }
    socketcall_name(u64::from_str_radix(record.raw("a0")?, 16).ok()?)
}

fn classify_enriched(name: &str) -> Option<&'static str> {
    const KNOWN: [&str; 14] = [
        "connect",
        "sendto",
        "sendmsg",
        "sendmmsg",
        "send",
        "accept",
        "accept4",
        "recvfrom",
        "recvmsg",
        "recvmmsg",
        "recv",
        "bind",
        "listen",
        "socketcall",
    ];
    KNOWN.into_iter().find(|k| *k == name)
}

/// Fields every network event gets: time, host, process, user, outcome.
fn base(event: &AuditEvent, syscall: &Record, host_name: Option<&str>) -> EcsEvent {
    EcsEvent {
        timestamp_ms: event.timestamp_ms,
        event_category: vec!["network".into()],
        event_dataset: Some("auditd_manager.auditd".into()),
        event_module: Some("auditd".into()),
        event_outcome: outcome(syscall),
        host_name: event.node.clone().or_else(|| host_name.map(str::to_string)),
        host_os_type: Some("linux".into()),
        process_pid: syscall.raw("pid").and_then(|p| p.parse().ok()),
        process_name: known(syscall.text("comm")),
        process_executable: known(syscall.text("exe")),
        process_args: args(event),
        process_title: title(event),
        process_working_directory: known(event.record("CWD").and_then(|r| r.text("cwd"))),
        process_parent_pid: syscall.raw("ppid").and_then(|p| p.parse().ok()),
        user_id: user_id(syscall),
        user_name: ["UID", "AUID"]
            .iter()
            .find_map(|k| known(syscall.enriched(k).map(str::to_string))),
        ..EcsEvent::default()
    }
}

/// `success=yes` is success; a non-blocking connect in progress is a started connection whose
/// result is not known yet; any other `success=no` is a failure.
fn outcome(syscall: &Record) -> Option<String> {
    let outcome = match (syscall.raw("success")?, syscall.raw("exit")) {
        ("yes", _) => "success",
        (_, Some(EXIT_EINPROGRESS)) => "unknown",
        _ => "failure",
    };
    Some(outcome.to_string())
}

/// `uid`, or the login `auid` when `uid` is missing or unset.
fn user_id(syscall: &Record) -> Option<String> {
    let set = |v: &&str| !matches!(*v, "4294967295" | "-1" | "unset");
    syscall
        .raw("uid")
        .filter(set)
        .or_else(|| syscall.raw("auid").filter(set))
        .map(str::to_string)
}

/// `process.args` from PROCTITLE, else from EXECVE `a0..`.
fn args(event: &AuditEvent) -> Vec<String> {
    if let Some(args) = event.record("PROCTITLE").and_then(|r| r.args("proctitle")) {
        return args;
    }
    let Some(execve) = event.record("EXECVE") else {
        return Vec::new();
    };
    (0..).map_while(|i| execve.text(&format!("a{i}"))).collect()
}

/// `process.title` as go-libaudit sets it: PROCTITLE's arguments joined by spaces. Unlike
/// `process.args` it has no EXECVE fallback, as go-libaudit's has none; the kernel cuts the
/// proctitle at 128 bytes, so a long command line is cut here too.
fn title(event: &AuditEvent) -> Option<String> {
    known(event.record("PROCTITLE")?.text("proctitle"))
}

/// Drops the placeholders audit writes for "no value".
fn known(value: Option<String>) -> Option<String> {
    value.filter(|v| !matches!(v.as_str(), "" | "?" | "(null)" | "(none)" | "unset"))
}
