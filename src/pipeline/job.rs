//! One job of a plan, and the same job while the plan executes: each value carries everything
//! of its job, so no list is matched to another by position.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::bucket::BucketSummary;
use crate::exceptions::Exceptions;
use crate::jobs::Job;
use crate::model::hierarchy::Levels;
use crate::model::{MemoryReport, Model};
use crate::output::Folder;
use crate::results::{AnomalyRecord, RenormalizationWindow, ResultSet, ScoredBucket, Scorer};
use crate::rule::{Alert, Execution, RuleState, evaluate};
use crate::state::{
    Error as StateError, JobProgress, JobState, LogWrite, SavedJob, SnapshotProblem, WindowLog,
};
use crate::time::EpochMs;

/// A job of a plan, with its checked exception lists.
#[derive(Debug, Clone)]
pub struct PlannedJob {
    pub job: Job,
    pub exceptions: Exceptions,
}

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

/// What a job produced since the last commit, which the next commit takes whole.
#[derive(Debug, Default)]
pub(super) struct Unflushed {
    /// The checkpoint at the last commit: the first bucket these outputs cover.
    pub from_ms: EpochMs,
    pub records: Vec<AnomalyRecord>,
    /// Buckets, influencers and model size statistics.
    pub results: ResultSet,
    pub alerts: Vec<Alert>,
}

/// A job being executed: its definition, its scorer and rule memory, where it stopped, the
/// buckets the feed read ahead for it and what it produced since the last commit.
pub(super) struct JobRun<'a> {
    pub job: &'a Job,
    exceptions: Exceptions,
    scorer: Scorer<'a>,
    /// Start of the next bucket to model, epoch ms.
    checkpoint_ms: EpochMs,
    /// Start of the first bucket that held data; `None` until then, so a job created before its
    /// data exists does not learn from a run of empty buckets.
    first_bucket_ms: Option<EpochMs>,
    rule: RuleState,
    /// Where the job's window log ends after the last commit.
    window_log: WindowLog,
    /// The window did not come from the log (a version 2 state): the next commit rewrites it.
    window_inline: bool,
    /// The buckets the feed read ahead of the model.
    pending: PendingBuckets,
    unflushed: Unflushed,
    pub summary: JobSummary,
}

/// A job's folded buckets that its model has not taken yet, by start time.
#[derive(Debug, Default)]
struct PendingBuckets(BTreeMap<EpochMs, BucketSummary>);

impl PendingBuckets {
    /// Takes the summary of the bucket starting at `start` (empty when it had no events).
    fn take(&mut self, start: EpochMs) -> BucketSummary {
        self.0
            .remove(&start)
            .unwrap_or_else(|| BucketSummary::empty(start))
    }

    /// Drops the buckets before `start`, which the model has passed.
    fn drop_before(&mut self, start: EpochMs) {
        self.0.retain(|&bucket, _| bucket >= start);
    }

    /// Adds a read's buckets, merging those already pending.
    fn merge(&mut self, folded: BTreeMap<EpochMs, BucketSummary>) {
        for (start, summary) in folded {
            match self.0.get_mut(&start) {
                Some(existing) => existing.merge(summary),
                None => {
                    self.0.insert(start, summary);
                }
            }
        }
    }
}

/// What the model depends on in a job file; a state built under another definition is refused.
pub fn fingerprint(job: &Job) -> String {
    let m = &job.model;
    format!(
        "{} by {} partition {} span {}s model {:?}",
        m.function,
        m.by_field_name,
        m.partition_field_name.as_deref().unwrap_or("-"),
        m.params.bucket_span_s,
        m.config.kind
    )
}

impl<'a> JobRun<'a> {
    /// Restores the job from `state_dir`, or starts it fresh with its checkpoint `history`
    /// before `first_now`. A job without a snapshot but with outputs in `out_dir` is refused
    /// unless `relearn`.
    pub fn load(
        planned: &'a PlannedJob,
        state_dir: &Path,
        out_dir: &Path,
        first_now: EpochMs,
        history: Duration,
        relearn: bool,
    ) -> Result<JobRun<'a>, StateError> {
        let job = &planned.job;
        let params = &job.model.params;
        let span_s = job.span().secs();
        let path = JobState::path(state_dir, job.id());
        let scorer = |model, levels, failures, window| {
            Scorer::new(&job.model, model, levels, failures, window)
        };
        match JobState::load(state_dir, job.id(), &fingerprint(job), job.span().ms())? {
            Some(SavedJob {
                state,
                window,
                window_inline,
            }) => {
                let JobProgress {
                    checkpoint_ms,
                    first_bucket_ms,
                    model,
                    levels,
                    bucket_allocation_failures,
                    rule,
                    window_log,
                } = state.progress;
                let bad = |problem| StateError::BadSnapshot {
                    path: path.clone(),
                    problem,
                };
                let model = Model::restore(&job.model.config, params, model)
                    .map_err(|e| bad(SnapshotProblem::Model(e)))?;
                let levels =
                    Levels::restore(span_s, levels).map_err(|e| bad(SnapshotProblem::Levels(e)))?;
                let scorer = scorer(model, levels, bucket_allocation_failures, window);
                let mut run = JobRun::at(planned, scorer, checkpoint_ms, first_bucket_ms, rule);
                run.window_log = window_log;
                run.window_inline = window_inline;
                Ok(run)
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
                let model = Model::new(&job.model.config, params);
                let window = RenormalizationWindow::default();
                let scorer = scorer(model, Levels::new(span_s), 0, window);
                Ok(JobRun::at(
                    planned,
                    scorer,
                    start,
                    None,
                    RuleState::default(),
                ))
            }
        }
    }

    /// The job with `scorer` and `rule`, its next bucket at `checkpoint_ms`, nothing produced.
    fn at(
        planned: &'a PlannedJob,
        scorer: Scorer<'a>,
        checkpoint_ms: EpochMs,
        first_bucket_ms: Option<EpochMs>,
        rule: RuleState,
    ) -> JobRun<'a> {
        let summary = JobSummary {
            job_id: planned.job.id().to_string(),
            buckets: 0,
            events: 0,
            records: 0,
            alerts: 0,
            pending: 0,
            excepted: 0,
            gap_ms: None,
            memory: scorer.memory(),
            duration: Duration::ZERO,
        };
        JobRun {
            job: &planned.job,
            exceptions: planned.exceptions.clone(),
            scorer,
            checkpoint_ms,
            first_bucket_ms,
            rule,
            window_log: WindowLog::default(),
            window_inline: false,
            pending: PendingBuckets::default(),
            unflushed: Unflushed {
                from_ms: checkpoint_ms,
                ..Unflushed::default()
            },
            summary,
        }
    }

    /// Start of the next bucket to model, epoch ms.
    pub fn checkpoint_ms(&self) -> EpochMs {
        self.checkpoint_ms
    }

    /// When the job's rule last ran, epoch ms, if ever.
    pub fn last_execution_ms(&self) -> Option<EpochMs> {
        self.rule.last_execution_ms
    }

    /// Adds buckets the feed read for the job, merging those it read before.
    pub fn add_buckets(&mut self, folded: BTreeMap<EpochMs, BucketSummary>) {
        self.pending.merge(folded);
    }

    /// End (exclusive) of the job's complete buckets at `now`: a bucket is complete once it
    /// ended at least `query_delay` ago.
    pub fn complete_until(&self, now: EpochMs) -> EpochMs {
        self.job
            .span()
            .bucket_start(now - self.job.datafeed.query_delay().as_millis() as i64)
    }

    /// The execution at `now`: models the complete buckets from the pending ones, notes the
    /// model's size if it modelled any, then runs the rule.
    pub fn execute(&mut self, now: EpochMs) {
        let started = Instant::now();
        let checkpoint = self.checkpoint_ms;
        let records = self.model_until(self.complete_until(now));
        if self.checkpoint_ms > checkpoint {
            let last_bucket = self.checkpoint_ms - self.job.span().ms();
            let stats = self.scorer.model_size_stats(last_bucket, now);
            self.unflushed.results.model_size_stats.push(stats);
        }
        self.alert(now, &records);
        self.unflushed.records.extend(records);
        self.summary.duration += started.elapsed();
    }

    /// Scores every bucket from the checkpoint to `until`, in order, empty ones included, and
    /// returns the records written: the new ones and the new versions of earlier ones a big
    /// change re-scored (the buckets' and influencers' go to the unflushed results).
    fn model_until(&mut self, until: EpochMs) -> Vec<AnomalyRecord> {
        let span = self.job.span().ms();
        let mut records = Vec::new();
        while self.checkpoint_ms + span <= until {
            let bucket = self.pending.take(self.checkpoint_ms);
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
            let results = &mut self.unflushed.results;
            records.extend(new);
            records.extend(renormalized.records);
            results.buckets.push(bucket);
            results.buckets.extend(renormalized.buckets);
            results.influencers.extend(influencers);
            results.influencers.extend(renormalized.influencers);
            self.checkpoint_ms += span;
            self.summary.buckets += 1;
        }
        self.pending.drop_before(self.checkpoint_ms);
        self.scorer.trim_window(self.checkpoint_ms);
        self.summary.records += records.iter().filter(|r| r.result_version == 1).count() as u64;
        self.summary.memory = self.scorer.memory();
        records
    }

    /// Runs the rule at `now` over this execution's `records` and what the rule remembers.
    fn alert(&mut self, now: EpochMs, records: &[AnomalyRecord]) {
        let execution = Execution {
            now,
            modelled_until: self.checkpoint_ms,
            lookback_ms: self.job.rule.lookback.as_millis() as i64,
        };
        let outcome = evaluate(
            &self.job.rule.config,
            &self.exceptions,
            &mut self.rule,
            records,
            execution,
        );
        self.summary.alerts += outcome.alerts.len() as u64;
        self.summary.pending = outcome.pending as u64;
        self.summary.excepted += outcome.excepted as u64;
        self.summary.gap_ms = self.summary.gap_ms.max(outcome.gap_ms);
        self.unflushed.alerts.extend(outcome.alerts);
    }

    /// Takes what the job produced since the last commit, to commit it; the next outputs start
    /// at the checkpoint.
    pub fn take_unflushed(&mut self) -> Unflushed {
        let next = Unflushed {
            from_ms: self.checkpoint_ms,
            ..Unflushed::default()
        };
        std::mem::replace(&mut self.unflushed, next)
    }

    /// The job's state as of now, to commit, and what that commit writes to its window log:
    /// what entered the window since the last commit, or the whole window.
    pub fn state(&mut self) -> Result<(JobState, Option<LogWrite>), serde_json::Error> {
        let changes = self.scorer.take_window_changes();
        let write =
            self.window_log
                .next_write(self.scorer.window(), &changes, self.window_inline)?;
        self.window_inline = false;
        let progress = JobProgress {
            checkpoint_ms: self.checkpoint_ms,
            first_bucket_ms: self.first_bucket_ms,
            model: self.scorer.model_snapshot(),
            levels: self.scorer.levels_snapshot(),
            bucket_allocation_failures: self.scorer.bucket_allocation_failures(),
            rule: self.rule.clone(),
            window_log: self.window_log,
        };
        let state = JobState::new(self.job.id(), fingerprint(self.job), progress);
        Ok((state, write))
    }
}

/// The first of the job's output folders under `out_dir` that holds a file, if any.
fn outputs_of(out_dir: &Path, job_id: &str) -> Option<PathBuf> {
    Folder::ALL
        .iter()
        .map(|kind| out_dir.join(kind).join(job_id))
        .find(|dir| std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()))
}
