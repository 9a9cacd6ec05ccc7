//! Committing an execution: its outputs and its new job states become visible together, or not
//! at all.
//!
//! Outputs are first written (and fsynced) under a staging folder. Then one journal,
//! `<state>/commit.json`, is written atomically: it is the commit point. Applying the journal
//! writes each job state atomically, renames each staged file to its final name, appends staged
//! bytes to append-only files (cut back first to the length the journal recorded, so a repeated
//! append writes them once) and removes the journal. A crash before the journal leaves the old
//! state and only staging leftovers, so the next execution redoes the work; a crash after it is
//! finished by [`recover`], which applies the journal again (every step is idempotent). No record
//! or alert is lost or written twice, and no half-written file outlives the next execution.

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
            let written = write_partial(&path, &bytes)?;
            failpoint("mid-state-write");
            persist(written, &path)?;
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

/// Finishes a commit a crash interrupted, then clears the owner's staging folder of uncommitted
/// work and the state folder of files a crash left half-written. Called under the state lock and
/// the outputs' claim, so no other process is writing them.
pub fn recover(state_dir: &Path, staging_dir: &Path) -> Result<bool, Error> {
    remove_partial_files(state_dir)?;
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
    remove_stage_dirs(staging_dir)?;
    Ok(finished)
}

/// Removes what uncommitted executions staged in the owner's staging folder: the folders named
/// `<now>-<pid>` that [`stage_dir_name`] gives, and nothing else, then the folder if empty.
fn remove_stage_dirs(staging_dir: &Path) -> Result<(), Error> {
    let entries = match std::fs::read_dir(staging_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(staging_dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(staging_dir, e))?;
        let name = entry.file_name();
        let ours = name.to_str().is_some_and(|n| {
            n.split_once('-')
                .is_some_and(|(now, pid)| now.parse::<i64>().is_ok() && pid.parse::<u32>().is_ok())
        });
        if ours && entry.file_type().is_ok_and(|t| t.is_dir()) {
            std::fs::remove_dir_all(entry.path()).map_err(|e| Error::io(&entry.path(), e))?;
        }
    }
    // Left when it holds something netrare did not stage.
    let _ = std::fs::remove_dir(staging_dir);
    Ok(())
}

/// The folder an execution at `now_ms` stages a commit's files in, under the owner's staging
/// folder; [`recover`] removes exactly these.
pub fn stage_dir_name(now_ms: i64) -> String {
    format!("{now_ms}-{}", std::process::id())
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
    let written = write_partial(path, bytes)?;
    persist(written, path)
}

/// Names a temporary file that a killed process can leave behind, so [`recover`] finds it.
const PARTIAL_PREFIX: &str = ".partial-";

/// Writes and fsyncs `bytes` to a temporary file beside `path`.
fn write_partial(path: &Path, bytes: &[u8]) -> Result<tempfile::NamedTempFile, Error> {
    let parent = folder_of(path);
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let mut partial = tempfile::Builder::new()
        .prefix(PARTIAL_PREFIX)
        .tempfile_in(parent)
        .map_err(|e| Error::io(parent, e))?;
    std::io::Write::write_all(&mut partial, bytes).map_err(|e| Error::io(path, e))?;
    partial
        .as_file()
        .sync_all()
        .map_err(|e| Error::io(path, e))?;
    Ok(partial)
}

/// Renames a written temporary file to `path` and fsyncs the folder.
fn persist(partial: tempfile::NamedTempFile, path: &Path) -> Result<(), Error> {
    partial
        .persist(path)
        .map_err(|e| Error::io(path, e.error))?;
    sync_dir(folder_of(path))
}

/// Removes the temporary files of writes a killed process did not finish.
fn remove_partial_files(dir: &Path) -> Result<(), Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(PARTIAL_PREFIX)
        {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok(())
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
/// point, as a power cut would; with `NETRARE_FAILPOINT_PAUSE=<seconds>` it waits there instead,
/// as a stalled disk or network would.
pub fn failpoint(name: &str) {
    if std::env::var_os("NETRARE_FAILPOINT").is_some_and(|v| v == name) {
        match std::env::var("NETRARE_FAILPOINT_PAUSE")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
        {
            Some(seconds) => std::thread::sleep(std::time::Duration::from_secs_f64(seconds)),
            None => std::process::abort(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recover_removes_what_a_killed_write_left_and_nothing_else() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = dir.path().join("job.json");
        write_atomic(&state, b"{}").expect("write");
        // A write killed between its fsync and its rename leaves its temporary file.
        let (_, left) = write_partial(&state, b"{\"newer\":1}")
            .expect("partial write")
            .keep()
            .expect("keep");
        std::fs::write(dir.path().join(".lock"), b"").expect("lock file");

        let recovered = recover(dir.path(), &dir.path().join("staging")).expect("recover");

        assert!(!recovered, "no journal, nothing to finish");
        assert!(!left.exists(), "{} was left behind", left.display());
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("read dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        names.sort();
        assert_eq!(names, [".lock", "job.json"]);
        assert_eq!(std::fs::read(&state).expect("state"), b"{}");
    }
}
