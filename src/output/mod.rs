//! Output: results and alerts as Parquet, and both as Elasticsearch `_bulk` NDJSON on request.
//!
//! Input: the `results` types (records, buckets, influencers, model size statistics) and
//! `rule::Alert`. Output: files that DuckDB, polars, Spark
//! and pandas read as they are: real timestamps, lists, one fixed schema for every job (see
//! `docs/outputs.md`); each alert as the document Kibana writes, for the space in
//! [`AlertTarget`]. Files are written to the path given, fsynced; publishing them under their
//! final names is the caller's commit step.

mod alerts;
mod arrays;
mod buckets;
mod influencers;
mod json_columns;
mod kibana;
mod model_size_stats;
mod ndjson;
mod records;
mod results_ndjson;

pub use alerts::alerts_batch;
pub use buckets::{bucket_influencers_batch, buckets_batch};
pub use influencers::influencers_batch;
pub use kibana::{AlertTarget, alert_document};
pub use model_size_stats::model_size_stats_batch;
pub use ndjson::alerts_ndjson;
pub use records::records_batch;
pub use results_ndjson::{RESULTS_INDEX, results_ndjson};

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

/// A file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{}: cannot write: {reason}", path.display())]
pub struct Error {
    pub path: PathBuf,
    pub reason: String,
}

/// Writes `batch` as a zstd-compressed Parquet file at `path` and fsyncs it.
pub fn write_parquet(path: &Path, batch: &RecordBatch) -> Result<(), Error> {
    let fail = |reason: String| Error {
        path: path.to_path_buf(),
        reason,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| fail(e.to_string()))?;
    }
    let file = File::create(path).map_err(|e| fail(e.to_string()))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut writer = ArrowWriter::try_new(&file, batch.schema(), Some(props))
        .map_err(|e| fail(e.to_string()))?;
    writer.write(batch).map_err(|e| fail(e.to_string()))?;
    writer.close().map_err(|e| fail(e.to_string()))?;
    file.sync_all().map_err(|e| fail(e.to_string()))
}
