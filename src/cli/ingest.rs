//! `netrare ingest auditd|ndjson`: bring other shapes of data into the event store.

use std::path::PathBuf;

use super::exit::Failure;
use super::settings::Settings;
use crate::ingest::{Input, auditd, ndjson};

/// Ingest sources.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Raw Linux audit logs (plain or ENRICHED), e.g. rotated /var/log/audit/audit.log.N files.
    Auditd {
        /// Files to read, or `-` for standard input.
        #[arg(required = true)]
        inputs: Vec<String>,
        /// `host.name` for records without a `node=` prefix.
        #[arg(long)]
        host_name: Option<String>,
        /// Event store directory to write (default: the configured store).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// NDJSON exported from Elasticsearch: `_source` documents, search hits or `_bulk` pairs.
    Ndjson {
        /// Files to read, or `-` for standard input.
        #[arg(required = true)]
        inputs: Vec<String>,
        /// Event store directory to write (default: the configured store).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn inputs(names: &[String]) -> Vec<Input> {
    names
        .iter()
        .map(|n| {
            if n == "-" {
                Input::Stdin
            } else {
                Input::Path(PathBuf::from(n))
            }
        })
        .collect()
}

pub fn run(command: &Command, settings: &Settings) -> Result<(), Failure> {
    let target = |out: &Option<PathBuf>| {
        out.clone()
            .unwrap_or_else(|| PathBuf::from(&settings.store))
    };
    let report = match command {
        Command::Auditd {
            inputs: names,
            host_name,
            out,
        } => auditd::ingest(
            &inputs(names),
            &target(out),
            &auditd::AuditdOptions {
                host_name: host_name.clone(),
            },
        )?,
        Command::Ndjson { inputs: names, out } => ndjson::ingest(&inputs(names), &target(out))?,
    };
    outln!("{report}");
    Ok(())
}
