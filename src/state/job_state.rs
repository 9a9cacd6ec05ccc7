//! One job's snapshot: where it stopped, its model and what its rule remembers.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Error;
use crate::model::ModelSnapshot;
use crate::model::hierarchy::LevelsSnapshot;
use crate::results::{AnomalyRecord, BucketResult, InfluencerResult};
use crate::rule::RuleState;

/// The `format` value of every state file.
pub const FORMAT: &str = "netrare-job-state";
/// The version of the state file layout; a file of another version is refused.
pub const VERSION: u32 = 2;

/// `<state>/<job_id>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobState {
    pub format: String,
    pub version: u32,
    pub job_id: String,
    /// What the model depends on in the job file (function, fields, span, model kind); a state
    /// built under another definition is refused rather than silently mixed.
    pub job_fingerprint: String,
    /// Start of the next bucket to model, epoch ms.
    pub checkpoint_ms: i64,
    /// Start of the first bucket that held data, epoch ms; `None` while the job has seen none.
    pub first_bucket_ms: Option<i64>,
    pub model: ModelSnapshot,
    /// The bucket and influencer normalisers.
    pub levels: LevelsSnapshot,
    /// Buckets in which the model refused new values at its memory limit, since the job started.
    pub bucket_allocation_failures: u64,
    pub rule: RuleState,
    /// The latest version of every record still inside the renormalisation window, to re-score
    /// after a big change.
    pub recent_records: Vec<AnomalyRecord>,
    /// The same for buckets scoring above 0 and for influencers; absent from snapshots written
    /// before they were renormalised, which then start with none.
    #[serde(default)]
    pub recent_buckets: Vec<BucketResult>,
    #[serde(default)]
    pub recent_influencers: Vec<InfluencerResult>,
}

impl JobState {
    /// The file of `job_id` in `dir`.
    pub fn path(dir: &Path, job_id: &str) -> PathBuf {
        dir.join(format!("{job_id}.json"))
    }

    /// Loads the state of `job_id`, or `None` when the job has none yet. A file that is
    /// unreadable, of another format version, or of another job definition is an error.
    pub fn load(dir: &Path, job_id: &str, fingerprint: &str) -> Result<Option<JobState>, Error> {
        let path = JobState::path(dir, job_id);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let bad = |reason: String| Error::BadSnapshot {
            path: path.clone(),
            reason,
        };
        let header: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| bad(format!("corrupt snapshot: {e}")))?;
        if header.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(bad("not a netrare job state file".into()));
        }
        match header.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v == VERSION as u64 => {}
            other => {
                return Err(bad(format!(
                    "state format version {other:?} is not the supported version {VERSION}"
                )));
            }
        }
        let state: JobState =
            serde_json::from_value(header).map_err(|e| bad(format!("corrupt snapshot: {e}")))?;
        if state.job_id != job_id {
            return Err(bad(format!("holds job {:?}, not {job_id:?}", state.job_id)));
        }
        if state.job_fingerprint != fingerprint {
            return Err(bad(format!(
                "was built for another definition of the job ({}; the job file now says {fingerprint})",
                state.job_fingerprint
            )));
        }
        Ok(Some(state))
    }

    /// The JSON text of the state.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }
}
