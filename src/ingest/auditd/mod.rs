//! Raw Linux audit logs (`/var/log/audit/audit.log*`, plain or ENRICHED format) into ECS
//! network events.
//!
//! Input: audit records, one per line ([`record`]), grouped into events ([`event`]), mapped
//! to ECS ([`ecs`]) with socket addresses decoded ([`saddr`]) per architecture ([`syscalls`]).
//! Output: the events, written per input by the parent module's writer.

pub mod ecs;
pub mod event;
mod hex;
pub mod record;
pub mod saddr;
pub mod syscalls;

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod golden_tests;

use std::path::Path;

use super::input::lines;
use super::write::{commit, file_stem, plausible_event_time, timestamp_in_range};
use super::{Error, IngestReport, Input};
use crate::store::EcsEvent;
use ecs::Mapped;
use event::Grouper;

/// Options for [`ingest`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditdOptions {
    /// `host.name` for events whose records carry no `node=` prefix.
    pub host_name: Option<String>,
}

/// Ingests each input into the store at `out`, one file per input and day, named
/// `auditd-<content hash>`. Malformed lines are counted and skipped; only I/O and store
/// errors stop the ingest.
pub fn ingest(inputs: &[Input], out: &Path, opts: &AuditdOptions) -> Result<IngestReport, Error> {
    let mut report = IngestReport::default();
    for input in inputs {
        let bytes = input.load()?;
        let name = input.name();
        let events = parse(&bytes, &name, opts, &mut report);
        commit(
            out,
            &file_stem("auditd", &bytes),
            &name,
            &events,
            &mut report,
        )?;
    }
    Ok(report)
}

/// Parses a whole audit log into network events, counting lines, malformed lines and skips.
pub fn parse(
    bytes: &[u8],
    name: &str,
    opts: &AuditdOptions,
    report: &mut IngestReport,
) -> Vec<EcsEvent> {
    let mut grouper = Grouper::default();
    let mut events = Vec::new();
    let host = opts.host_name.as_deref();
    for (number, line) in lines(bytes) {
        report.lines_read += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match record::parse_line(line) {
            Ok(rec) if !timestamp_in_range(rec.timestamp_ms) => {
                report.malformed(name, number, "timestamp out of range")
            }
            Ok(rec) => grouper
                .push(rec)
                .iter()
                .for_each(|e| keep(ecs::map(e, host), &mut events, report)),
            Err(reason) => report.malformed(name, number, reason),
        }
    }
    report.dropped_records += grouper.dropped;
    grouper
        .finish()
        .iter()
        .for_each(|e| keep(ecs::map(e, host), &mut events, report));
    events
}

fn keep(mapped: Mapped, events: &mut Vec<EcsEvent>, report: &mut IngestReport) {
    match mapped {
        Mapped::Network(event) if !plausible_event_time(event.timestamp_ms) => {
            report.skipped_implausible_time += 1
        }
        Mapped::Network(event) => events.push(*event),
        Mapped::NotNetwork => report.skipped_non_network += 1,
        Mapped::NotIp(_) => report.skipped_not_ip += 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_identical_lines_keep_one_capped_event_and_say_so() {
        let line = "type=SOCKADDR msg=audit(1700000000.000:7): saddr=0200005000000000\n";
        let mut report = IngestReport::default();
        parse(
            line.repeat(20_000).as_bytes(),
            "audit.log",
            &AuditdOptions::default(),
            &mut report,
        );
        assert_eq!(report.lines_read, 20_000);
        assert_eq!(report.dropped_records, 20_000 - event::MAX_RECORDS as u64);
        assert!(
            report.to_string().contains("past the limit of 256 records"),
            "{report}"
        );
    }
}
