//! Driving an evaluation: one scratch backfill of the jobs per model over the labelled store,
//! then each job scored against the labels.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Days, NaiveTime, Utc};

use super::{
    Error, Hit, HostDays, JobEval, JobUnderTest, evaluate_job, read_records, store_extent,
};
use crate::fixtures::Label;
use crate::jobs::Job;
use crate::model::ModelKind;
use crate::output::Folder;
use crate::pipeline::{self, Report};
use crate::store::EventStore;
use crate::time::{DAY_MS, EpochMs};

/// Executions every 15 minutes, as the rule runs.
const INTERVAL: Duration = Duration::from_secs(900);

/// Every job's evaluation under each model, in the order of `models`.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub models: Vec<(ModelKind, Vec<JobEval>)>,
    pub host_days: HostDays,
    pub from: DateTime<Utc>,
}

/// One backfill the caller builds a plan for and executes: `jobs` with their model replaced by
/// `model`, in scratch state and output folders deleted afterwards.
pub struct Backfill<'a> {
    pub model: ModelKind,
    pub jobs: Vec<Job>,
    pub executions: &'a [EpochMs],
    pub state_dir: PathBuf,
    pub out_dir: PathBuf,
}

/// Backfills `jobs` over the store at `events` once per model through `execute`, from `from`
/// (default: midnight UTC before the first event) to `to` (default: midnight UTC after the
/// last), and scores each job against `labels`. An error of `execute` comes back as it is: the
/// caller plans and executes, so its error type is the caller's.
pub fn evaluate<E: From<Error>>(
    events: &str,
    labels: &[Label],
    jobs: &[Job],
    models: &[ModelKind],
    (from, to): (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    mut execute: impl FnMut(Backfill) -> Result<Report, E>,
) -> Result<Evaluation, E> {
    let store = EventStore::open(events).map_err(|source| Error::Open {
        events: events.to_string(),
        source,
    })?;
    let extent = store_extent(&store).map_err(|source| Error::Scan {
        events: events.to_string(),
        source,
    })?;
    let (first, last) = extent.bounds.ok_or_else(|| Error::NoEvents {
        events: events.to_string(),
    })?;
    // The store's own bounds only where the range leaves them open.
    let bound = |ms, days_after| {
        midnight(ms, days_after).ok_or_else(|| Error::TimeOutOfRange {
            events: events.to_string(),
            ms,
        })
    };
    let from = match from {
        Some(from) => from,
        None => bound(first, 0)?,
    };
    let to = match to {
        Some(to) => to,
        None => bound(last, 1)?,
    };
    let executions = pipeline::schedule(from, to, INTERVAL).map_err(Error::Schedule)?;
    let host_days = HostDays {
        hosts: extent.hosts.len(),
        days: (to - from).num_milliseconds() as f64 / DAY_MS as f64,
    };
    let models = models
        .iter()
        .map(|&model| {
            let scratch = tempfile::Builder::new()
                .prefix("netrare-evaluate-")
                .tempdir()
                .map_err(Error::Scratch)?;
            let out_dir = scratch.path().join("out");
            let backfill = Backfill {
                model,
                jobs: with_model(jobs, model),
                executions: &executions,
                state_dir: scratch.path().join("state"),
                out_dir: out_dir.clone(),
            };
            let report = execute(backfill)?;
            let evals = jobs
                .iter()
                .map(|job| score(job, &report, &out_dir, labels, host_days))
                .collect::<Result<Vec<_>, Error>>()?;
            Ok((model, evals))
        })
        .collect::<Result<Vec<_>, E>>()?;
    Ok(Evaluation {
        models,
        host_days,
        from,
    })
}

/// Midnight UTC `days_after` days after the day of `ms`; `None` past what a date can hold.
fn midnight(ms: i64, days_after: u64) -> Option<DateTime<Utc>> {
    let day = DateTime::from_timestamp_millis(ms)?.date_naive();
    let day = day.checked_add_days(Days::new(days_after))?;
    Some(day.and_time(NaiveTime::MIN).and_utc())
}

fn with_model(jobs: &[Job], kind: ModelKind) -> Vec<Job> {
    jobs.iter()
        .cloned()
        .map(|job| job.with_model(kind))
        .collect()
}

/// Scores `job` by its alerts in `report` and the records it wrote under `out_dir`.
fn score(
    job: &Job,
    report: &Report,
    out_dir: &Path,
    labels: &[Label],
    host_days: HostDays,
) -> Result<JobEval, Error> {
    let alerts: Vec<Hit> = report
        .alerts
        .iter()
        .filter(|a| a.record.job_id == job.id())
        .map(|a| Hit::from(&a.record))
        .collect();
    let records = read_records(&out_dir.join(Folder::Anomalies).join(job.id()))?;
    let under_test = JobUnderTest {
        job_id: job.id().to_string(),
        by_field_name: job.model.by_field_name.clone(),
        bucket_span_ms: job.span().ms(),
    };
    Ok(evaluate_job(
        &under_test,
        labels,
        &alerts,
        &records,
        host_days,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exceptions::Exceptions;
    use crate::fixtures::{FleetOptions, LabelKind, Scenarios, generate_to, read_labels};
    use crate::pipeline::{Plan, PlannedJob, Progress};

    /// Executes `backfill` over `events` with no exception lists.
    fn execute(
        events: &str,
        backfill: Backfill,
    ) -> Result<Report, Box<dyn std::error::Error + Send + Sync>> {
        let plan = Plan {
            jobs: backfill
                .jobs
                .into_iter()
                .map(|job| PlannedJob {
                    job,
                    exceptions: Exceptions::default(),
                })
                .collect(),
            source: pipeline::Source::Store(EventStore::open(events)?),
            state_dir: backfill.state_dir,
            out_dir: backfill.out_dir,
            executions: backfill.executions.to_vec(),
            history: Duration::from_secs(14 * 24 * 3600),
            relearn: false,
            resume: false,
            alerts_ndjson: None,
            results_ndjson: None,
            results_target: crate::output::ResultsTarget::default(),
            alert_target: crate::output::AlertTarget::default(),
            commit_every: pipeline::COMMIT_EVERY,
            progress: Progress::Log,
        };
        Ok(pipeline::execute(plan)?)
    }

    #[test]
    fn a_small_full_fleet_is_backfilled_and_scored_per_job() {
        let dir = tempfile::tempdir().unwrap();
        let opts = FleetOptions {
            hosts: 8,
            days: 4,
            scenarios: Scenarios::Full,
            ..FleetOptions::default()
        };
        generate_to(dir.path(), &opts).unwrap();
        let labels = read_labels(&dir.path().join("labels.json")).unwrap();
        let jobs = crate::jobs::embedded().unwrap();
        let events = dir.path().to_string_lossy();
        let evaluation = evaluate(
            &events,
            &labels,
            &jobs,
            &[ModelKind::Elastic],
            (None, None),
            |backfill| execute(&events, backfill),
        )
        .unwrap();
        assert_eq!(
            evaluation.host_days,
            HostDays {
                hosts: 8,
                days: 4.0
            }
        );
        assert_eq!(evaluation.from, opts.start);
        let evals = &evaluation.models[0].1;
        assert_eq!(evals.len(), 2);
        for eval in evals {
            // Five single-host attacks of each field, and a label per host a spreading tool reached.
            let spread = labels
                .iter()
                .filter(|l| l.field.as_str() == eval.job.by_field_name)
                .filter(|l| matches!(l.scenario(), "worm" | "relay"))
                .count();
            assert_eq!(eval.applicable(), 5 + spread, "{}", eval.job.job_id);
            assert!(
                eval.scenarios.iter().any(|s| s.kind == LabelKind::Benign),
                "{}",
                eval.job.job_id
            );
            let alerted: usize = eval
                .scenarios
                .iter()
                .filter(|s| s.kind == LabelKind::Attack && s.alerts > 0)
                .count();
            let caught: std::collections::BTreeSet<&str> = labels
                .iter()
                .filter(|l| eval.detected.contains(&l.id))
                .map(Label::scenario)
                .collect();
            assert_eq!(
                alerted,
                caught.len(),
                "an attack counted as caught needs an alert"
            );
            assert!(
                eval.scenarios
                    .iter()
                    .all(|s| s.alerts == 0 || s.max_record_score.is_some()),
                "an alert is also a record"
            );
        }
        assert!(
            evals.iter().any(|e| !e.detected.is_empty()),
            "no attack caught at all"
        );
    }
}
