//! The one place that wires the stages together: store → datafeed → bucket → model → results →
//! rule → output, then the state commit.
//!
//! A scheduled `run` is one execution; a `backfill` is the same executions every interval over
//! a range, through this same code, so both give the same records and alerts. Outputs are
//! committed every [`Plan::commit_every`] executions and at the end.

mod error;
mod feed;
mod job;
mod schedule;
mod writer;

pub use error::Error;
pub use feed::{Source, fold_window};
pub use job::{JobSummary, PlannedJob, fingerprint};
pub use schedule::{COMMIT_EVERY, ScheduleError, schedule};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use rayon::prelude::*;

use crate::output::{self, Folder};
use crate::results::{AnomalyRecord, ResultSet};
use crate::rule::Alert;
use crate::state::{self, Publish, StateLock};
use crate::store::ScanStats;
use crate::time::EpochMs;
use feed::{Feed, FeedJob, JobBuckets};
use job::JobRun;

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
    pub jobs: Vec<PlannedJob>,
    /// Where the bucket summaries come from.
    pub source: Source,
    pub state_dir: PathBuf,
    pub out_dir: PathBuf,
    /// The `now` (epoch ms) of each execution, ascending: one for `run`, many for `backfill`.
    pub executions: Vec<EpochMs>,
    /// With no state yet, how far before the first execution a job starts learning.
    pub history: Duration,
    /// Start a job without a snapshot from scratch even when it already has outputs.
    pub relearn: bool,
    /// Skip the executions at or before the jobs' last execution instead of refusing them: a
    /// backfill run again over a range it partly did resumes where it stopped.
    pub resume: bool,
    /// Also append the alerts as `_bulk` NDJSON here.
    pub alerts_ndjson: Option<PathBuf>,
    /// Also append every result as `_bulk` NDJSON to this file, at each commit.
    pub results_ndjson: Option<PathBuf>,
    /// The index or alias the results' `_bulk` actions write to.
    pub results_target: output::ResultsTarget,
    /// The Kibana space and rules the alert documents are written for.
    pub alert_target: output::AlertTarget,
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
    /// Executions of a resuming plan skipped as already done.
    pub skipped_executions: usize,
}

/// Runs the plan's executions under the state lock.
pub fn execute(plan: Plan) -> Result<Report, Error> {
    let lock = StateLock::acquire(&plan.state_dir)?;
    let ndjson: Vec<&Path> = [&plan.alerts_ndjson, &plan.results_ndjson]
        .into_iter()
        .flatten()
        .map(PathBuf::as_path)
        .collect();
    let store_files = match &plan.source {
        Source::Store(store) => store.files(),
        Source::Spark(_) => &[],
    };
    let outputs = state::owner::claim(&plan.state_dir, &plan.out_dir, &ndjson, store_files)?;
    let staging = outputs.staging.clone();
    let recovered = state::recover(&lock.dir, &staging)?;
    let Some(&first_now) = plan.executions.first() else {
        return Ok(Report {
            jobs: Vec::new(),
            scan: ScanStats::default(),
            alerts: Vec::new(),
            recovered,
            skipped_executions: 0,
        });
    };
    let mut runs = plan
        .jobs
        .iter()
        .map(|planned| {
            JobRun::load(
                planned,
                &plan.state_dir,
                &plan.out_dir,
                first_now,
                plan.history,
                plan.relearn,
            )
        })
        .collect::<Result<Vec<_>, state::Error>>()?;
    let executions = executions_after_last(&plan, &runs)?;
    let Some(&last_now) = executions.last() else {
        return Ok(Report {
            jobs: runs.into_iter().map(|r| r.summary).collect(),
            scan: ScanStats::default(),
            alerts: Vec::new(),
            recovered,
            skipped_executions: plan.executions.len(),
        });
    };
    let limit = runs
        .iter()
        .map(|r| r.complete_until(last_now))
        .max()
        .unwrap_or(first_now);
    // Commits are written beside the models; all are written when this returns.
    let (scan, all_alerts) = writer::with_writer(&plan.state_dir, |writer| {
        model_and_commit(&plan, &mut runs, &executions, limit, &staging, writer)
    })?;
    drop(outputs);
    drop(lock);
    Ok(Report {
        jobs: runs.into_iter().map(|r| r.summary).collect(),
        scan,
        alerts: all_alerts,
        recovered,
        skipped_executions: plan.executions.len() - executions.len(),
    })
}

/// Reads the store up to `limit` and runs the executions, each job on its own, committing every
/// [`Plan::commit_every`] executions and after the last through `writer`. Returns what the reads
/// found and every alert.
fn model_and_commit(
    plan: &Plan,
    runs: &mut [JobRun],
    executions: &[EpochMs],
    limit: EpochMs,
    staging: &Path,
    writer: &writer::Writer,
) -> Result<(ScanStats, Vec<Alert>), Error> {
    let mut feed = Feed::new(&plan.source, &feed_jobs(runs), limit);
    let bar = progress_bar(plan, runs, limit);
    let mut all_alerts = Vec::new();
    let started = Instant::now();

    let until = |runs: &[JobRun], now: EpochMs| {
        runs.iter()
            .map(|r| r.complete_until(now))
            .max()
            .unwrap_or(now)
    };
    let commit_every = plan.commit_every.max(1);
    let mut done = 0;
    while done < executions.len() {
        let needed = until(runs, executions[done]);
        let jobs = feed_jobs(runs);
        while let Some(buckets) = feed.read_until(&jobs, needed)? {
            hand_out(runs, buckets);
        }
        // The executions whose buckets are all read run while the next chunk is read.
        let ready = executions[done..]
            .iter()
            .take_while(|&&now| until(runs, now) <= feed.loaded_to)
            .count()
            .max(1);
        // The next chunk is read on this thread while the jobs model on the others: a job's
        // buckets are modelled in order, so each job is one task, and a thread done with its
        // job helps with the read's pieces.
        let read = feed.read_ahead(&jobs);
        let stats = &feed.stats;
        let (chunk, modelled) = rayon::join(
            || read.map(|read| read.read()),
            || {
                let mut from = done;
                while from < done + ready {
                    // Each job runs the executions up to the next commit on its own.
                    let to = (from / commit_every + 1) * commit_every;
                    let to = to.min(done + ready);
                    let segment = &executions[from..to];
                    runs.par_iter_mut().for_each(|run| {
                        for &now in segment {
                            run.execute(now);
                        }
                    });
                    if let Some(bar) = &bar {
                        bar.set_position(runs.iter().map(|r| r.summary.buckets).sum());
                        bar.set_message(format!(
                            "{:.0} events/s",
                            stats.rows_in_window as f64 / started.elapsed().as_secs_f64().max(1e-3)
                        ));
                    }
                    let last = to == executions.len();
                    if last || to % commit_every == 0 {
                        commit(
                            plan,
                            runs,
                            executions[to - 1],
                            staging,
                            &mut all_alerts,
                            writer,
                        )?;
                        // Progress: the executions modelled, their commit handed to the
                        // writer (written once the one before it is).
                        if plan.progress == Progress::Log && !last {
                            tracing::info!(
                                executions = to,
                                of = executions.len(),
                                events = stats.rows_in_window,
                                "modelled, commit queued"
                            );
                        }
                    }
                    from = to;
                }
                Ok::<(), Error>(())
            },
        );
        let chunk = chunk.transpose()?;
        modelled?;
        if let Some(chunk) = chunk {
            hand_out(runs, feed.accept(chunk));
        }
        done += ready;
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok((feed.stats, all_alerts))
}

/// What the feed reads for each job of `runs`: the buckets from its checkpoint on.
fn feed_jobs<'a>(runs: &[JobRun<'a>]) -> Vec<FeedJob<'a>> {
    runs.iter()
        .map(|r| FeedJob {
            job: r.job,
            from_ms: r.checkpoint_ms(),
        })
        .collect()
}

/// Hands each job of `runs` its buckets of a chunk.
fn hand_out(runs: &mut [JobRun], mut buckets: JobBuckets) {
    for run in runs {
        if let Some(folded) = buckets.remove(run.job.id()) {
            run.add_buckets(folded);
        }
    }
}

/// The plan's executions that come after every job's last one. An execution before a job's last
/// one is refused, as it would move the job back in time; a resuming plan (a backfill run again
/// over a range it partly did) skips the executions up to the last one instead.
fn executions_after_last(plan: &Plan, runs: &[JobRun]) -> Result<Vec<EpochMs>, state::Error> {
    let latest = runs
        .iter()
        .filter_map(|r| Some((r.last_execution_ms()?, r.job)))
        .max_by_key(|&(last, _)| last);
    match latest {
        Some((last, _)) if plan.resume => Ok(plan
            .executions
            .iter()
            .copied()
            .filter(|&now| now > last)
            .collect()),
        Some((last, job)) if plan.executions[0] < last => Err(state::Error::BeforeLastExecution {
            path: state::JobState::path(&plan.state_dir, job.id()),
            now: plan.executions[0].to_string(),
            last: last.to_string(),
        }),
        _ => Ok(plan.executions.clone()),
    }
}

/// Takes the results and alerts produced since the last commit and every job's state, and
/// hands them to the writer, which commits them together; the `_bulk` lines are appended to the
/// NDJSON files.
fn commit(
    plan: &Plan,
    runs: &mut [JobRun],
    now: EpochMs,
    staging: &Path,
    all_alerts: &mut Vec<Alert>,
    writer: &writer::Writer,
) -> Result<(), Error> {
    let stage_dir = staging.join(state::stage_dir_name(now.ms()));
    let mut commit = writer::StagedCommit {
        stage_dir,
        files: Vec::new(),
        states: Vec::new(),
        window_logs: Vec::new(),
        appends: Vec::new(),
    };
    let mut results_text = String::new();
    let mut alerts_text = String::new();
    // Each job's batches and texts are built in parallel, then joined in the order of jobs.
    let staged = runs
        .par_iter_mut()
        .map(|run| stage_job(plan, run, now, &commit.stage_dir))
        .collect::<Result<Vec<_>, Error>>()?;
    for mut job in staged {
        commit.files.append(&mut job.files);
        commit.states.push(job.state);
        commit.window_logs.extend(job.window_log);
        results_text.push_str(&job.results_text);
        alerts_text.push_str(&job.alerts_text);
        all_alerts.append(&mut job.alerts);
    }
    let appends = [
        (&plan.alerts_ndjson, "alerts.ndjson", alerts_text),
        (&plan.results_ndjson, "results.ndjson", results_text),
    ];
    for (target, name, text) in appends {
        let Some(target) = target.as_ref().filter(|_| !text.is_empty()) else {
            continue;
        };
        // One file for both: one append of both texts, so the second cannot cut the first back
        // to the length it recorded.
        let same = |t: &PathBuf| state::owner::absolute(t) == state::owner::absolute(target);
        match commit.appends.iter_mut().find(|(t, _, _)| same(t)) {
            Some((_, _, joined)) => joined.push_str(&text),
            None => commit.appends.push((target.clone(), name, text)),
        }
    }
    writer.send(commit)
}

/// What one job adds to a commit.
struct StagedJob {
    files: Vec<(Publish, RecordBatch)>,
    state: state::JobState,
    /// What the commit writes to the job's window log.
    window_log: Option<(PathBuf, state::LogWrite)>,
    results_text: String,
    alerts_text: String,
    alerts: Vec<Alert>,
}

/// Builds a job's results and alerts produced since the last commit, to be staged under
/// `stage_dir`, takes its state, and starts its next commit span.
fn stage_job(
    plan: &Plan,
    run: &mut JobRun,
    now: EpochMs,
    stage_dir: &Path,
) -> Result<StagedJob, Error> {
    let job = run.job;
    let id = job.id();
    let log = state::WindowLog::path(&plan.state_dir, id);
    let (state, window_write) = run
        .state()
        .map_err(|e| state::Error::io(&log, std::io::Error::other(e)))?;
    let out = run.take_unflushed();
    let span = format!("{}-{}", out.from_ms.ms(), run.checkpoint_ms().ms());
    let mut files = Vec::new();
    for (folder, batch) in result_batches(&out.records, &out.results) {
        let prefix = folder.file_prefix();
        let relative = Path::new(folder.as_str())
            .join(id)
            .join(format!("{prefix}-{span}.parquet"));
        let batch = batch.map_err(|source| output::Error::Build {
            path: relative.clone(),
            source,
        })?;
        files.push((publish(stage_dir, &plan.out_dir, &relative), batch));
    }
    let results_text = match plan.results_ndjson {
        Some(_) => output::results_ndjson(&plan.results_target, id, &out.records, &out.results),
        None => String::new(),
    };
    let mut alerts_text = String::new();
    if !out.alerts.is_empty() {
        let first = out.alerts.first().map_or(now.ms(), |a| a.timestamp_ms);
        let name = format!(
            "{}-{first}-{}.parquet",
            Folder::Alerts.file_prefix(),
            now.ms()
        );
        let relative = Path::new(Folder::Alerts.as_str()).join(id).join(name);
        let documents: Vec<_> = out
            .alerts
            .iter()
            .map(|a| output::alert_document(a, &job.alert, &plan.alert_target))
            .collect();
        let batch = output::alerts_batch(&documents).map_err(|source| output::Error::Build {
            path: relative.clone(),
            source,
        })?;
        files.push((publish(stage_dir, &plan.out_dir, &relative), batch));
        if plan.alerts_ndjson.is_some() {
            let index = plan.alert_target.alerts_index();
            alerts_text = output::alerts_ndjson(&index, &documents);
        }
    }
    Ok(StagedJob {
        files,
        state,
        window_log: window_write.map(|write| (log, write)),
        results_text,
        alerts_text,
        alerts: out.alerts,
    })
}

/// The Parquet files of a job's unwritten results: folder, file prefix and batch, for each
/// result type that has rows.
fn result_batches(
    records: &[AnomalyRecord],
    results: &ResultSet,
) -> Vec<(Folder, Result<RecordBatch, ArrowError>)> {
    let buckets = &results.buckets;
    let mut batches = Vec::new();
    if !records.is_empty() {
        batches.push((Folder::Anomalies, output::records_batch(records)));
    }
    if !buckets.is_empty() {
        batches.push((Folder::Buckets, output::buckets_batch(buckets)));
    }
    if buckets.iter().any(|b| !b.bucket_influencers.is_empty()) {
        let batch = output::bucket_influencers_batch(buckets);
        batches.push((Folder::BucketInfluencers, batch));
    }
    if !results.influencers.is_empty() {
        let batch = output::influencers_batch(&results.influencers);
        batches.push((Folder::Influencers, batch));
    }
    if !results.model_size_stats.is_empty() {
        let batch = output::model_size_stats_batch(&results.model_size_stats);
        batches.push((Folder::ModelSizeStats, batch));
    }
    batches
}

/// A file at `relative` under the staging folder, to be published at `relative` under the
/// output folder.
fn publish(stage_dir: &Path, out_dir: &Path, relative: &Path) -> Publish {
    Publish {
        staged: stage_dir.join(relative),
        target: out_dir.join(relative),
    }
}

fn progress_bar(plan: &Plan, runs: &[JobRun], limit: EpochMs) -> Option<indicatif::ProgressBar> {
    if plan.progress != Progress::Bar {
        return None;
    }
    let total: u64 = runs
        .iter()
        .map(|r| ((limit - r.checkpoint_ms()).max(0) / r.job.span().ms()) as u64)
        .sum();
    let bar = indicatif::ProgressBar::new(total);
    let style =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} buckets  {msg}  ETA {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}
