//! Writing one input's events idempotently: the file stem is a hash of the input's bytes, and an
//! input whose files already exist in every day partition it would write is not rewritten.
//! Events are written as they are parsed, in bounded batches, to temporary files that get their
//! names once the input has been read to its end and its hash is known.

use std::path::Path;

use chrono::DateTime;

use super::input::Consumed;
use super::{Error, IngestReport};
use crate::store::EcsEvent;
use crate::store::write::{DayFiles, WriteOptions};

/// Events held in memory before the day with the most is written as a row group: the store's
/// row group size, so that an input in time order gets full row groups, and small enough (tens
/// of MB) that peak memory does not depend on the input's size.
pub(crate) const BATCH_EVENTS: usize = 65_536;

/// `<kind>-<first 16 hex digits of sha256>`, e.g. `auditd-3f2a...`.
pub(crate) fn file_stem(kind: &str, sha256: &[u8; 32]) -> String {
    let hex: String = sha256.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{kind}-{hex}")
}

/// One input's events on their way into the store at `out`.
pub(crate) struct Pending {
    kind: &'static str,
    files: DayFiles,
    events: u64,
}

impl Pending {
    /// Events of kind `kind` (the file stem's prefix) for the store at `out`.
    pub(crate) fn new(out: &Path, kind: &'static str) -> Self {
        Pending {
            kind,
            files: DayFiles::new(out, WriteOptions::default(), BATCH_EVENTS),
            events: 0,
        }
    }

    /// Adds one event, writing a batch when enough are held.
    pub(crate) fn push(&mut self, event: EcsEvent) -> Result<(), Error> {
        self.events += 1;
        Ok(self.files.push(event)?)
    }

    /// Names the files after the input `name`, now read to its end (`consumed`), unless every day
    /// file they would become exists already (then they are dropped); updates the report either
    /// way.
    pub(crate) fn commit(
        self,
        out: &Path,
        name: &str,
        consumed: &Consumed,
        report: &mut IngestReport,
    ) -> Result<(), Error> {
        if self.events == 0 {
            return Ok(());
        }
        let stem = file_stem(self.kind, &consumed.sha256);
        let done = self.files.days().iter().all(|day| {
            out.join(format!("date={day}"))
                .join(format!("{stem}.parquet"))
                .is_file()
        });
        if done {
            report.already_ingested.push(name.to_string());
            return Ok(());
        }
        let files = self.files.finish(&stem)?;
        report.events_written += self.events;
        report.files_written.extend(files);
        Ok(())
    }
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

    use crate::ingest::input::Consumed;
    use sha2::{Digest, Sha256};

    fn consumed(bytes: &[u8]) -> Consumed {
        Consumed {
            sha256: Sha256::digest(bytes).into(),
            lines: 1,
        }
    }

    #[test]
    fn stem_depends_on_content_only() {
        let stem = |bytes: &[u8]| file_stem("auditd", &consumed(bytes).sha256);
        let a = stem(b"type=EOE");
        assert_eq!(a, stem(b"type=EOE"));
        assert_ne!(a, stem(b"type=EOE "));
        assert!(
            a.starts_with("auditd-") && a.len() == "auditd-".len() + 16,
            "{a}"
        );
    }

    #[test]
    fn second_commit_of_same_events_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let day = 86_400_000;
        let commit = |report: &mut IngestReport| {
            let mut pending = Pending::new(dir.path(), "x");
            for t in [day, 2 * day + 5] {
                pending
                    .push(EcsEvent {
                        timestamp_ms: t,
                        ..Default::default()
                    })
                    .unwrap();
            }
            pending
                .commit(dir.path(), "in", &consumed(b"in"), report)
                .unwrap();
        };
        let mut report = IngestReport::default();
        commit(&mut report);
        assert_eq!((report.events_written, report.files_written.len()), (2, 2));
        commit(&mut report);
        assert_eq!(report.events_written, 2);
        assert_eq!(report.already_ingested, vec!["in".to_string()]);
        let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(entries.len(), 2, "no temporary file is left: {entries:?}");
    }
}
