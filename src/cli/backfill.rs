//! `netrare backfill`: the scheduled executions of a past range, through the same code as `run`.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::exit::Failure;
use super::parse::{Overrides, parse_time};
use super::plan::{Storage, build_plan};
use super::print;
use super::settings::Settings;
use crate::pipeline::{self, COMMIT_EVERY, schedule};

/// Executions every `--interval` from `--from` to `--to`, exactly as `netrare run` from cron
/// would have made them: the same records and alerts.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// First execution time, RFC 3339.
    #[arg(long, value_parser = parse_time)]
    pub from: DateTime<Utc>,
    /// Last execution time (inclusive), RFC 3339.
    #[arg(long, value_parser = parse_time)]
    pub to: DateTime<Utc>,
    /// Time between executions (default: the rule interval, 15m).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "15m")]
    pub interval: Duration,
    /// Only these jobs (comma-separated ids; default all).
    #[arg(long, value_delimiter = ',')]
    pub jobs: Vec<String>,
    /// Write outputs, NDJSON files and a scratch state under `<out>/backfill-<from>-<to>/`, so
    /// production state and outputs are never touched; the same command resumes a killed run.
    #[arg(long)]
    pub fresh: bool,
    /// Also append the alerts to this file as `_bulk` NDJSON for Kibana's alerts index; on
    /// object storage, a folder of one object per commit.
    #[arg(long, value_name = "FILE")]
    pub alerts_ndjson: Option<PathBuf>,
    /// Summary on stdout: a table, or one JSON object for scripts.
    #[arg(long, value_enum, default_value_t)]
    pub format: print::SummaryFormat,
    #[command(flatten)]
    pub overrides: Overrides,
}

/// The scratch state folder of a `--fresh` backfill, inside its output folder.
const FRESH_STATE: &str = ".state";

pub fn run(args: &Args, settings: &Settings) -> Result<(), Failure> {
    let executions = schedule(args.from, args.to, args.interval)?;
    args.overrides.check_time("--to", args.to)?;
    let mut settings = settings.clone();
    let mut alerts_ndjson = args.alerts_ndjson.clone();
    if args.fresh {
        settings.out_dir = settings.out_dir.join(format!(
            "backfill-{}-{}",
            args.from.format("%Y%m%dT%H%M"),
            args.to.format("%Y%m%dT%H%M")
        ));
        // The scratch state lives with the outputs it belongs to, under a name that depends only
        // on the command: the same command run again (after a kill) resumes where it stopped.
        settings.state_dir = settings.out_dir.join(FRESH_STATE);
        // The NDJSON files are outputs too: kept inside the fresh folder, never the production
        // files the flags or settings name.
        let inside = |path: &PathBuf| path.file_name().map(|name| settings.out_dir.join(name));
        settings.results_ndjson = settings.results_ndjson.as_ref().and_then(inside);
        alerts_ndjson = alerts_ndjson.as_ref().and_then(inside);
        errln!(
            "fresh backfill: outputs under {}",
            settings.out_dir.display()
        );
    }
    let last = executions.last().copied();
    let mut plan = build_plan(
        &settings,
        settings.jobs.load(&args.jobs)?,
        executions,
        alerts_ndjson,
        COMMIT_EVERY,
    )?;
    plan.relearn = args.overrides.relearn;
    plan.resume = true;
    let storage = Storage::open(&settings, &mut plan)?;
    let report = pipeline::execute(plan)?;
    if let Some(last) = last {
        storage.publish(last)?;
    }
    print::report(&report, args.format);
    Ok(())
}
