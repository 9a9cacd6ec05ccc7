//! `netrare report`: one self-contained HTML page of the outputs, with each alert's investigation.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::exit::{BadFlag, Failure};
use super::parse::parse_time;
use super::plan::triage_sources;
use super::settings::Settings;
use crate::report::{self, Page, Window};
use crate::time::DAY_MS;
use crate::triage::{self, Depth, Inputs, Outputs, Target};

/// Alerts investigated in one report, the highest scores first: a rule's most per execution.
pub const MAX_INVESTIGATIONS: usize = 100;

/// Write an HTML report: overview, swimlanes, top influencers, alerts and their investigations.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The HTML file to write (replaced atomically).
    #[arg(long, value_name = "FILE")]
    pub html: PathBuf,
    /// Start of the report, RFC 3339 (default: the first result's day).
    #[arg(long, value_parser = parse_time)]
    pub from: Option<DateTime<Utc>>,
    /// End of the report, RFC 3339 (default: the end of the last result's bucket).
    #[arg(long, value_parser = parse_time)]
    pub to: Option<DateTime<Utc>>,
    /// Only these jobs (comma-separated ids; default all).
    #[arg(long, value_delimiter = ',')]
    pub jobs: Vec<String>,
    /// How far back each investigation's history reaches.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30d")]
    pub history: Duration,
}

pub fn run(args: &Args, settings: &Settings) -> Result<(), Failure> {
    let path = write(
        settings,
        &args.html,
        args.from.map(|t| t.timestamp_millis()),
        args.to.map(|t| t.timestamp_millis()),
        &args.jobs,
        args.history,
    )?;
    outln!("report written to {}", path.display());
    Ok(())
}

/// Builds and writes the report of `settings`' outputs; `demo` and `run` call it too.
pub fn write(
    settings: &Settings,
    html: &std::path::Path,
    from_ms: Option<i64>,
    to_ms: Option<i64>,
    jobs: &[String],
    history: Duration,
) -> Result<PathBuf, Failure> {
    check_target(html)?;
    let sources = triage_sources(settings, jobs)?;
    let outputs = Outputs::load(&sources.out, &sources.job_ids(), Depth::Everything)?;
    let window = window(&outputs, from_ms, to_ms);
    if window.from_ms >= window.to_ms {
        return Err(BadFlag {
            flag: "--from",
            problem: "must be before --to".into(),
        }
        .into());
    }
    let targets: Vec<Target> = outputs
        .alerts
        .iter()
        .filter(|a| a.original_time_ms >= window.from_ms && a.original_time_ms < window.to_ms)
        .take(MAX_INVESTIGATIONS)
        .map(|a| Target::Id {
            id: a.uuid.clone(),
            host: None,
        })
        .collect();
    let investigations = triage::investigate_all(
        &Inputs {
            sources: &sources,
            outputs: &outputs,
            history,
        },
        &targets,
    )?;
    let page = Page::build(&sources, &outputs, window, &investigations);
    report::write(&page, html)?;
    Ok(html.to_path_buf())
}

/// Refuses a report path that is not a regular file or absent (a folder, a FIFO, a device):
/// checked before an execution commits, so a misconfigured `report_html` stops nothing half-way.
pub fn check_target(html: &std::path::Path) -> Result<(), BadFlag> {
    match std::fs::symlink_metadata(html) {
        Ok(meta) if !meta.file_type().is_file() => Err(BadFlag {
            flag: "report_html",
            problem: format!("{} exists and is not a regular file", html.display()),
        }),
        _ => Ok(()),
    }
}

/// The asked window, or from the first result's day to the end of the last bucket.
fn window(outputs: &Outputs, from_ms: Option<i64>, to_ms: Option<i64>) -> Window {
    let times = || {
        outputs
            .buckets
            .iter()
            .map(|b| b.timestamp_ms)
            .chain(outputs.records.iter().map(|r| r.record.timestamp_ms.ms()))
    };
    let span_ms = outputs
        .records
        .first()
        .map_or(900_000, |r| r.record.bucket_span * 1000);
    let now = Utc::now().timestamp_millis();
    let from = from_ms.unwrap_or_else(|| {
        times()
            .min()
            .map_or(now - DAY_MS, |t| t.div_euclid(DAY_MS) * DAY_MS)
    });
    let to = to_ms.unwrap_or_else(|| times().max().map_or(now, |t| t + span_ms));
    Window {
        from_ms: from,
        to_ms: to,
    }
}
