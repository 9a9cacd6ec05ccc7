//! The state directory: per-job snapshots (model, checkpoint, rule memory), the lock that keeps
//! executions from overlapping, and the commit that makes an execution's outputs and state
//! advance together.
//!
//! Layout: `<state>/.lock`, `<state>/<job_id>.json` (see [`JobState`]), its renormalisation
//! window `<state>/<job_id>.window.ndjson` (see [`WindowLog`]) and, only while an
//! execution is publishing, `<state>/commit.json` (see [`commit`]). The outputs a state
//! directory writes carry a marker naming it ([`owner`]).

mod commit;
mod job_state;
mod lock;
pub mod owner;
pub mod remote;
mod window_log;

pub use commit::{
    Append, Commit, Publish, append_offset, failpoint, recover, stage_dir_name, write_atomic,
};
pub use job_state::{FORMAT, JobProgress, JobState, SavedJob, VERSION};
pub use lock::StateLock;
pub use window_log::{LogWrite, WindowLog};

use std::path::PathBuf;

/// A state directory that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Another execution holds the lock of the state directory or of an output.
    #[error("{}: another netrare execution is running with it; try again later", path.display())]
    Locked { path: PathBuf },
    /// An output folder or NDJSON file written by another state directory.
    #[error(
        "{}: this output is written by the state directory {}; give each state directory outputs of its own (or remove the marker if that state directory is gone)",
        path.display(),
        owner.display()
    )]
    OwnedByOther { path: PathBuf, owner: PathBuf },
    /// A target that can never be written safely (checked before anything is staged).
    #[error("{}: {problem}", path.display())]
    BadTarget { path: PathBuf, problem: String },
    /// A snapshot that cannot be trusted: unreadable, from another version, of another job, or
    /// holding a value no execution writes.
    #[error("{}: cannot restore the job state; refusing to start from scratch (move the file away to relearn)", path.display())]
    BadSnapshot {
        path: PathBuf,
        #[source]
        problem: SnapshotProblem,
    },
    /// Another execution holds the lease of a state location on object storage.
    #[error(
        "{url}: another netrare execution ({holder}) holds the lock until {}; try again later",
        crate::time::EpochMs(*expires_ms).document()
    )]
    LeaseHeld {
        url: String,
        holder: String,
        expires_ms: i64,
    },
    /// The lease expired and another execution took it over before this one's commit point.
    #[error("{url}: another execution took over the lock; nothing of this execution was published")]
    LeaseLost { url: String },
    /// A journal on object storage that names something it cannot.
    #[error("{url}: corrupt commit journal: {problem}")]
    BadRemoteJournal { url: String, problem: String },
    /// Object storage failed.
    #[error(transparent)]
    Objects(#[from] crate::objects::Error),
    /// A commit journal that does not parse.
    #[error("{}: corrupt commit journal", path.display())]
    BadJournal {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// The execution time is earlier than the job's last execution: running it would move the
    /// job back in time and alert on records already alerted.
    #[error(
        "{}: the execution time {now} is before the job's last execution {last}; refusing to move the job back in time",
        path.display()
    )]
    BeforeLastExecution {
        path: PathBuf,
        now: String,
        last: String,
    },
    /// No snapshot, but the job already wrote outputs: starting from scratch would write their
    /// records and alerts again.
    #[error(
        "{}: no state for job {job_id}, but it has outputs in {}; refusing to relearn it silently (pass --relearn to start it from scratch)",
        path.display(),
        outputs.display()
    )]
    MissingSnapshot {
        path: PathBuf,
        job_id: String,
        outputs: PathBuf,
    },
}

/// What is wrong with a snapshot.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotProblem {
    #[error("corrupt snapshot")]
    Parse(#[source] serde_json::Error),
    #[error("not a netrare job state file")]
    NotAStateFile,
    #[error("state format version {found} is not the supported version {VERSION}")]
    Version { found: String },
    #[error("holds job {found:?}, not {expected:?}")]
    OtherJob { found: String, expected: String },
    #[error(
        "was built for another definition of the job ({found}; the job file now says {expected})"
    )]
    OtherDefinition { found: String, expected: String },
    /// A field holds a value no execution writes.
    #[error("field {field}: {problem}")]
    Field {
        field: &'static str,
        problem: String,
    },
    #[error("the model cannot be restored")]
    Model(#[source] crate::model::SnapshotError),
    #[error("the bucket and influencer normalizers cannot be restored")]
    Levels(#[source] crate::model::SnapshotError),
    #[error("is missing; the job state records {expected} bytes of it")]
    MissingLog { expected: u64 },
    /// The window log ends before what the job state records of it.
    #[error("holds {found} bytes; the job state records {expected}")]
    ShortLog { found: u64, expected: u64 },
    #[error("line {line}: corrupt window log entry")]
    LogLine {
        line: u64,
        #[source]
        source: serde_json::Error,
    },
    #[error("holds {found} lines; the job state records {expected}")]
    LogLines { found: u64, expected: u64 },
}

impl Error {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
