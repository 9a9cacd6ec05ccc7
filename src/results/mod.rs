//! Results: model scores become Elastic-shaped anomaly records.
//!
//! Input: `model::Score` with the `bucket::ValueSummary` of the same value and bucket. Output:
//! [`AnomalyRecord`], one per anomalous value and bucket, with Elastic's fields and ids plus
//! the explanation Elastic lacks; [`renormalize`] re-scores earlier records when the normaliser
//! moved, as Elasticsearch does. Neighbours: `model` before, `rule` and `output` after.

mod record;
mod record_id;
pub mod renormalize;
mod values_to_id;

pub use record::{ALERT_FIELDS, AnomalyRecord, AnomalyScoreExplanation, Influencer, RecordContext};
pub use record_id::record_id;
pub use values_to_id::values_to_id;
