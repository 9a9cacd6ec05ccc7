//! Reading one unit of work (a file's surviving row groups) into an [`EventFrame`].
//!
//! Input: a [`ScanUnit`] and the fields a job needs. Output: one frame per unit with only the
//! rows inside the window. Only the Parquet leaves of `@timestamp` and the requested fields are
//! decoded, keyword columns as dictionaries; each batch's rows inside the window are appended to
//! the frame's columns as it is decoded.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, Int64Array};
use arrow::datatypes::{DataType, FieldRef, Fields, Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchReader};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};

use super::Error;
use super::column::FieldKind;
use super::footer::{corrupt, open_footer};
use super::frame::{EventFrame, FieldRequest, ScanStats, ScanUnit, TIMESTAMP, TimeRange};
use super::normalize::{ColumnBuilder, Mismatch, timestamps_ms};
use super::objects::ObjectFile;
use super::resolve::{FieldPath, extract, leaves, nested, resolve};

/// Rows per decoded batch: large enough to amortise per-batch work, small enough that a batch
/// of a wide file stays a few megabytes.
const BATCH_ROWS: usize = 65_536;

/// What a unit is read from.
enum Input<'a> {
    File(std::fs::File),
    Object(&'a ObjectFile),
}

/// A unit's decoded batches, from a file or from an object.
type Batches = Box<dyn Iterator<Item = Result<RecordBatch, Error>>>;

impl ScanUnit {
    /// Reads the unit's rows inside its window, with only `fields` (plus `@timestamp`) decoded.
    /// The frame's stats count row groups and rows read, rows in the window and invalid values.
    pub fn read(&self, fields: &[FieldRequest]) -> Result<EventFrame, Error> {
        read_unit(self, fields)
    }
}

fn read_unit(unit: &ScanUnit, fields: &[FieldRequest]) -> Result<EventFrame, Error> {
    let path = unit.path.as_path();
    let (input, metadata) = match &unit.object {
        None => {
            let (file, metadata) = open_footer(path)?;
            (Input::File(file), metadata)
        }
        Some(object) => (Input::Object(object), object.footer(path)?),
    };
    let timestamp = locate(path, &metadata, TIMESTAMP)?.ok_or_else(|| missing(path, TIMESTAMP))?;
    let targets = locate_fields(path, &metadata, fields)?;
    let groups = metadata.metadata().num_row_groups();
    if let Some(bad) = unit.row_groups.iter().find(|&&g| g >= groups) {
        return Err(corrupt(
            path,
            format!("no row group {bad}: the file has {groups}"),
        ));
    }
    let keywords: Vec<&FieldPath> = targets
        .iter()
        .filter(|(name, _)| {
            matches!(
                FieldKind::of(name),
                FieldKind::Keyword | FieldKind::KeywordList
            )
        })
        .map(|(_, p)| p)
        .collect();
    let metadata = as_dictionaries(path, metadata, &keywords)?;
    let descriptor = metadata.parquet_schema();
    let wanted = std::iter::once(&timestamp).chain(targets.iter().map(|(_, p)| p));
    let mask = ProjectionMask::leaves(
        descriptor,
        wanted
            .flat_map(|p| leaves(descriptor, p))
            .collect::<Vec<_>>(),
    );
    let row_groups = unit.row_groups.clone();
    let (schema, batches): (SchemaRef, Batches) = match input {
        Input::File(file) => {
            let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata)
                .with_projection(mask)
                .with_row_groups(row_groups)
                .with_batch_size(BATCH_ROWS)
                .build()
                .map_err(|e| corrupt(path, e))?;
            let owned = path.to_path_buf();
            (
                reader.schema(),
                Box::new(reader.map(move |batch| batch.map_err(|e| corrupt(&owned, e)))),
            )
        }
        Input::Object(object) => {
            let (schema, batches) = object.batches(path, metadata, mask, row_groups, BATCH_ROWS)?;
            (schema, Box::new(batches))
        }
    };
    let mut stats = ScanStats {
        row_groups_read: unit.row_groups.len() as u64,
        ..ScanStats::default()
    };
    let mut columns: Vec<(&str, &FieldPath, ColumnBuilder)> = targets
        .iter()
        .map(|(name, found)| (*name, found, ColumnBuilder::new(FieldKind::of(name))))
        .collect();
    let timestamps = decode_window(unit, &schema, batches, &timestamp, &mut columns, &mut stats)?;
    let mut frame_columns = HashMap::with_capacity(columns.len());
    for (name, _, builder) in columns {
        let (column, invalid) = builder.finish().map_err(|e| corrupt(path, e))?;
        count_invalid(&mut stats, path, name, invalid);
        frame_columns.insert(name.to_string(), column);
    }
    Ok(EventFrame {
        path: unit.path.clone(),
        timestamps,
        columns: frame_columns,
        stats,
    })
}

/// The file's metadata with the keyword columns at `paths` read as dictionaries when they are
/// plain strings or lists of them: dictionary-encoded Parquet pages then reach the frame's codes
/// without being decoded to one string per row or element.
fn as_dictionaries(
    path: &Path,
    metadata: ArrowReaderMetadata,
    paths: &[&FieldPath],
) -> Result<ArrowReaderMetadata, Error> {
    let schema = metadata.schema();
    let hinted: Fields = schema
        .fields()
        .iter()
        .map(|field| dictionary_hint(field, &[], paths))
        .collect();
    if hinted == *schema.fields() {
        return Ok(metadata);
    }
    let hint = Arc::new(Schema::new_with_metadata(hinted, schema.metadata().clone()));
    ArrowReaderMetadata::try_new(
        metadata.metadata().clone(),
        ArrowReaderOptions::new().with_schema(hint),
    )
    .map_err(|e| corrupt(path, e))
}

/// `field` (at `parent` in the schema) with its string leaves among `paths` as dictionaries.
fn dictionary_hint(field: &FieldRef, parent: &[&str], paths: &[&FieldPath]) -> FieldRef {
    let mut at = parent.to_vec();
    at.push(field.name());
    let requested = paths
        .iter()
        .any(|p| p.iter().map(String::as_str).eq(at.iter().copied()));
    let dictionary = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    match field.data_type() {
        DataType::Utf8 if requested => Arc::new(field.as_ref().clone().with_data_type(dictionary)),
        DataType::List(item) if requested && item.data_type() == &DataType::Utf8 => {
            let item = Arc::new(item.as_ref().clone().with_data_type(dictionary));
            Arc::new(field.as_ref().clone().with_data_type(DataType::List(item)))
        }
        DataType::Struct(children) => {
            let hinted: Fields = children
                .iter()
                .map(|child| dictionary_hint(child, &at, paths))
                .collect();
            Arc::new(
                field
                    .as_ref()
                    .clone()
                    .with_data_type(DataType::Struct(hinted)),
            )
        }
        _ => field.clone(),
    }
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

/// Decodes every batch, keeping the rows whose timestamp is in the unit's window: returns their
/// timestamps in milliseconds and appends their values to `columns`. Counts rows read, rows kept
/// and invalid timestamps into `stats`.
fn decode_window(
    unit: &ScanUnit,
    schema: &SchemaRef,
    batches: Batches,
    timestamp: &[String],
    columns: &mut [(&str, &FieldPath, ColumnBuilder)],
    stats: &mut ScanStats,
) -> Result<Vec<i64>, Error> {
    let path = unit.path.as_path();
    // Checks every column's type even when no row is decoded.
    let empty = RecordBatch::new_empty(schema.clone());
    window_rows(path, &empty, timestamp, unit.window)?;
    append_rows(path, &empty, None, columns)?;
    let mut timestamps = Vec::new();
    let mut invalid = 0;
    for batch in batches {
        let batch = batch?;
        stats.rows_read += batch.num_rows() as u64;
        let (ms, in_window) = window_rows(path, &batch, timestamp, unit.window)?;
        invalid += ms.null_count() as u64;
        let selected = ms.values().iter().zip(in_window.values().iter());
        timestamps.extend(selected.filter(|(_, keep)| *keep).map(|(t, _)| *t));
        append_rows(path, &batch, Some(&in_window), columns)?;
    }
    stats.rows_in_window = timestamps.len() as u64;
    count_invalid(stats, path, TIMESTAMP, invalid);
    Ok(timestamps)
}

/// Appends the rows of `batch` that `keep` selects to each column.
fn append_rows(
    path: &Path,
    batch: &RecordBatch,
    keep: Option<&BooleanArray>,
    columns: &mut [(&str, &FieldPath, ColumnBuilder)],
) -> Result<(), Error> {
    for (name, found, builder) in columns {
        let array = extract(batch, found).ok_or_else(|| missing(path, name))?;
        builder
            .append(&array, keep)
            .map_err(|m| wrong_type(path, name, array.data_type(), m))?;
    }
    Ok(())
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
