//! Committing an execution: its outputs and its new job states become visible together, or not
//! at all.
//!
//! Outputs are first written (and fsynced) under a staging folder. Then one journal,
//! `<state>/commit.json`, is written atomically: it is the commit point. Applying the journal
//! writes each job state atomically, renames each staged file to its final name and removes the
//! journal. A crash before the journal leaves the old state and only staging leftovers, so the
//! next execution redoes the work; a crash after it is finished by [`recover`], which applies the
//! journal again (every step is idempotent). No record or alert is lost or written twice.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Error;
use super::job_state::JobState;

const JOURNAL: &str = "commit.json";

/// One staged file and the name it is published under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publish {
    pub staged: PathBuf,
    pub target: PathBuf,
}

/// Staged bytes to add at the end of a file that only grows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Append {
    pub staged: PathBuf,
    pub target: PathBuf,
    /// The target's length before this commit: applying again first cuts it back to this, so
    /// the bytes are added once however often the journal is applied.
    pub offset: u64,
}

/// Everything an execution changes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Commit {
    pub states: Vec<JobState>,
    pub files: Vec<Publish>,
    #[serde(default)]
    pub appends: Vec<Append>,
}

impl Commit {
    /// Commits: journal first, then applies it. The staged files must already be durable.
    pub fn commit(&self, state_dir: &Path) -> Result<(), Error> {
        let journal = state_dir.join(JOURNAL);
        let bytes =
            serde_json::to_vec(self).map_err(|e| Error::io(&journal, std::io::Error::other(e)))?;
        write_atomic(&journal, &bytes)?;
        failpoint("after-journal");
        self.apply(state_dir)
    }

    fn apply(&self, state_dir: &Path) -> Result<(), Error> {
        for state in &self.states {
            let path = JobState::path(state_dir, &state.job_id);
            let bytes = state
                .to_json()
                .map_err(|e| Error::io(&path, std::io::Error::other(e)))?;
            write_atomic(&path, &bytes)?;
        }
        failpoint("after-states");
        for (i, file) in self.files.iter().enumerate() {
            if i == 1 {
                failpoint("mid-publish");
            }
            publish(file)?;
        }
        for part in &self.appends {
            append(part)?;
        }
        failpoint("after-appends");
        let journal = state_dir.join(JOURNAL);
        std::fs::remove_file(&journal).map_err(|e| Error::io(&journal, e))?;
        sync_dir(state_dir)
    }
}

/// Finishes a commit a crash interrupted, then clears the staging folder of uncommitted work.
pub fn recover(state_dir: &Path, staging_dir: &Path) -> Result<bool, Error> {
    let journal = state_dir.join(JOURNAL);
    let finished = match std::fs::read(&journal) {
        Ok(bytes) => {
            let commit: Commit =
                serde_json::from_slice(&bytes).map_err(|e| Error::BadSnapshot {
                    path: journal.clone(),
                    reason: format!("corrupt commit journal: {e}"),
                })?;
            commit.apply(state_dir)?;
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(Error::io(&journal, e)),
    };
    match std::fs::remove_dir_all(staging_dir) {
        Ok(()) => Ok(finished),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(finished),
        Err(e) => Err(Error::io(staging_dir, e)),
    }
}

fn publish(file: &Publish) -> Result<(), Error> {
    if !file.staged.exists() {
        // Already renamed by an earlier, interrupted application of the same journal.
        return Ok(());
    }
    let parent = file.target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    std::fs::rename(&file.staged, &file.target).map_err(|e| Error::io(&file.target, e))?;
    sync_dir(parent)
}

/// Adds the staged bytes at `offset` of the target (created if missing), then fsyncs it.
fn append(part: &Append) -> Result<(), Error> {
    use std::io::{Seek, SeekFrom, Write};
    let bytes = std::fs::read(&part.staged).map_err(|e| Error::io(&part.staged, e))?;
    let parent = part.target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&part.target)
        .map_err(|e| Error::io(&part.target, e))?;
    let io = |e| Error::io(&part.target, e);
    let len = file.metadata().map_err(io)?.len();
    if len > part.offset {
        file.set_len(part.offset).map_err(io)?;
    }
    file.seek(SeekFrom::End(0)).map_err(io)?;
    file.write_all(&bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    sync_dir(parent)
}

/// The length of `path` now, 0 when it does not exist: the offset of its next [`Append`].
pub fn append_offset(path: &Path) -> Result<u64, Error> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder: fsync, rename, fsync
/// the folder. Readers see the old content or the new, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(parent).map_err(|e| Error::io(parent, e))?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(|e| Error::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    sync_dir(parent)
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Crash injection for the recovery tests: `NETRARE_FAILPOINT=<name>` kills the process at that
/// point, as a power cut would.
pub fn failpoint(name: &str) {
    if std::env::var_os("NETRARE_FAILPOINT").is_some_and(|v| v == name) {
        std::process::abort();
    }
}
