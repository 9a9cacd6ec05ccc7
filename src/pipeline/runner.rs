//! One job inside an execution: its model, checkpoint and rule memory, and what it produced
//! since the last commit.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::bucket::{BucketSummary, SeriesKey, ValueSummary};
use crate::jobs::Job;
use crate::model::{MemoryReport, Model};
use crate::results::renormalize::{renormalize, window_ms};
use crate::results::{AnomalyRecord, RecordContext};
use crate::rule::exceptions::{Action, Subject};
use crate::rule::{Alert, Exceptions, RuleState, evaluate};
use crate::state::{FORMAT, JobState, VERSION};

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
    /// The latest version of every record inside the renormalisation window.
    pub recent: Vec<AnomalyRecord>,
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
    /// before `first_now`.
    pub fn load(
        job: &Job,
        exceptions: Exceptions,
        state_dir: &Path,
        first_now: i64,
        history: Duration,
    ) -> Result<Runner, crate::state::Error> {
        let params = job.model_params();
        let (model, checkpoint_ms, first_bucket_ms, rule, recent) =
            match JobState::load(state_dir, job.id(), &fingerprint(job))? {
                Some(state) => {
                    let path = JobState::path(state_dir, job.id());
                    let model = Model::restore(&job.file.model, &params, state.model)
                        .map_err(|reason| crate::state::Error::BadSnapshot { path, reason })?;
                    (
                        model,
                        state.checkpoint_ms,
                        state.first_bucket_ms,
                        state.rule,
                        state.recent_records,
                    )
                }
                None => {
                    let start = job
                        .span()
                        .bucket_start(first_now - history.as_millis() as i64);
                    (
                        Model::new(&job.file.model, &params),
                        start,
                        None,
                        RuleState::default(),
                        Vec::new(),
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
            recent,
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
    /// change, the new versions of earlier records renormalised against the new state.
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
                let record = AnomalyRecord::new(&ctx, bucket.start_ms, &score, value);
                if self.model.leaf_normalizer().is_some() {
                    self.recent.push(record.clone());
                }
                records.push(record);
            }
            if self.model.big_change()
                && let Some(normalizer) = self.model.leaf_normalizer()
            {
                records.extend(renormalize(
                    &mut self.recent,
                    normalizer,
                    bucket.start_ms - window_ms(span),
                    bucket.start_ms,
                ));
            }
            self.checkpoint_ms += span;
            self.summary.buckets += 1;
        }
        buckets.retain(|&start, _| start >= self.checkpoint_ms);
        let window_start = self.checkpoint_ms - window_ms(span);
        self.recent.retain(|r| r.timestamp_ms >= window_start);
        self.summary.records += records.iter().filter(|r| r.result_version == 1).count() as u64;
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
            recent_records: self.recent.clone(),
        }
    }
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
