//! An exclusive lock on the state directory, held for the whole execution.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use super::Error;

/// Held while an execution runs; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct StateLock {
    _file: File,
    pub dir: PathBuf,
}

impl StateLock {
    /// Creates the directory if needed and takes its lock without waiting.
    pub fn acquire(dir: &Path) -> Result<StateLock, Error> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(StateLock {
                _file: file,
                dir: dir.to_path_buf(),
            }),
            Err(TryLockError::WouldBlock) => Err(Error::Locked {
                path: dir.to_path_buf(),
            }),
            Err(TryLockError::Error(e)) => Err(Error::io(&path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = StateLock::acquire(dir.path()).expect("first lock");
        assert!(matches!(
            StateLock::acquire(dir.path()),
            Err(Error::Locked { .. })
        ));
        drop(first);
        assert!(StateLock::acquire(dir.path()).is_ok());
    }
}
