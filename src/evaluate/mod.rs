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

/// Why an evaluation could not read its inputs or plan its backfills.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("opening the event store {events}")]
    Open {
        events: String,
        source: crate::store::Error,
    },
    #[error("scanning the event store {events}")]
    Scan {
        events: String,
        source: crate::store::Error,
    },
    /// Nothing to evaluate: the store's files hold no rows.
    #[error("the event store {events} holds no events")]
    NoEvents { events: String },
    /// An event time whose day is beyond what a date can hold, so no midnight bounds it.
    #[error(
        "the event store {events} holds an event at {ms} ms since the epoch, a time no date can hold; pass --from and --to"
    )]
    TimeOutOfRange { events: String, ms: i64 },
    /// The range and interval make no usable schedule.
    #[error(transparent)]
    Schedule(crate::pipeline::ScheduleError),
    /// A scratch folder for a backfill could not be made.
    #[error(transparent)]
    Scratch(std::io::Error),
    /// An anomaly records file could not be read.
    #[error("{}: cannot read anomaly records: {reason}", path.display())]
    Records { path: PathBuf, reason: String },
}
