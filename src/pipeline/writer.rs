//! Commits are written on a thread of their own: a commit's files are encoded, written and
//! fsynced, then published with the jobs' states, while the jobs model the next executions. A
//! commit waits on the disk for dozens of fsyncs; on the models' thread that wait held back the
//! backfill. Commits are written one at a time and in order, at most one waiting behind the one
//! being written; the first that fails stops the writer, and its error is the execution's.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Mutex, MutexGuard};

use arrow::record_batch::RecordBatch;

use super::error::Error;
use crate::output;
use crate::state::{self, Append, Commit, JobState, LogWrite, Publish};

/// Everything one commit writes, built by the models' thread.
pub struct StagedCommit {
    /// Where its files are written before they are published.
    pub stage_dir: PathBuf,
    /// Each file: where it is staged and published, and its rows.
    pub files: Vec<(Publish, RecordBatch)>,
    pub states: Vec<JobState>,
    /// What each job's window log gets, by the log's path.
    pub window_logs: Vec<(PathBuf, LogWrite)>,
    /// Text to append: the file it goes to and the name it is staged under.
    pub appends: Vec<(PathBuf, &'static str, String)>,
}

impl StagedCommit {
    /// Writes and fsyncs the files under the staging folder, then commits them with the states.
    fn write(self, state_dir: &Path) -> Result<(), Error> {
        let mut commit = Commit {
            states: self.states,
            ..Commit::default()
        };
        for (publish, batch) in self.files {
            output::write_parquet(&publish.staged, &batch)?;
            commit.files.push(publish);
        }
        for (target, name, text) in self.appends {
            let staged = self.stage_dir.join(name);
            state::write_atomic(&staged, text.as_bytes())?;
            commit.appends.push(Append {
                staged,
                offset: state::append_offset(&target)?,
                target,
            });
        }
        for (target, write) in self.window_logs {
            let name = target.file_name().unwrap_or(target.as_os_str());
            let staged = self.stage_dir.join(name);
            match write {
                LogWrite::Rewrite { text } => {
                    state::write_atomic(&staged, text.as_bytes())?;
                    commit.files.push(Publish { staged, target });
                }
                LogWrite::Append { offset, text } => {
                    // Opened now so that a log that cannot be written fails before the commit.
                    let len = state::append_offset(&target)?;
                    if len < offset {
                        return Err(state::Error::BadSnapshot {
                            path: target,
                            problem: state::SnapshotProblem::ShortLog {
                                found: len,
                                expected: offset,
                            },
                        }
                        .into());
                    }
                    state::write_atomic(&staged, text.as_bytes())?;
                    commit.appends.push(Append {
                        staged,
                        target,
                        offset,
                    });
                }
            }
        }
        state::failpoint("before-commit");
        commit.commit(state_dir)?;
        match std::fs::remove_dir_all(&self.stage_dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(state::Error::Io {
                path: self.stage_dir,
                source: e,
            }
            .into()),
            _ => Ok(()),
        }
    }
}

/// Hands commits to the writer thread.
pub struct Writer<'a> {
    outbox: SyncSender<StagedCommit>,
    failed: &'a Mutex<Option<Error>>,
}

impl Writer<'_> {
    /// Queues a commit, waiting while another is queued. When the writer has stopped on an
    /// error, returns that error.
    pub fn send(&self, commit: StagedCommit) -> Result<(), Error> {
        match self.outbox.send(commit) {
            Ok(()) => Ok(()),
            // The writer keeps its error before it drops its end of the channel. With none, it
            // panicked, and the panic is raised again when it is joined.
            Err(_) => failure(self.failed).take().map_or(Ok(()), Err),
        }
    }
}

/// The writer's error slot. A panic while it was held leaves nothing half-done in it, so a
/// poisoned lock is used as it is.
fn failure(failed: &Mutex<Option<Error>>) -> MutexGuard<'_, Option<Error>> {
    failed.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `work` with a writer of commits into `state_dir`, and returns once every commit it
/// queued is written: `work`'s error first, else the writer's, else `work`'s result.
pub fn with_writer<R>(
    state_dir: &Path,
    work: impl FnOnce(&Writer) -> Result<R, Error>,
) -> Result<R, Error> {
    let failed = Mutex::new(None);
    std::thread::scope(|scope| {
        let (outbox, inbox) = sync_channel::<StagedCommit>(1);
        let thread = scope.spawn(|| {
            for commit in inbox {
                if let Err(e) = commit.write(state_dir) {
                    *failure(&failed) = Some(e);
                    return;
                }
            }
        });
        let writer = Writer {
            outbox,
            failed: &failed,
        };
        let result = work(&writer);
        // Dropping the writer's end of the channel lets the thread finish the queue and stop.
        drop(writer);
        if let Err(panic) = thread.join() {
            std::panic::resume_unwind(panic);
        }
        match (result, failure(&failed).take()) {
            (Err(e), _) | (Ok(_), Some(e)) => Err(e),
            (Ok(r), None) => Ok(r),
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn one_row() -> RecordBatch {
        let schema = Schema::new(vec![Field::new("x", DataType::Int64, false)]);
        RecordBatch::try_new(Arc::new(schema), vec![Arc::new(Int64Array::from(vec![1]))])
            .expect("a valid batch")
    }

    fn appending(stage_dir: PathBuf, target: &Path, text: &str) -> StagedCommit {
        StagedCommit {
            stage_dir,
            files: Vec::new(),
            states: Vec::new(),
            window_logs: Vec::new(),
            appends: vec![(target.to_path_buf(), "alerts.ndjson", text.to_string())],
        }
    }

    /// [`appending`], with a one-row Parquet file staged in `stage_dir` and published at
    /// `published`.
    fn with_file(stage_dir: PathBuf, published: &Path, target: &Path, text: &str) -> StagedCommit {
        let publish = Publish {
            staged: stage_dir.join("x.parquet"),
            target: published.to_path_buf(),
        };
        StagedCommit {
            files: vec![(publish, one_row())],
            ..appending(stage_dir, target, text)
        }
    }

    #[test]
    fn commits_are_written_in_order_before_it_returns() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let state_dir = dir.path().join("state");
        std::fs::create_dir_all(&state_dir).expect("a state folder");
        let target = dir.path().join("alerts.ndjson");
        let published = dir.path().join("out/x.parquet");
        let first = with_file(dir.path().join("stage-1"), &published, &target, "1\n");
        with_writer(&state_dir, |writer| {
            writer.send(first)?;
            for n in 2..=4 {
                let stage_dir = dir.path().join(format!("stage-{n}"));
                writer.send(appending(stage_dir, &target, &format!("{n}\n")))?;
            }
            Ok(())
        })
        .expect("every commit written");
        assert_eq!(
            std::fs::read_to_string(&target).ok().as_deref(),
            Some("1\n2\n3\n4\n")
        );
        assert!(published.exists());
        assert!(!dir.path().join("stage-1").exists());
    }

    #[test]
    fn the_first_commit_that_fails_stops_the_writer_and_is_the_error() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let state_dir = dir.path().join("state");
        std::fs::create_dir_all(&state_dir).expect("a state folder");
        // A file where the staging folder should be: the first commit cannot stage its file.
        let blocker = dir.path().join("blocker");
        std::fs::write(&blocker, "a file, not a folder").expect("a file");
        let published = dir.path().join("out/x.parquet");
        let first_target = dir.path().join("first.ndjson");
        let failing = with_file(blocker.clone(), &published, &first_target, "1\n");
        let later = dir.path().join("later.ndjson");
        let result = with_writer(&state_dir, |writer| {
            writer.send(failing)?;
            writer.send(appending(dir.path().join("stage-2"), &later, "2\n"))?;
            writer.send(appending(dir.path().join("stage-3"), &later, "3\n"))
        });
        let error = result
            .expect_err("the failed commit is the error")
            .to_string();
        assert!(error.contains("blocker"), "{error}");
        assert!(!later.exists(), "a commit after the failed one was applied");
        assert!(!first_target.exists() && !published.exists());
    }
}
