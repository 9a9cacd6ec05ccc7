//! `netrare demo`: the whole product on a generated fleet, with the built-in Elastic jobs.

use std::path::PathBuf;

use anyhow::Context;
use chrono::Duration;

use super::fixtures::FleetArgs;
use super::plan::build_plan;
use super::print;
use super::settings::{DEFAULT_HISTORY, Settings, SparkSettings};
use crate::evaluate::caught;
use crate::fixtures::{generate_to, read_labels};
use crate::jobs::JobsSource;
use crate::output::AlertTarget;
use crate::pipeline::{self, COMMIT_EVERY, schedule};

/// Generate a small fleet with injected attacks, backfill both Elastic jobs over it and print
/// the alerts and which attacks they caught.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Working directory (default: a temporary one, removed afterwards).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    pub fleet: FleetArgs,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let temp = tempfile::Builder::new().prefix("netrare-demo-").tempdir()?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let opts = args.fleet.options();
    let events = dir.join("events");
    let fleet = generate_to(&events, &opts).context("generating the demo fleet")?;
    println!(
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
        alert_target: AlertTarget::default(),
        spark: SparkSettings::default(),
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
    println!();
    print::alerts(&report.alerts);

    let labels = read_labels(&events.join("labels.json"))?;
    println!();
    for label in labels.iter() {
        println!(
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
    if args.dir.is_some() {
        println!(
            "\nanomalies and alerts are in {}",
            dir.join("out").display()
        );
    }
    Ok(())
}
