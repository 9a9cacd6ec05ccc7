//! The `pipeline::Plan` shared by `run`, `backfill`, `demo` and `evaluate`, checked before any
//! event or state is touched.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use super::exit::{BadFlag, Context, Failure};
use super::settings::{Engine, Settings};
use crate::exceptions::Exceptions;
use crate::jobs::{Job, JobsSource};
use crate::objects;
use crate::pipeline::{Plan, PlannedJob, Progress, Source};
use crate::spark;
use crate::state::remote::{RemoteTargets, Workspace};
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

/// Where an execution keeps its state and writes its outputs: the plan's folders on a local disk,
/// or, when they are on object storage, the local folders of a [`Workspace`] published to it after
/// the execution.
pub struct Storage {
    workspace: Option<Workspace>,
}

impl Storage {
    /// Opens the storage of `plan`, built first so that a store or job that cannot be read is
    /// refused before any lease is taken. On object storage this takes the lease, finishes an
    /// interrupted commit, downloads the job states and points the plan at the workspace's
    /// folders (docs/scheduling.md).
    pub fn open(settings: &Settings, plan: &mut Plan) -> Result<Storage, Failure> {
        let ndjson: Vec<PathBuf> = [&plan.results_ndjson, &plan.alerts_ndjson]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        let text = |p: &Path| p.to_string_lossy().into_owned();
        let all: Vec<String> = [&plan.state_dir, &plan.out_dir]
            .into_iter()
            .chain(&ndjson)
            .map(|p| text(p))
            .collect();
        let remote = all.iter().filter(|p| objects::is_url(p)).count();
        if remote == 0 {
            return Ok(Storage { workspace: None });
        }
        if remote < all.len() {
            return Err(BadFlag {
                flag: "state_dir, out_dir, results_ndjson, --alerts-ndjson",
                problem: "either all of them are on object storage or none: the state's commit publishes the outputs".into(),
            }
            .into());
        }
        if settings.report_html.is_some() {
            return Err(BadFlag {
                flag: "report_html",
                problem: "the report reads the outputs from a local disk; with outputs on object storage, run `netrare report` on a copy of them".into(),
            }
            .into());
        }
        let targets = RemoteTargets {
            state: text(&plan.state_dir),
            out: text(&plan.out_dir),
            ndjson: ndjson.iter().map(|p| text(p)).collect(),
        };
        let ids: Vec<&str> = plan.jobs.iter().map(|p| p.job.id()).collect();
        let workspace = Workspace::open(&targets, &ids, plan.relearn, settings.lock_expiry)?;
        let local = |p: &PathBuf| workspace.ndjson_file(&text(p));
        plan.state_dir = workspace.state_dir();
        plan.out_dir = workspace.out_dir();
        plan.results_ndjson = plan.results_ndjson.as_ref().and_then(local);
        plan.alerts_ndjson = plan.alerts_ndjson.as_ref().and_then(local);
        Ok(Storage {
            workspace: Some(workspace),
        })
    }

    /// Publishes the execution on object storage, named after its last execution time; nothing
    /// to do on a local disk, where the execution committed itself.
    pub fn publish(self, last_execution: EpochMs) -> Result<(), Failure> {
        if let Some(workspace) = self.workspace {
            let published = workspace.commit(last_execution)?;
            if published.objects > 0 {
                errln!(
                    "published {} object(s) in commit {} of {}",
                    published.objects,
                    published.commit,
                    published.state
                );
            }
        }
        Ok(())
    }
}

/// What `investigate` and `report` read: the jobs `ids` (all when empty) with their exception
/// lists, the output folder and the event store, checked as a plan's are. Without a jobs
/// directory they are the built-in jobs, as `demo` ran them.
pub fn triage_sources(settings: &Settings, ids: &[String]) -> Result<triage::Sources, Failure> {
    if objects::is_url(&settings.out_dir.to_string_lossy()) {
        return Err(BadFlag {
            flag: "--out",
            problem: "investigate and report read the outputs from a local disk; copy them first (aws s3 sync, gsutil rsync, azcopy sync)".into(),
        }
        .into());
    }
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
