//! `netrare evaluate`: backfill every selected job with every selected model over a labelled
//! store, in scratch state, and compare what each caught and how many false alerts it raised.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Days, NaiveTime, Utc};

use super::backfill::schedule;
use super::run::{build_plan, parse_time};
use super::settings::{Settings, SparkSettings};
use crate::evaluate::{
    Hit, HostDays, JobEval, JobUnderTest, evaluate_job, read_records, store_extent,
};
use crate::fixtures::{Label, LabelKind, read_labels};
use crate::jobs::{self, Job};
use crate::model::ModelKind;
use crate::pipeline;
use crate::store::EventStore;

/// Backfill each job with each model over a labelled store (scratch state, deleted afterwards)
/// and print, side by side per model, the attacks caught and missed, the false alerts per 1,000
/// host-days and the best record score of every labelled scenario.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The labelled event store: a Parquet file, a directory or a glob.
    #[arg(long, value_name = "PATH")]
    pub events: String,
    /// The labels file (format in docs/labels.md).
    #[arg(long, value_name = "FILE")]
    pub labels: PathBuf,
    /// Only these jobs (comma-separated ids; default every job of the jobs directory, or
    /// Elastic's two built-in jobs when there is none).
    #[arg(long, value_delimiter = ',')]
    pub jobs: Vec<String>,
    /// Models to compare (comma-separated `[model] kind` names), each replacing every job's own.
    #[arg(long, value_delimiter = ',', value_parser = parse_name::<ModelKind>, default_value = "elastic")]
    pub models: Vec<ModelKind>,
    /// First execution, RFC 3339 (default: midnight UTC before the store's first event).
    #[arg(long, value_parser = parse_time)]
    pub from: Option<DateTime<Utc>>,
    /// Last execution, RFC 3339 (default: midnight UTC after the store's last event).
    #[arg(long, value_parser = parse_time)]
    pub to: Option<DateTime<Utc>>,
}

/// Parses a value by its serde name (`elastic`, `full`), so every variant of the enum is
/// accepted as soon as it exists.
pub(super) fn parse_name<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|e| format!("{text:?}: {e}"))
}

/// The serde name of a model kind.
fn model_name(kind: ModelKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{kind:?}"))
}

/// Executions per commit: one day of 15-minute executions.
const COMMIT_EVERY: usize = 96;
const DAY_MS: i64 = 86_400_000;

pub fn run(args: &Args, settings: &Settings) -> anyhow::Result<()> {
    let jobs = if settings.jobs_dir.is_dir() {
        jobs::load_dir(&settings.jobs_dir)?
    } else {
        jobs::embedded()?
    };
    let jobs = jobs::select(jobs, &args.jobs)?;
    let labels = read_labels(&args.labels)?;
    let evaluation = evaluate(
        &args.events,
        &labels,
        &jobs,
        &args.models,
        (args.from, args.to),
        settings,
    )?;
    print(&evaluation, &jobs);
    Ok(())
}

/// Every job's evaluation under each model, in the order of `models`.
pub(super) struct Evaluation {
    pub models: Vec<(ModelKind, Vec<JobEval>)>,
    pub host_days: HostDays,
    pub from: DateTime<Utc>,
}

/// Backfills `jobs` over the store once per model and scores each job against `labels`.
pub(super) fn evaluate(
    events: &str,
    labels: &[Label],
    jobs: &[Job],
    models: &[ModelKind],
    range: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    settings: &Settings,
) -> anyhow::Result<Evaluation> {
    let store =
        EventStore::open(events).with_context(|| format!("opening the event store {events}"))?;
    let extent =
        store_extent(&store).with_context(|| format!("scanning the event store {events}"))?;
    let (first, last) = extent
        .bounds
        .with_context(|| format!("the event store {events} holds no events"))?;
    let from = range.0.unwrap_or(midnight(first, 0)?);
    let to = range.1.unwrap_or(midnight(last, 1)?);
    let executions = schedule(from, to, Duration::from_secs(900))?;
    let host_days = HostDays {
        hosts: extent.hosts.len(),
        days: (to - from).num_milliseconds() as f64 / DAY_MS as f64,
    };
    let models = models
        .iter()
        .map(|&kind| {
            Ok((
                kind,
                backfill_and_score(events, labels, jobs, kind, &executions, host_days, settings)?,
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Evaluation {
        models,
        host_days,
        from,
    })
}

/// Midnight UTC `days_after` days after the day of `ms`.
fn midnight(ms: i64, days_after: u64) -> anyhow::Result<DateTime<Utc>> {
    let day = DateTime::from_timestamp_millis(ms)
        .context("event time out of range")?
        .date_naive();
    let day = day
        .checked_add_days(Days::new(days_after))
        .context("event time out of range")?;
    Ok(day.and_time(NaiveTime::MIN).and_utc())
}

/// One backfill of every job with its model replaced by `kind`, in a scratch state and output
/// directory, then each job scored.
fn backfill_and_score(
    events: &str,
    labels: &[Label],
    jobs: &[Job],
    kind: ModelKind,
    executions: &[i64],
    host_days: HostDays,
    settings: &Settings,
) -> anyhow::Result<Vec<JobEval>> {
    let scratch = tempfile::Builder::new()
        .prefix("netrare-evaluate-")
        .tempdir()?;
    let settings = Settings {
        store: events.to_string(),
        state_dir: scratch.path().join("state"),
        out_dir: scratch.path().join("out"),
        spark: SparkSettings::default(),
        ..settings.clone()
    };
    let jobs: Vec<Job> = jobs
        .iter()
        .cloned()
        .map(|mut job| {
            job.file.model.kind = kind;
            job
        })
        .collect();
    eprintln!(
        "backfilling {} job(s) with the {} model",
        jobs.len(),
        model_name(kind)
    );
    let plan = build_plan(
        &settings,
        jobs.clone(),
        executions.to_vec(),
        None,
        COMMIT_EVERY,
    )?;
    let report = pipeline::execute(plan)?;
    jobs.iter()
        .map(|job| {
            let alerts: Vec<Hit> = report
                .alerts
                .iter()
                .filter(|a| a.record.job_id == job.id())
                .map(|a| Hit::from(&a.record))
                .collect();
            let records = read_records(&anomalies_dir(&settings.out_dir, job.id()))?;
            let under_test = JobUnderTest {
                job_id: job.id().to_string(),
                by_field_name: job.file.job.by_field_name.clone(),
                bucket_span_ms: job.span().ms(),
            };
            Ok(evaluate_job(
                &under_test,
                labels,
                &alerts,
                &records,
                host_days,
            ))
        })
        .collect()
}

fn anomalies_dir(out_dir: &Path, job_id: &str) -> PathBuf {
    out_dir.join("anomalies").join(job_id)
}

const LABEL_WIDTH: usize = 34;
const COLUMN_WIDTH: usize = 22;

/// Per job, one column per model; then a totals line per model.
fn print(evaluation: &Evaluation, jobs: &[Job]) {
    let HostDays { hosts, days } = evaluation.host_days;
    println!(
        "{hosts} hosts x {days:.1} days from {}",
        evaluation.from.format("%Y-%m-%d %H:%M")
    );
    for (j, job) in jobs.iter().enumerate() {
        let evals: Vec<&JobEval> = evaluation
            .models
            .iter()
            .filter_map(|(_, evals)| evals.get(j))
            .collect();
        println!("\n{} (rare {})", job.id(), job.file.job.by_field_name);
        row(
            "",
            evaluation.models.iter().map(|(kind, _)| model_name(*kind)),
        );
        row(
            "attacks detected",
            evals
                .iter()
                .map(|e| format!("{}/{}", e.detected.len(), e.applicable())),
        );
        row(
            "  missed",
            evals.iter().map(|e| {
                if e.missed.is_empty() {
                    "-".to_string()
                } else {
                    e.missed.join(",")
                }
            }),
        );
        row(
            "false alerts",
            evals.iter().map(|e| e.false_alerts.to_string()),
        );
        row(
            "  per 1,000 host-days",
            evals
                .iter()
                .map(|e| format!("{:.1}", e.false_per_1000_host_days())),
        );
        println!("max record score per scenario (attacks: caught or missed; benign: alerts)");
        for (s, scenario) in evals
            .first()
            .map(|e| e.scenarios.as_slice())
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let kind = if scenario.kind == LabelKind::Attack {
                "attack"
            } else {
                "benign"
            };
            let cells = evals.iter().filter_map(|e| e.scenarios.get(s)).map(|sc| {
                let score = sc
                    .max_record_score
                    .map_or_else(|| "-".to_string(), |v| format!("{v:.1}"));
                match sc.kind {
                    LabelKind::Attack if sc.alerts > 0 => format!("{score} caught"),
                    LabelKind::Attack => format!("{score} missed"),
                    LabelKind::Benign => format!("{score}, {} alerts", sc.alerts),
                }
            });
            row(&format!("  {kind} {}", scenario.scenario), cells);
        }
    }
    println!();
    for (kind, evals) in &evaluation.models {
        let detected: usize = evals.iter().map(|e| e.detected.len()).sum();
        let applicable: usize = evals.iter().map(JobEval::applicable).sum();
        let false_alerts: usize = evals.iter().map(|e| e.false_alerts).sum();
        let rate: f64 = evals.iter().map(JobEval::false_per_1000_host_days).sum();
        println!(
            "{}: {detected}/{applicable} attacks detected, {false_alerts} false alerts ({rate:.1} per 1,000 host-days)",
            model_name(*kind)
        );
    }
}

fn row(label: &str, cells: impl Iterator<Item = String>) {
    let cells: String = cells.map(|c| format!("{c:<COLUMN_WIDTH$}")).collect();
    println!("{label:<LABEL_WIDTH$}{}", cells.trim_end());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{FleetOptions, Scenarios, generate_to};

    #[test]
    fn model_names_parse_from_their_serde_names() {
        assert_eq!(parse_name::<ModelKind>("elastic"), Ok(ModelKind::Elastic));
        assert!(
            parse_name::<ModelKind>("nope")
                .unwrap_err()
                .contains("nope")
        );
        assert_eq!(parse_name::<Scenarios>("full"), Ok(Scenarios::Full));
        assert_eq!(model_name(ModelKind::Elastic), "elastic");
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
        let jobs = jobs::embedded().unwrap();
        let settings = Settings {
            store: String::new(),
            state_dir: "unused".into(),
            out_dir: "unused".into(),
            jobs_dir: "<built-in>".into(),
            history: super::super::settings::DEFAULT_HISTORY,
            results_ndjson: None,
            alert_target: crate::output::AlertTarget::default(),
            spark: SparkSettings::default(),
        };
        let evaluation = evaluate(
            &dir.path().to_string_lossy(),
            &labels,
            &jobs,
            &[ModelKind::Elastic],
            (None, None),
            &settings,
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
            assert_eq!(eval.applicable(), 5, "{}", eval.job.job_id);
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
            assert_eq!(
                alerted,
                eval.detected.len(),
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
