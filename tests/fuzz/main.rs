//! Fuzz targets, one per kind of input netrare reads: audit logs, NDJSON, job files, exception
//! lists, settings and state snapshots. Property-based (proptest) on stable Rust, seeded by the
//! committed corpus under `fixtures/fuzz/<target>/`; see docs/performance.md#fuzzing.
//!
//! Every target checks, for every input:
//! - no panic: any bytes give a value or a typed error;
//! - the parse's peak heap is at most `per_byte` × input length + `fixed` (each target's bound
//!   says why those numbers);
//! - where netrare prints what it parses (job files, exception lists, snapshots), printing the
//!   parsed value and parsing the text again gives an equal value.

mod alloc;
mod engine;
mod mutate;

use std::path::Path;

use netrare::cli::SettingsFile;
use netrare::exceptions::ListConfig;
use netrare::ingest::IngestReport;
use netrare::ingest::auditd::AuditdOptions;
use netrare::jobs::Job;
use netrare::state::JobState;

use engine::{Bound, Checked, Target, corpus, run};
use mutate::Structure;

/// The allocation bound of the JSON and line parsers (audit logs, NDJSON, snapshots). Fixed
/// part: the parsers' tables, error and malformed-line messages, the first vector capacities;
/// 256 KiB is about twice the most seen for an input under 1 KiB.
const JSON_OR_LINES: Bound = Bound {
    per_byte: 64,
    fixed: 256 << 10,
};

/// The allocation bound of the TOML files (job files, exception lists, settings). The `toml`
/// crate lexes the whole text into tokens and parse events before building the document, and
/// keeps every parse error until the end. Measured per repeated one-byte token: about 52 bytes
/// per input byte for `.`, 260 for a stray `}` inside an array (each one an error), flat from
/// 20,000 to 320,000 repeats. Linear, in the dependency; 512 per byte is twice the worst seen,
/// and a document that costs more per byte (a quadratic or value-driven allocation) still fails.
const TOML: Bound = Bound {
    per_byte: 512,
    fixed: 256 << 10,
};

/// The one call of the audit log parser; its signature may change (streaming), nothing else here
/// would. Returns the number of events and lines read.
fn parse_auditd(bytes: &[u8]) -> (usize, u64) {
    let mut report = IngestReport::default();
    let events =
        netrare::ingest::auditd::parse(bytes, "fuzz", &AuditdOptions::default(), &mut report);
    (events.len(), report.lines_read)
}

/// The one call of the NDJSON parser, as [`parse_auditd`].
fn parse_ndjson(bytes: &[u8]) -> (usize, u64) {
    let mut report = IngestReport::default();
    let events = netrare::ingest::ndjson::parse(bytes, "fuzz", &mut report);
    (events.len(), report.lines_read)
}

/// Files are read as UTF-8 text (`read_to_string`) before they are parsed: other bytes are an
/// I/O error there, so the text parsers see only text.
fn text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

fn expect(ok: bool, what: impl FnOnce() -> String) -> Checked {
    if ok { Ok(()) } else { Err(what()) }
}

/// Lines as the ingest counts them: every `\n`-terminated line plus a last unterminated one.
fn line_count(bytes: &[u8]) -> u64 {
    let newlines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
    newlines + u64::from(!bytes.is_empty() && !bytes.ends_with(b"\n"))
}

#[test]
fn auditd() {
    run(
        Target {
            name: "auditd",
            structure: Structure::AuditLines,
            // Per byte: the grouper holds the records of open events (their fields as owned
            // strings and a map entry each), an event (about 400 bytes of `EcsEvent` and its
            // strings) needs a SYSCALL and a SOCKADDR line of 150 bytes or more, and the events
            // vector doubles: at most 14 bytes per input byte seen, so 64 leaves room for
            // unlucky vector growth while a per-line or quadratic blow-up still fails.
            bound: JSON_OR_LINES,
        },
        |bytes, probe| {
            let (events, lines) = probe.measure(|| parse_auditd(bytes));
            expect(lines == line_count(bytes), || {
                format!("read {lines} lines of {}", line_count(bytes))
            })?;
            expect(events as u64 <= lines, || {
                format!("{events} events from {lines} lines")
            })
        },
    );
}

#[test]
fn ndjson() {
    run(
        Target {
            name: "ndjson",
            structure: Structure::JsonLines,
            // Per byte: one line is parsed into a `serde_json::Value` (a 32-byte node per
            // scalar of 2 bytes or more, 64 while its vector doubles), and an event of about
            // 400 bytes needs a document of about 60. At most 13 seen.
            bound: JSON_OR_LINES,
        },
        |bytes, probe| {
            let (_, lines) = probe.measure(|| parse_ndjson(bytes));
            expect(lines == line_count(bytes), || {
                format!("read {lines} lines of {}", line_count(bytes))
            })
        },
    );
}

#[test]
fn job() {
    let path = Path::new("fuzz.toml");
    run(
        Target {
            name: "job",
            structure: Structure::Toml,
            bound: TOML,
        },
        |bytes, probe| {
            let Some(text) = text(bytes) else {
                return Ok(());
            };
            let Ok(job) = probe.measure(|| Job::parse(path, text)) else {
                return Ok(());
            };
            let printed = job
                .to_toml()
                .map_err(|e| format!("a parsed job file does not print: {e}"))?;
            let again = Job::parse(path, &printed)
                .map_err(|e| format!("the printed job file does not parse: {e}\n{printed}"))?;
            let reprinted = again
                .to_toml()
                .map_err(|e| format!("the reparsed job file does not print: {e}"))?;
            expect(reprinted == printed, || {
                format!("the printed job file parses to another job:\n{printed}\n{reprinted}")
            })
        },
    );
}

#[test]
fn exceptions() {
    let path = Path::new("fuzz.toml");
    run(
        Target {
            name: "exceptions",
            structure: Structure::Toml,
            bound: TOML,
        },
        |bytes, probe| {
            let Some(text) = text(bytes) else {
                return Ok(());
            };
            let parsed = probe.measure(|| {
                ListConfig::parse(path, text).map(|list| {
                    let compiled = list.compile(path).map(|e| e.len());
                    (list, compiled)
                })
            });
            let Ok((list, compiled)) = parsed else {
                return Ok(());
            };
            let printed = toml::to_string(&list)
                .map_err(|e| format!("a parsed exception list does not print: {e}"))?;
            let again = ListConfig::parse(path, &printed).map_err(|e| {
                format!("the printed exception list does not parse: {e}\n{printed}")
            })?;
            expect(again == list, || {
                format!("the printed exception list parses to another list:\n{printed}")
            })?;
            let compiled_again = again.compile(path).map(|e| e.len());
            expect(compiled_again.is_ok() == compiled.is_ok(), || {
                format!("the printed list compiles differently: {compiled:?}, {compiled_again:?}")
            })
        },
    );
}

#[test]
fn settings() {
    let path = Path::new("netrare.toml");
    run(
        Target {
            name: "settings",
            structure: Structure::Toml,
            // Nothing prints settings back: no round trip.
            bound: TOML,
        },
        |bytes, probe| {
            if let Some(text) = text(bytes) {
                let _ = probe.measure(|| SettingsFile::parse(path, text));
            }
            Ok(())
        },
    );
}

/// The job, definition and bucket span of each snapshot seed, which a parse is checked against.
fn snapshot_jobs() -> Vec<(String, String, i64)> {
    corpus("snapshot")
        .iter()
        .filter_map(|(_, bytes)| {
            let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
            Some((
                v["job_id"].as_str()?.to_string(),
                v["job_fingerprint"].as_str()?.to_string(),
                v["model"]["bucket_span_s"].as_i64()? * 1000,
            ))
        })
        .collect()
}

#[test]
fn snapshot() {
    let jobs = snapshot_jobs();
    assert_eq!(
        jobs.len(),
        corpus("snapshot").len(),
        "every seed names its job"
    );
    for (path, bytes) in corpus("snapshot") {
        let (id, fingerprint, span_ms) = &jobs[0];
        let parsed = jobs
            .iter()
            .find_map(|(id, fp, span)| JobState::parse(&bytes, id, fp, *span).ok());
        assert!(
            parsed.is_some(),
            "seed {} is a valid snapshot (first job {id} {fingerprint} {span_ms})",
            path.display()
        );
    }
    run(
        Target {
            name: "snapshot",
            structure: Structure::Json,
            // Per byte: the document is parsed into a `serde_json::Value` first (the format
            // and version are checked before the typed parse), then into `JobState` while the
            // tree is alive. At most 14 seen.
            bound: JSON_OR_LINES,
        },
        |bytes, probe| {
            // Checked against the job it names, so that mutants get past the job id check.
            let (id, fingerprint, span_ms) = jobs
                .iter()
                .find(|(id, _, _)| bytes.windows(id.len()).any(|w| w == id.as_bytes()))
                .unwrap_or(&jobs[0]);
            let Ok(state) = probe.measure(|| JobState::parse(bytes, id, fingerprint, *span_ms))
            else {
                return Ok(());
            };
            let printed = state
                .to_json()
                .map_err(|e| format!("a parsed snapshot does not print: {e}"))?;
            let again = JobState::parse(&printed, id, fingerprint, *span_ms).map_err(|e| {
                format!(
                    "the printed snapshot does not parse: {e}\n{}",
                    String::from_utf8_lossy(&printed)
                )
            })?;
            expect(again == state, || {
                "the printed snapshot parses to another state".to_string()
            })
        },
    );
}
