//! The bucket schema (`<out>/buckets/`, bucket influencers nested) and the standalone bucket
//! influencer schema (`<out>/bucket_influencers/`), as Elasticsearch stores both.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use super::arrays::{strings, struct_lists, timestamps};
use super::records::batch;
use crate::results::{BucketInfluencer, BucketResult, InfluencerResult};

/// A named column: name, values, nullable.
pub(super) type Column = (String, ArrayRef, bool);

/// What every result type has: an id, `job_id`, `timestamp`, `bucket_span`, `is_interim`.
pub(super) trait Common {
    fn result_id(&self) -> String;
    fn parts(&self) -> (&str, i64, i64, bool);
}

/// Implements [`Common`] from the fields every result struct has.
macro_rules! common {
    ($($result:ty),*) => {$(
        impl Common for $result {
            fn result_id(&self) -> String {
                self.id()
            }
            fn parts(&self) -> (&str, i64, i64, bool) {
                (&self.job_id, self.timestamp_ms, self.bucket_span, self.is_interim)
            }
        }
    )*};
}

common!(BucketResult, BucketInfluencer, InfluencerResult);

/// The shared columns: `id` (when `with_id`), `job_id`, `result_type`, `timestamp`,
/// `bucket_span`, `is_interim`.
pub(super) fn common_columns<T: Common>(
    rows: &[&T],
    result_type: &str,
    with_id: bool,
) -> Vec<Column> {
    let parts: Vec<(&str, i64, i64, bool)> = rows.iter().map(|r| r.parts()).collect();
    let mut columns = Vec::with_capacity(6);
    if with_id {
        let ids: Vec<String> = rows.iter().map(|r| r.result_id()).collect();
        columns.push((
            "id".into(),
            strings(ids.iter().map(|s| Some(s.as_str()))),
            false,
        ));
    }
    columns.extend([
        (
            "job_id".into(),
            strings(parts.iter().map(|p| Some(p.0))),
            false,
        ),
        (
            "result_type".into(),
            strings(rows.iter().map(|_| Some(result_type))),
            false,
        ),
        (
            "timestamp".into(),
            timestamps(parts.iter().map(|p| p.1)),
            false,
        ),
        (
            "bucket_span".into(),
            Arc::new(parts.iter().map(|p| p.2).collect::<Int64Array>()),
            false,
        ),
        (
            "is_interim".into(),
            Arc::new(parts.iter().map(|p| Some(p.3)).collect::<BooleanArray>()),
            false,
        ),
    ]);
    columns
}

/// A double column.
pub(super) fn doubles<T>(rows: &[T], f: impl Fn(&T) -> f64) -> ArrayRef {
    Arc::new(rows.iter().map(f).collect::<Float64Array>())
}

/// A long column.
pub(super) fn longs<T>(rows: &[T], f: impl Fn(&T) -> u64) -> ArrayRef {
    Arc::new(rows.iter().map(|r| f(r) as i64).collect::<Int64Array>())
}

/// The bucket influencer columns after the common ones.
fn bucket_influencer_columns(rows: &[&BucketInfluencer]) -> Vec<Column> {
    vec![
        (
            "influencer_field_name".into(),
            strings(rows.iter().map(|b| Some(b.influencer_field_name.as_str()))),
            false,
        ),
        (
            "anomaly_score".into(),
            doubles(rows, |b| b.anomaly_score),
            false,
        ),
        (
            "initial_anomaly_score".into(),
            doubles(rows, |b| b.initial_anomaly_score),
            false,
        ),
        (
            "raw_anomaly_score".into(),
            doubles(rows, |b| b.raw_anomaly_score),
            false,
        ),
        (
            "probability".into(),
            doubles(rows, |b| b.probability),
            false,
        ),
    ]
}

/// One row per bucket influencer, all buckets, versioned with its bucket (Elasticsearch
/// re-indexes them together); see `docs/outputs.md`.
pub fn bucket_influencers_batch(buckets: &[BucketResult]) -> Result<RecordBatch, ArrowError> {
    let rows: Vec<&BucketInfluencer> = buckets.iter().flat_map(|b| &b.bucket_influencers).collect();
    let versions: Vec<u64> = buckets
        .iter()
        .flat_map(|b| std::iter::repeat_n(b.result_version, b.bucket_influencers.len()))
        .collect();
    let mut columns = common_columns(&rows, "bucket_influencer", true);
    columns.extend(bucket_influencer_columns(&rows));
    columns.push(("result_version".into(), longs(&versions, |v| *v), false));
    batch(columns)
}

/// One row per bucket; see `docs/outputs.md`.
pub fn buckets_batch(buckets: &[BucketResult]) -> Result<RecordBatch, ArrowError> {
    let rows: Vec<&BucketResult> = buckets.iter().collect();
    let mut columns = common_columns(&rows, "bucket", true);
    columns.extend([
        (
            "anomaly_score".into(),
            doubles(buckets, |b| b.anomaly_score),
            false,
        ),
        (
            "initial_anomaly_score".into(),
            doubles(buckets, |b| b.initial_anomaly_score),
            false,
        ),
        (
            "result_version".into(),
            longs(buckets, |b| b.result_version),
            false,
        ),
        (
            "event_count".into(),
            longs(buckets, |b| b.event_count),
            false,
        ),
        (
            "processing_time_ms".into(),
            longs(buckets, |b| b.processing_time_ms),
            false,
        ),
        ("bucket_influencers".into(), nested(buckets)?, false),
    ]);
    batch(columns)
}

/// `bucket_influencers`: a list of structs per bucket, with the standalone columns minus the id.
fn nested(buckets: &[BucketResult]) -> Result<ArrayRef, ArrowError> {
    let rows: Vec<&BucketInfluencer> = buckets.iter().flat_map(|b| &b.bucket_influencers).collect();
    let mut columns = common_columns(&rows, "bucket_influencer", false);
    columns.extend(bucket_influencer_columns(&rows));
    struct_lists(columns, buckets.iter().map(|b| b.bucket_influencers.len()))
}
