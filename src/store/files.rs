//! Finding the store's files and planning which of their row groups a window needs.
//!
//! Input: a location and a time window. Output: [`ScanUnit`]s (a file and its row groups that
//! may hold events of the window) and the counts of what was pruned. Files of hive partitions
//! outside the window are skipped without being opened; the others' footers are read in
//! parallel and row groups whose `@timestamp` statistics miss the window are skipped.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, Int64Array};
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use rayon::prelude::*;

use super::Error;
use super::discover::discover;
use super::footer::open_footer;
use super::frame::{ScanStats, ScanUnit, TIMESTAMP, TimeRange};
use super::normalize::timestamps_ms;
use super::objects::{ObjectFile, ObjectFiles};
use super::partition::may_overlap;
use crate::objects;

/// A set of Parquet files of ECS events.
#[derive(Debug, Clone)]
pub struct EventStore {
    files: Files,
}

/// Where the files are.
#[derive(Debug, Clone)]
enum Files {
    /// On a local file system, listed when the store is opened.
    Local(Vec<PathBuf>),
    /// On object storage, listed for each window.
    Objects(Arc<ObjectFiles>),
}

impl EventStore {
    /// Lists the files at `location` (file, directory searched recursively, or glob; a
    /// `file://` URL is its path), sorted; or, for an object storage URL (`s3://bucket/prefix`,
    /// `gs://`, `az://`), checks that it answers and holds something. Files are not opened yet;
    /// [`Error::NoFiles`] when there are none.
    pub fn open(location: &str) -> Result<EventStore, Error> {
        let files = if objects::is_url(location) {
            Files::Objects(ObjectFiles::open(location)?)
        } else {
            Files::Local(discover(
                objects::file_url_path(location).unwrap_or(location),
            )?)
        };
        Ok(EventStore { files })
    }

    /// The local files of the store; none for a store on object storage.
    pub fn files(&self) -> &[PathBuf] {
        match &self.files {
            Files::Local(files) => files,
            Files::Objects(_) => &[],
        }
    }

    /// The units to read for `window`: hive partitions outside it are skipped, and row groups
    /// whose `@timestamp` statistics fall outside it. Also returns the skip counts: `files` is
    /// the number of footers opened and `row_groups_skipped` the row groups pruned; the frames
    /// read from the units count the rest. [`Error::Corrupt`] names a file that is not Parquet.
    pub fn plan(&self, window: TimeRange) -> Result<(Vec<ScanUnit>, ScanStats), Error> {
        let planned = match &self.files {
            Files::Local(files) => files
                .par_iter()
                .filter(|path| may_overlap(path, window))
                .map(|path| {
                    let (_, metadata) = open_footer(path)?;
                    Ok(plan_file(path, &metadata, None, window))
                })
                .collect::<Result<Vec<_>, Error>>()?,
            Files::Objects(files) => {
                let mut listed = files.list(|path| may_overlap(path, window))?;
                let footers = ObjectFile::footers(&mut listed)?;
                listed
                    .into_iter()
                    .zip(footers)
                    .map(|((path, object), metadata)| {
                        plan_file(&path, &metadata, Some(object), window)
                    })
                    .collect()
            }
        };
        tracing::debug!(opened = planned.len(), "planned scan");
        let mut stats = ScanStats::default();
        let mut units = Vec::with_capacity(planned.len());
        for (unit, file_stats) in planned {
            stats += file_stats;
            units.extend(unit);
        }
        Ok((units, stats))
    }
}

/// The unit of a file whose footer is `metadata`, if any of its row groups may meet `window`.
fn plan_file(
    path: &Path,
    metadata: &ArrowReaderMetadata,
    object: Option<ObjectFile>,
    window: TimeRange,
) -> (Option<ScanUnit>, ScanStats) {
    let total = metadata.metadata().num_row_groups();
    let row_groups: Vec<usize> = match timestamp_bounds(metadata) {
        Some((mins, maxes)) => (0..total)
            .filter(|&i| {
                mins.is_null(i)
                    || maxes.is_null(i)
                    || window.overlaps(mins.value(i), maxes.value(i))
            })
            .collect(),
        None => (0..total).collect(),
    };
    let stats = ScanStats {
        files: 1,
        row_groups_skipped: (total - row_groups.len()) as u64,
        ..ScanStats::default()
    };
    let unit = (!row_groups.is_empty()).then(|| ScanUnit {
        path: path.to_path_buf(),
        row_groups,
        window,
        object,
    });
    (unit, stats)
}

/// Per row group, the least and greatest `@timestamp` in epoch milliseconds (null when unknown),
/// or `None` when the column is absent or of a type whose statistics do not order by time
/// (strings).
fn timestamp_bounds(metadata: &ArrowReaderMetadata) -> Option<(Int64Array, Int64Array)> {
    let schema = metadata.schema();
    let (_, field) = schema.column_with_name(TIMESTAMP)?;
    if !matches!(field.data_type(), DataType::Timestamp(..) | DataType::Int64) {
        return None;
    }
    let converter =
        StatisticsConverter::try_new(TIMESTAMP, schema, metadata.parquet_schema()).ok()?;
    let groups = metadata.metadata().row_groups();
    let mins = converter.row_group_mins(groups.iter()).ok()?;
    let maxes = converter.row_group_maxes(groups.iter()).ok()?;
    Some((timestamps_ms(&mins).ok()?, timestamps_ms(&maxes).ok()?))
}
