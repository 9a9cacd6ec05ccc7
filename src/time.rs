//! Points in time as a type, and their text.
//!
//! Every stage counts time in epoch milliseconds; [`EpochMs`] is such a point, so a time cannot
//! be passed where a duration or a count is meant, and it serialises as the bare number the state
//! files and outputs have always held. Durations (a bucket span, a lookback) stay plain `i64`
//! milliseconds: a point plus a duration is a point, a point minus a point is a duration.
//!
//! A bucket start is an `EpochMs` too, not a type of its own: it is the time of everything made
//! from its bucket (the summary, the records, the bucket and influencer results, an alert's
//! original time) and is compared with and stored beside the other times (a checkpoint is the
//! next bucket's start, a watermark and a renormalisation window are bounded by bucket starts);
//! a type of its own would only convert at each of those meetings. Which times are bucket
//! starts the names say (`start_ms`, `bucket_start`), and `BucketSpan::bucket_start` makes them.
//!
//! The texts of a time are all here: the document format of Elastic's results and alerts
//! ([`EpochMs::document`]), the RFC 3339 of messages (`Display`), and the shorter forms people
//! read in tables and reports.

use chrono::{DateTime, SecondsFormat};
use serde::{Deserialize, Serialize};

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// A point in time, milliseconds since the Unix epoch (UTC).
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EpochMs(pub i64);

impl EpochMs {
    /// The milliseconds since the epoch, for arithmetic and storage that count in them.
    pub const fn ms(self) -> i64 {
        self.0
    }

    /// chrono's `format` of the time, or `None` outside the range chrono can represent.
    fn format(self, format: &str) -> Option<String> {
        DateTime::from_timestamp_millis(self.0).map(|t| t.format(format).to_string())
    }

    /// The format of Elastic's documents, `2026-11-01T00:00:00.000Z`; empty outside chrono's
    /// range, as a document field must still be a string.
    pub fn document(self) -> String {
        DateTime::from_timestamp_millis(self.0)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
            .unwrap_or_default()
    }

    /// `YYYY-MM-DD HH:MM UTC`.
    pub fn minute_utc(self) -> String {
        self.format("%Y-%m-%d %H:%M UTC")
            .unwrap_or_else(|| self.raw())
    }

    /// `YYYY-MM-DD HH:MM`, for tables whose heading says the zone.
    pub fn minute(self) -> String {
        self.format("%Y-%m-%d %H:%M").unwrap_or_else(|| self.raw())
    }

    /// `MM-DD HH:MM`, for axis labels.
    pub fn short(self) -> String {
        self.format("%m-%d %H:%M").unwrap_or_else(|| self.raw())
    }

    /// `YYYYMMDDTHHMMSSmmmZ`: sorts as the times do, and fits in a file or object name.
    pub fn sortable(self) -> String {
        self.format("%Y%m%dT%H%M%S%3fZ")
            .unwrap_or_else(|| format!("{:020}", self.0))
    }

    /// `YYYY-MM-DD`.
    pub fn day(self) -> String {
        self.format("%Y-%m-%d").unwrap_or_else(|| self.raw())
    }

    /// The number itself, for a time chrono cannot represent.
    fn raw(self) -> String {
        format!("{} ms", self.0)
    }
}

/// The time `ms` milliseconds later (earlier when negative).
impl std::ops::Add<i64> for EpochMs {
    type Output = EpochMs;
    fn add(self, ms: i64) -> EpochMs {
        EpochMs(self.0 + ms)
    }
}

impl std::ops::AddAssign<i64> for EpochMs {
    fn add_assign(&mut self, ms: i64) {
        self.0 += ms;
    }
}

/// The time `ms` milliseconds earlier.
impl std::ops::Sub<i64> for EpochMs {
    type Output = EpochMs;
    fn sub(self, ms: i64) -> EpochMs {
        EpochMs(self.0 - ms)
    }
}

/// The milliseconds from `earlier` to `self`.
impl std::ops::Sub for EpochMs {
    type Output = i64;
    fn sub(self, earlier: EpochMs) -> i64 {
        self.0 - earlier.0
    }
}

/// The bare number, as the `i64` it replaces printed, so debug output and logs read as before.
impl std::fmt::Debug for EpochMs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}

/// RFC 3339 with the UTC offset, `2026-11-01T00:00:00+00:00`: the form of messages.
impl std::fmt::Display for EpochMs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match DateTime::from_timestamp_millis(self.0) {
            Some(t) => f.write_str(&t.to_rfc3339()),
            None => f.write_str(&self.raw()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_1: EpochMs = EpochMs(1_793_491_200_000);

    #[test]
    fn each_format_reads_as_before() {
        assert_eq!(NOV_1.document(), "2026-11-01T00:00:00.000Z");
        assert_eq!(NOV_1.to_string(), "2026-11-01T00:00:00+00:00");
        assert_eq!(NOV_1.minute_utc(), "2026-11-01 00:00 UTC");
        assert_eq!(NOV_1.minute(), "2026-11-01 00:00");
        assert_eq!(NOV_1.short(), "11-01 00:00");
        assert_eq!(NOV_1.day(), "2026-11-01");
    }

    #[test]
    fn a_time_out_of_range_is_its_number() {
        let far = EpochMs(i64::MAX);
        assert_eq!(far.document(), "");
        assert_eq!(far.to_string(), format!("{} ms", i64::MAX));
    }

    #[test]
    fn debug_is_the_number() {
        assert_eq!(format!("{:?}", Some(EpochMs(5))), "Some(5)");
    }

    #[test]
    fn serialises_as_the_number() {
        assert_eq!(
            serde_json::to_string(&NOV_1).ok().as_deref(),
            Some("1793491200000")
        );
        assert_eq!(serde_json::from_str::<EpochMs>("5").ok(), Some(EpochMs(5)));
    }
}
