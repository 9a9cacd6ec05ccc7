//! Errors of the event store; each names the file and, where one is at fault, the column.

use std::path::{Path, PathBuf};

/// Why the store could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The location matched no Parquet file.
    #[error("no Parquet files found at {location}")]
    NoFiles { location: String },
    /// A glob pattern did not parse.
    #[error("bad glob pattern {pattern:?}: {reason}")]
    BadGlob { pattern: String, reason: String },
    /// The file system refused an operation.
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not valid Parquet (truncated, corrupt, or another format).
    #[error("{}: unreadable Parquet file: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    /// A column the job needs is not in the file, flat or nested.
    #[error("{}: missing required column {column:?}", path.display())]
    MissingColumn { path: PathBuf, column: String },
    /// A field is both a flat dotted column and a field of struct columns.
    #[error(
        "{}: field {column:?} is both a flat column and nested in struct columns; keep one",
        path.display()
    )]
    TwoForms { path: PathBuf, column: String },
    /// A column exists but its type cannot be read as the field's kind.
    #[error("{}: column {column:?} has type {found}, expected {expected}", path.display())]
    WrongType {
        path: PathBuf,
        column: String,
        found: String,
        expected: String,
    },
    /// The object store holding the files failed.
    #[error(transparent)]
    Objects(#[from] crate::objects::Error),
    /// Writing the store failed.
    #[error("{}: cannot write: {reason}", path.display())]
    Write { path: PathBuf, reason: String },
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
