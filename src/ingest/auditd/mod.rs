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
mod golden_tests;

use std::io::{self, BufRead};
use std::path::Path;

use super::input::{LineEnd, RestOfLine, lines, read_line};
use super::write::{Pending, plausible_event_time, timestamp_in_range};
use super::{Error, IngestReport, Input};
use crate::store::EcsEvent;
use ecs::Mapped;
use event::Grouper;

/// The longest audit line read; longer ones are skipped unread and counted as malformed. The
/// kernel writes at most 8,970 bytes a record (`MAX_AUDIT_MESSAGE_LENGTH`); the ENRICHED format
/// adds interpretations to that.
pub const MAX_LINE_BYTES: usize = 64 << 10;

/// Options for [`ingest`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditdOptions {
    /// `host.name` for events whose records carry no `node=` prefix.
    pub host_name: Option<String>,
}

/// Ingests each input into the store at `out`, one file per input and day, named
/// `auditd-<content hash>`. Inputs are read line by line and events written in batches, so
/// memory does not grow with the input. Malformed lines are counted and skipped; only I/O and
/// store errors stop the ingest.
pub fn ingest(inputs: &[Input], out: &Path, opts: &AuditdOptions) -> Result<IngestReport, Error> {
    let mut report = IngestReport::default();
    for input in inputs {
        let mut source = input.open()?;
        let name = input.name();
        let mut pending = Pending::new(out, "auditd");
        read(&mut source, &name, opts, &mut report, &mut |event| {
            pending.push(event)
        })?;
        let consumed = source.finish()?;
        report.lines_read += consumed.lines;
        pending.commit(out, &name, &consumed, &mut report)?;
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
    let mut events = Vec::new();
    report.lines_read += lines(bytes).count() as u64;
    // Reading a slice cannot fail, nor can collecting into a Vec: there is no error to report.
    let _ = read(&mut &bytes[..], name, opts, report, &mut |event| {
        events.push(event);
        Ok(())
    });
    events
}

/// Reads audit lines from `src`, handing each network event to `emit` as its group completes.
/// Memory holds one line and the events still open ([`event`] bounds them). A failed read or a
/// failure of `emit` stops the read.
fn read<R: BufRead>(
    src: &mut R,
    name: &str,
    opts: &AuditdOptions,
    report: &mut IngestReport,
    emit: &mut dyn FnMut(EcsEvent) -> Result<(), Error>,
) -> Result<(), Error> {
    let read_err = |e| Error::read(name, e);
    let mut grouper = Grouper::default();
    let host = opts.host_name.as_deref();
    let mut line = Vec::new();
    let mut number = 0;
    while let Some(end) = read_line(src, &mut line, MAX_LINE_BYTES).map_err(read_err)? {
        number += 1;
        if end == LineEnd::TooLong {
            io::copy(&mut RestOfLine::new(src), &mut io::sink()).map_err(read_err)?;
            report.malformed(
                name,
                number,
                format!("longer than {MAX_LINE_BYTES} bytes, skipped"),
            );
            continue;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match record::parse_line(&line) {
            Ok(rec) if !timestamp_in_range(rec.timestamp_ms) => {
                report.malformed(name, number, "timestamp out of range")
            }
            Ok(rec) => {
                for event in grouper.push(rec) {
                    keep(ecs::map(&event, host), report, emit)?;
                }
            }
            Err(reason) => report.malformed(name, number, reason),
        }
    }
    report.dropped_records += grouper.dropped;
    for event in grouper.finish() {
        keep(ecs::map(&event, host), report, emit)?;
    }
    Ok(())
}

fn keep(
    mapped: Mapped,
    report: &mut IngestReport,
    emit: &mut dyn FnMut(EcsEvent) -> Result<(), Error>,
) -> Result<(), Error> {
    match mapped {
        Mapped::Network(event) if !plausible_event_time(event.timestamp_ms) => {
            report.skipped_implausible_time += 1
        }
        Mapped::Network(event) => emit(*event)?,
        Mapped::NotNetwork => report.skipped_non_network += 1,
        Mapped::NotIp(_) => report.skipped_not_ip += 1,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::testutil::{fixture, read_store};

    fn parse_all(bytes: &[u8]) -> (Vec<EcsEvent>, IngestReport) {
        let mut report = IngestReport::default();
        let events = parse(bytes, "audit.log", &AuditdOptions::default(), &mut report);
        (events, report)
    }

    #[test]
    fn a_line_over_the_limit_is_malformed_and_the_rest_is_read() {
        let log = fixture("network.log");
        let long = format!(
            "type=SYSCALL msg=audit(1793613600.100:1001): comm=\"{}\"\n",
            "x".repeat(MAX_LINE_BYTES)
        );
        let (events, report) = parse_all(&[long.as_bytes(), &log].concat());
        let (whole, whole_report) = parse_all(&log);
        assert_eq!(events, whole);
        assert_eq!(report.lines_read, whole_report.lines_read + 1);
        assert_eq!(report.malformed, whole_report.malformed + 1);
        let first = &report.malformed_examples[0];
        assert_eq!(
            (first.line, first.reason.as_str()),
            (1, "longer than 65536 bytes, skipped")
        );
    }

    #[test]
    fn a_file_streamed_gives_what_its_bytes_parse_to() {
        let log = fixture("network.log");
        let crlf = String::from_utf8(log.clone())
            .unwrap()
            .trim_end()
            .replace('\n', "\r\n");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log.1");
        std::fs::write(&path, &crlf).unwrap();
        let out = dir.path().join("store");
        let report = ingest(&[Input::Path(path)], &out, &AuditdOptions::default()).unwrap();
        let (mut events, whole_report) = parse_all(crlf.as_bytes());
        events.sort_by_key(|e| (e.timestamp_ms, e.process_pid));
        assert_eq!(read_store(&out), events);
        assert_eq!(
            (report.lines_read, report.malformed, report.skipped_not_ip),
            (
                whole_report.lines_read,
                whole_report.malformed,
                whole_report.skipped_not_ip
            )
        );
    }

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
