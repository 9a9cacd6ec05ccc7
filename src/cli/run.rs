//! `netrare run`: one scheduled execution, as cron calls it every 15 minutes.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::print;
use super::settings::Settings;
use crate::exceptions::Exceptions;
use crate::jobs::{self, Job};
use crate::pipeline::{self, Plan, Progress};
use crate::store::EventStore;

/// One execution: model every complete bucket since each job's checkpoint, write its anomaly
/// records, then alert on the records of the lookback window.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The execution time, RFC 3339 (default: the wall clock, UTC). Makes a run reproducible.
    #[arg(long, value_parser = parse_time)]
    pub now: Option<DateTime<Utc>>,
    /// Only these jobs (comma-separated ids; default all).
    #[arg(long, value_delimiter = ',')]
    pub jobs: Vec<String>,
    /// Also append the alerts to this file as `_bulk` NDJSON for Kibana's alerts index.
    #[arg(long, value_name = "FILE")]
    pub alerts_ndjson: Option<PathBuf>,
    /// Summary on stdout: a table, or one JSON object for scripts.
    #[arg(long, value_enum, default_value_t)]
    pub format: print::SummaryFormat,
}

pub fn run(args: &Args, settings: &Settings) -> anyhow::Result<()> {
    let now = args.now.unwrap_or_else(Utc::now).timestamp_millis();
    let plan = build_plan(
        settings,
        load_jobs(settings, &args.jobs)?,
        vec![now],
        args.alerts_ndjson.clone(),
        1,
    )?;
    let report = pipeline::execute(plan)?;
    print::report(&report, args.format);
    Ok(())
}

/// Parses an RFC 3339 time.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{text:?} is not an RFC 3339 time ({e}), e.g. 2026-11-22T13:15:00Z"))
}

/// Loads and checks the jobs' exception lists and the store, then builds the plan shared
/// by `run` and `backfill`. Fails before any event or state is touched.
pub fn build_plan(
    settings: &Settings,
    jobs: Vec<Job>,
    executions: Vec<i64>,
    alerts_ndjson: Option<PathBuf>,
    commit_every: usize,
) -> anyhow::Result<Plan> {
    let exceptions = load_exceptions(settings, &jobs)?;
    let store = EventStore::open(&settings.store)
        .with_context(|| format!("opening the event store {}", settings.store))?;
    let progress = if std::io::stderr().is_terminal() && executions.len() > 1 {
        Progress::Bar
    } else {
        Progress::Log
    };
    Ok(Plan {
        jobs,
        exceptions,
        store,
        state_dir: settings.state_dir.clone(),
        out_dir: settings.out_dir.clone(),
        executions,
        history: settings.history,
        alerts_ndjson,
        results_ndjson: settings.results_ndjson.clone(),
        alert_target: settings.alert_target.clone(),
        commit_every,
        progress,
    })
}

/// The selected jobs of the jobs directory.
pub fn load_jobs(settings: &Settings, ids: &[String]) -> anyhow::Result<Vec<Job>> {
    Ok(jobs::select(jobs::load_dir(&settings.jobs_dir)?, ids)?)
}

fn load_exceptions(settings: &Settings, jobs: &[Job]) -> anyhow::Result<Vec<Exceptions>> {
    jobs.iter()
        .map(|job| {
            Exceptions::load(&settings.jobs_dir, &job.file.rule.exceptions)
                .with_context(|| format!("exception lists of job {}", job.id()))
        })
        .collect()
}
