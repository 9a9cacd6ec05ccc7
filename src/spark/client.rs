//! The Spark Connect session: the source's schema once, then one summary query per job and time
//! window, its Arrow answer decoded into bucket summaries.
//!
//! The client crate links its own Arrow version; results cross over as Arrow IPC bytes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::ipc::reader::FileReader;
use spark_connect::types::{DataType, StructField};
use spark_connect::{SparkSession, SparkSessionBuilder};

use super::columns::{ColumnType, SourceColumn, SourceSchema};
use super::{Error, decode, from_clause, source_view, summary_query};
use crate::bucket::{BucketSummary, FoldFields};
use crate::datafeed::BoolQuery;
use crate::store::TimeRange;
use crate::time::EpochMs;

/// A connected Spark Connect session reading one source.
pub struct Session {
    remote: String,
    source: String,
    session: SparkSession,
    schema: SourceSchema,
    /// Arrow IPC bytes received; atomic, as the plan holding the session is shared with the
    /// threads that model and commit.
    bytes_received: AtomicU64,
}

impl Session {
    /// Connects to `remote` (`sc://HOST:PORT[/;token=...]`) and reads the schema of `source`.
    pub fn connect(remote: &str, source: &str) -> Result<Session, Error> {
        super::check_reachable(remote)?;
        let shown = super::shown_remote(remote);
        let failed = |e: spark_connect::SparkError| Error::Unreachable {
            remote: shown.clone(),
            reason: e.to_string(),
        };
        let session = SparkSessionBuilder::new()
            .remote(remote)
            .get_or_create()
            .map_err(|e| Error::BadRemote {
                remote: shown.clone(),
                reason: e.to_string(),
            })?;
        session.version().map_err(failed)?;
        // Timestamps without a zone are UTC, as the native store reads them.
        session
            .conf()
            .set("spark.sql.session.timeZone", "UTC")
            .map_err(failed)?;
        let query_failed = |e: spark_connect::SparkError| Error::Query {
            remote: shown.clone(),
            reason: format!("reading {source}: {e}"),
        };
        if let Some(view) = source_view(source) {
            let create = session.sql(&view).map_err(query_failed)?;
            create.collect().map_err(query_failed)?;
        }
        let events = session
            .sql(&format!("SELECT * FROM {}", from_clause(source)))
            .map_err(query_failed)?;
        let schema = events.schema().map_err(query_failed)?;
        let mut columns = Vec::new();
        if let DataType::Struct { fields } = &schema {
            flatten(fields, &mut Vec::new(), &mut columns);
        }
        Ok(Session {
            remote: shown,
            source: source.to_string(),
            session,
            schema: SourceSchema { columns },
            bytes_received: AtomicU64::new(0),
        })
    }

    /// The summaries of the buckets in `window` of the events `datafeed` selects.
    pub fn fold(
        &self,
        datafeed: &BoolQuery,
        fold: &FoldFields,
        window: TimeRange,
    ) -> Result<BTreeMap<EpochMs, BucketSummary>, Error> {
        let sql = summary_query(&self.source, datafeed, fold, window, &self.schema)?;
        let failed = |e: spark_connect::SparkError| Error::Query {
            remote: self.remote.clone(),
            reason: e.to_string(),
        };
        let bytes = self
            .session
            .sql(&sql)
            .map_err(failed)?
            .to_arrow()
            .map_err(failed)?;
        self.bytes_received
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let bad_arrow = |e: arrow::error::ArrowError| Error::Query {
            remote: self.remote.clone(),
            reason: format!("the result is not Arrow IPC: {e}"),
        };
        let reader = FileReader::try_new(std::io::Cursor::new(bytes), None).map_err(bad_arrow)?;
        let mut buckets = BTreeMap::new();
        for batch in reader {
            let batch = batch.map_err(bad_arrow)?;
            // An empty answer comes without a schema.
            if batch.num_rows() > 0 {
                decode(&batch, &fold.influencers, &mut buckets)?;
            }
        }
        Ok(buckets)
    }
}

impl Session {
    /// Arrow IPC bytes received so far.
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received.load(Ordering::Relaxed)
    }
}

/// Every leaf column under `fields`, with its path from the top.
fn flatten(fields: &[StructField], path: &mut Vec<String>, out: &mut Vec<SourceColumn>) {
    for field in fields {
        path.push(field.name.clone());
        match &field.data_type {
            DataType::Struct { fields } => flatten(fields, path, out),
            other => out.push(SourceColumn {
                path: path.clone(),
                column_type: column_type(other),
            }),
        }
        path.pop();
    }
}

fn column_type(data_type: &DataType) -> ColumnType {
    match data_type {
        DataType::String { .. } | DataType::Char { .. } | DataType::Varchar { .. } => {
            ColumnType::Scalar
        }
        DataType::Byte | DataType::Short | DataType::Integer | DataType::Long => {
            ColumnType::Integer
        }
        DataType::Timestamp | DataType::TimestampNtz => ColumnType::Timestamp,
        DataType::Array { .. } => ColumnType::Array,
        _ => ColumnType::Other,
    }
}
