//! The `pipeline::Plan` shared by `run`, `backfill`, `demo` and `evaluate`, checked before any
//! event or state is touched.

use std::io::IsTerminal;
use std::path::PathBuf;

use super::exit::{Context, Failure};
use super::settings::{Engine, Settings};
use crate::exceptions::Exceptions;
use crate::jobs::{Job, JobsSource};
use crate::pipeline::{Plan, PlannedJob, Progress, Source};
use crate::spark;
use crate::store::EventStore;
use crate::time::EpochMs;
use crate::triage;

/// Loads and checks the jobs' exception lists (from the settings' jobs source) and opens the
/// event source (the store, or a Spark session), then builds the plan.
pub fn build_plan(
    settings: &Settings,
    jobs: Vec<Job>,
    executions: Vec<EpochMs>,
    alerts_ndjson: Option<PathBuf>,
    commit_every: usize,
) -> Result<Plan, Failure> {
    let jobs = planned_jobs(&settings.jobs, jobs)?;
    let source = match settings.spark.engine {
        Engine::Native => Source::Store(
            EventStore::open(&settings.store)
                .with_context(|| format!("opening the event store {}", settings.store))?,
        ),
        Engine::Spark => {
            let remote = settings
                .spark
                .remote
                .as_deref()
                .ok_or(spark::Error::NoRemote)?;
            let events = settings.spark.source.as_deref().unwrap_or(&settings.store);
            Source::Spark(spark::Session::connect(remote, events)?)
        }
    };
    let progress = if std::io::stderr().is_terminal() && executions.len() > 1 {
        Progress::Bar
    } else {
        Progress::Log
    };
    Ok(Plan {
        jobs,
        source,
        state_dir: settings.state_dir.clone(),
        out_dir: settings.out_dir.clone(),
        executions,
        history: settings.history,
        relearn: false,
        resume: false,
        alerts_ndjson,
        results_ndjson: settings.results_ndjson.clone(),
        results_target: settings.results_target.clone(),
        alert_target: settings.alert_target.clone(),
        commit_every,
        progress,
    })
}

/// What `investigate` and `report` read: the jobs `ids` (all when empty) with their exception
/// lists, the output folder and the event store, checked as a plan's are. Without a jobs
/// directory they are the built-in jobs, as `demo` ran them.
pub fn triage_sources(settings: &Settings, ids: &[String]) -> Result<triage::Sources, Failure> {
    let source = settings.jobs.or_built_in();
    let (jobs, exceptions) = planned_jobs(&source, source.load(ids)?)?
        .into_iter()
        .map(|p| (p.job, p.exceptions))
        .unzip();
    Ok(triage::Sources {
        jobs,
        exceptions,
        out: settings.out_dir.clone(),
        store: EventStore::open(&settings.store)
            .with_context(|| format!("opening the event store {}", settings.store))?,
    })
}

/// Each job with its exception lists, loaded from `source`.
fn planned_jobs(source: &JobsSource, jobs: Vec<Job>) -> Result<Vec<PlannedJob>, Failure> {
    jobs.into_iter()
        .map(|job| {
            let exceptions = match source.exceptions_dir() {
                Some(dir) => Exceptions::load(dir, &job.rule.config.exceptions)
                    .with_context(|| format!("exception lists of job {}", job.id()))?,
                None => Exceptions::default(),
            };
            Ok(PlannedJob { job, exceptions })
        })
        .collect()
}
