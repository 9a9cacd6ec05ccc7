//! The event store: Parquet datasets of ECS network events, read as [`EventFrame`]s.
//!
//! Input: a file, a directory (searched recursively) or a glob, or a prefix on object storage
//! (`s3://bucket/events`, read through [`crate::objects`]). Output: frames holding only the
//! columns a job asked for, normalised to one internal form whatever the file's layout (flat
//! dotted columns or nested structs; timestamps of any unit, RFC 3339 strings or epoch
//! milliseconds; keyword lists or single strings; integer or numeric-string ports). Neighbours:
//! `datafeed` selects rows of the frames; `ingest` and the fleet generator write through [`write`].

mod column;
mod discover;
mod error;
pub mod event;
mod files;
mod footer;
mod frame;
mod normalize;
mod objects;
mod partition;
mod resolve;
mod scan;
#[cfg(test)]
mod tests;
pub mod write;

pub use column::{Column, FieldKind, KeywordLists, Keywords, ValueRef};
pub use error::Error;
pub use event::EcsEvent;
pub use files::EventStore;
pub use frame::{EventFrame, FieldRequest, ScanStats, ScanUnit, TimeRange};
