//! The influencer schema (`<out>/influencers/`).

use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use super::arrays::strings;
use super::buckets::{common_columns, doubles, longs};
use super::records::batch;
use crate::results::InfluencerResult;

/// One row per influencer value and bucket; see `docs/outputs.md`.
pub fn influencers_batch(rows: &[InfluencerResult]) -> Result<RecordBatch, ArrowError> {
    let refs: Vec<&InfluencerResult> = rows.iter().collect();
    let mut columns = common_columns(&refs, "influencer", true);
    columns.extend([
        (
            "influencer_field_name".into(),
            strings(rows.iter().map(|i| Some(i.influencer_field_name.as_str()))),
            false,
        ),
        (
            "influencer_field_value".into(),
            strings(rows.iter().map(|i| Some(i.influencer_field_value.as_str()))),
            false,
        ),
        (
            "influencer_score".into(),
            doubles(rows, |i| i.influencer_score),
            false,
        ),
        (
            "initial_influencer_score".into(),
            doubles(rows, |i| i.initial_influencer_score),
            false,
        ),
        (
            "result_version".into(),
            longs(rows, |i| i.result_version),
            false,
        ),
        (
            "probability".into(),
            doubles(rows, |i| i.probability),
            false,
        ),
    ]);
    batch(columns)
}
