//! `netrare run`: one scheduled execution, as cron calls it every 15 minutes.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::exit::{Context, Failure};
use super::parse::{Overrides, parse_time};
use super::plan::{Storage, build_plan};
use super::print;
use super::settings::Settings;
use crate::pipeline;
use crate::time::{DAY_MS, EpochMs};

/// Days the report of `report_html` covers, ending at the execution.
const REPORT_DAYS: i64 = 30;
/// The history each of its investigations reads.
const REPORT_HISTORY: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

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

pub fn run(args: &Args, settings: &Settings) -> Result<(), Failure> {
    if let Some(now) = args.now {
        args.overrides.check_time("--now", now)?;
    }
    let now = args.now.unwrap_or_else(Utc::now).timestamp_millis();
    if let Some(html) = &settings.report_html {
        super::report::check_target(html)?;
    }
    let mut plan = build_plan(
        settings,
        settings.jobs.load(&args.jobs)?,
        vec![EpochMs(now)],
        args.alerts_ndjson.clone(),
        1,
    )?;
    plan.relearn = args.overrides.relearn;
    let storage = Storage::open(settings, &mut plan)?;
    let report = pipeline::execute(plan)?;
    storage.publish(EpochMs(now))?;
    print::report(&report, args.format);
    if let Some(html) = &settings.report_html {
        let from_ms = now - REPORT_DAYS * DAY_MS;
        super::report::write(
            settings,
            html,
            Some(from_ms),
            Some(now),
            &args.jobs,
            REPORT_HISTORY,
        )
        .context("the execution committed, but its report could not be written")?;
    }
    Ok(())
}
