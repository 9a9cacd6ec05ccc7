//! The state directory: per-job snapshots (model, checkpoint, rule memory), the lock that keeps
//! executions from overlapping, and the commit that makes an execution's outputs and state
//! advance together.
//!
//! Layout: `<state>/.lock`, `<state>/<job_id>.json` (see [`JobState`]) and, only while an
//! execution is publishing, `<state>/commit.json` (see [`commit`]).

mod commit;
mod job_state;
mod lock;

pub use commit::{Append, Commit, Publish, failpoint, recover, write_atomic};
pub use job_state::{FORMAT, JobState, VERSION};
pub use lock::StateLock;

use std::path::PathBuf;

/// A state directory that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Another execution holds the lock.
    #[error("{}: another netrare execution is running on this state directory; try again later", path.display())]
    Locked { path: PathBuf },
    /// A snapshot that cannot be trusted: unreadable, from another version, or of another job.
    #[error("{}: {reason}; refusing to start from scratch (move the file away to relearn)", path.display())]
    BadSnapshot { path: PathBuf, reason: String },
}

impl Error {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
