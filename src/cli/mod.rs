//! The command line: clap types, settings, logging and exit codes. Each subcommand lives in its
//! own file with its `Args` and one `run`; none holds pipeline logic.

/// `println!` that never panics: a full disk or a closed pipe on standard output is remembered,
/// and reported once the command's work is done (exit 74), instead of aborting it half-way.
macro_rules! outln {
    () => {
        $crate::cli::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` that never panics; see [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::write_stdout(format_args!($($arg)*))
    };
}

/// `eprintln!` that never panics: a message that cannot reach a full stderr is dropped.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod backfill;
mod demo;
mod evaluate;
mod exit;
mod fixtures;
mod ingest;
mod investigate;
mod jobs;
mod parse;
mod plan;
mod print;
mod report;
mod run;
mod settings;

pub use exit::{
    AheadOfClock, BadFlag, EXIT_CLOCK, EXIT_CONFIG, EXIT_DATA, EXIT_INTERNAL, EXIT_IO, EXIT_LOCKED,
    EXIT_OK, EXIT_UNAVAILABLE, Failure, exit_code,
};
pub use settings::{Engine, Settings, SettingsFile, SparkSettings};

use std::io::IsTerminal;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Elastic's Linux network rarity detections, run as a batch job over Parquet ECS events.
#[derive(Debug, Parser)]
#[command(name = "netrare", version, after_help = exit::EXIT_CODES_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Settings file (default: ./netrare.toml when it exists).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// Event store: a Parquet file, a directory or a glob; or s3://, gs://, az:// BUCKET/PREFIX.
    #[arg(long, global = true, value_name = "PATH")]
    pub store: Option<String>,
    /// State directory (model snapshots, checkpoints, lock), or a prefix on object storage
    /// (docs/scheduling.md).
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<std::path::PathBuf>,
    /// Output directory (anomalies/ and alerts/), or a prefix on object storage.
    #[arg(long, global = true, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
    /// `run`, `backfill`: also append every result as Elasticsearch `_bulk` NDJSON
    /// (for `[elasticsearch] results_bulk_index`, `.ml-anomalies-shared` by default) to this file
    /// at each commit; on object storage, a folder of one object per commit.
    #[arg(long, global = true, value_name = "FILE")]
    pub results_ndjson: Option<std::path::PathBuf>,
    /// Jobs directory (job files and exceptions/).
    #[arg(long, global = true, value_name = "DIR")]
    pub jobs_dir: Option<std::path::PathBuf>,
    /// What folds events into buckets (default: native, or the settings file's `engine`).
    #[arg(long, global = true, value_enum)]
    pub engine: Option<Engine>,
    /// Spark Connect server for `--engine spark`: sc://HOST:PORT.
    #[arg(long, global = true, value_name = "URL")]
    pub spark_remote: Option<String>,
    /// The events as the Spark cluster reads them: a path or a table (default: --store).
    #[arg(long, global = true, value_name = "PATH_OR_TABLE")]
    pub spark_source: Option<String>,
    /// More log output (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// One scheduled execution of every job: model the new complete buckets, then alert.
    Run(run::Args),
    /// Scheduled executions every interval over a past range, exactly as cron would have run them.
    Backfill(backfill::Args),
    /// List or show the job definitions.
    #[command(subcommand)]
    Jobs(jobs::Command),
    /// Generate a synthetic Linux fleet of ECS network events.
    #[command(subcommand)]
    Fixtures(fixtures::Command),
    /// Bring raw audit logs or NDJSON exports into the event store.
    #[command(subcommand)]
    Ingest(ingest::Command),
    /// Generate a small fleet, backfill both jobs over it and print the alerts.
    Demo(demo::Args),
    /// Backfill each job with each model over a labelled store and compare detections and false alerts.
    Evaluate(evaluate::Args),
    /// Answer an alert's investigation guide from the outputs and the store.
    Investigate(investigate::Args),
    /// Write a self-contained HTML report of the outputs: swimlanes, top influencers, alerts and
    /// each alert's investigation.
    Report(report::Args),
}

/// The first error writing standard output, if any.
static STDOUT_FAILED: std::sync::OnceLock<std::io::Error> = std::sync::OnceLock::new();

/// Writes to standard output, remembering the first failure instead of panicking.
pub fn write_stdout(args: std::fmt::Arguments) {
    use std::io::Write;
    if STDOUT_FAILED.get().is_some() {
        return;
    }
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        let _ = STDOUT_FAILED.set(e);
    }
}

/// Runs the parsed command line. Its work done, output that could not be written to standard
/// output is an error (exit 74) that says the work is done.
pub fn run(cli: Cli) -> Result<(), Failure> {
    run_command(cli)?;
    use std::io::Write;
    if let Err(e) = std::io::stdout().flush() {
        let _ = STDOUT_FAILED.set(e);
    }
    match STDOUT_FAILED.get() {
        Some(e) => Err(std::io::Error::new(
            e.kind(),
            format!("standard output could not be written ({e}); the command's work is done"),
        )
        .into()),
        None => Ok(()),
    }
}

fn run_command(cli: Cli) -> Result<(), Failure> {
    let settings = Settings::resolve(&cli.global)?;
    match cli.command {
        Command::Run(args) => run::run(&args, &settings),
        Command::Backfill(args) => backfill::run(&args, &settings),
        Command::Jobs(command) => jobs::run(&command, &settings),
        Command::Fixtures(command) => fixtures::run(&command),
        Command::Ingest(command) => ingest::run(&command, &settings),
        Command::Demo(args) => demo::run(&args),
        Command::Evaluate(args) => evaluate::run(&args, &settings),
        Command::Investigate(args) => investigate::run(&args, &settings),
        Command::Report(args) => report::run(&args, &settings),
    }
}

/// Sets up `tracing` on stderr: warnings by default, more with `-v`, JSON with `--log-format json`.
pub fn init_logging(global: &Global) {
    let level = match global.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("NETRARE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match global.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
