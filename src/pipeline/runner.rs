//! One job inside an execution: its model, checkpoint and rule memory, and what it produced
//! since the last commit.

use std::path::Path;
use std::time::Duration;

use crate::exceptions::Exceptions;
use crate::jobs::Job;
use crate::model::hierarchy::Levels;
use crate::model::{MemoryReport, Model};
use crate::results::{
    AnomalyRecord, RecordContext, RenormalizationWindow, ResultSet, ScoredBucket, Scorer,
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
pub struct Runner<'a> {
    /// The model, normalisers and renormalisation window.
    pub scorer: Scorer<'a>,
    pub exceptions: Exceptions,
    pub checkpoint_ms: i64,
    /// Start of the first bucket that held data; `None` until then, so a job created before its
    /// data exists does not learn from a run of empty buckets.
    pub first_bucket_ms: Option<i64>,
    pub rule: RuleState,
    pub summary: JobSummary,
    /// Checkpoint at the last commit: the first bucket of the unflushed records.
    pub flushed_to_ms: i64,
    pub records: Vec<AnomalyRecord>,
    /// Buckets, influencers and model size statistics since the last commit.
    pub results: ResultSet,
    pub alerts: Vec<Alert>,
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

impl<'a> Runner<'a> {
    /// Restores the job from `state_dir`, or starts it fresh with its checkpoint `history`
    /// before `first_now`. A job without a snapshot but with outputs in `out_dir` is refused
    /// unless `relearn`.
    pub fn load(
        job: &'a Job,
        exceptions: Exceptions,
        state_dir: &Path,
        out_dir: &Path,
        first_now: i64,
        history: Duration,
        relearn: bool,
    ) -> Result<Runner<'a>, StateError> {
        let params = job.model_params();
        let span_s = job.span().secs();
        let path = JobState::path(state_dir, job.id());
        let (model, levels, failures, checkpoint_ms, first_bucket_ms, rule, window) =
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
                        RenormalizationWindow {
                            records: state.recent_records,
                            buckets: state.recent_buckets,
                            influencers: state.recent_influencers,
                        },
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
        let j = &job.file.job;
        let ctx = RecordContext {
            job_id: &j.id,
            bucket_span_s: job.span().secs(),
            function: j.function.as_str(),
            by_field_name: &j.by_field_name,
            partition_field_name: j.partition_field_name.as_deref(),
        };
        Ok(Runner {
            scorer: Scorer::new(ctx, &j.influencers, model, levels, failures, window),
            exceptions,
            checkpoint_ms,
            first_bucket_ms,
            rule,
            summary,
            flushed_to_ms: checkpoint_ms,
            records: Vec::new(),
            results: ResultSet::default(),
            alerts: Vec::new(),
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
        let mut records = Vec::new();
        while self.checkpoint_ms + span <= until {
            let bucket = pending.take(self.checkpoint_ms);
            self.summary.events += bucket.event_count;
            if self.first_bucket_ms.is_none() {
                if bucket.values.is_empty() {
                    self.checkpoint_ms += span;
                    continue;
                }
                self.first_bucket_ms = Some(bucket.start_ms);
            }
            let ScoredBucket {
                records: new,
                bucket,
                influencers,
                renormalized,
            } = self.scorer.score(bucket, &self.exceptions);
            records.extend(new);
            records.extend(renormalized.records);
            self.results.buckets.push(bucket);
            self.results.buckets.extend(renormalized.buckets);
            self.results.influencers.extend(influencers);
            self.results.influencers.extend(renormalized.influencers);
            self.checkpoint_ms += span;
            self.summary.buckets += 1;
        }
        pending.drop_before(self.checkpoint_ms);
        self.scorer.trim_window(self.checkpoint_ms);
        self.summary.records += records.iter().filter(|r| r.result_version == 1).count() as u64;
        self.summary.memory = self.scorer.memory();
        self.records.extend(records.iter().cloned());
        records
    }

    /// Notes the model's size after the execution at `now`, which modelled at least one bucket.
    pub fn log_model_size(&mut self, job: &Job, now: i64) {
        let stats = self
            .scorer
            .model_size_stats(self.checkpoint_ms - job.span().ms(), now);
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
            model: self.scorer.model_snapshot(),
            levels: self.scorer.levels_snapshot(),
            bucket_allocation_failures: self.scorer.bucket_allocation_failures(),
            rule: self.rule.clone(),
            recent_records: self.scorer.window().records.clone(),
            recent_buckets: self.scorer.window().buckets.clone(),
            recent_influencers: self.scorer.window().influencers.clone(),
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
