//! Results: model scores become Elastic-shaped result documents.
//!
//! Input: `model::Score` with the `bucket::ValueSummary` of the same value and bucket, and the
//! bucket's `model::hierarchy::BucketScores`. Output: [`AnomalyRecord`] (one per anomalous value
//! and bucket, plus the explanation Elastic lacks), [`BucketResult`] with its
//! [`BucketInfluencer`]s, [`InfluencerResult`] and [`ModelSizeStats`], with Elastic's fields and
//! ids; [`renormalize`] re-scores earlier records when the normaliser moved, as Elasticsearch
//! does. A job's [`Scorer`] does all of it for one bucket at a time, and keeps the
//! [`RenormalizationWindow`]. Neighbours: `model` before, `rule` and `output` after.

mod bucket;
mod model_size_stats;
mod record;
mod record_id;
pub mod renormalize;
mod scorer;
mod values_to_id;
mod window;

pub use bucket::{
    BUCKET_TIME, BucketInfluencer, BucketResult, InfluencerResult, MAX_RESULTS_PER_BUCKET,
    bucket_results,
};
pub use model_size_stats::ModelSizeStats;
pub use record::{ALERT_FIELDS, AnomalyRecord, AnomalyScoreExplanation, Influencer, RecordContext};
pub use record_id::record_id;
pub use scorer::{JobModel, ScoredBucket, Scorer, ValueExceptions};
pub use values_to_id::values_to_id;
pub use window::{RenormalizationWindow, Renormalized, WindowEntry};

/// The bucket-level results of a job not yet written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResultSet {
    pub buckets: Vec<BucketResult>,
    pub influencers: Vec<InfluencerResult>,
    pub model_size_stats: Vec<ModelSizeStats>,
}
