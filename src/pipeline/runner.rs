//! One job inside an execution: its model, checkpoint and rule memory, and what it produced
//! since the last commit.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::bucket::{BucketSummary, SeriesKey, ValueSummary};
use crate::jobs::Job;
use crate::model::{MemoryReport, Model};
use crate::results::{AnomalyRecord, RecordContext};
use crate::rule::exceptions::{Action, Subject};
use crate::rule::{Alert, Exceptions, RuleState, evaluate};
use crate::state::{Error as StateError, FORMAT, JobState, SnapshotProblem, VERSION};

use super::feed::Feed;

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
    pub rule: RuleState,
    pub summary: JobSummary,
    /// Checkpoint at the last commit: the first bucket of the unflushed records.
    pub flushed_to_ms: i64,
    pub records: Vec<AnomalyRecord>,
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
        let path = JobState::path(state_dir, job.id());
        let (model, checkpoint_ms, first_bucket_ms, rule) =
            match JobState::load(state_dir, job.id(), &fingerprint(job), job.span().ms())? {
                Some(state) => {
                    let model =
                        Model::restore(&job.file.model, &params, state.model).map_err(|e| {
                            StateError::BadSnapshot {
                                path,
                                problem: SnapshotProblem::Model(e),
                            }
                        })?;
                    (
                        model,
                        state.checkpoint_ms,
                        state.first_bucket_ms,
                        state.rule,
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
                        start,
                        None,
                        RuleState::default(),
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
        Ok(Runner {
            model,
            exceptions,
            checkpoint_ms,
            first_bucket_ms,
            rule,
            summary,
            flushed_to_ms: checkpoint_ms,
            records: Vec::new(),
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
    /// returns the records written.
    pub fn model_until(
        &mut self,
        job: &Job,
        until: i64,
        buckets: &mut BTreeMap<i64, BucketSummary>,
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
            let mut bucket = Feed::take(buckets, self.checkpoint_ms);
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
                        .matching(&BucketValue { job, key, value }, Action::SkipModelUpdate)
                        .is_none()
                });
            }
            for score in self.model.update(&bucket) {
                let Some(value) = bucket.values.get(&score.key) else {
                    continue;
                };
                if self
                    .exceptions
                    .matching(
                        &BucketValue {
                            job,
                            key: &score.key,
                            value,
                        },
                        Action::SkipResult,
                    )
                    .is_some()
                {
                    continue;
                }
                records.push(AnomalyRecord::new(&ctx, bucket.start_ms, &score, value));
            }
            self.checkpoint_ms += span;
            self.summary.buckets += 1;
        }
        buckets.retain(|&start, _| start >= self.checkpoint_ms);
        self.summary.records += records.len() as u64;
        self.summary.memory = self.model.memory();
        self.records.extend(records.iter().cloned());
        records
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
            rule: self.rule.clone(),
        }
    }
}

/// The first of the job's output folders under `out_dir` that holds a file, if any.
fn outputs_of(out_dir: &Path, job_id: &str) -> Option<std::path::PathBuf> {
    ["anomalies", "alerts"]
        .iter()
        .map(|kind| out_dir.join(kind).join(job_id))
        .find(|dir| std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()))
}

/// A by-value in a bucket, as model-stage exceptions see it.
struct BucketValue<'a> {
    job: &'a Job,
    key: &'a SeriesKey,
    value: &'a ValueSummary,
}

impl Subject for BucketValue<'_> {
    fn values_of(&self, field: &str) -> Vec<String> {
        let j = &self.job.file.job;
        let mut values: Vec<String> = self
            .value
            .influencers
            .get(field)
            .map(|v| v.iter().cloned().collect())
            .unwrap_or_default();
        if field == "host.name" && values.is_empty() {
            values = self.value.hosts.iter().cloned().collect();
        }
        if field == j.by_field_name || field == "by_field_value" {
            values.push(self.key.by.clone());
        }
        if j.partition_field_name.as_deref() == Some(field) || field == "partition_field_value" {
            values.extend(self.key.partition.iter().cloned());
        }
        values
    }
}
