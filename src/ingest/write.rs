//! Writing one input's events idempotently: the file stem is a hash of the input's bytes, and an
//! input whose files already exist in every day partition it would write is not rewritten.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::DateTime;
use sha2::{Digest, Sha256};

use super::{Error, IngestReport};
use crate::store::EcsEvent;
use crate::store::write::{WriteOptions, write_partitioned};

/// `<kind>-<first 16 hex digits of the SHA-256 of bytes>`, e.g. `auditd-3f2a...`.
pub(crate) fn file_stem(kind: &str, bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{kind}-{hex}")
}

/// Writes `events` of input `name` under `out` with file stem `stem`, unless every day file
/// they would go to exists already; updates the report either way.
pub(crate) fn commit(
    out: &Path,
    stem: &str,
    name: &str,
    events: &[EcsEvent],
    report: &mut IngestReport,
) -> Result<(), Error> {
    if events.is_empty() {
        return Ok(());
    }
    let days: BTreeSet<String> = events
        .iter()
        .filter_map(|e| DateTime::from_timestamp_millis(e.timestamp_ms))
        .map(|t| t.format("%Y-%m-%d").to_string())
        .collect();
    let done = days.iter().all(|day| {
        out.join(format!("date={day}"))
            .join(format!("{stem}.parquet"))
            .is_file()
    });
    if done {
        report.already_ingested.push(name.to_string());
        return Ok(());
    }
    let opts = WriteOptions {
        file_stem: stem.to_string(),
        ..WriteOptions::default()
    };
    let files = write_partitioned(out, events, &opts)?;
    report.events_written += events.len() as u64;
    report.files_written.extend(files);
    Ok(())
}

/// Whether `ms` is a timestamp the store can partition by day.
pub(crate) fn timestamp_in_range(ms: i64) -> bool {
    DateTime::from_timestamp_millis(ms).is_some()
}

/// How far ahead of the clock an event time is still taken as a skewed host clock.
const FUTURE_TOLERANCE_MS: i64 = 24 * 3600 * 1000;

/// Whether an event at `ms` can be real: not before 1970, at most a day ahead of the clock. Other
/// times (a year -1199, 2100) would create day partitions no job ever reads, or ahead of time.
pub(crate) fn plausible_event_time(ms: i64) -> bool {
    (0..=chrono::Utc::now().timestamp_millis() + FUTURE_TOLERANCE_MS).contains(&ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stem_depends_on_content_only() {
        let a = file_stem("auditd", b"type=EOE");
        assert_eq!(a, file_stem("auditd", b"type=EOE"));
        assert_ne!(a, file_stem("auditd", b"type=EOE "));
        assert!(
            a.starts_with("auditd-") && a.len() == "auditd-".len() + 16,
            "{a}"
        );
    }

    #[test]
    fn second_commit_of_same_events_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let day = 86_400_000;
        let events: Vec<EcsEvent> = [day, 2 * day + 5]
            .iter()
            .map(|&t| EcsEvent {
                timestamp_ms: t,
                ..Default::default()
            })
            .collect();
        let mut report = IngestReport::default();
        commit(dir.path(), "x-1", "in", &events, &mut report).unwrap();
        assert_eq!((report.events_written, report.files_written.len()), (2, 2));
        commit(dir.path(), "x-1", "in", &events, &mut report).unwrap();
        assert_eq!(report.events_written, 2);
        assert_eq!(report.already_ingested, vec!["in".to_string()]);
    }
}
