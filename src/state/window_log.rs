//! A job's window log, `<state>/<job_id>.window.ndjson`: its renormalisation window as one JSON
//! line per result that entered it or per new version of one ([`WindowEntry`]). A commit appends
//! what changed since the last one, so a scheduled execution writes a few lines, not the whole
//! window; once the lines of forgotten or replaced results outnumber the live ones, a commit
//! rewrites the log whole instead. The job state records how many bytes and lines of the log are
//! committed: bytes past them were never committed and are ignored, a shorter log is refused.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Error, SnapshotProblem};
use crate::results::{RenormalizationWindow, WindowEntry};

/// Lines of forgotten or replaced results a log may hold beyond as many as the live ones before
/// it is rewritten: a small window is not rewritten at every commit.
const SLACK_LINES: u64 = 1_000;

/// The committed extent of a job's window log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowLog {
    pub bytes: u64,
    pub lines: u64,
}

/// What a commit does to a job's window log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogWrite {
    /// Adds `text` at `offset`, the committed length.
    Append { offset: u64, text: String },
    /// Replaces the log with `text`.
    Rewrite { text: String },
}

impl WindowLog {
    /// The window log of `job_id` in `dir`.
    pub fn path(dir: &Path, job_id: &str) -> PathBuf {
        dir.join(format!("{job_id}.window.ndjson"))
    }

    /// The window the committed part of the log at `path` holds.
    pub fn read(&self, path: &Path) -> Result<RenormalizationWindow, Error> {
        let bad = |problem| Error::BadSnapshot {
            path: path.to_path_buf(),
            problem,
        };
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if self.bytes > 0 {
                    return Err(bad(SnapshotProblem::MissingLog {
                        expected: self.bytes,
                    }));
                }
                Vec::new()
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        let committed = usize::try_from(self.bytes)
            .ok()
            .and_then(|n| bytes.get(..n))
            .ok_or(bad(SnapshotProblem::ShortLog {
                found: bytes.len() as u64,
                expected: self.bytes,
            }))?;
        let mut entries = Vec::new();
        for (n, line) in committed.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() && n as u64 == self.lines {
                break;
            }
            let entry = serde_json::from_slice::<WindowEntry>(line).map_err(|source| {
                bad(SnapshotProblem::LogLine {
                    line: n as u64 + 1,
                    source,
                })
            })?;
            entries.push(entry);
        }
        if entries.len() as u64 != self.lines {
            return Err(bad(SnapshotProblem::LogLines {
                found: entries.len() as u64,
                expected: self.lines,
            }));
        }
        Ok(RenormalizationWindow::replay(entries))
    }

    /// What the next commit writes to the log, given what entered `window` since the last one,
    /// and moves this extent to where that commit leaves the log. `rewrite` forces a whole log,
    /// for a window that came from elsewhere (a state written before window logs).
    pub fn next_write(
        &mut self,
        window: &RenormalizationWindow,
        changes: &[WindowEntry],
        rewrite: bool,
    ) -> Result<Option<LogWrite>, serde_json::Error> {
        let live = window.len() as u64;
        let appended = self.lines + changes.len() as u64;
        if rewrite || appended > 2 * live + SLACK_LINES {
            let text = lines(&window.entries())?;
            *self = WindowLog {
                bytes: text.len() as u64,
                lines: live,
            };
            return Ok(Some(LogWrite::Rewrite { text }));
        }
        if changes.is_empty() {
            return Ok(None);
        }
        let text = lines(changes)?;
        let offset = self.bytes;
        *self = WindowLog {
            bytes: offset + text.len() as u64,
            lines: appended,
        };
        Ok(Some(LogWrite::Append { offset, text }))
    }
}

/// The entries as NDJSON text.
fn lines(entries: &[WindowEntry]) -> Result<String, serde_json::Error> {
    let mut text = Vec::new();
    for entry in entries {
        serde_json::to_writer(&mut text, entry)?;
        // Writing to a Vec cannot fail.
        let _ = text.write_all(b"\n");
    }
    // serde_json writes UTF-8 only.
    Ok(String::from_utf8_lossy(&text).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::AnomalyRecord;

    fn record(value: &str, score: f64) -> AnomalyRecord {
        AnomalyRecord::sample(value, 0, score, &[])
    }

    /// A window with `records`, their additions taken as one commit's changes.
    fn window_of(records: &[AnomalyRecord]) -> (RenormalizationWindow, Vec<WindowEntry>) {
        let mut window = RenormalizationWindow::default();
        for r in records {
            window.add_record(r.clone());
        }
        let changes = window.take_changes();
        (window, changes)
    }

    fn write(path: &Path, write: &LogWrite) {
        match write {
            LogWrite::Rewrite { text } => std::fs::write(path, text).unwrap(),
            LogWrite::Append { offset, text } => {
                let mut bytes = std::fs::read(path).unwrap_or_default();
                bytes.truncate(*offset as usize);
                bytes.extend_from_slice(text.as_bytes());
                std::fs::write(path, bytes).unwrap();
            }
        }
    }

    #[test]
    fn appends_replay_to_the_window_with_new_versions_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = WindowLog::path(dir.path(), "j");
        let mut log = WindowLog::default();
        let (mut window, changes) = window_of(&[record("a", 10.0), record("b", 20.0)]);
        let first = log.next_write(&window, &changes, false).unwrap().unwrap();
        assert!(matches!(first, LogWrite::Append { offset: 0, .. }));
        write(&path, &first);
        let mut rescored = window.records[0].clone();
        rescored.record_score = 30.0;
        rescored.result_version = 2;
        window.records[0] = rescored.clone();
        window.add_record(record("c", 40.0));
        let changes = [WindowEntry::Record(Box::new(rescored))]
            .into_iter()
            .chain(window.take_changes())
            .collect::<Vec<_>>();
        let second = log.next_write(&window, &changes, false).unwrap().unwrap();
        write(&path, &second);
        assert_eq!(log.lines, 4);
        assert_eq!(log.read(&path).unwrap(), window);
    }

    #[test]
    fn uncommitted_bytes_are_ignored_and_a_short_or_corrupt_log_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = WindowLog::path(dir.path(), "j");
        let mut log = WindowLog::default();
        let (window, changes) = window_of(&[record("a", 10.0)]);
        write(
            &path,
            &log.next_write(&window, &changes, false).unwrap().unwrap(),
        );
        let committed = std::fs::read(&path).unwrap();
        std::fs::write(&path, [committed.as_slice(), b"{\"record\": half"].concat()).unwrap();
        assert_eq!(log.read(&path).unwrap(), window);

        std::fs::write(&path, &committed[..committed.len() - 3]).unwrap();
        let short = log.read(&path).unwrap_err().to_string();
        assert!(short.contains("j.window.ndjson"), "{short}");
        let chain = format!("{:#}", anyhow::Error::new(log.read(&path).unwrap_err()));
        assert!(chain.contains("the job state records"), "{chain}");

        let mut corrupt = committed.clone();
        corrupt[2] = b'X';
        std::fs::write(&path, corrupt).unwrap();
        let chain = format!("{:#}", anyhow::Error::new(log.read(&path).unwrap_err()));
        assert!(chain.contains("line 1"), "{chain}");

        assert!(WindowLog::default().read(&dir.path().join("none")).is_ok());
        assert!(log.read(&dir.path().join("none")).is_err());
    }

    #[test]
    fn a_log_mostly_of_forgotten_results_is_rewritten_whole() {
        let mut log = WindowLog {
            bytes: 1_000_000,
            lines: 2 * 3 + SLACK_LINES,
        };
        let (window, changes) = window_of(&[record("a", 10.0), record("b", 1.0), record("c", 2.0)]);
        let LogWrite::Rewrite { text } = log
            .next_write(&window, &changes[..1], false)
            .unwrap()
            .unwrap()
        else {
            panic!("appended to a log of forgotten results");
        };
        assert_eq!(text.lines().count(), 3);
        assert_eq!(
            log,
            WindowLog {
                bytes: text.len() as u64,
                lines: 3
            }
        );
        assert_eq!(log.next_write(&window, &[], false).unwrap(), None);
        assert!(matches!(
            log.next_write(&window, &[], true).unwrap(),
            Some(LogWrite::Rewrite { .. })
        ));
    }
}
