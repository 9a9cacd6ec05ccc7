//! The bucket's document (`<out>/buckets/`, bucket influencers nested) and the bucket
//! influencer's (`<out>/bucket_influencers/`), as Elasticsearch stores both.

use std::sync::LazyLock;

use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use super::document::{Field, ListOf, Read::*, Role, batch, batch_of, bucket_result, columns};
use crate::results::{BucketInfluencer, BucketResult};

/// The bucket's fields, in the buckets file's column order; see `docs/outputs.md`.
pub(super) static BUCKET: LazyLock<Vec<Field<BucketResult>>> = LazyLock::new(|| {
    bucket_result(
        BucketResult::id,
        vec![
            Field::both("anomaly_score", Double(|b| b.anomaly_score)),
            Field::both("initial_anomaly_score", Double(|b| b.initial_anomaly_score)),
            result_version(),
            Field::both("event_count", Count(|b| b.event_count)),
            Field::both("processing_time_ms", Count(|b| b.processing_time_ms)),
            Field::both("bucket_influencers", List(Box::new(BUCKET_INFLUENCERS))),
        ],
    )
});

/// A bucket's `result_version`, which its bucket influencers share: Elasticsearch re-indexes them
/// together.
fn result_version() -> Field<BucketResult> {
    Field::row("result_version", Count(|b| b.result_version))
}

const BUCKET_INFLUENCERS: ListOf<BucketResult, BucketInfluencer> = ListOf {
    items: |b| &b.bucket_influencers,
    fields: &BUCKET_INFLUENCER,
};

/// The bucket influencer's fields, in the bucket influencers file's column order but for the
/// version, its bucket's.
pub(super) static BUCKET_INFLUENCER: LazyLock<Vec<Field<BucketInfluencer>>> = LazyLock::new(|| {
    bucket_result(
        BucketInfluencer::id,
        vec![
            Field::both(
                "influencer_field_name",
                Keyword(|b| &b.influencer_field_name),
            ),
            Field::both("anomaly_score", Double(|b| b.anomaly_score)),
            Field::both("initial_anomaly_score", Double(|b| b.initial_anomaly_score)),
            Field::both("raw_anomaly_score", Double(|b| b.raw_anomaly_score)),
            Field::both("probability", Double(|b| b.probability)),
        ],
    )
});

/// One row per bucket influencer, all buckets, versioned with its bucket; see
/// `docs/outputs.md`.
pub fn bucket_influencers_batch(buckets: &[BucketResult]) -> Result<RecordBatch, ArrowError> {
    let rows: Vec<&BucketInfluencer> = buckets.iter().flat_map(|b| &b.bucket_influencers).collect();
    let owners: Vec<&BucketResult> = buckets
        .iter()
        .flat_map(|b| std::iter::repeat_n(b, b.bucket_influencers.len()))
        .collect();
    let mut all = columns(&BUCKET_INFLUENCER, &rows, Role::in_row)?;
    all.extend(columns(&[result_version()], &owners, Role::in_row)?);
    batch_of(all)
}

/// One row per bucket; see `docs/outputs.md`.
pub fn buckets_batch(buckets: &[BucketResult]) -> Result<RecordBatch, ArrowError> {
    let rows: Vec<&BucketResult> = buckets.iter().collect();
    batch(&BUCKET, &rows)
}
