//! The bucket span of a job file's `[job]` table.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::time::EpochMs;

/// How a job cuts time into buckets: `bucket_span = "15m"`. Buckets are aligned to the Unix
/// epoch, as Elasticsearch aligns them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BucketSpan(#[serde(with = "humantime_serde")] pub Duration);

impl BucketSpan {
    /// The span in milliseconds.
    pub fn ms(&self) -> i64 {
        self.0.as_millis() as i64
    }

    /// The span in seconds.
    pub fn secs(&self) -> i64 {
        self.0.as_secs() as i64
    }

    /// Start of the bucket holding `t`.
    pub fn bucket_start(&self, t: EpochMs) -> EpochMs {
        EpochMs(t.ms().div_euclid(self.ms()) * self.ms())
    }
}
