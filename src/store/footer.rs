//! Opening a Parquet file's footer, and the error for a file that is not valid Parquet.

use std::fmt::Display;
use std::fs::File;
use std::path::Path;

use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};

use super::Error;

/// Opens `path` and reads its Parquet footer.
pub(super) fn open_footer(path: &Path) -> Result<(File, ArrowReaderMetadata), Error> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let metadata = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
        .map_err(|e| corrupt(path, e))?;
    Ok((file, metadata))
}

/// [`Error::Corrupt`] for `path`.
pub(super) fn corrupt(path: &Path, reason: impl Display) -> Error {
    Error::Corrupt {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}
