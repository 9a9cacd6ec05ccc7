//! The bucketing keys of a job file's `[job]` table.

/// Placeholder.
pub struct BucketConfig;
