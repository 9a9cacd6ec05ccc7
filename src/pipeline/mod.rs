//! The one place that wires the stages together: store → datafeed → bucket → model → results →
//! rule → output, then the state commit.
//!
//! A scheduled `run` is one execution; a `backfill` is the same executions every interval over
//! a range, through this same code, so both give the same records and alerts. Outputs are
//! committed every [`Plan::commit_every`] executions and at the end.

mod feed;
mod runner;

pub use feed::Source;
pub use runner::{JobSummary, fingerprint};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use rayon::prelude::*;

use crate::jobs::Job;
use crate::output;
use crate::rule::{Alert, Exceptions};
use crate::state::{self, Commit, Publish, StateLock};
use crate::store::ScanStats;
use feed::Feed;
use runner::Runner;

/// Why an execution failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    State(#[from] state::Error),
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    #[error(transparent)]
    Output(#[from] output::Error),
    #[error(transparent)]
    Spark(#[from] crate::spark::Error),
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A progress bar (for a terminal).
    Bar,
    /// A log line per commit.
    Log,
}

/// A resolved execution plan: everything checked before any data is read.
pub struct Plan {
    pub jobs: Vec<Job>,
    /// The exception lists of each job, in the order of `jobs`.
    pub exceptions: Vec<Exceptions>,
    /// Where the bucket summaries come from.
    pub source: Source,
    pub state_dir: PathBuf,
    pub out_dir: PathBuf,
    /// The `now` (epoch ms) of each execution, ascending: one for `run`, many for `backfill`.
    pub executions: Vec<i64>,
    /// With no state yet, how far before the first execution a job starts learning.
    pub history: Duration,
    /// Also write the alerts as `_bulk` NDJSON here.
    pub alerts_ndjson: Option<PathBuf>,
    /// Commit after this many executions (and after the last).
    pub commit_every: usize,
    pub progress: Progress,
}

/// What an execution (or a backfill) did.
#[derive(Debug, Clone)]
pub struct Report {
    pub jobs: Vec<JobSummary>,
    pub scan: ScanStats,
    /// Every alert written, all jobs, in execution order.
    pub alerts: Vec<Alert>,
    /// An interrupted earlier commit was finished first.
    pub recovered: bool,
}

/// Runs the plan's executions under the state lock.
pub fn execute(plan: Plan) -> Result<Report, Error> {
    let lock = StateLock::acquire(&plan.state_dir)?;
    let staging = plan.out_dir.join(".staging");
    let recovered = state::recover(&lock.dir, &staging)?;
    let (Some(&first_now), Some(&last_now)) = (plan.executions.first(), plan.executions.last())
    else {
        return Ok(Report {
            jobs: Vec::new(),
            scan: ScanStats::default(),
            alerts: Vec::new(),
            recovered,
        });
    };
    let mut runners = plan
        .jobs
        .iter()
        .zip(&plan.exceptions)
        .map(|(job, exceptions)| {
            Runner::load(
                job,
                exceptions.clone(),
                &plan.state_dir,
                first_now,
                plan.history,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let checkpoints: Vec<i64> = runners.iter().map(|r| r.checkpoint_ms).collect();
    let limit = plan
        .jobs
        .iter()
        .map(|j| Runner::complete_until(j, last_now))
        .max()
        .unwrap_or(first_now);
    let mut feed = Feed::new(&plan.source, &plan.jobs, &checkpoints, limit);
    let bar = progress_bar(&plan, &runners, limit);
    let mut all_alerts = Vec::new();
    let started = Instant::now();

    for (i, &now) in plan.executions.iter().enumerate() {
        let until: Vec<i64> = plan
            .jobs
            .iter()
            .map(|j| Runner::complete_until(j, now))
            .collect();
        feed.ensure(until.iter().copied().max().unwrap_or(now))?;
        runners
            .par_iter_mut()
            .zip(feed.buckets.par_iter_mut())
            .zip(plan.jobs.par_iter().zip(&until))
            .for_each(|((runner, buckets), (job, &until))| {
                let job_started = Instant::now();
                let records = runner.model_until(job, until, buckets);
                runner.alert(job, now, &records);
                runner.summary.duration += job_started.elapsed();
            });
        if let Some(bar) = &bar {
            bar.set_position(runners.iter().map(|r| r.summary.buckets).sum());
            bar.set_message(format!(
                "{:.0} events/s",
                feed.stats.rows_in_window as f64 / started.elapsed().as_secs_f64().max(1e-3)
            ));
        }
        let last = i + 1 == plan.executions.len();
        if last || (i + 1) % plan.commit_every.max(1) == 0 {
            commit(&plan, &mut runners, now, &staging, &mut all_alerts)?;
            if plan.progress == Progress::Log && !last {
                tracing::info!(
                    executions = i + 1,
                    of = plan.executions.len(),
                    events = feed.stats.rows_in_window,
                    "committed"
                );
            }
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    drop(lock);
    Ok(Report {
        jobs: runners.into_iter().map(|r| r.summary).collect(),
        scan: feed.stats,
        alerts: all_alerts,
        recovered,
    })
}

/// Stages the records and alerts produced since the last commit, then commits them together
/// with every job's state.
fn commit(
    plan: &Plan,
    runners: &mut [Runner],
    now: i64,
    staging: &Path,
    all_alerts: &mut Vec<Alert>,
) -> Result<(), Error> {
    let mut commit = Commit::default();
    let stage_dir = staging.join(format!("{now}-{}", std::process::id()));
    for (runner, job) in runners.iter_mut().zip(&plan.jobs) {
        let id = job.id();
        if !runner.records.is_empty() {
            let name = format!(
                "records-{}-{}.parquet",
                runner.flushed_to_ms, runner.checkpoint_ms
            );
            let relative = Path::new("anomalies").join(id).join(name);
            let batch = output::records_batch(&runner.records).map_err(|e| output::Error {
                path: relative.clone(),
                reason: e.to_string(),
            })?;
            commit
                .files
                .push(stage(&stage_dir, &plan.out_dir, relative, &batch)?);
        }
        if !runner.alerts.is_empty() {
            let first = runner.alerts.first().map_or(now, |a| a.timestamp_ms);
            let name = format!("alerts-{first}-{now}.parquet");
            let relative = Path::new("alerts").join(id).join(name);
            let batch = output::alerts_batch(&runner.alerts).map_err(|e| output::Error {
                path: relative.clone(),
                reason: e.to_string(),
            })?;
            commit
                .files
                .push(stage(&stage_dir, &plan.out_dir, relative, &batch)?);
        }
        commit.states.push(runner.state(job));
        all_alerts.append(&mut runner.alerts);
        runner.records.clear();
        runner.flushed_to_ms = runner.checkpoint_ms;
    }
    if let Some(target) = &plan.alerts_ndjson {
        let staged = target.with_file_name(format!(
            ".{}.staged",
            target
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("alerts")
        ));
        state::write_atomic(&staged, output::alerts_ndjson(all_alerts).as_bytes())?;
        commit.files.push(Publish {
            staged,
            target: target.clone(),
        });
    }
    state::failpoint("before-commit");
    commit.commit(&plan.state_dir)?;
    match std::fs::remove_dir_all(&stage_dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(state::Error::Io {
            path: stage_dir,
            source: e,
        }
        .into()),
        _ => Ok(()),
    }
}

/// Writes `batch` at `relative` under the staging folder, to be published at `relative` under
/// the output folder.
fn stage(
    stage_dir: &Path,
    out_dir: &Path,
    relative: PathBuf,
    batch: &RecordBatch,
) -> Result<Publish, Error> {
    let staged = stage_dir.join(&relative);
    output::write_parquet(&staged, batch)?;
    Ok(Publish {
        staged,
        target: out_dir.join(relative),
    })
}

fn progress_bar(plan: &Plan, runners: &[Runner], limit: i64) -> Option<indicatif::ProgressBar> {
    if plan.progress != Progress::Bar {
        return None;
    }
    let total: u64 = runners
        .iter()
        .zip(&plan.jobs)
        .map(|(r, j)| ((limit - r.checkpoint_ms).max(0) / j.span().ms()) as u64)
        .sum();
    let bar = indicatif::ProgressBar::new(total);
    let style =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} buckets  {msg}  ETA {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}
