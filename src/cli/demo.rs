//! `netrare demo`: the whole product on a generated fleet, with the built-in Elastic jobs.

use std::path::PathBuf;

use chrono::Duration;

use super::exit::{Context, Failure};
use super::fixtures::FleetArgs;
use super::plan::build_plan;
use super::print;
use super::settings::{DEFAULT_HISTORY, Settings, SparkSettings};
use crate::evaluate::{JobEval, caught, evaluate};
use crate::fixtures::{generate_to, read_labels};
use crate::jobs::JobsSource;
use crate::model::ModelKind;
use crate::output::{AlertTarget, ResultsTarget};
use crate::pipeline::{self, COMMIT_EVERY, schedule};
use crate::state::remote::DEFAULT_LOCK_EXPIRY;

/// The history an investigation of the demo reads: the whole fleet.
const DEMO_HISTORY: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

/// The models the demo compares on its fleet, as `netrare evaluate --models` would.
const MODELS: [ModelKind; 3] = [
    ModelKind::Elastic,
    ModelKind::Population,
    ModelKind::NewTerms,
];

/// Generate a small fleet with injected attacks, backfill both Elastic jobs over it and print
/// the alerts, which attacks they caught, and what each model kind catches on the same fleet.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Working directory (default: a new one under the system temporary folder, kept so the
    /// printed `investigate` command and the report can be used afterwards).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    pub fleet: FleetArgs,
}

pub fn run(args: &Args) -> Result<(), Failure> {
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => tempfile::Builder::new()
            .prefix("netrare-demo-")
            .tempdir()?
            .keep(),
    };
    let opts = args.fleet.options();
    let events = dir.join("events");
    let fleet = generate_to(&events, &opts).context("generating the demo fleet")?;
    outln!(
        "generated {} hosts x {} days: {} events in {}",
        opts.hosts,
        opts.days,
        fleet.defend_events + fleet.auditd_events,
        events.display()
    );

    let settings = Settings {
        store: events.to_string_lossy().into_owned(),
        state_dir: dir.join("state"),
        out_dir: dir.join("out"),
        jobs: JobsSource::BuiltIn,
        history: DEFAULT_HISTORY,
        results_ndjson: None,
        report_html: None,
        results_target: ResultsTarget::default(),
        alert_target: AlertTarget::default(),
        spark: SparkSettings::default(),
        lock_expiry: DEFAULT_LOCK_EXPIRY,
    };
    let start = opts.start;
    let end = start + Duration::days(i64::from(opts.days));
    let executions = schedule(start, end, std::time::Duration::from_secs(900))?;
    let plan = build_plan(
        &settings,
        settings.jobs.load(&[])?,
        executions,
        None,
        COMMIT_EVERY,
    )?;
    let report = pipeline::execute(plan)?;
    print::report(&report, print::SummaryFormat::Text);
    outln!();
    print::alerts(&report.alerts);

    let labels = read_labels(&events.join("labels.json"))?;
    outln!();
    for label in labels.iter() {
        outln!(
            "{} {:<28} {}={} on {}",
            if caught(label, &report.alerts) {
                "caught"
            } else {
                "missed"
            },
            label.id,
            label.field.as_str(),
            label.value,
            label.host
        );
    }

    outln!("\nevery model on this fleet (as `netrare evaluate`, in scratch state):");
    let store = settings.store.as_str();
    let evaluation = evaluate(
        store,
        &labels,
        &settings.jobs.load(&[])?,
        &MODELS,
        (None, None),
        |backfill| super::evaluate::execute(store, backfill, &settings),
    )?;
    for (kind, evals) in &evaluation.models {
        let detected: usize = evals.iter().map(|e| e.detected.len()).sum();
        let applicable: usize = evals.iter().map(JobEval::applicable).sum();
        let false_alerts: usize = evals.iter().map(|e| e.false_alerts).sum();
        outln!(
            "  {:<12} {detected}/{applicable} attacks caught, false alerts: {false_alerts}",
            super::evaluate::model_name(*kind)
        );
    }

    // The settings a later `investigate` or `report` reads: the built-in jobs, as run here.
    let config = dir.join("netrare.toml");
    std::fs::write(
        &config,
        "# The demo's store and outputs, for `netrare --config <this file> investigate|report`.\n\
         store = \"events\"\nstate_dir = \"state\"\nout_dir = \"out\"\n",
    )
    .with_context(|| format!("writing {}", config.display()))?;
    let html = dir.join("report.html");
    super::report::write(&settings, &html, None, None, &[], DEMO_HISTORY)?;
    outln!(
        "\nanomalies and alerts are in {}",
        dir.join("out").display()
    );
    outln!("report: {}", html.display());
    if let Some(top) = print::by_score(&report.alerts).first() {
        outln!(
            "investigate the top alert: netrare --config {} investigate {}",
            config.display(),
            settings.alert_target.uuid(top)
        );
    }
    Ok(())
}
