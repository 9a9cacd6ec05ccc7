//! What every end-to-end test needs: a sandbox folder per test, the real `netrare` binary run
//! with the sandbox's store, state, output and jobs folders, and the rows of the Parquet files it
//! wrote, read back with the parquet crate.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type, TimestampMillisecondType};
use chrono::{DateTime, Duration, Utc};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Map, Value};

/// The checked-in fleet: 12 hosts, 3 days from 2026-11-01, attacks on 2026-11-03.
pub const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/fleet-small");
/// The checked-in Elastic jobs.
pub const JOBS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/jobs");
/// Rare `process.name`.
pub const PROCESS_JOB: &str = "v3_linux_anomalous_network_activity";
/// Rare `destination.port`.
pub const PORT_JOB: &str = "v3_linux_anomalous_network_port_activity";

/// One row of an output file, column name to value.
pub type Row = Map<String, Value>;

/// What one invocation of the binary did.
#[derive(Debug)]
pub struct Output {
    /// `None` when a signal ended the process (an injected crash).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The `--format json` summary on stdout.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("summary is not JSON ({e}):\n{}", self.stdout))
    }

    /// The summary of job `job_id`.
    pub fn job(&self, job_id: &str) -> serde_json::Value {
        let summary = self.summary();
        summary["jobs"]
            .as_array()
            .and_then(|jobs| jobs.iter().find(|j| j["job_id"] == job_id))
            .cloned()
            .unwrap_or_else(|| panic!("no summary for {job_id} in {summary}"))
    }

    /// True when some job reported missed executions.
    pub fn reports_a_gap(&self) -> bool {
        self.summary()["jobs"]
            .as_array()
            .is_some_and(|jobs| jobs.iter().any(|j| !j["gap_minutes"].is_null()))
    }

    /// Panics with the output unless the process exited 0.
    pub fn success(self) -> Output {
        assert_eq!(
            self.code,
            Some(0),
            "netrare failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Panics unless the process exited with `code`.
    pub fn failure(self, code: i32) -> Output {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit {code}\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// A test's own folder, with the store, state, output and jobs folders the binary is given.
pub struct Sandbox {
    /// The folder, removed when the sandbox is dropped.
    pub dir: tempfile::TempDir,
    pub store: PathBuf,
    pub jobs: PathBuf,
}

impl Sandbox {
    /// A new folder using the checked-in fixture and jobs.
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("e2e-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("temp dir");
        Sandbox {
            dir,
            store: PathBuf::from(FIXTURE),
            jobs: PathBuf::from(JOBS),
        }
    }

    /// A path inside the sandbox.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn state(&self) -> PathBuf {
        self.path("state")
    }

    pub fn out(&self) -> PathBuf {
        self.path("out")
    }

    /// Runs `netrare <globals> args` in the sandbox.
    pub fn netrare(&self, args: &[&str]) -> Output {
        self.netrare_with_env(args, &[])
    }

    /// Runs `netrare <globals> args` with extra environment variables.
    pub fn netrare_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let paths = [self.store.clone(), self.state(), self.out()];
        let [store, state, out] = paths.each_ref().map(|p| p.to_str().expect("utf-8 path"));
        self.netrare_at([store, state, out], args, env)
    }

    /// Runs `netrare args` in the sandbox with this store, state and output location (paths or
    /// URLs) and the sandbox's jobs.
    pub fn netrare_at(&self, locations: [&str; 3], args: &[&str], env: &[(&str, &str)]) -> Output {
        let [store, state, out] = locations;
        let jobs = self.jobs.to_str().expect("utf-8 path");
        let mut all = vec![
            "--store",
            store,
            "--state-dir",
            state,
            "--out",
            out,
            "--jobs-dir",
            jobs,
        ];
        all.extend_from_slice(args);
        netrare_in(self.dir.path(), &all, env)
    }

    /// `netrare run --now <now>`, which must succeed.
    pub fn run_at(&self, now: &str) -> Output {
        self.netrare(&["run", "--format", "json", "--now", now])
            .success()
    }

    /// `netrare run --now` at each time in order; every run must succeed.
    pub fn run_each(&self, times: &[String]) -> Vec<Output> {
        times.iter().map(|now| self.run_at(now)).collect()
    }

    /// `netrare backfill --from --to`, which must succeed.
    pub fn backfill(&self, from: &str, to: &str, extra: &[&str]) -> Output {
        let mut args = vec!["backfill", "--format", "json", "--from", from, "--to", to];
        args.extend_from_slice(extra);
        self.netrare(&args).success()
    }

    /// Generates a `--scenarios full` fleet into the sandbox's `fleet` folder and returns its path.
    pub fn generate_full_fleet(&self, hosts: u32, days: u32, seed: u64) -> PathBuf {
        let fleet = self.path("fleet");
        let (hosts, days, seed) = (hosts.to_string(), days.to_string(), seed.to_string());
        self.netrare(&[
            "fixtures",
            "generate",
            "--out",
            fleet.to_str().expect("utf-8"),
            "--hosts",
            &hosts,
            "--days",
            &days,
            "--seed",
            &seed,
            "--scenarios",
            "full",
        ])
        .success();
        fleet
    }

    /// Copies the checked-in jobs into the sandbox and uses the copy.
    pub fn copy_jobs(&mut self) -> PathBuf {
        self.jobs = copy_dir(Path::new(JOBS), &self.path("jobs"));
        self.jobs.clone()
    }

    /// Copies the fixture into the sandbox and uses the copy.
    pub fn copy_store(&mut self) -> PathBuf {
        self.store = copy_dir(Path::new(FIXTURE), &self.path("events"));
        self.store.clone()
    }

    /// The published output files: records and alerts, not the staging folder.
    pub fn published(&self) -> Vec<PathBuf> {
        let mut files = parquet_files(&self.out().join("anomalies"));
        files.extend(parquet_files(&self.out().join("alerts")));
        files
    }

    /// Every anomaly record row written, all jobs, renormalised versions included.
    pub fn record_rows(&self) -> Vec<Row> {
        read_rows(&self.out().join("anomalies"))
    }

    /// The current version of every anomaly record, all jobs.
    pub fn records(&self) -> Vec<Row> {
        latest_versions(self.record_rows())
    }

    /// Every alert written, all jobs.
    pub fn alerts(&self) -> Vec<Row> {
        read_rows(&self.out().join("alerts"))
    }
}

/// Runs the binary with `args` in `cwd`.
pub fn netrare_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_netrare"));
    command
        .args(args)
        .current_dir(cwd)
        .env_remove("NETRARE_FAILPOINT")
        .env_remove("NETRARE_LOG");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("start netrare");
    Output {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Copies a folder tree; returns the copy's path.
pub fn copy_dir(from: &Path, to: &Path) -> PathBuf {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("walk");
        let target = to.join(entry.path().strip_prefix(from).expect("inside"));
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
    to.to_path_buf()
}

/// Every file under `dir` (hidden ones included) with its bytes; empty when `dir` is absent.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().to_path_buf(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect()
}

/// Every `.parquet` file under `dir`, sorted.
pub fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = snapshot(dir)
        .into_keys()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    files
}

/// All rows of all Parquet files under `dir`, files in name order.
pub fn read_rows(dir: &Path) -> Vec<Row> {
    parquet_files(dir)
        .iter()
        .flat_map(|path| read_file(path))
        .collect()
}

/// The Arrow schema of one Parquet file.
pub fn parquet_schema(path: &Path) -> arrow::datatypes::SchemaRef {
    let file = File::open(path).expect("open parquet");
    ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("parquet footer")
        .schema()
        .clone()
}

/// All rows of one Parquet file.
pub fn read_file(path: &Path) -> Vec<Row> {
    let file = File::open(path).expect("open parquet");
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("parquet footer")
        .build()
        .expect("reader");
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.expect("batch");
        let schema = batch.schema();
        for i in 0..batch.num_rows() {
            let row = schema
                .fields()
                .iter()
                .zip(batch.columns())
                .map(|(f, c)| (f.name().clone(), cell(c.as_ref(), i)))
                .collect();
            rows.push(row);
        }
    }
    rows
}

/// One cell as JSON: strings, numbers (timestamps as epoch ms), booleans, lists and structs.
fn cell(array: &dyn Array, i: usize) -> Value {
    if array.is_null(i) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Utf8 => Value::from(array.as_string::<i32>().value(i)),
        DataType::Float64 => Value::from(array.as_primitive::<Float64Type>().value(i)),
        DataType::Int64 => Value::from(array.as_primitive::<Int64Type>().value(i)),
        DataType::Int32 => Value::from(array.as_primitive::<Int32Type>().value(i)),
        DataType::Timestamp(..) => {
            Value::from(array.as_primitive::<TimestampMillisecondType>().value(i))
        }
        DataType::Boolean => Value::from(array.as_boolean().value(i)),
        DataType::List(_) => {
            let list = array.as_list::<i32>().value(i);
            Value::Array((0..list.len()).map(|j| cell(list.as_ref(), j)).collect())
        }
        DataType::Struct(fields) => Value::Object(
            fields
                .iter()
                .zip(array.as_struct().columns())
                .map(|(f, c)| (f.name().clone(), cell(c.as_ref(), i)))
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// Typed access to a row's columns.
pub trait RowExt {
    fn text(&self, column: &str) -> &str;
    fn number(&self, column: &str) -> f64;
    fn texts(&self, column: &str) -> Vec<&str>;
}

impl RowExt for Row {
    fn text(&self, column: &str) -> &str {
        self.get(column)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no text column {column} in {self:?}"))
    }

    fn number(&self, column: &str) -> f64 {
        self.get(column)
            .and_then(Value::as_f64)
            .unwrap_or_else(|| panic!("no number column {column} in {self:?}"))
    }

    fn texts(&self, column: &str) -> Vec<&str> {
        let values = self
            .get(column)
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("no list column {column} in {self:?}"));
        values.iter().filter_map(Value::as_str).collect()
    }
}

/// The latest row of each `record_id`, as the documented DuckDB query reads the records:
/// `QUALIFY row_number() OVER (PARTITION BY record_id ORDER BY result_version DESC) = 1`.
/// Panics if two rows share an id and a version.
pub fn latest_versions(rows: Vec<Row>) -> Vec<Row> {
    latest_by(rows, "record_id")
}

/// The latest row (highest `result_version`) of each value of `id_column`, in id order.
/// Panics if two rows share an id and a version.
pub fn latest_by(rows: Vec<Row>, id_column: &str) -> Vec<Row> {
    let mut latest: BTreeMap<String, Row> = BTreeMap::new();
    for row in rows {
        let id = row.text(id_column).to_string();
        let version = row.number("result_version");
        match latest.get(&id).map(|r| r.number("result_version")) {
            Some(current) if current == version => panic!("{id}: version {version} written twice"),
            Some(current) if current > version => {}
            _ => {
                latest.insert(id, row);
            }
        }
    }
    latest.into_values().collect()
}

/// Records keyed by id, with the exact bits of their score and probability.
pub fn record_bits(records: &[Row]) -> BTreeMap<String, (u64, u64)> {
    let map: BTreeMap<String, (u64, u64)> = records
        .iter()
        .map(|r| {
            (
                r.text("record_id").to_string(),
                (
                    r.number("record_score").to_bits(),
                    r.number("probability").to_bits(),
                ),
            )
        })
        .collect();
    assert_eq!(map.len(), records.len(), "duplicate record ids");
    map
}

/// Every record row keyed by id and version, with the exact bits of its score: equal maps mean
/// the same rows, none lost and none written twice.
pub fn version_bits(rows: &[Row]) -> BTreeMap<(String, u64), u64> {
    let map: BTreeMap<(String, u64), u64> = rows
        .iter()
        .map(|r| {
            (
                (
                    r.text("record_id").to_string(),
                    r.number("result_version") as u64,
                ),
                r.number("record_score").to_bits(),
            )
        })
        .collect();
    assert_eq!(map.len(), rows.len(), "a record version was written twice");
    map
}

/// Alerts keyed by uuid, with the exact bits of their record score.
pub fn alert_bits(alerts: &[Row]) -> BTreeMap<String, u64> {
    let map: BTreeMap<String, u64> = alerts
        .iter()
        .map(|a| {
            (
                a.text("kibana.alert.uuid").to_string(),
                a.number("record_score").to_bits(),
            )
        })
        .collect();
    assert_eq!(map.len(), alerts.len(), "duplicate kibana.alert.uuid");
    map
}

/// The record an alert was made from: its only ancestor.
pub fn alerted_record_id(alert: &Row) -> String {
    alert
        .get("kibana.alert.ancestors")
        .and_then(|a| a[0]["id"].as_str())
        .unwrap_or_else(|| panic!("no kibana.alert.ancestors in {alert:?}"))
        .to_string()
}

/// The record ids of the alerts, checking no record is alerted twice.
pub fn alerted_ids(alerts: &[Row]) -> BTreeSet<String> {
    let ids: BTreeSet<String> = alerts.iter().map(alerted_record_id).collect();
    assert_eq!(ids.len(), alerts.len(), "a record was alerted twice");
    alert_bits(alerts);
    ids
}

/// Parses an RFC 3339 time.
pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

/// Formats a time as the CLI takes it.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Every 15 minutes from `from` to `to`, inclusive.
pub fn every_15m(from: &str, to: &str) -> Vec<String> {
    let (mut t, end) = (at(from), at(to));
    let mut times = Vec::new();
    while t <= end {
        times.push(rfc3339(t));
        t += Duration::minutes(15);
    }
    times
}

/// `t` plus `minutes`.
pub fn plus(t: &str, minutes: i64) -> String {
    rfc3339(at(t) + Duration::minutes(minutes))
}

/// Epoch ms of an RFC 3339 time.
pub fn ms(t: &str) -> f64 {
    at(t).timestamp_millis() as f64
}

/// The scheduled day: the first day's run at `FIRST_RUN` (its 14-day history covers the fixture's
/// first two days), then `netrare run --now` every 15 minutes to `LAST_RUN`, as cron would.
pub struct Scheduled {
    pub sandbox: Sandbox,
    pub times: Vec<String>,
    pub outputs: Vec<Output>,
}

/// The first execution of the scheduled day.
pub const FIRST_RUN: &str = "2026-11-03T00:05:00Z";
/// The last execution of the scheduled day: every bucket of the fixture is complete.
pub const LAST_RUN: &str = "2026-11-04T00:05:00Z";

/// The scheduled day, run once for all the tests that compare against it.
pub fn scheduled_day() -> &'static Scheduled {
    static DAY: std::sync::OnceLock<Scheduled> = std::sync::OnceLock::new();
    DAY.get_or_init(|| {
        // A static is never dropped: keep its folder in one fixed place, replaced by each test run.
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scheduled-day");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("scheduled-day folder");
        let dir = tempfile::Builder::new()
            .tempdir_in(&root)
            .expect("temp dir");
        let sandbox = Sandbox {
            dir,
            store: PathBuf::from(FIXTURE),
            jobs: PathBuf::from(JOBS),
        };
        let times = every_15m(FIRST_RUN, LAST_RUN);
        let outputs = sandbox.run_each(&times);
        Scheduled {
            sandbox,
            times,
            outputs,
        }
    })
}
