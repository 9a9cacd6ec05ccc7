//! One job's snapshot: where it stopped, its model and what its rule remembers.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Error, SnapshotProblem, WindowLog};
use crate::datafeed::MAX_QUERY_DELAY;
use crate::model::ModelSnapshot;
use crate::model::hierarchy::LevelsSnapshot;
use crate::results::{AnomalyRecord, RenormalizationWindow};
use crate::rule::RuleState;
use crate::time::EpochMs;

/// The `format` value of every state file.
pub const FORMAT: &str = "netrare-job-state";
/// The version of the state file layout; a file of another version is refused, except
/// [`INLINE_WINDOW_VERSION`].
pub const VERSION: u32 = 3;
/// The version before window logs, whose files held the renormalisation window inline: read,
/// and written as the current version by the next commit.
const INLINE_WINDOW_VERSION: u32 = 2;

/// The times a snapshot may hold, epoch ms: 1970-01-01 to 2100-01-01 UTC.
const PLAUSIBLE_MS: std::ops::Range<i64> = 0..4_102_444_800_000;

/// `<state>/<job_id>.json`: the job and definition its progress belongs to, then the progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobState {
    pub format: String,
    pub version: u32,
    pub job_id: String,
    /// What the model depends on in the job file (function, fields, span, model kind); a state
    /// built under another definition is refused rather than silently mixed.
    pub job_fingerprint: String,
    /// Its fields follow the ones above in the file, as if they were the state's own.
    #[serde(flatten)]
    pub progress: JobProgress,
}

/// What a job carries from one execution to the next: where it stopped, its model and
/// normalisers, what its rule remembers and the results a big change may re-score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobProgress {
    /// Start of the next bucket to model.
    pub checkpoint_ms: EpochMs,
    /// Start of the first bucket that held data; `None` while the job has seen none.
    pub first_bucket_ms: Option<EpochMs>,
    pub model: ModelSnapshot,
    /// The bucket and influencer normalisers.
    pub levels: LevelsSnapshot,
    /// Buckets in which the model refused new values at its memory limit, since the job started.
    pub bucket_allocation_failures: u64,
    pub rule: RuleState,
    /// The committed extent of the job's window log (absent from version 2 files).
    #[serde(default)]
    pub window_log: WindowLog,
}

/// A job's committed state with its renormalisation window.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedJob {
    pub state: JobState,
    pub window: RenormalizationWindow,
    /// The window was read from a version 2 file, not from a log: the next commit writes the
    /// log whole.
    pub window_inline: bool,
}

impl JobState {
    /// The state of `job_id` built under the job definition `job_fingerprint`.
    pub fn new(job_id: &str, job_fingerprint: String, progress: JobProgress) -> JobState {
        JobState {
            format: FORMAT.to_string(),
            version: VERSION,
            job_id: job_id.to_string(),
            job_fingerprint,
            progress,
        }
    }

    /// The file of `job_id` in `dir`.
    pub fn path(dir: &Path, job_id: &str) -> PathBuf {
        dir.join(format!("{job_id}.json"))
    }

    /// Loads the state of `job_id` and its window, or `None` when the job has none yet. A file
    /// that is unreadable, of another format version, of another job definition, or holding a
    /// value no execution of a job with buckets of `span_ms` writes is an error, and so is a
    /// window log that does not hold what the state records of it.
    pub fn load(
        dir: &Path,
        job_id: &str,
        fingerprint: &str,
        span_ms: i64,
    ) -> Result<Option<SavedJob>, Error> {
        let path = JobState::path(dir, job_id);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let bad = |path: &Path, problem| Error::BadSnapshot {
            path: path.to_path_buf(),
            problem,
        };
        let state = JobState::parse(&bytes, job_id, fingerprint, span_ms)
            .map_err(|problem| bad(&path, problem))?;
        let window_inline = state.version == INLINE_WINDOW_VERSION;
        let (window, source) = if window_inline {
            let window = serde_json::from_slice::<RenormalizationWindow>(&bytes)
                .map_err(|e| bad(&path, SnapshotProblem::Parse(e)))?;
            (window, path)
        } else {
            let log = WindowLog::path(dir, job_id);
            (state.progress.window_log.read(&log)?, log)
        };
        check_window(&window, span_ms).map_err(|problem| bad(&source, problem))?;
        Ok(Some(SavedJob {
            state,
            window,
            window_inline,
        }))
    }

    /// Parses and checks the bytes of a snapshot of `job_id` (see [`JobState::load`]). Any
    /// bytes give a state or a [`SnapshotProblem`], never a panic.
    pub fn parse(
        bytes: &[u8],
        job_id: &str,
        fingerprint: &str,
        span_ms: i64,
    ) -> Result<JobState, SnapshotProblem> {
        let header: serde_json::Value =
            serde_json::from_slice(bytes).map_err(SnapshotProblem::Parse)?;
        if header.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(SnapshotProblem::NotAStateFile);
        }
        match header.get("version") {
            Some(v)
                if v.as_u64() == Some(VERSION.into())
                    || v.as_u64() == Some(INLINE_WINDOW_VERSION.into()) => {}
            other => {
                return Err(SnapshotProblem::Version {
                    found: other.map_or_else(|| "(none)".to_string(), |v| v.to_string()),
                });
            }
        }
        let state: JobState = serde_json::from_value(header).map_err(SnapshotProblem::Parse)?;
        if state.job_id != job_id {
            return Err(SnapshotProblem::OtherJob {
                found: state.job_id,
                expected: job_id.to_string(),
            });
        }
        if state.job_fingerprint != fingerprint {
            return Err(SnapshotProblem::OtherDefinition {
                found: state.job_fingerprint,
                expected: fingerprint.to_string(),
            });
        }
        state.progress.check_times(span_ms)?;
        Ok(state)
    }

    /// The JSON text of the state.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }
}

impl JobProgress {
    /// Checks the times against each other, the bucket grid and [`PLAUSIBLE_MS`]: every
    /// execution leaves the checkpoint on the grid, at most a bucket and a query delay before
    /// the execution time it records.
    fn check_times(&self, span_ms: i64) -> Result<(), SnapshotProblem> {
        let bad =
            |field: &'static str, problem: String| Err(SnapshotProblem::Field { field, problem });
        // The file's numbers, as its fields hold them and the problems name them.
        let checkpoint = self.checkpoint_ms.ms();
        let first_bucket = self.first_bucket_ms.map(EpochMs::ms);
        let last = self.rule.last_execution_ms.map(EpochMs::ms);
        let watermark = self.rule.watermark_ms.map(EpochMs::ms);
        let times = [
            ("checkpoint_ms", Some(checkpoint)),
            ("first_bucket_ms", first_bucket),
            ("rule.last_execution_ms", last),
            ("rule.watermark_ms", watermark),
        ];
        for (field, ms) in times {
            if let Some(ms) = ms.filter(|ms| !PLAUSIBLE_MS.contains(ms)) {
                return bad(field, format!("{ms} is not a time between 1970 and 2100"));
            }
        }
        for (field, ms) in [
            ("checkpoint_ms", Some(checkpoint)),
            ("first_bucket_ms", first_bucket),
        ] {
            if let Some(ms) = ms.filter(|ms| ms.rem_euclid(span_ms) != 0) {
                return bad(
                    field,
                    format!("{ms} is not on the {} s bucket grid", span_ms / 1000),
                );
            }
        }
        let Some(last) = last else {
            return bad(
                "rule.last_execution_ms",
                "missing; every execution records it".into(),
            );
        };
        let behind = last - checkpoint;
        if !(0..=span_ms + MAX_QUERY_DELAY.as_millis() as i64).contains(&behind) {
            return bad(
                "checkpoint_ms",
                format!(
                    "{checkpoint} is {behind} ms before the last execution {last}; an execution leaves it at most a bucket and the query delay before"
                ),
            );
        }
        if let Some(first) = first_bucket.filter(|&f| f >= checkpoint) {
            return bad(
                "first_bucket_ms",
                format!("{first} is not before the checkpoint {checkpoint}"),
            );
        }
        if let Some(watermark) = watermark.filter(|&w| w > last) {
            return bad(
                "rule.watermark_ms",
                format!("{watermark} is after the last execution {last}"),
            );
        }
        if let Some((id, ms)) = self
            .rule
            .alerted
            .iter()
            .find(|(_, ms)| !PLAUSIBLE_MS.contains(&ms.ms()))
        {
            return bad(
                "rule.alerted",
                format!(
                    "record {id}: {} is not a time between 1970 and 2100",
                    ms.ms()
                ),
            );
        }
        // Held candidates are alerted later: their bucket times and spans become alert times.
        check_records("rule.candidates", &self.rule.candidates, span_ms)
    }
}

/// Checks the window's records as [`JobProgress::check_times`] checks the rule's: renormalised,
/// they become new versions with these times.
fn check_window(window: &RenormalizationWindow, span_ms: i64) -> Result<(), SnapshotProblem> {
    check_records("recent_records", &window.records, span_ms)
}

/// Checks that every record's bucket and first occurrence are plausible times on the job's
/// bucket span.
fn check_records(
    field: &'static str,
    records: &[AnomalyRecord],
    span_ms: i64,
) -> Result<(), SnapshotProblem> {
    match records.iter().find(|r| {
        !PLAUSIBLE_MS.contains(&r.timestamp_ms.ms())
            || !PLAUSIBLE_MS.contains(&r.by_field_first_occurrence_ms)
            || r.bucket_span.checked_mul(1000) != Some(span_ms)
    }) {
        Some(r) => Err(SnapshotProblem::Field {
            field,
            problem: format!(
                "record {}: bucket {} ({} s) is not a time between 1970 and 2100 on the job's bucket span",
                r.record_id,
                r.timestamp_ms.ms(),
                r.bucket_span
            ),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_name_the_file_and_read_without_debug_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = JobState::path(dir.path(), "j");
        let text = format!(
            r#"{{"format": "netrare-job-state", "version": {}}}"#,
            VERSION + 1
        );
        std::fs::write(&path, text).unwrap();
        let err = JobState::load(dir.path(), "j", "f", 900_000).unwrap_err();
        let chain = format!("{:#}", anyhow::Error::new(err));
        assert!(chain.contains("j.json"), "{chain}");
        assert!(
            chain.contains(&format!(
                "state format version {} is not the supported version {VERSION}",
                VERSION + 1
            )),
            "{chain}"
        );
        assert!(!chain.contains("Some("), "{chain}");
    }

    #[test]
    fn a_corrupt_commit_journal_keeps_the_parse_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("commit.json"), b"{\"states\": [").unwrap();
        let err = super::super::recover(dir.path(), &dir.path().join("staging")).unwrap_err();
        assert!(matches!(err, Error::BadJournal { .. }), "{err}");
        let chain = format!("{:#}", anyhow::Error::new(err));
        assert!(
            chain.contains("corrupt commit journal: EOF while parsing"),
            "{chain}"
        );
    }
}
