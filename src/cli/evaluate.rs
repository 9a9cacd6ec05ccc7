//! `netrare evaluate`: backfill every selected job with every selected model over a labelled
//! store, in scratch state, and compare what each caught and how many false alerts it raised.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::exit::Failure;
use super::parse::{parse_name, parse_time};
use super::plan::build_plan;
use super::print::SummaryFormat;
use super::settings::{Settings, SparkSettings};
use crate::evaluate::{Backfill, Evaluation, HostDays, JobEval, evaluate};
use crate::fixtures::{LabelKind, read_labels};
use crate::jobs::Job;
use crate::model::ModelKind;
use crate::pipeline::{self, COMMIT_EVERY};

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
    /// Comparison on stdout: tables, or one JSON object for scripts.
    #[arg(long, value_enum, default_value_t)]
    pub format: SummaryFormat,
}

/// The serde name of a model kind.
pub(super) fn model_name(kind: ModelKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{kind:?}"))
}

pub fn run(args: &Args, settings: &Settings) -> Result<(), Failure> {
    let settings = &Settings {
        jobs: settings.jobs.or_built_in(),
        ..settings.clone()
    };
    let jobs = settings.jobs.load(&args.jobs)?;
    let labels = read_labels(&args.labels)?;
    let evaluation = evaluate(
        &args.events,
        &labels,
        &jobs,
        &args.models,
        (args.from, args.to),
        |backfill| execute(&args.events, backfill, settings),
    )?;
    match args.format {
        SummaryFormat::Text => print(&evaluation, &jobs),
        SummaryFormat::Json => outln!("{}", evaluation_json(&evaluation)),
    }
    Ok(())
}

/// Plans and executes one of the evaluation's scratch backfills.
pub(super) fn execute(
    events: &str,
    backfill: Backfill,
    settings: &Settings,
) -> Result<pipeline::Report, Failure> {
    let settings = Settings {
        store: events.to_string(),
        state_dir: backfill.state_dir,
        out_dir: backfill.out_dir,
        results_ndjson: None,
        spark: SparkSettings::default(),
        ..settings.clone()
    };
    errln!(
        "backfilling {} job(s) with the {} model",
        backfill.jobs.len(),
        model_name(backfill.model)
    );
    let plan = build_plan(
        &settings,
        backfill.jobs,
        backfill.executions.to_vec(),
        None,
        COMMIT_EVERY,
    )?;
    Ok(pipeline::execute(plan)?)
}

/// The comparison as one JSON object: the host-days, then per model its totals and per job the
/// attacks detected and missed, the false alerts and every scenario's best score and alerts.
fn evaluation_json(evaluation: &Evaluation) -> serde_json::Value {
    let models: Vec<serde_json::Value> = evaluation
        .models
        .iter()
        .map(|(kind, evals)| {
            let jobs: Vec<serde_json::Value> = evals
                .iter()
                .map(|e| {
                    let scenarios: Vec<serde_json::Value> = e
                        .scenarios
                        .iter()
                        .map(|s| {
                            json!({
                                "scenario": s.scenario,
                                "kind": s.kind,
                                "max_record_score": s.max_record_score,
                                "alerts": s.alerts,
                            })
                        })
                        .collect();
                    json!({
                        "job_id": e.job.job_id,
                        "detected": e.detected,
                        "missed": e.missed,
                        "applicable": e.applicable(),
                        "false_alerts": e.false_alerts,
                        "false_per_1000_host_days": e.false_per_1000_host_days(),
                        "scenarios": scenarios,
                    })
                })
                .collect();
            json!({
                "model": model_name(*kind),
                "detected": evals.iter().map(|e| e.detected.len()).sum::<usize>(),
                "applicable": evals.iter().map(JobEval::applicable).sum::<usize>(),
                "false_alerts": evals.iter().map(|e| e.false_alerts).sum::<usize>(),
                "false_per_1000_host_days": evals.iter().map(JobEval::false_per_1000_host_days).sum::<f64>(),
                "jobs": jobs,
            })
        })
        .collect();
    json!({
        "hosts": evaluation.host_days.hosts,
        "days": evaluation.host_days.days,
        "from": evaluation.from.to_rfc3339(),
        "models": models,
    })
}

const LABEL_WIDTH: usize = 34;
const COLUMN_WIDTH: usize = 22;

/// Per job, one column per model; then a totals line per model.
fn print(evaluation: &Evaluation, jobs: &[Job]) {
    let HostDays { hosts, days } = evaluation.host_days;
    outln!(
        "{hosts} hosts x {days:.1} days from {}",
        evaluation.from.format("%Y-%m-%d %H:%M")
    );
    for (j, job) in jobs.iter().enumerate() {
        let evals: Vec<&JobEval> = evaluation
            .models
            .iter()
            .filter_map(|(_, evals)| evals.get(j))
            .collect();
        outln!("\n{} (rare {})", job.id(), job.model.by_field_name);
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
        outln!("max record score per scenario (attacks: caught or missed; benign: alerts)");
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
    outln!();
    for (kind, evals) in &evaluation.models {
        let detected: usize = evals.iter().map(|e| e.detected.len()).sum();
        let applicable: usize = evals.iter().map(JobEval::applicable).sum();
        let false_alerts: usize = evals.iter().map(|e| e.false_alerts).sum();
        let rate: f64 = evals.iter().map(JobEval::false_per_1000_host_days).sum();
        outln!(
            "{}: {detected}/{applicable} attacks detected, {false_alerts} false alerts ({rate:.1} per 1,000 host-days)",
            model_name(*kind)
        );
    }
}

fn row(label: &str, cells: impl Iterator<Item = String>) {
    outln!("{}", row_text(label, cells));
}

/// A label and its cells in columns; a cell wider than its column (a long list of missed
/// attacks) still ends two spaces before the next one.
fn row_text(label: &str, cells: impl Iterator<Item = String>) -> String {
    const CELL: usize = COLUMN_WIDTH - 2;
    let cells: String = cells.map(|c| format!("{c:<CELL$}  ")).collect();
    format!("{label:<LABEL_WIDTH$}{}", cells.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_wider_than_its_column_is_kept_apart_from_the_next() {
        let cells = ["a,b,c,d,e,f,g,h,i,j,k,l,m,n".to_string(), "-".to_string()];
        let text = row_text("  missed", cells.into_iter());
        assert!(text.ends_with("a,b,c,d,e,f,g,h,i,j,k,l,m,n  -"), "{text}");
        let short = row_text("x", ["1/2".to_string(), "3/4".to_string()].into_iter());
        assert_eq!(
            short,
            format!("{:<LABEL_WIDTH$}{:<COLUMN_WIDTH$}3/4", "x", "1/2")
        );
    }

    #[test]
    fn model_names_are_their_serde_names() {
        assert_eq!(model_name(ModelKind::Elastic), "elastic");
    }
}
