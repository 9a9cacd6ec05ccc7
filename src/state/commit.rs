//! Committing an execution: its outputs and its new job states become visible together, or not
//! at all.
//!
//! Outputs are first written (and fsynced) under a staging folder. Then one journal,
//! `<state>/commit.json`, is written atomically: it is the commit point. Applying the journal
//! writes each job state atomically, renames each staged file to its final name, appends staged
//! bytes to append-only files (cut back first to the length the journal recorded, so a repeated
//! append writes them once) and removes the journal. A crash before the journal leaves the old state and only staging leftovers, so the
//! next execution redoes the work; a crash after it is finished by [`recover`], which applies the
//! journal again (every step is idempotent). No record or alert is lost or written twice.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
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

/// Staged bytes to add at the end of a file, which held `offset` bytes before this commit.
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
                serde_json::from_slice(&bytes).map_err(|source| Error::BadJournal {
                    path: journal.clone(),
                    source,
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
    let parent = folder_of(&file.target);
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    std::fs::rename(&file.staged, &file.target).map_err(|e| Error::io(&file.target, e))?;
    sync_dir(parent)
}

/// Adds the staged bytes at `offset` of the target (created if missing), fsyncs it and removes
/// the staged file.
fn append(file: &Append) -> Result<(), Error> {
    let bytes = match std::fs::read(&file.staged) {
        Ok(bytes) => bytes,
        // Removed once appended, by an earlier, interrupted application of the same journal.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(&file.staged, e)),
    };
    let parent = folder_of(&file.target);
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let mut target = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&file.target)
        .map_err(|e| Error::io(&file.target, e))?;
    let fail = |e| Error::io(&file.target, e);
    // Whatever an interrupted application wrote past the offset is written again.
    let len = target.metadata().map_err(fail)?.len();
    let start = len.min(file.offset);
    target.set_len(start).map_err(fail)?;
    target.seek(SeekFrom::Start(start)).map_err(fail)?;
    let half = bytes.len() / 2;
    target.write_all(&bytes[..half]).map_err(fail)?;
    failpoint("mid-append");
    target.write_all(&bytes[half..]).map_err(fail)?;
    target.sync_all().map_err(fail)?;
    sync_dir(parent)?;
    std::fs::remove_file(&file.staged).map_err(|e| Error::io(&file.staged, e))
}

/// The length of `path` now, after opening it for appending (created if missing), so a file
/// that cannot be written fails the execution before its commit: the offset of its next
/// [`Append`].
pub fn append_offset(path: &Path) -> Result<u64, Error> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|file| file.metadata())
        .map(|m| m.len())
        .map_err(|e| Error::io(path, e))
}

/// Writes `bytes` to `path` through a temporary file in the same folder: fsync, rename, fsync
/// the folder. Readers see the old content or the new, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let parent = folder_of(path);
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(parent).map_err(|e| Error::io(parent, e))?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(|e| Error::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    sync_dir(parent)
}

/// The folder holding `path`: `.` for a bare file name, whose `parent()` is empty.
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
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
