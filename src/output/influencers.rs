//! The influencer's document and its row of the influencers files (`<out>/influencers/`).

use std::sync::LazyLock;

use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use super::document::{Field, Read::*, batch, bucket_result};
use crate::results::InfluencerResult;

/// The influencer's fields, in the influencers file's column order; see `docs/outputs.md`.
pub(super) static INFLUENCER: LazyLock<Vec<Field<InfluencerResult>>> = LazyLock::new(|| {
    bucket_result(
        InfluencerResult::id,
        vec![
            Field::both(
                "influencer_field_name",
                Keyword(|i| &i.influencer_field_name),
            ),
            Field::both(
                "influencer_field_value",
                Keyword(|i| &i.influencer_field_value),
            ),
            Field::both("influencer_score", Double(|i| i.influencer_score)),
            Field::both(
                "initial_influencer_score",
                Double(|i| i.initial_influencer_score),
            ),
            Field::row("result_version", Count(|i| i.result_version)),
            Field::both("probability", Double(|i| i.probability)),
        ],
    )
});

/// One row per influencer value and bucket; see `docs/outputs.md`.
pub fn influencers_batch(influencers: &[InfluencerResult]) -> Result<RecordBatch, ArrowError> {
    let rows: Vec<&InfluencerResult> = influencers.iter().collect();
    batch(&INFLUENCER, &rows)
}
