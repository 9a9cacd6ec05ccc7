//! Finding the Parquet files of a store location.
//!
//! Input: a location string: a file, a directory (searched recursively) or a glob pattern.
//! Output: the sorted, de-duplicated file paths. In directories only `*.parquet` files count;
//! hidden and `_`-prefixed names (`.tmpXYZ` files being written, `_SUCCESS`, `_temporary/`) are
//! skipped everywhere, so readers never pick up half-written or bookkeeping files.

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use super::Error;

/// The Parquet files at `location`, sorted; [`Error::NoFiles`] when there are none.
pub fn discover(location: &str) -> Result<Vec<PathBuf>, Error> {
    let path = Path::new(location);
    let mut files = if path.is_file() {
        vec![path.to_path_buf()]
    } else if path.is_dir() {
        walk(path)?
    } else if location.contains(['*', '?', '[']) {
        expand_glob(location)?
    } else {
        Vec::new()
    };
    files.sort();
    files.dedup();
    if files.is_empty() {
        return Err(Error::NoFiles {
            location: location.to_string(),
        });
    }
    Ok(files)
}

/// Hidden or bookkeeping names: `.tmpXYZ`, `.git`, `_SUCCESS`, `_temporary`.
pub(super) fn is_ignored(name: &OsStr) -> bool {
    name.to_str()
        .is_none_or(|n| n.starts_with('.') || n.starts_with('_'))
}

pub(super) fn is_parquet(name: &OsStr) -> bool {
    !is_ignored(name)
        && Path::new(name)
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("parquet"))
}

fn walk(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    let entries = WalkDir::new(dir).follow_links(true).into_iter();
    for entry in entries.filter_entry(|e| e.depth() == 0 || !is_ignored(e.file_name())) {
        let entry = entry.map_err(|e| walk_error(dir, e))?;
        if entry.file_type().is_file() && is_parquet(entry.file_name()) {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

fn walk_error(dir: &Path, error: walkdir::Error) -> Error {
    let path = error.path().unwrap_or(dir).to_path_buf();
    let message = error.to_string();
    let source = error
        .into_io_error()
        .unwrap_or_else(|| io::Error::other(message));
    Error::Io { path, source }
}

/// Files matched by `pattern`; matched directories are walked like a directory location.
fn expand_glob(pattern: &str) -> Result<Vec<PathBuf>, Error> {
    let options = glob::MatchOptions {
        require_literal_leading_dot: true,
        ..glob::MatchOptions::new()
    };
    let matches = glob::glob_with(pattern, options).map_err(|e| Error::BadGlob {
        pattern: pattern.to_string(),
        reason: e.to_string(),
    })?;
    let mut files = Vec::new();
    for matched in matches {
        let path = matched.map_err(|e| {
            let path = e.path().to_path_buf();
            Error::io(&path, e.into())
        })?;
        if path.is_dir() {
            files.extend(walk(&path)?);
        } else if path.file_name().is_some_and(|name| !is_ignored(name)) {
            files.push(path);
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn touch(root: &Path, relative: &str) -> PathBuf {
        let path = root.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(&path, b"x").unwrap();
        path
    }

    fn names(files: &[PathBuf], root: &Path) -> Vec<String> {
        files
            .iter()
            .map(|f| f.strip_prefix(root).unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn directory_is_walked_sorted_skipping_hidden_and_bookkeeping() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for name in [
            "date=2026-11-23/b.parquet",
            "date=2026-11-22/a.parquet",
            "date=2026-11-22/.tmpAbc12",
            "date=2026-11-22/.a.parquet",
            "date=2026-11-22/_SUCCESS",
            "_temporary/0/x.parquet",
            ".git/y.parquet",
            "notes.txt",
            "top.PARQUET",
        ] {
            touch(root, name);
        }
        let found = discover(root.to_str().unwrap()).unwrap();
        assert_eq!(
            names(&found, root),
            [
                "date=2026-11-22/a.parquet",
                "date=2026-11-23/b.parquet",
                "top.PARQUET"
            ]
        );
    }

    #[test]
    fn a_file_location_is_taken_as_is() {
        let dir = tempfile::tempdir().unwrap();
        let file = touch(dir.path(), "events.data");
        assert_eq!(discover(file.to_str().unwrap()).unwrap(), [file]);
    }

    #[test]
    fn glob_matches_files_and_walks_directories() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for name in [
            "date=2026-11-22/a.parquet",
            "date=2026-11-23/b.parquet",
            "date=2026-11-23/_c.parquet",
            "other/c.parquet",
        ] {
            touch(root, name);
        }
        let files = discover(&format!("{}/date=*/*.parquet", root.display())).unwrap();
        assert_eq!(
            names(&files, root),
            ["date=2026-11-22/a.parquet", "date=2026-11-23/b.parquet"]
        );
        let dirs = discover(&format!("{}/date=2026-11-2[3]", root.display())).unwrap();
        assert_eq!(names(&dirs, root), ["date=2026-11-23/b.parquet"]);
    }

    #[test]
    fn empty_or_missing_locations_have_no_files() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "readme.txt");
        for location in [
            dir.path().display().to_string(),
            format!("{}/nothing", dir.path().display()),
            format!("{}/*.parquet", dir.path().display()),
        ] {
            assert!(
                matches!(discover(&location), Err(Error::NoFiles { location: l }) if l == location)
            );
        }
    }

    #[test]
    fn bad_glob_is_reported() {
        assert!(matches!(
            discover("/x/***/a.parquet"),
            Err(Error::BadGlob { .. })
        ));
    }
}
