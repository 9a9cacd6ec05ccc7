//! The datafeed: which events a job sees.
//!
//! Input: `store::EventFrame`. Output: the indices of the rows the job's query selects. The query
//! is what `[datafeed.query]` in the job file says (see [`DatafeedConfig`]), compiled once by
//! [`Datafeed::new`] so a bad job file fails before any data is read. Neighbours: `store` gives
//! the frames, `bucket` folds the selected rows.

mod config;
mod query;

pub use config::{BoolQuery, Clause, DatafeedConfig, MAX_QUERY_DELAY, TermValue};
pub use query::{Datafeed, Error, FrameTests};
pub(crate) use query::{TermSet, parse_nets, single};
