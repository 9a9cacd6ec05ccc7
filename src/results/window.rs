//! The renormalisation window: the latest version of every result a big change may still
//! re-score, kept from one execution to the next beside the job's state. What entered it since
//! the last commit (new results and new versions) is kept apart, so that a commit appends only
//! that to the job's window log instead of rewriting the whole window.

use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Serialize};

use super::renormalize::{
    renormalize_buckets, renormalize_influencers, renormalize_records, window_ms,
};
use super::{AnomalyRecord, BucketResult, InfluencerResult};
use crate::model::elastic::Normalizer;
use crate::model::hierarchy::LevelScorers;
use crate::time::EpochMs;

/// The results of the last [`window_ms`] that renormalisation re-scores. Job states of format
/// version 2 held its fields under their serde names; later ones keep it in a log of
/// [`WindowEntry`] lines.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct RenormalizationWindow {
    /// The latest version of every record, when the model normalises records.
    #[serde(rename = "recent_records", default)]
    pub records: Vec<AnomalyRecord>,
    /// The same for buckets scoring above 0; absent from snapshots written before buckets were
    /// renormalised, which then start with none.
    #[serde(rename = "recent_buckets", default)]
    pub buckets: Vec<BucketResult>,
    /// The same for influencers.
    #[serde(rename = "recent_influencers", default)]
    pub influencers: Vec<InfluencerResult>,
    /// What entered the window since [`RenormalizationWindow::take_changes`] last took it.
    #[serde(skip)]
    changes: Vec<WindowEntry>,
}

/// A result entering the window, or a new version of one already in it: one line of a job's
/// window log. A later line with the same id replaces the earlier one in place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum WindowEntry {
    /// Boxed: a record is three times the size of the others.
    Record(Box<AnomalyRecord>),
    Bucket(BucketResult),
    Influencer(InfluencerResult),
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
        let renormalized = Renormalized {
            records: match leaf {
                Some(leaf) => renormalize_records(&mut self.records, leaf, from_ms, to_ms),
                None => Vec::new(),
            },
            buckets: renormalize_buckets(&mut self.buckets, scorers, from_ms, to_ms),
            influencers: renormalize_influencers(&mut self.influencers, scorers, from_ms, to_ms),
        };
        self.changes.extend(entries_of(
            &renormalized.records,
            &renormalized.buckets,
            &renormalized.influencers,
        ));
        renormalized
    }

    /// Adds a new record.
    pub fn add_record(&mut self, record: AnomalyRecord) {
        self.changes
            .push(WindowEntry::Record(Box::new(record.clone())));
        self.records.push(record);
    }

    /// Adds a new bucket.
    pub fn add_bucket(&mut self, bucket: BucketResult) {
        self.changes.push(WindowEntry::Bucket(bucket.clone()));
        self.buckets.push(bucket);
    }

    /// Adds new influencers.
    pub fn add_influencers(&mut self, influencers: &[InfluencerResult]) {
        for influencer in influencers {
            self.changes
                .push(WindowEntry::Influencer(influencer.clone()));
            self.influencers.push(influencer.clone());
        }
    }

    /// What entered the window since the last call, in order.
    pub fn take_changes(&mut self) -> Vec<WindowEntry> {
        std::mem::take(&mut self.changes)
    }

    /// Every result in the window, records first, then buckets, then influencers: the lines of
    /// a rewritten window log.
    pub fn entries(&self) -> Vec<WindowEntry> {
        entries_of(&self.records, &self.buckets, &self.influencers).collect()
    }

    /// Results in the window.
    pub fn len(&self) -> usize {
        self.records.len() + self.buckets.len() + self.influencers.len()
    }

    /// Whether the window holds no result.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The window a log's entries leave, read in order: a new id is added at the end, a known
    /// one replaced where it is, as the window kept it in memory. Nothing is left to take.
    pub fn replay(entries: impl IntoIterator<Item = WindowEntry>) -> RenormalizationWindow {
        let mut window = RenormalizationWindow::default();
        let (mut records, mut buckets, mut influencers) = Default::default();
        for entry in entries {
            match entry {
                WindowEntry::Record(r) => {
                    put(&mut window.records, &mut records, r.record_id.clone(), *r)
                }
                WindowEntry::Bucket(b) => put(&mut window.buckets, &mut buckets, b.id(), b),
                WindowEntry::Influencer(i) => {
                    put(&mut window.influencers, &mut influencers, i.id(), i)
                }
            }
        }
        window
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

/// The window entries of these results, records first.
fn entries_of<'a>(
    records: &'a [AnomalyRecord],
    buckets: &'a [BucketResult],
    influencers: &'a [InfluencerResult],
) -> impl Iterator<Item = WindowEntry> + 'a {
    let records = records
        .iter()
        .map(|r| WindowEntry::Record(Box::new(r.clone())));
    let buckets = buckets.iter().cloned().map(WindowEntry::Bucket);
    let influencers = influencers.iter().cloned().map(WindowEntry::Influencer);
    records.chain(buckets).chain(influencers)
}

/// Replaces the result of `id` in `list`, or adds it at the end; `at` maps ids to positions.
fn put<T>(list: &mut Vec<T>, at: &mut HashMap<String, usize>, id: String, result: T) {
    match at.get(&id) {
        Some(&i) => list[i] = result,
        None => {
            at.insert(id, list.len());
            list.push(result);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::renormalize::Renormalizable;
    use crate::time::DAY_MS;

    const SPAN_MS: i64 = 900_000;

    #[test]
    fn a_version_2_state_holds_the_window_under_its_names_and_older_ones_load() {
        let record = AnomalyRecord::sample("4444", 0, 90.0, &[]);
        let state = serde_json::json!({
            "checkpoint_ms": 0,
            "recent_records": [record],
            "recent_buckets": [],
        });
        let window: RenormalizationWindow = serde_json::from_value(state).unwrap();
        assert_eq!(window.records, [record]);
        let older: RenormalizationWindow = serde_json::from_str("{}").unwrap();
        assert_eq!(older, RenormalizationWindow::default());
    }

    #[test]
    fn replaying_additions_and_new_versions_gives_the_window_in_memory() {
        let mut window = RenormalizationWindow::default();
        window.add_record(AnomalyRecord::sample("a", 0, 90.0, &[]));
        window.add_record(AnomalyRecord::sample("b", 0, 10.0, &[]));
        let mut changes = window.take_changes();
        window.records[0].rescore(20.0);
        changes.push(WindowEntry::Record(Box::new(window.records[0].clone())));
        assert_eq!(RenormalizationWindow::replay(changes), window);
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
