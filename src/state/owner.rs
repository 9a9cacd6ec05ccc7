//! Who may write an output folder or an NDJSON file: one state directory at a time.
//!
//! Two state directories writing one output folder or one `_bulk` file lose alerts: each one's
//! recovery takes the other's staged files, or cuts the file back to its own recorded length over
//! the other's lines. So each output folder holds a marker, `<out>/.netrare-owner`, and each NDJSON
//! file one beside it, `<file>.netrare-owner`, naming the state directory that writes it. A
//! marker is created the first time (exclusively, so two first executions cannot both claim it),
//! and an execution of any other state directory is refused with [`Error::OwnedByOther`]. Each
//! marker is also locked for the whole execution, so a second process finds it busy
//! ([`Error::Locked`]), not just the state directory. Every target is checked here, before an
//! execution stages anything: a folder, a FIFO or a device (`/dev/full`, `/dev/stdout`, a symlink
//! to `/dev/null`) as an NDJSON file, or a path inside the state directory, the staging folder or
//! the store, is refused ([`Error::BadTarget`]) before the commit point, never after it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Error;

/// The marker's file name in an output folder, and the suffix of an NDJSON file's marker.
pub const OWNER_MARKER: &str = ".netrare-owner";
/// The staging folder of an output folder; each owner stages under a folder of its own in it.
pub const STAGING: &str = ".staging";

/// What a marker holds, on a disk and on object storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Marker {
    /// The owning state directory, absolute, or its URL.
    pub(super) state_dir: PathBuf,
}

/// The outputs of one execution, claimed and locked: the output folder and the NDJSON files.
/// The locks are released when this is dropped.
#[derive(Debug)]
pub struct Outputs {
    /// The owner's own folder under `<out>/.staging`.
    pub staging: PathBuf,
    _locks: Vec<File>,
}

/// The absolute form of `path`: its parent resolved through symlinks when it exists (the file
/// itself may not exist yet).
pub fn absolute(path: &Path) -> PathBuf {
    if let Ok(real) = path.canonicalize() {
        return real;
    }
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    match (joined.parent(), joined.file_name()) {
        (Some(parent), Some(name)) => parent
            .canonicalize()
            .map_or_else(|_| joined.clone(), |p| p.join(name)),
        _ => joined,
    }
}

/// A short name of the state directory for its staging folder.
fn owner_key(state_dir: &Path) -> String {
    let digest = Sha256::digest(state_dir.as_os_str().as_encoded_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Claims and locks `out` and each of `ndjson` for `state_dir`, after checking every target.
/// `store` are the event store's files, which no output may overwrite.
pub fn claim(
    state_dir: &Path,
    out: &Path,
    ndjson: &[&Path],
    store: &[PathBuf],
) -> Result<Outputs, Error> {
    let state_dir = absolute(state_dir);
    let out_abs = absolute(out);
    let staging_root = out_abs.join(STAGING);
    if state_dir.starts_with(&staging_root) || state_dir == out_abs {
        return Err(Error::BadTarget {
            path: state_dir,
            problem: format!(
                "the state directory cannot be the output folder or inside its {STAGING} folder"
            ),
        });
    }
    let store: Vec<PathBuf> = store.iter().map(|f| absolute(f)).collect();
    let mut locks = vec![claim_marker(&out_abs.join(OWNER_MARKER), &state_dir)?];
    let mut seen: Vec<PathBuf> = Vec::new();
    for file in ndjson {
        let target = absolute(file);
        check_ndjson(&target, &state_dir, &staging_root, &store).map_err(|e| match e {
            // Named as given: a symlink's target means little to whoever wrote the flag.
            Error::BadTarget { problem, .. } => Error::BadTarget {
                path: file.to_path_buf(),
                problem,
            },
            other => other,
        })?;
        if seen.contains(&target) {
            // The same file named twice (`--alerts-ndjson` and `--results-ndjson`): one claim.
            continue;
        }
        let mut marker = target.clone().into_os_string();
        marker.push(OWNER_MARKER);
        locks.push(claim_marker(Path::new(&marker), &state_dir)?);
        seen.push(target);
    }
    Ok(Outputs {
        staging: staging_root.join(owner_key(&state_dir)),
        _locks: locks,
    })
}

/// An NDJSON target must be a regular file (or not exist yet) and none of the run's own files.
fn check_ndjson(
    target: &Path,
    state_dir: &Path,
    staging_root: &Path,
    store: &[PathBuf],
) -> Result<(), Error> {
    let refuse = |problem: &str| {
        Err(Error::BadTarget {
            path: target.to_path_buf(),
            problem: format!("cannot be an NDJSON output file: {problem}"),
        })
    };
    // Through symlinks: a link to /dev/null is a device. Never opened here, so a FIFO cannot
    // block the execution while it holds the state lock.
    match std::fs::metadata(target) {
        Ok(meta) if !meta.file_type().is_file() => {
            return refuse("not a regular file (a folder, FIFO, socket or device)");
        }
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(target, e)),
    }
    if target.starts_with(state_dir) {
        return refuse("inside the state directory");
    }
    if target.starts_with(staging_root) {
        return refuse("inside the output folder's staging folder");
    }
    if store.iter().any(|f| f == target) {
        return refuse("a file of the event store");
    }
    if target
        .file_name()
        .is_some_and(|n| n.to_string_lossy().ends_with(OWNER_MARKER))
    {
        return refuse("an owner marker");
    }
    Ok(())
}

/// Creates the marker at `path` for `state_dir` if it does not exist, checks that it names
/// `state_dir`, and locks it.
fn claim_marker(path: &Path, state_dir: &Path) -> Result<File, Error> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let mine = Marker {
        state_dir: state_dir.to_path_buf(),
    };
    let file = match OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(mut file) => {
            let text = serde_json::to_string(&mine).map_err(|e| Error::io(path, e.into()))?;
            file.write_all(text.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| Error::io(path, e))?;
            file
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .map_err(|e| Error::io(path, e))?;
            let mut text = String::new();
            file.read_to_string(&mut text)
                .map_err(|e| Error::io(path, e))?;
            match serde_json::from_str::<Marker>(&text) {
                Ok(found) if found == mine => file,
                Ok(found) => {
                    return Err(Error::OwnedByOther {
                        path: path.to_path_buf(),
                        owner: found.state_dir,
                    });
                }
                // An empty marker: its creator died before writing it. Claim it.
                Err(_) if text.is_empty() => {
                    let text =
                        serde_json::to_string(&mine).map_err(|e| Error::io(path, e.into()))?;
                    file.write_all(text.as_bytes())
                        .and_then(|()| file.sync_all())
                        .map_err(|e| Error::io(path, e))?;
                    file
                }
                Err(_) => {
                    return Err(Error::BadTarget {
                        path: path.to_path_buf(),
                        problem: "not a netrare owner marker".into(),
                    });
                }
            }
        }
        Err(e) => return Err(Error::io(path, e)),
    };
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(Error::Locked {
            path: path.to_path_buf(),
        }),
        Err(TryLockError::Error(e)) => Err(Error::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let root = tempfile::tempdir().expect("temp dir");
        let state = root.path().join("state");
        let out = root.path().join("out");
        std::fs::create_dir_all(&state).expect("state");
        (root, state, out)
    }

    #[test]
    fn a_second_state_directory_is_refused_an_output_folder_and_a_file() {
        let (root, state, out) = dirs();
        let other = root.path().join("other");
        let ndjson = root.path().join("alerts.ndjson");
        drop(claim(&state, &out, &[&ndjson], &[]).expect("first claim"));
        let err = claim(&other, &out, &[], &[]).expect_err("other owner");
        assert!(matches!(err, Error::OwnedByOther { .. }), "{err}");
        let err = claim(&other, &root.path().join("out2"), &[&ndjson], &[])
            .expect_err("other owner of the file");
        assert!(matches!(err, Error::OwnedByOther { .. }), "{err}");
        claim(&state, &out, &[&ndjson], &[]).expect("the owner again");
    }

    #[test]
    fn a_claimed_output_is_busy_until_released() {
        let (_root, state, out) = dirs();
        let held = claim(&state, &out, &[], &[]).expect("claim");
        let err = claim(&state, &out, &[], &[]).expect_err("busy");
        assert!(matches!(err, Error::Locked { .. }), "{err}");
        drop(held);
        claim(&state, &out, &[], &[]).expect("free again");
    }

    #[test]
    fn targets_that_are_not_regular_files_or_are_the_runs_own_are_refused() {
        let (root, state, out) = dirs();
        let events = root.path().join("events.parquet");
        std::fs::write(&events, b"PAR1").expect("store file");
        let refused = |target: &Path| {
            let err =
                claim(&state, &out, &[target], std::slice::from_ref(&events)).expect_err("refused");
            assert!(
                matches!(err, Error::BadTarget { .. }),
                "{}: {err}",
                target.display()
            );
        };
        refused(Path::new("/dev/full"));
        refused(Path::new("/dev/null"));
        refused(root.path());
        refused(&state.join("alerts.ndjson"));
        refused(&out.join(STAGING).join("x.ndjson"));
        refused(&events);
        let fifo = root.path().join("fifo.ndjson");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        refused(&fifo);
        let link = root.path().join("link.ndjson");
        std::os::unix::fs::symlink("/dev/null", &link).expect("symlink");
        refused(&link);
        let err = claim(&out.join(STAGING), &out, &[], &[]).expect_err("state in staging");
        assert!(matches!(err, Error::BadTarget { .. }), "{err}");
    }

    #[test]
    fn the_same_file_named_twice_is_claimed_once() {
        let (root, state, out) = dirs();
        let ndjson = root.path().join("bulk.ndjson");
        claim(&state, &out, &[&ndjson, &ndjson], &[]).expect("one file for both");
    }
}
