//! Buckets: selected events folded into per-bucket presence summaries.
//!
//! Input: `store::EventFrame`s with the rows `datafeed` selected. Output: one [`BucketSummary`]
//! per bucket span, in time order, for `model` to learn from and `results` to explain.

mod config;
mod fold;
mod partial;
mod summary;

pub use config::BucketSpan;
pub use fold::{FoldFields, fold_frame};
pub use partial::PartialFold;
pub use summary::{BucketSummary, MAX_INFLUENCER_VALUES, SeriesKey, TextSet, ValueSummary};
