//! `netrare backfill`: the scheduled executions of a past range, through the same code as `run`.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::parse::{Overrides, parse_time};
use super::plan::build_plan;
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
    /// Use a new scratch state directory (deleted afterwards) and write outputs under
    /// `<out>/backfill-<from>-<to>/`, so production state and outputs are never touched.
    #[arg(long)]
    pub fresh: bool,
    /// Also append the alerts to this file as `_bulk` NDJSON for Kibana's alerts index.
    #[arg(long, value_name = "FILE")]
    pub alerts_ndjson: Option<PathBuf>,
    /// Summary on stdout: a table, or one JSON object for scripts.
    #[arg(long, value_enum, default_value_t)]
    pub format: print::SummaryFormat,
    #[command(flatten)]
    pub overrides: Overrides,
}

pub fn run(args: &Args, settings: &Settings) -> anyhow::Result<()> {
    let executions = schedule(args.from, args.to, args.interval)?;
    args.overrides.check_time("--to", args.to)?;
    let mut settings = settings.clone();
    let scratch = if args.fresh {
        Some(
            tempfile::Builder::new()
                .prefix("netrare-backfill-")
                .tempdir()?,
        )
    } else {
        None
    };
    if let Some(dir) = &scratch {
        settings.state_dir = dir.path().to_path_buf();
        settings.out_dir = settings.out_dir.join(format!(
            "backfill-{}-{}",
            args.from.format("%Y%m%dT%H%M"),
            args.to.format("%Y%m%dT%H%M")
        ));
        // The results NDJSON is an output too: keep it inside the fresh folder.
        settings.results_ndjson = settings
            .results_ndjson
            .as_ref()
            .and_then(|p| p.file_name())
            .map(|name| settings.out_dir.join(name));
        eprintln!(
            "fresh backfill: outputs under {}",
            settings.out_dir.display()
        );
    }
    let mut plan = build_plan(
        &settings,
        settings.jobs.load(&args.jobs)?,
        executions,
        args.alerts_ndjson.clone(),
        COMMIT_EVERY,
    )?;
    plan.relearn = args.overrides.relearn;
    plan.resume = true;
    let report = pipeline::execute(plan)?;
    print::report(&report, args.format);
    Ok(())
}
