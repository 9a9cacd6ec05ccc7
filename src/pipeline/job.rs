//! One job of a plan, and the same job while the plan executes: each value carries everything
//! of its job, so no list is matched to another by position.

use std::time::Instant;

use crate::exceptions::Exceptions;
use crate::jobs::Job;

use super::feed::PendingBuckets;
use super::runner::Runner;

/// A job of a plan, with its checked exception lists.
#[derive(Debug, Clone)]
pub struct PlannedJob {
    pub job: Job,
    pub exceptions: Exceptions,
}

/// A job being executed: its definition, its runner (model, checkpoint, exceptions, rule
/// memory and what it produced since the last commit) and the buckets the feed read ahead for it.
pub(super) struct JobRun<'a> {
    pub job: &'a Job,
    pub runner: Runner<'a>,
    pub pending: PendingBuckets,
}

impl JobRun<'_> {
    /// End (exclusive) of the job's complete buckets at `now`.
    pub fn complete_until(&self, now: i64) -> i64 {
        Runner::complete_until(self.job, now)
    }

    /// The execution at `now`: models the complete buckets from the pending ones, notes the
    /// model's size if it modelled any, then runs the rule.
    pub fn execute(&mut self, now: i64) {
        let started = Instant::now();
        let until = self.complete_until(now);
        let (job, runner) = (self.job, &mut self.runner);
        let checkpoint = runner.checkpoint_ms;
        let records = runner.model_until(job, until, &mut self.pending);
        if runner.checkpoint_ms > checkpoint {
            runner.log_model_size(job, now);
        }
        runner.alert(job, now, &records);
        runner.summary.duration += started.elapsed();
    }
}
