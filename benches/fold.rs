//! Micro-benchmarks of the bucket fold (and the datafeed selection before it) over an in-memory
//! frame of 100,000 events shaped like the synthetic fleet's: 300 hosts, ~35 events per host and
//! hour, so about 38 fifteen-minute buckets. Run with `cargo bench --bench fold`.

use std::collections::HashMap;
use std::path::PathBuf;

use arrow::array::Int64Array;
use divan::Bencher;
use netrare::bucket::{PartialFold, fold_frame};
use netrare::jobs::{self, Job};
use netrare::store::{Column, EventFrame, ScanStats, TimeRange};

const ROWS: usize = 100_000;
const HOSTS: usize = 300;
/// Fleet-wide events per hour: 300 hosts × 35.
const EVENTS_PER_HOUR: usize = HOSTS * 35;

fn main() {
    divan::main();
}

/// A small deterministic generator (xorshift), so every run folds the same frame.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    /// Skewed towards small values: a few ports and processes dominate, as on real hosts.
    fn skewed(&mut self, n: usize) -> usize {
        let a = self.below(n);
        self.below(a + 1)
    }
}

fn keywords(rows: usize, mut value: impl FnMut(usize) -> String) -> Column {
    let values: Vec<String> = (0..rows).map(&mut value).collect();
    Column::Keyword(values.iter().map(|v| Some(v.as_str())).collect())
}

fn single_keyword_list(rows: usize, value: &str) -> Column {
    Column::KeywordList((0..rows).map(|_| [Some(value)]).collect())
}

/// The frame: every row a network start event from a Linux host, as the datafeed expects.
fn frame(rows: usize) -> EventFrame {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let hour_ms = 3_600_000_i64;
    let timestamps: Vec<i64> = (0..rows)
        .map(|r| r as i64 * hour_ms / EVENTS_PER_HOUR as i64)
        .collect();
    let hosts: Vec<usize> = (0..rows).map(|_| rng.below(HOSTS)).collect();
    let mut columns = HashMap::new();
    columns.insert(
        "host.name".to_string(),
        keywords(rows, |r| format!("host-{:03}", hosts[r])),
    );
    columns.insert(
        "process.name".to_string(),
        keywords(rows, |_| format!("proc-{}", rng.skewed(40))),
    );
    columns.insert(
        "user.name".to_string(),
        keywords(rows, |_| format!("user-{}", rng.skewed(10))),
    );
    columns.insert(
        "destination.ip".to_string(),
        keywords(rows, |_| {
            format!("10.0.{}.{}", rng.below(8), rng.below(250))
        }),
    );
    columns.insert(
        "host.os.type".to_string(),
        keywords(rows, |_| "linux".to_string()),
    );
    let ports: Vec<i64> = (0..rows)
        .map(|_| {
            [443, 80, 53, 22, 5432, 8080, 9200, 6379][rng.skewed(8)] + rng.skewed(3) as i64 * 1000
        })
        .collect();
    columns.insert(
        "destination.port".to_string(),
        Column::Integer(Int64Array::from(ports)),
    );
    columns.insert(
        "event.category".to_string(),
        single_keyword_list(rows, "network"),
    );
    columns.insert("event.type".to_string(), single_keyword_list(rows, "start"));
    EventFrame {
        path: PathBuf::from("bench"),
        timestamps,
        columns,
        stats: ScanStats::default(),
    }
}

fn shipped_jobs() -> Vec<Job> {
    match jobs::embedded() {
        Ok(jobs) => jobs,
        Err(e) => panic!("the shipped job files do not parse: {e}"),
    }
}

/// The datafeed filter of the port job over every row.
#[divan::bench]
fn select(bencher: Bencher) {
    let frame = frame(ROWS);
    let jobs = shipped_jobs();
    bencher
        .counter(divan::counter::ItemsCount::new(ROWS))
        .bench_local(|| jobs[0].datafeed.select(&frame));
}

/// Each shipped job's fold of every row into 15-minute summaries (by port, by process).
#[divan::bench(args = ["v3_linux_anomalous_network_port_activity", "v3_linux_anomalous_network_activity"])]
fn fold(bencher: Bencher, job_id: &str) {
    let frame = frame(ROWS);
    let jobs = shipped_jobs();
    let Some(job) = jobs.iter().find(|j| j.id() == job_id) else {
        panic!("no shipped job {job_id}")
    };
    let rows: Vec<u32> = (0..ROWS as u32).collect();
    let window = TimeRange {
        start_ms: i64::MIN,
        end_ms: i64::MAX,
    };
    bencher
        .counter(divan::counter::ItemsCount::new(ROWS))
        .bench_local(|| {
            let mut fold = PartialFold::new(&job.fold.influencers);
            fold_frame(&frame, &rows, &job.fold, window, &mut fold);
            fold.summaries()
        });
}
