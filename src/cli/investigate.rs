//! `netrare investigate`: one alert or record answered step by step as the rules'
//! investigation guides ask, from the outputs and the store.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::exit::{BadFlag, Failure};
use super::parse::parse_time;
use super::plan::triage_sources;
use super::settings::Settings;
use crate::triage::{self, Depth, Inputs, Outputs, Target};

/// Answer an alert's investigation: the anomaly, the rare value's history, the connections
/// behind it, the process, the user, the exceptions, and why it alerted or did not.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// An alert's `kibana.alert.uuid` or a record's `record_id`.
    #[arg(value_name = "ID", required_unless_present = "value")]
    pub id: Option<String>,
    /// With --value, --at: the job of a by-value that has no record.
    #[arg(long, requires_all = ["value", "at"], conflicts_with = "id")]
    pub job: Option<String>,
    /// The by-value to investigate (a port or a process name).
    #[arg(long, requires_all = ["job", "at"])]
    pub value: Option<String>,
    /// The host to follow (default: the alert's or record's first host).
    #[arg(long)]
    pub host: Option<String>,
    /// A time inside the bucket, RFC 3339.
    #[arg(long, value_parser = parse_time, requires_all = ["job", "value"])]
    pub at: Option<DateTime<Utc>>,
    /// How far back the history reaches before the bucket.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30d")]
    pub history: Duration,
    /// A text layout to read, or JSON for scripts (docs/investigate.md).
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// Output format of `investigate`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

pub fn run(args: &Args, settings: &Settings) -> Result<(), Failure> {
    let target = match (&args.id, &args.job, &args.value, args.at) {
        (Some(id), _, _, _) => Target::Id {
            id: id.clone(),
            host: args.host.clone(),
        },
        (None, Some(job_id), Some(value), Some(at)) => Target::Value {
            job_id: job_id.clone(),
            value: value.clone(),
            host: args.host.clone(),
            at_ms: at.timestamp_millis(),
        },
        _ => {
            return Err(BadFlag {
                flag: "ID",
                problem: "give an alert or record id, or --job, --value and --at".into(),
            }
            .into());
        }
    };
    if args.history.is_zero() {
        return Err(BadFlag {
            flag: "--history",
            problem: "must be longer than zero".into(),
        }
        .into());
    }
    let sources = triage_sources(settings, &[])?;
    let outputs = Outputs::load(&sources.out, &sources.job_ids(), Depth::Anomalies)?;
    let investigation = triage::investigate(
        &Inputs {
            sources: &sources,
            outputs: &outputs,
            history: args.history,
        },
        &target,
    )?;
    match args.format {
        Format::Text => out!("{}", triage::text::layout(&investigation)),
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&investigation).map_err(Failure::internal)?
        ),
    }
    Ok(())
}
