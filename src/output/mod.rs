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
mod document;
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
pub use kibana::{AlertRule, AlertTarget, alert_document};
pub use model_size_stats::model_size_stats_batch;
pub use ndjson::alerts_ndjson;
pub use records::records_batch;
pub use results_ndjson::{ResultsTarget, results_ndjson};

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

/// The folders of the output tree: one per result type, and the alerts'. Each holds a folder per
/// job of Parquet files named `<file_prefix>-<from>-<to>.parquet`; see `docs/outputs.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Folder {
    Anomalies,
    Buckets,
    BucketInfluencers,
    Influencers,
    ModelSizeStats,
    Alerts,
}

impl Folder {
    pub const ALL: [Folder; 6] = [
        Folder::Anomalies,
        Folder::Buckets,
        Folder::BucketInfluencers,
        Folder::Influencers,
        Folder::ModelSizeStats,
        Folder::Alerts,
    ];

    /// The folder's name under the output folder.
    pub fn as_str(self) -> &'static str {
        match self {
            Folder::Anomalies => "anomalies",
            Folder::Buckets => "buckets",
            Folder::BucketInfluencers => "bucket_influencers",
            Folder::Influencers => "influencers",
            Folder::ModelSizeStats => "model_size_stats",
            Folder::Alerts => "alerts",
        }
    }

    /// How the names of its files begin: the records' say what they hold, not where.
    pub fn file_prefix(self) -> &'static str {
        match self {
            Folder::Anomalies => "records",
            other => other.as_str(),
        }
    }
}

impl AsRef<Path> for Folder {
    fn as_ref(&self) -> &Path {
        Path::new(self.as_str())
    }
}

/// An output file that could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file system refused to write it.
    #[error("{}: cannot write", path.display())]
    Write {
        path: PathBuf,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Its rows could not be laid out as Arrow arrays.
    #[error("{}: cannot build the rows", path.display())]
    Build {
        path: PathBuf,
        source: arrow::error::ArrowError,
    },
}

/// Writes `batch` as a zstd-compressed Parquet file at `path` and fsyncs it.
pub fn write_parquet(path: &Path, batch: &RecordBatch) -> Result<(), Error> {
    let fail = |source: Box<dyn std::error::Error + Send + Sync>| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| fail(e.into()))?;
    }
    let file = File::create(path).map_err(|e| fail(e.into()))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut writer =
        ArrowWriter::try_new(&file, batch.schema(), Some(props)).map_err(|e| fail(e.into()))?;
    writer.write(batch).map_err(|e| fail(e.into()))?;
    writer.close().map_err(|e| fail(e.into()))?;
    file.sync_all().map_err(|e| fail(e.into()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int64Array;

    use super::*;

    #[test]
    fn a_write_failure_keeps_its_cause_and_prints_it_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        let batch =
            RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from(vec![1])) as _)]).unwrap();
        let err = write_parquet(&file.join("out.parquet"), &batch).unwrap_err();
        assert!(matches!(err, Error::Write { .. }));
        let chain = format!("{:#}", anyhow::Error::new(err));
        assert_eq!(chain.matches("File exists").count(), 1, "{chain}");
        assert!(
            chain.contains("a-file/out.parquet: cannot write"),
            "{chain}"
        );
    }
}
