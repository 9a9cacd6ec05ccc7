//! Evaluation: how well each job and model finds the labelled incidents of a store, and how many
//! false alerts it raises per 1,000 host-days.
//!
//! Input: the labels (`fixtures::Label`), a job's alerts (`rule::Alert`) and the anomaly records
//! it wrote under `<out>/anomalies/<job id>/`, and the store's hosts and days. Output: a
//! [`JobEval`] per job and model. [`evaluate`] drives a scratch backfill per model, which the
//! caller plans and executes; `cli` prints the comparison; the
//! matching rule and metrics are described in `docs/evaluation.md`.

mod backfill;
mod extent;
mod records;
mod score;

pub use backfill::{Backfill, Evaluation, evaluate};
pub use extent::{StoreExtent, store_extent};
pub use records::read_records;
pub use score::{
    Hit, HostDays, JobEval, JobUnderTest, ScenarioEval, caught, evaluate_job, matches,
};

use std::path::PathBuf;

/// Why an evaluation could not read its inputs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The event store could not be scanned.
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    /// An anomaly records file could not be read.
    #[error("{}: cannot read anomaly records: {reason}", path.display())]
    Records { path: PathBuf, reason: String },
}
