//! Finding the store's files and planning which of their row groups a window needs.

use std::path::PathBuf;

use super::scan::{EventFrame, FieldRequest, ScanStats, TimeRange};
use super::Error;

/// A set of Parquet files of ECS events.
#[derive(Debug, Clone)]
pub struct EventStore {
    files: Vec<PathBuf>,
}

/// One file and the row groups of it that may hold events of the window.
#[derive(Debug, Clone)]
pub struct ScanUnit {
    pub path: PathBuf,
    pub row_groups: Vec<usize>,
    pub window: TimeRange,
}

impl EventStore {
    /// Lists the files at `location` (file, directory searched recursively, or glob).
    pub fn open(location: &str) -> Result<EventStore, Error> {
        todo!("{location}")
    }

    /// The files of the store.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The units to read for `window`: hive partitions outside it are skipped, and row groups
    /// whose `@timestamp` statistics fall outside it. Also returns the skip counts.
    pub fn plan(&self, window: TimeRange) -> Result<(Vec<ScanUnit>, ScanStats), Error> {
        todo!("{window:?}")
    }
}

impl ScanUnit {
    /// Reads the unit's rows inside its window, with only `fields` (plus `@timestamp`) decoded.
    pub fn read(&self, fields: &[FieldRequest]) -> Result<EventFrame, Error> {
        todo!("{fields:?}")
    }
}
