//! One job inside an execution: its model, checkpoint and rule memory, and what it produced
//! since the last commit.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::bucket::{BucketSummary, SeriesKey};
use crate::exceptions::{Action, Exceptions, Subject};
use crate::jobs::Job;
use crate::model::hierarchy::{self, Leaf, Levels};
use crate::model::{MemoryReport, Model};
use crate::results::renormalize::{
    renormalize_buckets, renormalize_influencers, renormalize_records, window_ms,
};
use crate::results::{
    AnomalyRecord, BucketResult, InfluencerResult, ModelSizeStats, RecordContext, ResultSet,
    bucket_results,
};
use crate::rule::{Alert, RuleState, evaluate};
use crate::state::{Error as StateError, FORMAT, JobState, SnapshotProblem, VERSION};

use super::feed::PendingBuckets;

/// What a job did in an execution (or a whole backfill).
#[derive(Debug, Clone, PartialEq)]
pub struct JobSummary {
    pub job_id: String,
    pub buckets: u64,
    pub events: u64,
    pub records: u64,
    pub alerts: u64,
    /// Qualifying records the cap left for later executions.
    pub pending: u64,
    /// Qualifying records an exception suppressed.
    pub excepted: u64,
    /// The widest gap (ms) a missed execution forced the rule window to cover.
    pub gap_ms: Option<i64>,
    pub memory: MemoryReport,
    pub duration: Duration,
}

/// A job being executed.
pub struct Runner {
    pub model: Model,
    pub exceptions: Exceptions,
    pub checkpoint_ms: i64,
    /// Start of the first bucket that held data; `None` until then, so a job created before its
    /// data exists does not learn from a run of empty buckets.
    pub first_bucket_ms: Option<i64>,
    /// Normalisers of the bucket and influencer scores.
    pub levels: Levels,
    /// Buckets in which the model refused new values at its memory limit.
    pub bucket_allocation_failures: u64,
    pub rule: RuleState,
    pub summary: JobSummary,
    /// Checkpoint at the last commit: the first bucket of the unflushed records.
    pub flushed_to_ms: i64,
    pub records: Vec<AnomalyRecord>,
    /// Buckets, influencers and model size statistics since the last commit.
    pub results: ResultSet,
    pub alerts: Vec<Alert>,
    /// The latest version of every record inside the renormalisation window.
    pub recent_records: Vec<AnomalyRecord>,
    /// The latest version of every bucket scoring above 0 inside the renormalisation window.
    pub recent_buckets: Vec<BucketResult>,
    /// The latest version of every influencer inside the renormalisation window.
    pub recent_influencers: Vec<InfluencerResult>,
}

/// What the model depends on in a job file; a state built under another definition is refused.
pub fn fingerprint(job: &Job) -> String {
    let j = &job.file.job;
    format!(
        "{} by {} partition {} span {}s model {:?}",
        j.function.as_str(),
        j.by_field_name,
        j.partition_field_name.as_deref().unwrap_or("-"),
        j.bucket_span.secs(),
        job.file.model.kind
    )
}

impl Runner {
    /// Restores the job from `state_dir`, or starts it fresh with its checkpoint `history`
    /// before `first_now`. A job without a snapshot but with outputs in `out_dir` is refused
    /// unless `relearn`.
    pub fn load(
        job: &Job,
        exceptions: Exceptions,
        state_dir: &Path,
        out_dir: &Path,
        first_now: i64,
        history: Duration,
        relearn: bool,
    ) -> Result<Runner, StateError> {
        let params = job.model_params();
        let span_s = job.span().secs();
        let path = JobState::path(state_dir, job.id());
        let (model, levels, failures, checkpoint_ms, first_bucket_ms, rule, windows) =
            match JobState::load(state_dir, job.id(), &fingerprint(job), job.span().ms())? {
                Some(state) => {
                    let bad = |problem| StateError::BadSnapshot {
                        path: path.clone(),
                        problem,
                    };
                    let model = Model::restore(&job.file.model, &params, state.model)
                        .map_err(|e| bad(SnapshotProblem::Model(e)))?;
                    let levels = Levels::restore(span_s, state.levels)
                        .map_err(|e| bad(SnapshotProblem::Levels(e)))?;
                    (
                        model,
                        levels,
                        state.bucket_allocation_failures,
                        state.checkpoint_ms,
                        state.first_bucket_ms,
                        state.rule,
                        (
                            state.recent_records,
                            state.recent_buckets,
                            state.recent_influencers,
                        ),
                    )
                }
                None => {
                    if let Some(outputs) = outputs_of(out_dir, job.id()).filter(|_| !relearn) {
                        return Err(StateError::MissingSnapshot {
                            path,
                            job_id: job.id().to_string(),
                            outputs,
                        });
                    }
                    let start = job
                        .span()
                        .bucket_start(first_now - history.as_millis() as i64);
                    (
                        Model::new(&job.file.model, &params),
                        Levels::new(span_s),
                        0,
                        start,
                        None,
                        RuleState::default(),
                        Default::default(),
                    )
                }
            };
        let (recent_records, recent_buckets, recent_influencers) = windows;
        let summary = JobSummary {
            job_id: job.id().to_string(),
            buckets: 0,
            events: 0,
            records: 0,
            alerts: 0,
            pending: 0,
            excepted: 0,
            gap_ms: None,
            memory: model.memory(),
            duration: Duration::ZERO,
        };
        Ok(Runner {
            model,
            exceptions,
            checkpoint_ms,
            first_bucket_ms,
            levels,
            bucket_allocation_failures: failures,
            rule,
            summary,
            flushed_to_ms: checkpoint_ms,
            records: Vec::new(),
            results: ResultSet::default(),
            alerts: Vec::new(),
            recent_records,
            recent_buckets,
            recent_influencers,
        })
    }

    /// End (exclusive) of the complete buckets at `now`: a bucket is complete once it ended at
    /// least `query_delay` ago.
    pub fn complete_until(job: &Job, now: i64) -> i64 {
        job.span()
            .bucket_start(now - job.file.datafeed.query_delay.as_millis() as i64)
    }

    /// Models every bucket from the checkpoint to `until`, in order, empty ones included, and
    /// returns the records written: the new ones and, after a bucket whose update was a big
    /// change at any level, the new versions of earlier records renormalised against the new
    /// state (the new versions of earlier buckets and influencers go to `results`).
    pub fn model_until(
        &mut self,
        job: &Job,
        until: i64,
        pending: &mut PendingBuckets,
    ) -> Vec<AnomalyRecord> {
        let span = job.span().ms();
        let j = &job.file.job;
        let ctx = RecordContext {
            job_id: &j.id,
            bucket_span_s: job.span().secs(),
            function: j.function.as_str(),
            by_field_name: &j.by_field_name,
            partition_field_name: j.partition_field_name.as_deref(),
        };
        let mut records = Vec::new();
        while self.checkpoint_ms + span <= until {
            let mut bucket = pending.take(self.checkpoint_ms);
            self.summary.events += bucket.event_count;
            if self.first_bucket_ms.is_none() {
                if bucket.values.is_empty() {
                    self.checkpoint_ms += span;
                    continue;
                }
                self.first_bucket_ms = Some(bucket.start_ms);
            }
            if self.exceptions.acts_on_model() {
                let exceptions = &self.exceptions;
                bucket.values.retain(|key, value| {
                    exceptions
                        .matching(
                            &Subject::BucketValue {
                                job: &ctx,
                                key,
                                value,
                            },
                            Action::SkipModelUpdate,
                        )
                        .is_none()
                });
            }
            let refused = self.model.memory().refused_values;
            let scores = self.model.update(&bucket);
            if self.model.memory().refused_values > refused {
                self.bucket_allocation_failures += 1;
            }
            let mut leaves: BTreeMap<&SeriesKey, f64> = match self.model.leaf_probabilities(&bucket)
            {
                Some(all) => all
                    .into_iter()
                    .filter_map(|(key, p)| Some((bucket.values.get_key_value(&key)?.0, p)))
                    .collect(),
                None => bucket.values.keys().map(|key| (key, 1.0)).collect(),
            };
            let before = records.len();
            for score in scores {
                let Some((key, value)) = bucket.values.get_key_value(&score.key) else {
                    continue;
                };
                let subject = Subject::BucketValue {
                    job: &ctx,
                    key,
                    value,
                };
                if self
                    .exceptions
                    .matching(&subject, Action::SkipResult)
                    .is_some()
                {
                    leaves.remove(key);
                    continue;
                }
                leaves.insert(key, score.probability);
                let record = AnomalyRecord::new(&ctx, bucket.start_ms, &score, value);
                if self.model.leaf_normalizer().is_some() {
                    self.recent_records.push(record.clone());
                }
                records.push(record);
            }
            let written = records.len() - before;
            self.score_bucket(job, &ctx, &bucket, &leaves, written);
            if self.model.big_change() || self.levels.big_change() {
                records
                    .extend(self.renormalize(bucket.start_ms - window_ms(span), bucket.start_ms));
            }
            self.checkpoint_ms += span;
            self.summary.buckets += 1;
        }
        pending.drop_before(self.checkpoint_ms);
        let window_start = self.checkpoint_ms - window_ms(span);
        self.recent_records
            .retain(|r| r.timestamp_ms >= window_start);
        self.recent_buckets
            .retain(|b| b.timestamp_ms >= window_start);
        self.recent_influencers
            .retain(|i| i.timestamp_ms >= window_start);
        self.summary.records += records.iter().filter(|r| r.result_version == 1).count() as u64;
        self.summary.memory = self.model.memory();
        self.records.extend(records.iter().cloned());
        records
    }

    /// Re-scores the results of the buckets in `[from_ms, to_ms)` against the current state of
    /// every level, as Elasticsearch does with each quantiles document whichever level moved;
    /// returns the new record versions and keeps the new bucket and influencer versions.
    fn renormalize(&mut self, from_ms: i64, to_ms: i64) -> Vec<AnomalyRecord> {
        let records = match self.model.leaf_normalizer() {
            Some(leaf) => renormalize_records(&mut self.recent_records, leaf, from_ms, to_ms),
            None => Vec::new(),
        };
        let scorers = self.levels.scorers();
        self.results.buckets.extend(renormalize_buckets(
            &mut self.recent_buckets,
            &scorers,
            from_ms,
            to_ms,
        ));
        self.results.influencers.extend(renormalize_influencers(
            &mut self.recent_influencers,
            &scorers,
            from_ms,
            to_ms,
        ));
        records
    }

    /// Aggregates and normalises the bucket's tree and keeps its bucket and influencer results,
    /// and those renormalisation may re-score.
    fn score_bucket(
        &mut self,
        job: &Job,
        ctx: &RecordContext,
        bucket: &BucketSummary,
        leaves: &BTreeMap<&SeriesKey, f64>,
        records: usize,
    ) {
        let leaves: Vec<Leaf> = leaves
            .iter()
            .filter_map(|(&key, &probability)| {
                Some(Leaf {
                    key,
                    probability,
                    influencers: &bucket.values.get(key)?.influencers,
                })
            })
            .collect();
        let tree = hierarchy::build(&leaves, &job.file.job.influencers);
        let scores = self.levels.score(tree);
        let (result, influencers) =
            bucket_results(ctx, bucket.start_ms, bucket.event_count, records, &scores);
        if result.anomaly_score > 0.0 {
            self.recent_buckets.push(result.clone());
        }
        self.recent_influencers.extend(influencers.iter().cloned());
        self.results.buckets.push(result);
        self.results.influencers.extend(influencers);
    }

    /// Notes the model's size after the execution at `now`, which modelled at least one bucket.
    pub fn log_model_size(&mut self, job: &Job, now: i64) {
        let stats = ModelSizeStats::new(
            job.id(),
            self.checkpoint_ms - job.span().ms(),
            now,
            &self.model.memory(),
            self.model.field_counts(),
            self.bucket_allocation_failures,
        );
        self.results.model_size_stats.push(stats);
    }

    /// Runs the rule at `now` over this execution's `records` and what the rule remembers.
    pub fn alert(&mut self, job: &Job, now: i64, records: &[AnomalyRecord]) {
        let lookback = job.lookback.as_millis() as i64;
        let outcome = evaluate(
            &job.file.rule,
            lookback,
            &self.exceptions,
            &mut self.rule,
            records,
            now,
            self.checkpoint_ms,
        );
        self.summary.alerts += outcome.alerts.len() as u64;
        self.summary.pending = outcome.pending as u64;
        self.summary.excepted += outcome.excepted as u64;
        self.summary.gap_ms = self.summary.gap_ms.max(outcome.gap_ms);
        self.alerts.extend(outcome.alerts);
    }

    /// The job's state as of now, to commit.
    pub fn state(&self, job: &Job) -> JobState {
        JobState {
            format: FORMAT.to_string(),
            version: VERSION,
            job_id: job.id().to_string(),
            job_fingerprint: fingerprint(job),
            checkpoint_ms: self.checkpoint_ms,
            first_bucket_ms: self.first_bucket_ms,
            model: self.model.snapshot(),
            levels: self.levels.snapshot(),
            bucket_allocation_failures: self.bucket_allocation_failures,
            rule: self.rule.clone(),
            recent_records: self.recent_records.clone(),
            recent_buckets: self.recent_buckets.clone(),
            recent_influencers: self.recent_influencers.clone(),
        }
    }
}

/// The first of the job's output folders under `out_dir` that holds a file, if any.
fn outputs_of(out_dir: &Path, job_id: &str) -> Option<std::path::PathBuf> {
    crate::output::Folder::ALL
        .iter()
        .map(|kind| out_dir.join(kind).join(job_id))
        .find(|dir| std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()))
}
