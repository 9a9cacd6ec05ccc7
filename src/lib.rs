//! netrare: Elastic's Linux network rarity detections as a batch job over Parquet ECS events.
//!
//! The modules follow the pipeline: `store` reads events, `datafeed` selects them, `bucket` folds
//! them into 15-minute summaries, `model` scores them, `results` builds anomaly records, `rule`
//! turns records into alerts and `output` writes both. After them, `triage` reads the outputs and
//! the store back to answer an analyst's questions about an alert, and `report` lays the answers
//! out as one HTML page; `ingest` and `cli` sit at the edges.

pub mod bucket;
pub mod cli;
pub mod datafeed;
mod error;
pub mod evaluate;
pub mod exceptions;
pub mod fixtures;
pub mod ingest;
pub mod jobs;
pub mod model;
pub mod objects;
pub mod output;
pub mod pipeline;
pub mod report;
pub mod results;
pub mod rule;
pub mod spark;
pub mod state;
pub mod store;
pub mod time;
pub mod triage;

pub use error::Error;
