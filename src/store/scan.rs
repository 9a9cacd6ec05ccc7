//! Reading one unit of work (a file's surviving row groups) into an [`EventFrame`].
//!
//! Input: a [`ScanUnit`] and the fields a job needs. Output: one frame per unit with only the
//! rows inside the window. Only the Parquet leaves of `@timestamp` and the requested fields are
//! decoded; batches are filtered by time as they are decoded, then joined and normalised once.

use std::collections::HashMap;
use std::path::Path;

use arrow::array::{Array, BooleanArray, Int64Array};
use arrow::compute::{concat_batches, filter_record_batch};
use arrow::datatypes::DataType;
use arrow::record_batch::{RecordBatch, RecordBatchReader};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};

use super::Error;
use super::column::FieldKind;
use super::footer::{corrupt, open_footer};
use super::frame::{EventFrame, FieldRequest, ScanStats, ScanUnit, TIMESTAMP, TimeRange};
use super::normalize::{Mismatch, normalize, timestamps_ms};
use super::resolve::{FieldPath, extract, leaves, nested, resolve};

/// Rows per decoded batch: large enough to amortise per-batch work, small enough that a batch
/// of a wide file stays a few megabytes.
const BATCH_ROWS: usize = 65_536;

impl ScanUnit {
    /// Reads the unit's rows inside its window, with only `fields` (plus `@timestamp`) decoded.
    /// The frame's stats count row groups and rows read, rows in the window and invalid values.
    pub fn read(&self, fields: &[FieldRequest]) -> Result<EventFrame, Error> {
        read_unit(self, fields)
    }
}

fn read_unit(unit: &ScanUnit, fields: &[FieldRequest]) -> Result<EventFrame, Error> {
    let path = unit.path.as_path();
    let (file, metadata) = open_footer(path)?;
    let timestamp = locate(path, &metadata, TIMESTAMP)?.ok_or_else(|| missing(path, TIMESTAMP))?;
    let targets = locate_fields(path, &metadata, fields)?;
    let groups = metadata.metadata().num_row_groups();
    if let Some(bad) = unit.row_groups.iter().find(|&&g| g >= groups) {
        return Err(corrupt(
            path,
            format!("no row group {bad}: the file has {groups}"),
        ));
    }
    let descriptor = metadata.parquet_schema();
    let wanted = std::iter::once(&timestamp).chain(targets.iter().map(|(_, p)| p));
    let mask = ProjectionMask::leaves(
        descriptor,
        wanted
            .flat_map(|p| leaves(descriptor, p))
            .collect::<Vec<_>>(),
    );
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata)
        .with_projection(mask)
        .with_row_groups(unit.row_groups.clone())
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| corrupt(path, e))?;
    let mut stats = ScanStats {
        row_groups_read: unit.row_groups.len() as u64,
        ..ScanStats::default()
    };
    let (timestamps, rows) = decode_window(unit, reader, &timestamp, &mut stats)?;
    let mut columns = HashMap::with_capacity(targets.len());
    for (name, found) in &targets {
        let array = extract(&rows, found).ok_or_else(|| missing(path, name))?;
        let (column, invalid) = normalize(FieldKind::of(name), &array)
            .map_err(|m| wrong_type(path, name, array.data_type(), m))?;
        count_invalid(&mut stats, path, name, invalid);
        columns.insert(name.to_string(), column);
    }
    Ok(EventFrame {
        path: unit.path.clone(),
        timestamps,
        columns,
        stats,
    })
}

/// The column path of each requested field found in the file; a missing required field is an
/// error, a missing optional one is left out.
fn locate_fields<'a>(
    path: &Path,
    metadata: &ArrowReaderMetadata,
    fields: &'a [FieldRequest],
) -> Result<Vec<(&'a str, FieldPath)>, Error> {
    let mut found = Vec::with_capacity(fields.len());
    for field in fields {
        match (locate(path, metadata, &field.name)?, field.required) {
            (Some(columns), _) => found.push((field.name.as_str(), columns)),
            (None, true) => return Err(missing(path, &field.name)),
            (None, false) => {}
        }
    }
    Ok(found)
}

/// Decodes every batch, keeping the rows whose timestamp is in the unit's window: their
/// timestamps in milliseconds and their decoded columns as one batch. Counts rows read, rows
/// kept and invalid timestamps into `stats`.
fn decode_window(
    unit: &ScanUnit,
    reader: ParquetRecordBatchReader,
    timestamp: &[String],
    stats: &mut ScanStats,
) -> Result<(Vec<i64>, RecordBatch), Error> {
    let path = unit.path.as_path();
    let schema = reader.schema();
    // Checks the timestamp type even when no row is decoded.
    window_rows(
        path,
        &RecordBatch::new_empty(schema.clone()),
        timestamp,
        unit.window,
    )?;
    let mut timestamps = Vec::new();
    let mut kept = Vec::new();
    let mut invalid = 0;
    for batch in reader {
        let batch = batch.map_err(|e| corrupt(path, e))?;
        stats.rows_read += batch.num_rows() as u64;
        let (ms, in_window) = window_rows(path, &batch, timestamp, unit.window)?;
        invalid += ms.null_count() as u64;
        let selected = ms.values().iter().zip(in_window.values().iter());
        timestamps.extend(selected.filter(|(_, keep)| *keep).map(|(t, _)| *t));
        kept.push(keep_rows(path, batch, &in_window)?);
    }
    let rows = match kept.len() {
        1 => kept.remove(0),
        _ => concat_batches(&schema, &kept).map_err(|e| corrupt(path, e))?,
    };
    stats.rows_in_window = timestamps.len() as u64;
    count_invalid(stats, path, TIMESTAMP, invalid);
    Ok((timestamps, rows))
}

/// Where ECS field `name` is in the file, if anywhere. A file holding it both as a flat dotted
/// column and inside struct columns is [`Error::TwoForms`]: neither can be preferred safely.
fn locate(
    path: &Path,
    metadata: &ArrowReaderMetadata,
    name: &str,
) -> Result<Option<FieldPath>, Error> {
    let fields = metadata.schema().fields();
    let found = resolve(fields, name);
    if found.as_ref().is_some_and(|p| p.len() == 1) && nested(fields, name).is_some() {
        return Err(Error::TwoForms {
            path: path.to_path_buf(),
            column: name.to_string(),
        });
    }
    Ok(found)
}

/// A batch's timestamps in epoch milliseconds (null when invalid) and which rows are in `window`.
fn window_rows(
    path: &Path,
    batch: &RecordBatch,
    timestamp: &[String],
    window: TimeRange,
) -> Result<(Int64Array, BooleanArray), Error> {
    let array = extract(batch, timestamp).ok_or_else(|| missing(path, TIMESTAMP))?;
    let ms =
        timestamps_ms(&array).map_err(|m| wrong_type(path, TIMESTAMP, array.data_type(), m))?;
    let in_window = ms
        .iter()
        .map(|t| Some(t.is_some_and(|t| window.contains(t))))
        .collect();
    Ok((ms, in_window))
}

/// The rows of `batch` selected by `in_window`, sharing its buffers when all are.
fn keep_rows(
    path: &Path,
    batch: RecordBatch,
    in_window: &BooleanArray,
) -> Result<RecordBatch, Error> {
    if in_window.true_count() == batch.num_rows() {
        return Ok(batch);
    }
    filter_record_batch(&batch, in_window).map_err(|e| corrupt(path, e))
}

fn count_invalid(stats: &mut ScanStats, path: &Path, field: &str, count: u64) {
    if count > 0 {
        tracing::warn!(file = %path.display(), field, count, "invalid values nulled");
        *stats
            .invalid
            .entry((path.to_path_buf(), field.to_string()))
            .or_default() += count;
    }
}

fn missing(path: &Path, column: &str) -> Error {
    Error::MissingColumn {
        path: path.to_path_buf(),
        column: column.to_string(),
    }
}

fn wrong_type(path: &Path, column: &str, found: &DataType, mismatch: Mismatch) -> Error {
    Error::WrongType {
        path: path.to_path_buf(),
        column: column.to_string(),
        found: found.to_string(),
        expected: mismatch.expected,
    }
}
