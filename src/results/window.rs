//! The renormalisation window: the latest version of every result a big change may still
//! re-score, kept from one execution to the next in the job's state.

use serde::{Deserialize, Serialize};

use super::renormalize::{
    renormalize_buckets, renormalize_influencers, renormalize_records, window_ms,
};
use super::{AnomalyRecord, BucketResult, InfluencerResult};
use crate::model::elastic::Normalizer;
use crate::model::hierarchy::LevelScorers;
use crate::time::EpochMs;

/// The results of the last [`window_ms`] that renormalisation re-scores. Its fields are written
/// in the job state under their names there.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RenormalizationWindow {
    /// The latest version of every record, when the model normalises records.
    #[serde(rename = "recent_records")]
    pub records: Vec<AnomalyRecord>,
    /// The same for buckets scoring above 0; absent from snapshots written before buckets were
    /// renormalised, which then start with none.
    #[serde(rename = "recent_buckets", default)]
    pub buckets: Vec<BucketResult>,
    /// The same for influencers.
    #[serde(rename = "recent_influencers", default)]
    pub influencers: Vec<InfluencerResult>,
}

/// The new versions of earlier results a big change re-scored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Renormalized {
    pub records: Vec<AnomalyRecord>,
    pub buckets: Vec<BucketResult>,
    pub influencers: Vec<InfluencerResult>,
}

impl RenormalizationWindow {
    /// Re-scores the results of the buckets in `[from_ms, to_ms)` against the current state of
    /// every level (`leaf`, the record normaliser, when the model has one), as Elasticsearch
    /// does with each quantiles document whichever level moved; keeps and returns the new
    /// versions.
    pub fn renormalize(
        &mut self,
        leaf: Option<&Normalizer>,
        scorers: &LevelScorers,
        from_ms: EpochMs,
        to_ms: EpochMs,
    ) -> Renormalized {
        Renormalized {
            records: match leaf {
                Some(leaf) => renormalize_records(&mut self.records, leaf, from_ms, to_ms),
                None => Vec::new(),
            },
            buckets: renormalize_buckets(&mut self.buckets, scorers, from_ms, to_ms),
            influencers: renormalize_influencers(&mut self.influencers, scorers, from_ms, to_ms),
        }
    }

    /// Forgets the results that are out of the window of buckets of `bucket_span_ms` once
    /// the bucket starting at `next_bucket_ms` is the next to score.
    pub fn trim(&mut self, bucket_span_ms: i64, next_bucket_ms: EpochMs) {
        let start = next_bucket_ms - window_ms(bucket_span_ms);
        self.records.retain(|r| r.timestamp_ms >= start);
        self.buckets.retain(|b| b.timestamp_ms >= start);
        self.influencers.retain(|i| i.timestamp_ms >= start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::DAY_MS;

    const SPAN_MS: i64 = 900_000;

    #[test]
    fn the_window_is_written_under_the_state_file_names_and_older_states_load() {
        let window = RenormalizationWindow {
            records: vec![AnomalyRecord::sample("4444", 0, 90.0, &[])],
            ..RenormalizationWindow::default()
        };
        let text = serde_json::to_string(&window).unwrap();
        assert!(
            text.starts_with(r#"{"recent_records":[{"#)
                && text.ends_with(r#"}],"recent_buckets":[],"recent_influencers":[]}"#),
            "{text}"
        );
        let older: RenormalizationWindow =
            serde_json::from_str(r#"{"recent_records":[]}"#).unwrap();
        assert_eq!(older, RenormalizationWindow::default());
    }

    #[test]
    fn trimming_forgets_the_results_before_the_window() {
        let mut window = RenormalizationWindow {
            records: [0, DAY_MS - SPAN_MS, DAY_MS, 30 * DAY_MS]
                .iter()
                .map(|&t| AnomalyRecord::sample("4444", t, 90.0, &[]))
                .collect(),
            ..RenormalizationWindow::default()
        };
        // The window starts thirty days (more than 100 buckets of 15 minutes) before the next
        // bucket.
        window.trim(SPAN_MS, EpochMs(31 * DAY_MS));
        let kept: Vec<i64> = window.records.iter().map(|r| r.timestamp_ms.ms()).collect();
        assert_eq!(kept, [DAY_MS, 30 * DAY_MS]);
    }
}
