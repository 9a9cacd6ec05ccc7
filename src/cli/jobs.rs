//! `netrare jobs list`, `netrare jobs show <id>` and `netrare jobs sql <id>`.

use chrono::{DateTime, Utc};

use super::exit::Failure;
use super::parse::parse_time;
use super::settings::Settings;
use crate::spark::{SourceSchema, source_view, summary_query};
use crate::store::TimeRange;
use crate::time::EpochMs;

/// Job definitions.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// One line per job: id, detector, bucket span, rule.
    List,
    /// A job's full definition (job, model, datafeed, rule, kibana_rule) as TOML.
    Show {
        /// The job id.
        id: String,
    },
    /// The query that folds a job's events into bucket summaries on another engine, to read or
    /// run by hand. Columns are read as flat dotted names (the layout `ingest` writes).
    Sql {
        /// The job id.
        id: String,
        /// The SQL dialect.
        #[arg(long, value_enum, default_value_t = Dialect::Spark)]
        dialect: Dialect,
        /// Buckets from this time, RFC 3339 (default: the Unix epoch).
        #[arg(long, value_parser = parse_time)]
        from: Option<DateTime<Utc>>,
        /// Buckets before this time, RFC 3339 (default: the clock).
        #[arg(long, value_parser = parse_time)]
        to: Option<DateTime<Utc>>,
    },
}

/// SQL dialects `jobs sql` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dialect {
    /// Spark SQL, as Apache Spark and Databricks run it.
    Spark,
}

pub fn run(command: &Command, settings: &Settings) -> Result<(), Failure> {
    match command {
        Command::List => {
            for job in settings.jobs.load(&[])? {
                let (model, rule) = (&job.model, &job.rule.config);
                let partition = model
                    .partition_field_name
                    .as_ref()
                    .map(|p| format!(" partition by {p}"))
                    .unwrap_or_default();
                outln!(
                    "{:<45} {} by {}{partition}, {}, {} (threshold {}, {}, every {})",
                    job.id(),
                    model.function,
                    model.by_field_name,
                    humantime::format_duration(job.span().0),
                    rule.name,
                    rule.anomaly_threshold,
                    rule.from,
                    humantime::format_duration(rule.interval),
                );
            }
        }
        Command::Show { id } => {
            let jobs = settings.jobs.load(std::slice::from_ref(id))?;
            for job in jobs {
                outln!("# {}", job.path.display());
                out!("{}", job.to_toml().map_err(Failure::internal)?);
            }
        }
        Command::Sql {
            id,
            dialect: Dialect::Spark,
            from,
            to,
        } => {
            for job in settings.jobs.load(std::slice::from_ref(id))? {
                let from = from.map_or(0, |t| t.timestamp_millis());
                let to = to.unwrap_or_else(Utc::now).timestamp_millis();
                let span = job.span();
                let window = TimeRange {
                    start_ms: span.bucket_start(EpochMs(from)).ms(),
                    end_ms: span.bucket_start(EpochMs(to)).ms(),
                };
                let schema = SourceSchema::flat(&job.fields());
                let source = settings.spark.source.as_deref().unwrap_or(&settings.store);
                if let Some(view) = source_view(source) {
                    outln!("{view};\n");
                }
                // The job loaded, so its query compiled, and the schema holds every field it
                // reads: only a bug makes the SQL fail.
                let query = summary_query(source, job.datafeed.query(), &job.fold, window, &schema)
                    .map_err(Failure::internal)?;
                outln!("{};", query.trim_end());
            }
        }
    }
    Ok(())
}
