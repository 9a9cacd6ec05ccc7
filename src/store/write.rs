//! Writes [`EcsEvent`]s as the Parquet event store that [`super::EventStore`] reads: one file per
//! UTC day under `date=YYYY-MM-DD/`, rows sorted by time so row-group statistics prune well.
//! [`write_partitioned`] takes events already in memory; [`DayFiles`] takes them one at a time,
//! for inputs too large to hold.

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
    let write_err = |e| parquet_error(path, e);
    let mut writer = ArrowWriter::try_new(tmp.as_file(), batch.schema(), Some(properties(opts)))
        .map_err(write_err)?;
    writer.write(&batch).map_err(write_err)?;
    writer.close().map_err(write_err)?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

fn properties(opts: &WriteOptions) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(opts.row_group_rows.max(1)))
        .build()
}

fn parquet_error(path: &Path, e: parquet::errors::ParquetError) -> Error {
    Error::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

const MS_PER_DAY: i64 = 86_400_000;

/// Events written as they come, one file per UTC day like [`write_partitioned`], holding at most
/// `batch_rows` of them in memory: when that many are pending, the day with the most is sorted
/// by time and appended to its file as a row group. Rows are sorted within each row group; a day
/// that fits one batch is written exactly as [`write_partitioned`] writes it. Files are written
/// under temporary names in `dir` (hidden, so readers skip them) and get their names only in
/// [`DayFiles::finish`], so that a name can depend on the whole input (a content hash); dropping
/// the writer instead removes them.
pub struct DayFiles {
    dir: PathBuf,
    opts: WriteOptions,
    batch_rows: usize,
    pending: usize,
    /// By day number since the epoch.
    days: BTreeMap<i64, DayFile>,
}

struct DayFile {
    /// `YYYY-MM-DD`.
    name: String,
    rows: Vec<EcsEvent>,
    /// Created at the day's first batch.
    writer: Option<ArrowWriter<tempfile::NamedTempFile>>,
}

impl DayFiles {
    /// A writer into the store at `dir` (created when the first batch is written).
    pub fn new(dir: &Path, opts: WriteOptions, batch_rows: usize) -> Self {
        DayFiles {
            dir: dir.to_path_buf(),
            opts,
            batch_rows: batch_rows.max(1),
            pending: 0,
            days: BTreeMap::new(),
        }
    }

    /// Adds one event, writing a batch if `batch_rows` are now pending.
    pub fn push(&mut self, event: EcsEvent) -> Result<(), Error> {
        let Some(time) = DateTime::from_timestamp_millis(event.timestamp_ms) else {
            return Err(Error::Write {
                path: self.dir.clone(),
                reason: format!("timestamp {} out of range", event.timestamp_ms),
            });
        };
        self.days
            .entry(event.timestamp_ms.div_euclid(MS_PER_DAY))
            .or_insert_with(|| DayFile {
                name: time.format("%Y-%m-%d").to_string(),
                rows: Vec::new(),
                writer: None,
            })
            .rows
            .push(event);
        self.pending += 1;
        if self.pending >= self.batch_rows
            && let Some(file) = self.days.values_mut().max_by_key(|f| f.rows.len())
        {
            self.pending -= file.write_batch(&self.dir, &self.opts)?;
        }
        Ok(())
    }

    /// The UTC days (`YYYY-MM-DD`) that have events, in order.
    pub fn days(&self) -> Vec<String> {
        self.days.values().map(|file| file.name.clone()).collect()
    }

    /// Writes what is pending and names each day's file `dir/date=YYYY-MM-DD/<file_stem>.parquet`
    /// (replacing one already there), atomically. Returns the files, in day order.
    pub fn finish(self, file_stem: &str) -> Result<Vec<PathBuf>, Error> {
        let mut written = Vec::with_capacity(self.days.len());
        for mut file in self.days.into_values() {
            file.write_batch(&self.dir, &self.opts)?;
            let Some(writer) = file.writer else {
                continue;
            };
            let partition = self.dir.join(format!("date={}", file.name));
            let path = partition.join(format!("{file_stem}.parquet"));
            let tmp = writer.into_inner().map_err(|e| parquet_error(&path, e))?;
            tmp.as_file().sync_all().map_err(|e| Error::io(&path, e))?;
            fs::create_dir_all(&partition).map_err(|e| Error::io(&partition, e))?;
            tmp.persist(&path).map_err(|e| Error::io(&path, e.error))?;
            written.push(path);
        }
        Ok(written)
    }
}

impl DayFile {
    /// Sorts the pending rows by time and appends them to the file (a temporary one in `dir`,
    /// created at the first batch) as one row group. Returns how many rows were written.
    fn write_batch(&mut self, dir: &Path, opts: &WriteOptions) -> Result<usize, Error> {
        if self.rows.is_empty() {
            return Ok(0);
        }
        let mut rows = std::mem::take(&mut self.rows);
        rows.sort_by_key(|e| e.timestamp_ms);
        let refs: Vec<&EcsEvent> = rows.iter().collect();
        let partition = dir.join(format!("date={}", self.name));
        let write_err = |e| parquet_error(&partition, e);
        let batch = to_batch(&refs, opts.style).map_err(|e| Error::Write {
            path: partition.clone(),
            reason: e.to_string(),
        })?;
        let writer = match &mut self.writer {
            Some(writer) => writer,
            None => {
                fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
                let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
                let writer = ArrowWriter::try_new(tmp, batch.schema(), Some(properties(opts)))
                    .map_err(write_err)?;
                self.writer.insert(writer)
            }
        };
        writer.write(&batch).map_err(write_err)?;
        writer.flush().map_err(write_err)?;
        Ok(rows.len())
    }
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
