//! netrare: Elastic's Linux network rarity detections as a batch job over Parquet ECS events.
//!
//! The modules follow the pipeline: `store` reads events, `datafeed` selects them, `bucket` folds
//! them into 15-minute summaries, `model` scores them, `results` builds anomaly records, `rule`
//! turns records into alerts and `output` writes both; `ingest` and `cli` sit at the edges.

pub mod bucket;
pub mod fixtures;
pub mod model;
pub mod store;
