//! The plain types the store's planner and reader share: windows, field requests, units of
//! work, the frames read from them and the counts of a scan.

use std::collections::{BTreeMap, HashMap};
use std::ops::AddAssign;
use std::path::PathBuf;

use super::column::Column;
use super::objects::ObjectFile;

/// The column every event has and every window is applied to.
pub const TIMESTAMP: &str = "@timestamp";

/// One file and the row groups of it that may hold events of the window.
#[derive(Debug, Clone)]
pub struct ScanUnit {
    /// The file, or the URL of an object.
    pub path: PathBuf,
    pub row_groups: Vec<usize>,
    pub window: TimeRange,
    /// The object behind `path` when the store is on object storage.
    pub(crate) object: Option<ObjectFile>,
}

impl ScanUnit {
    /// The same file and window with other row groups: a piece of the unit.
    pub fn with_row_groups(&self, row_groups: Vec<usize>) -> ScanUnit {
        ScanUnit {
            row_groups,
            ..self.clone()
        }
    }
}

/// A half-open time window `[start_ms, end_ms)` in epoch milliseconds UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start_ms: i64,
    pub end_ms: i64,
}

impl TimeRange {
    /// True when `t` lies inside the window.
    pub fn contains(&self, t: i64) -> bool {
        self.start_ms <= t && t < self.end_ms
    }

    /// True when the closed interval `[min, max]` touches the window.
    pub fn overlaps(&self, min: i64, max: i64) -> bool {
        min < self.end_ms && max >= self.start_ms
    }
}

/// A field a job reads. Required fields must exist in every file; optional ones are null when absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequest {
    /// ECS name, dotted (`destination.port`).
    pub name: String,
    /// Whether a file without it is an error.
    pub required: bool,
}

/// The events of one unit of work, restricted to the requested window and fields.
#[derive(Debug, Clone)]
pub struct EventFrame {
    /// The file the rows came from.
    pub path: PathBuf,
    /// `@timestamp` of each row, epoch milliseconds UTC; every row is inside the window.
    pub timestamps: Vec<i64>,
    /// The requested fields found in the file, by ECS name, each as long as `timestamps`.
    pub columns: HashMap<String, Column>,
    /// What was read and what was dropped.
    pub stats: ScanStats,
}

/// Counts of a scan, mergeable across units.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Files opened.
    pub files: u64,
    /// Row groups decoded.
    pub row_groups_read: u64,
    /// Row groups skipped by their `@timestamp` statistics.
    pub row_groups_skipped: u64,
    /// Rows decoded (before the window filter).
    pub rows_read: u64,
    /// Rows inside the window.
    pub rows_in_window: u64,
    /// Values nulled because they were invalid (`destination.port` out of range, unparseable
    /// timestamps dropping their row), by `(file, field)`.
    pub invalid: BTreeMap<(PathBuf, String), u64>,
}

impl AddAssign for ScanStats {
    fn add_assign(&mut self, other: ScanStats) {
        self.files += other.files;
        self.row_groups_read += other.row_groups_read;
        self.row_groups_skipped += other.row_groups_skipped;
        self.rows_read += other.rows_read;
        self.rows_in_window += other.rows_in_window;
        for (key, n) in other.invalid {
            *self.invalid.entry(key).or_default() += n;
        }
    }
}
