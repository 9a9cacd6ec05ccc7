//! Writes [`EcsEvent`]s as the Parquet event store that [`super::EventStore`] reads: one file per
//! UTC day under `date=YYYY-MM-DD/`, rows sorted by time so row-group statistics prune well.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Int64Array, ListBuilder, StringArray, StringBuilder, StructArray,
    TimestampMillisecondArray,
};
use arrow::datatypes::{Field, Fields, Schema};
use arrow::record_batch::RecordBatch;
use chrono::DateTime;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::Error;
use super::event::EcsEvent;

/// How ECS field names become Parquet columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColumnStyle {
    /// One column per field, named with dots (`destination.port`), as Elastic exports flatten.
    #[default]
    Flat,
    /// Struct columns (`destination: {port}`), as nested JSON converts.
    Nested,
}

/// Options for [`write_partitioned`].
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// Column naming.
    pub style: ColumnStyle,
    /// Rows per row group; smaller groups prune finer.
    pub row_group_rows: usize,
    /// File name (without extension) inside each day's partition.
    pub file_stem: String,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            style: ColumnStyle::Flat,
            row_group_rows: 65_536,
            file_stem: "events".into(),
        }
    }
}

/// Writes `events` under `dir/date=YYYY-MM-DD/<file_stem>.parquet`, one file per UTC day, sorted by
/// `@timestamp`. Each file is written to a temporary name and renamed, so readers never see half a
/// file. Returns the files written, in day order.
pub fn write_partitioned(
    dir: &Path,
    events: &[EcsEvent],
    opts: &WriteOptions,
) -> Result<Vec<PathBuf>, Error> {
    let mut days: BTreeMap<String, Vec<&EcsEvent>> = BTreeMap::new();
    for event in events {
        let day = DateTime::from_timestamp_millis(event.timestamp_ms)
            .ok_or_else(|| Error::Write {
                path: dir.to_path_buf(),
                reason: format!("timestamp {} out of range", event.timestamp_ms),
            })?
            .format("%Y-%m-%d")
            .to_string();
        days.entry(day).or_default().push(event);
    }
    let mut written = Vec::with_capacity(days.len());
    for (day, mut rows) in days {
        rows.sort_by_key(|e| e.timestamp_ms);
        let partition = dir.join(format!("date={day}"));
        fs::create_dir_all(&partition).map_err(|e| Error::io(&partition, e))?;
        let path = partition.join(format!("{}.parquet", opts.file_stem));
        write_file(&path, &rows, opts)?;
        written.push(path);
    }
    Ok(written)
}

/// Writes one Parquet file atomically (temporary file in the same folder, fsync, rename).
pub fn write_file(path: &Path, rows: &[&EcsEvent], opts: &WriteOptions) -> Result<(), Error> {
    let batch = to_batch(rows, opts.style).map_err(|e| Error::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let parent = path.parent().unwrap_or(Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(parent).map_err(|e| Error::io(parent, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(opts.row_group_rows.max(1)))
        .build();
    let write_err = |e: parquet::errors::ParquetError| Error::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let mut writer =
        ArrowWriter::try_new(tmp.as_file(), batch.schema(), Some(props)).map_err(write_err)?;
    writer.write(&batch).map_err(write_err)?;
    writer.close().map_err(write_err)?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

fn to_batch(
    rows: &[&EcsEvent],
    style: ColumnStyle,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let text = |f: fn(&EcsEvent) -> Option<&str>| -> ArrayRef {
        Arc::new(rows.iter().map(|e| f(e)).collect::<StringArray>())
    };
    let int = |f: fn(&EcsEvent) -> Option<i64>| -> ArrayRef {
        Arc::new(rows.iter().map(|e| f(e)).collect::<Int64Array>())
    };
    let list = |f: fn(&EcsEvent) -> &[String]| -> ArrayRef {
        let mut builder = ListBuilder::new(StringBuilder::new());
        for e in rows {
            for v in f(e) {
                builder.values().append_value(v);
            }
            builder.append(true);
        }
        Arc::new(builder.finish())
    };
    let timestamps: ArrayRef = Arc::new(
        TimestampMillisecondArray::from(rows.iter().map(|e| e.timestamp_ms).collect::<Vec<_>>())
            .with_timezone("UTC"),
    );
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("@timestamp", timestamps),
        ("event.category", list(|e| &e.event_category)),
        ("event.type", list(|e| &e.event_type)),
        ("event.action", text(|e| e.event_action.as_deref())),
        ("event.dataset", text(|e| e.event_dataset.as_deref())),
        ("event.module", text(|e| e.event_module.as_deref())),
        ("event.outcome", text(|e| e.event_outcome.as_deref())),
        ("host.name", text(|e| e.host_name.as_deref())),
        ("host.id", text(|e| e.host_id.as_deref())),
        ("host.os.type", text(|e| e.host_os_type.as_deref())),
        ("host.os.family", text(|e| e.host_os_family.as_deref())),
        ("process.pid", int(|e| e.process_pid)),
        ("process.name", text(|e| e.process_name.as_deref())),
        (
            "process.executable",
            text(|e| e.process_executable.as_deref()),
        ),
        ("process.args", list(|e| &e.process_args)),
        ("process.title", text(|e| e.process_title.as_deref())),
        (
            "process.working_directory",
            text(|e| e.process_working_directory.as_deref()),
        ),
        ("process.parent.pid", int(|e| e.process_parent_pid)),
        ("user.id", text(|e| e.user_id.as_deref())),
        ("user.name", text(|e| e.user_name.as_deref())),
        ("source.ip", text(|e| e.source_ip.as_deref())),
        ("source.port", int(|e| e.source_port)),
        ("destination.ip", text(|e| e.destination_ip.as_deref())),
        ("destination.port", int(|e| e.destination_port)),
        (
            "network.direction",
            text(|e| e.network_direction.as_deref()),
        ),
        (
            "network.transport",
            text(|e| e.network_transport.as_deref()),
        ),
    ];
    let columns = match style {
        ColumnStyle::Flat => columns
            .into_iter()
            .map(|(name, array)| (name.to_string(), array))
            .collect(),
        ColumnStyle::Nested => nest(
            columns
                .into_iter()
                .map(|(name, array)| (name.to_string(), array))
                .collect(),
        )?,
    };
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, a)| Field::new(name, a.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
}

/// Groups dotted columns into struct columns by their first segment, recursively; `@timestamp`
/// and other undotted names stay top-level.
fn nest(
    columns: Vec<(String, ArrayRef)>,
) -> Result<Vec<(String, ArrayRef)>, arrow::error::ArrowError> {
    let mut groups: Vec<(String, Vec<(String, ArrayRef)>)> = Vec::new();
    let mut out = Vec::new();
    for (name, array) in columns {
        match name.split_once('.') {
            None => out.push((name, array)),
            Some((head, rest)) => match groups.iter_mut().find(|(h, _)| h == head) {
                Some((_, children)) => children.push((rest.to_string(), array)),
                None => groups.push((head.to_string(), vec![(rest.to_string(), array)])),
            },
        }
    }
    for (head, children) in groups {
        let children = nest(children)?;
        let fields: Fields = children
            .iter()
            .map(|(n, a)| Field::new(n, a.data_type().clone(), true))
            .collect();
        let arrays = children.into_iter().map(|(_, a)| a).collect();
        out.push((
            head,
            Arc::new(StructArray::try_new(fields, arrays, None)?) as ArrayRef,
        ));
    }
    Ok(out)
}
