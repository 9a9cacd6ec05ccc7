//! One job's work on each folded bucket, in time order: the exception lists' say over its
//! values, the model's update, the records, the bucket's tree and its scores, and after a big
//! change the new versions of the window's earlier results.

use std::collections::BTreeMap;

use super::renormalize::window_ms;
use super::window::{RenormalizationWindow, Renormalized, WindowEntry};
use super::{
    AnomalyRecord, BucketResult, InfluencerResult, ModelSizeStats, RecordContext, bucket_results,
};
use crate::bucket::{BucketSummary, SeriesKey, ValueSummary};
use crate::model::hierarchy::{self, Leaf, Levels, LevelsSnapshot};
use crate::model::{MemoryReport, Model, ModelConfig, ModelParams, ModelSnapshot};
use crate::time::EpochMs;

/// What a job's exception lists decide about a bucket's values before they are learnt and
/// scored. The exceptions stage answers; it reads records too, so it depends on this stage and
/// not the other way round.
pub trait ValueExceptions {
    /// Removes from `bucket` the values the model must not learn (`skip_model_update`).
    fn skip_model_update(&self, job: &RecordContext, bucket: &mut BucketSummary);
    /// Whether the value is learnt but gets no record and no leaf in the bucket's tree
    /// (`skip_result`).
    fn skips_result(&self, job: &RecordContext, key: &SeriesKey, value: &ValueSummary) -> bool;
}

/// What a job's scorer takes from its job file: the model's table and parameters, the
/// influencers its bucket trees pivot on, and what its records name.
#[derive(Debug, Clone, PartialEq)]
pub struct JobModel {
    pub job_id: String,
    pub config: ModelConfig,
    pub params: ModelParams,
    /// The detector function, as records name it (`rare`).
    pub function: &'static str,
    pub by_field_name: String,
    pub partition_field_name: Option<String>,
    pub influencers: Vec<String>,
}

impl JobModel {
    /// What the job's records take from it.
    pub fn record_context(&self) -> RecordContext<'_> {
        RecordContext {
            job_id: &self.job_id,
            bucket_span_s: self.params.bucket_span_s,
            function: self.function,
            by_field_name: &self.by_field_name,
            partition_field_name: self.partition_field_name.as_deref(),
        }
    }
}

/// A job's model, normalisers and renormalisation window, which score its buckets one at a time.
pub struct Scorer<'a> {
    job: RecordContext<'a>,
    /// The job's influencer fields: the pivots of each bucket's tree.
    influencers: &'a [String],
    model: Model,
    /// The bucket and influencer normalisers.
    levels: Levels,
    /// Buckets in which the model refused new values at its memory limit.
    bucket_allocation_failures: u64,
    window: RenormalizationWindow,
}

/// What one bucket gave.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredBucket {
    /// The records of the bucket's anomalous values.
    pub records: Vec<AnomalyRecord>,
    /// The bucket result, with its bucket influencers.
    pub bucket: BucketResult,
    pub influencers: Vec<InfluencerResult>,
    /// After a big change at any level, the new versions of the window's earlier results.
    pub renormalized: Renormalized,
}

impl<'a> Scorer<'a> {
    /// The scorer of the job `job`, from its model and normalisers, the buckets its model
    /// refused values in so far, and its window.
    pub fn new(
        job: &'a JobModel,
        model: Model,
        levels: Levels,
        bucket_allocation_failures: u64,
        window: RenormalizationWindow,
    ) -> Scorer<'a> {
        Scorer {
            job: job.record_context(),
            influencers: &job.influencers,
            model,
            levels,
            bucket_allocation_failures,
            window,
        }
    }

    /// Learns `bucket` (the next one in time, empty or not) and scores it. After a bucket whose
    /// update was a big change at any level, the window's earlier results are re-scored against
    /// the new state.
    pub fn score(
        &mut self,
        mut bucket: BucketSummary,
        exceptions: &impl ValueExceptions,
    ) -> ScoredBucket {
        exceptions.skip_model_update(&self.job, &mut bucket);
        let refused = self.model.memory().refused_values;
        let scores = self.model.update(&bucket);
        if self.model.memory().refused_values > refused {
            self.bucket_allocation_failures += 1;
        }
        // The leaves in the model's order (ml-cpp's, for Elastic's model), with their probability.
        let order: Vec<(&SeriesKey, f64)> = match self.model.leaf_probabilities(&bucket) {
            Some(all) => all
                .into_iter()
                .filter_map(|(key, p)| Some((bucket.values.get_key_value(&key)?.0, p)))
                .collect(),
            None => bucket.values.keys().map(|key| (key, 1.0)).collect(),
        };
        let mut leaves: BTreeMap<&SeriesKey, f64> = order.iter().copied().collect();
        let mut records = Vec::new();
        for score in scores {
            let Some((key, value)) = bucket.values.get_key_value(&score.key) else {
                continue;
            };
            if exceptions.skips_result(&self.job, key, value) {
                leaves.remove(key);
                continue;
            }
            leaves.insert(key, score.probability);
            let record = AnomalyRecord::new(&self.job, bucket.start_ms, &score, value);
            if self.model.leaf_normalizer().is_some() {
                self.window.add_record(record.clone());
            }
            records.push(record);
        }
        let ordered: Vec<(&SeriesKey, f64)> = order
            .iter()
            .filter_map(|(key, _)| Some((*key, *leaves.get(key)?)))
            .collect();
        let (result, influencers) = self.score_tree(&bucket, &ordered, records.len());
        let renormalized = if self.model.big_change() || self.levels.big_change() {
            let from = bucket.start_ms - window_ms(self.span_ms());
            self.window.renormalize(
                self.model.leaf_normalizer(),
                &self.levels.scorers(),
                from,
                bucket.start_ms,
            )
        } else {
            Renormalized::default()
        };
        ScoredBucket {
            records,
            bucket: result,
            influencers,
            renormalized,
        }
    }

    /// Aggregates and normalises the bucket's tree of `leaves` (in the model's order) into its
    /// bucket and influencer results, and keeps those renormalisation may re-score.
    fn score_tree(
        &mut self,
        bucket: &BucketSummary,
        leaves: &[(&SeriesKey, f64)],
        records: usize,
    ) -> (BucketResult, Vec<InfluencerResult>) {
        let leaves: Vec<Leaf> = leaves
            .iter()
            .filter_map(|&(key, probability)| {
                Some(Leaf {
                    key,
                    probability,
                    influencers: &bucket.values.get(key)?.influencers,
                })
            })
            .collect();
        let tree = hierarchy::build(&leaves, self.influencers);
        let scores = self.levels.score(tree);
        let (result, influencers) = bucket_results(
            &self.job,
            bucket.start_ms,
            bucket.event_count,
            records,
            &scores,
        );
        if result.anomaly_score > 0.0 {
            self.window.add_bucket(result.clone());
        }
        self.window.add_influencers(&influencers);
        (result, influencers)
    }

    /// Forgets the results out of the window once the bucket at `next_bucket_ms` is the next to
    /// score. Done once per execution rather than per bucket: the window is only read by a big
    /// change, which re-scores from its own start.
    pub fn trim_window(&mut self, next_bucket_ms: EpochMs) {
        self.window.trim(self.span_ms(), next_bucket_ms);
    }

    /// The model's size after the execution at `now_ms`, whose last bucket started at
    /// `last_bucket_ms`.
    pub fn model_size_stats(&self, last_bucket_ms: EpochMs, now_ms: EpochMs) -> ModelSizeStats {
        ModelSizeStats::new(
            self.job.job_id,
            last_bucket_ms,
            now_ms,
            &self.model.memory(),
            self.model.field_counts(),
            self.bucket_allocation_failures,
        )
    }

    /// The model's memory use.
    pub fn memory(&self) -> MemoryReport {
        self.model.memory()
    }

    /// The model's complete state, to store.
    pub fn model_snapshot(&self) -> ModelSnapshot {
        self.model.snapshot()
    }

    /// The normalisers' complete state, to store.
    pub fn levels_snapshot(&self) -> LevelsSnapshot {
        self.levels.snapshot()
    }

    /// Buckets in which the model refused new values at its memory limit, since the job started.
    pub fn bucket_allocation_failures(&self) -> u64 {
        self.bucket_allocation_failures
    }

    /// The results a big change may still re-score.
    pub fn window(&self) -> &RenormalizationWindow {
        &self.window
    }

    /// What entered the window since the last call, to append to the job's window log.
    pub fn take_window_changes(&mut self) -> Vec<WindowEntry> {
        self.window.take_changes()
    }

    fn span_ms(&self) -> i64 {
        self.job.bucket_span_s * 1000
    }
}
