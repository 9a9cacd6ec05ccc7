//! The memory estimate that holds the model to `model_memory_limit`.
//!
//! Input: the strings of each by-value and partition the model keeps. Output: an estimate in bytes,
//! charged when a value is accepted and never released (values are never pruned), and the status.
//! A value is charged once for everything it can ever cost: its category entry, its maximum-score
//! entry (even while forgotten) and its share of the per-bucket scratch, so the estimate cannot grow
//! behind the limit's back.

use super::normalizer::DIGEST_K;

/// Category entry: the key `String` (24) + [`super::categories::ValueState`] (16) + map slack (24).
const CATEGORY_ENTRY: u64 = 64;
/// Maximum-score entry: `SeriesKey` (48) + score and age (24) + map slack (24).
const MAX_SCORE_ENTRY: u64 = 96;
/// Per-bucket scratch per present value: a sorted concentration, its probability and cumulative sum.
const SCRATCH: u64 = 24;
/// One partition: its key (24) + map and total (32) + map slack (24).
const PARTITION_ENTRY: u64 = 80;
/// Two q-digests of at most `3k + 2` nodes of 32 bytes each, plus the fixed structs.
pub const FIXED_BYTES: u64 = 2 * (3 * DIGEST_K + 2) * 32 + 1024;

/// Bytes charged for accepting by-value `by` in partition `partition`: the by-value is held twice
/// (category key and series key), the partition once more in the series key.
pub fn value_cost(by: &str, partition: Option<&str>) -> u64 {
    CATEGORY_ENTRY
        + MAX_SCORE_ENTRY
        + SCRATCH
        + 2 * by.len() as u64
        + partition.map_or(0, |p| p.len() as u64)
}

/// Bytes charged for a new partition.
pub fn partition_cost(partition: Option<&str>) -> u64 {
    PARTITION_ENTRY + partition.map_or(0, |p| p.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs() {
        // 64 + 96 + 24 + 2·4 ("4444") = 192; with partition "web" 195.
        assert_eq!(value_cost("4444", None), 192);
        assert_eq!(value_cost("4444", Some("web")), 195);
        // 2 · 605 · 32 + 1024 = 39,744.
        assert_eq!(FIXED_BYTES, 39_744);
    }
}
