//! `netrare fixtures generate`: a deterministic synthetic fleet.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::exit::Failure;
use super::parse::{parse_name, parse_time};
use crate::fixtures::{FleetOptions, Layout, Scenarios, generate_in_layout};

/// Synthetic data.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Write a synthetic Linux fleet (event store layout + labels.json). Same options, same bytes.
    Generate(GenerateArgs),
}

/// The size and seed of a generated fleet.
#[derive(Debug, clap::Args)]
pub struct FleetArgs {
    /// Number of hosts.
    #[arg(long, default_value_t = 12)]
    pub hosts: usize,
    /// Number of days.
    #[arg(long, default_value_t = 3)]
    pub days: u32,
    /// Random seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

impl FleetArgs {
    /// Generator options for these arguments, with attacks.
    pub fn options(&self) -> FleetOptions {
        FleetOptions {
            hosts: self.hosts,
            days: self.days,
            seed: self.seed,
            ..FleetOptions::default()
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub fleet: FleetArgs,
    /// First day, RFC 3339 (default 2026-11-01T00:00:00Z).
    #[arg(long, value_parser = parse_time)]
    pub start: Option<DateTime<Utc>>,
    /// Leave out the injected attacks.
    #[arg(long)]
    pub no_attacks: bool,
    /// Labelled scenarios: `basic` (three attacks) or `full` (six attacks, two spreading
    /// attacks and five benign look-alikes; see docs/labels.md).
    #[arg(long, value_parser = parse_name::<Scenarios>, default_value = "basic")]
    pub scenarios: Scenarios,
    /// Files and columns per day: `mixed` (Defend flat, auditd nested), `flat` (one file of every
    /// event, dotted columns, row groups of 262,144 rows) or `nested` (the two files of `mixed`,
    /// both with struct columns). The events are the same in each.
    #[arg(long, value_parser = parse_name::<Layout>, default_value = "mixed")]
    pub layout: Layout,
    /// Multiplies every host's rate of normal connections (1: about 38 events a host-hour; 5:
    /// as dense as the busy servers of a lake-written store).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub traffic: u32,
}

pub fn run(command: &Command) -> Result<(), Failure> {
    let Command::Generate(args) = command;
    let mut opts = FleetOptions {
        attacks: !args.no_attacks,
        scenarios: args.scenarios,
        traffic: args.traffic,
        ..args.fleet.options()
    };
    if let Some(start) = args.start {
        opts.start = start;
    }
    let summary = generate_in_layout(&args.out, &opts, args.layout)?;
    outln!(
        "wrote {} days to {}: {} Defend events, {} auditd events, {} labels",
        summary.days,
        args.out.display(),
        summary.defend_events,
        summary.auditd_events,
        summary.labels
    );
    Ok(())
}
