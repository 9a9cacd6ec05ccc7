//! Ingest: raw Linux audit logs and Elasticsearch NDJSON exports into the Parquet event store.
//!
//! Input: [`Input`]s (files or standard input) holding `audit.log` records ([`auditd`]) or
//! ECS documents ([`ndjson`]), read as streams: memory does not grow with an input's size.
//! Output: `store::EcsEvent`s of network activity written in batches with
//! `store::write::DayFiles` under `date=YYYY-MM-DD/<kind>-<content hash>.parquet`, and an
//! [`IngestReport`] of what was read, written and skipped. Re-ingesting an input whose files
//! already exist writes nothing, so a scheduled ingest never duplicates events. Neighbours: only
//! `store` (its event type and writer); `cli` calls [`auditd::ingest`] and [`ndjson::ingest`].

pub mod auditd;
mod error;
mod input;
pub mod ndjson;
mod report;
mod write;

#[cfg(test)]
mod testutil;

pub use error::Error;
pub use input::Input;
pub use report::{IngestReport, MAX_MALFORMED_EXAMPLES, MalformedLine};
