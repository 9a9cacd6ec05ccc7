//! The scan, datafeed selection and fold of both shipped jobs over an event store, day by day as
//! a backfill reads it, without the model: the same work as polars' and DuckDB's presence
//! aggregations in `benches/`, measured by `benches/e2e.sh` as the `fold-2t` step to decide
//! between the hand fold and polars (docs/dependencies.md).
//!
//! Usage: `cargo bench --bench scan_fold -- STORE START DAYS` (START in RFC 3339); threads from
//! `RAYON_NUM_THREADS`. Prints `fold_seconds=… port_rows=… port_events=… process_rows=…
//! process_events=…`, rows being (bucket, by-value) pairs.

use std::process::ExitCode;
use std::time::Instant;

use chrono::DateTime;
use netrare::jobs;
use netrare::pipeline::fold_window;
use netrare::store::{EventStore, TimeRange};

/// The allocator of the `netrare` binary, so the fold is measured as the backfill runs it.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const DAY_MS: i64 = 24 * 3600 * 1000;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match run(&args) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("scan_fold: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<String, String> {
    let [store, start, days] = args else {
        return Err("usage: scan_fold STORE START DAYS".into());
    };
    let store = EventStore::open(store).map_err(|e| e.to_string())?;
    let start = DateTime::parse_from_rfc3339(start)
        .map_err(|e| format!("START {start:?}: {e}"))?
        .timestamp_millis();
    let days: i64 = days.parse().map_err(|e| format!("DAYS {days:?}: {e}"))?;
    let shipped = jobs::embedded().map_err(|e| e.to_string())?;
    let jobs: Vec<&jobs::Job> = shipped.iter().collect();
    let started = Instant::now();
    let mut rows = vec![0_usize; jobs.len()];
    let mut events = vec![0_u64; jobs.len()];
    for day in 0..days {
        let window = TimeRange {
            start_ms: start + day * DAY_MS,
            end_ms: start + (day + 1) * DAY_MS,
        };
        let folded = fold_window(&store, &jobs, window).map_err(|e| e.to_string())?;
        for (i, buckets) in folded.iter().enumerate() {
            rows[i] += buckets.values().map(|b| b.values.len()).sum::<usize>();
            events[i] += buckets.values().map(|b| b.event_count).sum::<u64>();
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let counts: Vec<String> = jobs
        .iter()
        .zip(rows.iter().zip(&events))
        .map(|(job, (rows, events))| {
            let name = match job.fold.by_field.as_str() {
                "destination.port" => "port",
                _ => "process",
            };
            format!("{name}_rows={rows} {name}_events={events}")
        })
        .collect();
    Ok(format!("fold_seconds={seconds:.3} {}", counts.join(" ")))
}
