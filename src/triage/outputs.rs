//! Reading back what the executions wrote under `<out>`: records, alerts, buckets, influencers and
//! model size statistics, each at its latest `result_version`.
//!
//! The files are append-only and a renormalised result is a new row with the same id, so every
//! reader keeps the row with the highest version; for records it also keeps each version's score
//! and the commit that wrote it, which is what "why no alert" needs.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, GenericListArray, Int64Array,
    PrimitiveArray, RecordBatch, StringArray, StructArray, TimestampMillisecondArray,
};
use arrow::datatypes::{
    ArrowPrimitiveType, Float64Type, Int32Type, Int64Type, TimestampMillisecondType,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::Error;
use crate::output::Folder;
use crate::results::{AnomalyRecord, Influencer};
use crate::time::EpochMs;

/// One version of a record's score, and the commit that wrote it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreVersion {
    pub result_version: u64,
    pub record_score: f64,
    /// The end of the buckets modelled by the commit that wrote this version (the `B` of its
    /// file name), epoch ms.
    pub written_by_ms: i64,
}

/// A record at its latest version, with every version's score.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    pub record: AnomalyRecord,
    pub versions: Vec<ScoreVersion>,
}

/// The fields of an alert an analyst reads.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredAlert {
    pub uuid: String,
    /// `@timestamp`: the execution that made it, epoch ms.
    pub timestamp_ms: i64,
    /// `kibana.alert.original_time`: the record's bucket, epoch ms.
    pub original_time_ms: i64,
    pub job_id: String,
    pub rule_name: String,
    pub rule_id: String,
    pub severity: String,
    pub record_id: String,
    pub record_score: f64,
    pub by_field_name: String,
    pub by_field_value: String,
    pub hosts: Vec<String>,
    pub processes: Vec<String>,
    pub users: Vec<String>,
}

/// One bucket of a job at its latest version.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBucket {
    pub job_id: String,
    pub timestamp_ms: i64,
    pub anomaly_score: f64,
    pub event_count: i64,
    pub result_version: u64,
}

/// One influencer value of a bucket at its latest version.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredInfluencer {
    pub job_id: String,
    pub timestamp_ms: i64,
    pub field: String,
    pub value: String,
    pub score: f64,
}

/// One `model_size_stats` row: the model after an execution.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredModelStats {
    pub job_id: String,
    /// The execution's `now`, epoch ms.
    pub log_time_ms: i64,
    pub model_bytes: i64,
    pub total_by_field_count: i64,
    pub bucket_allocation_failures_count: i64,
    pub memory_status: String,
}

/// Everything written under one output folder for a set of jobs.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    pub records: Vec<StoredRecord>,
    pub alerts: Vec<StoredAlert>,
    pub buckets: Vec<StoredBucket>,
    pub influencers: Vec<StoredInfluencer>,
    pub model_stats: Vec<StoredModelStats>,
}

/// What to read: the analyst's question decides whether the bulky influencer files are needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Records, alerts and model size statistics.
    Anomalies,
    /// Also buckets and influencers (the report's swimlanes).
    Everything,
}

impl Outputs {
    /// Reads the outputs of `job_ids` under `out`. A job with no outputs yet has none; a file
    /// that is not one of netrare's is an error naming it and the column.
    pub fn load(out: &Path, job_ids: &[&str], depth: Depth) -> Result<Outputs, Error> {
        let mut outputs = Outputs::default();
        for job_id in job_ids {
            let dir = |folder: Folder| out.join(folder).join(job_id);
            outputs
                .records
                .extend(read_records(&dir(Folder::Anomalies))?);
            for_each_batch(&dir(Folder::Alerts), |batch, _| {
                outputs.alerts.extend(alert_rows(batch)?);
                Ok(())
            })?;
            for_each_batch(&dir(Folder::ModelSizeStats), |batch, _| {
                outputs.model_stats.extend(model_stats_rows(batch)?);
                Ok(())
            })?;
            if depth == Depth::Everything {
                outputs.buckets.extend(read_buckets(&dir(Folder::Buckets))?);
                outputs
                    .influencers
                    .extend(read_influencers(&dir(Folder::Influencers))?);
            }
        }
        outputs.alerts.sort_by(|a, b| {
            b.record_score
                .total_cmp(&a.record_score)
                .then(a.original_time_ms.cmp(&b.original_time_ms))
                .then(a.uuid.cmp(&b.uuid))
        });
        Ok(outputs)
    }

    /// The record with `record_id`.
    pub fn record(&self, record_id: &str) -> Option<&StoredRecord> {
        self.records
            .iter()
            .find(|r| r.record.record_id == record_id)
    }

    /// The alert with `uuid`.
    pub fn alert(&self, uuid: &str) -> Option<&StoredAlert> {
        self.alerts.iter().find(|a| a.uuid == uuid)
    }

    /// The alerts made from `record_id` (one per rule that runs its job).
    pub fn alerts_of(&self, record_id: &str) -> Vec<&StoredAlert> {
        self.alerts
            .iter()
            .filter(|a| a.record_id == record_id)
            .collect()
    }

    /// The latest execution that modelled a bucket, epoch ms, per the model size statistics.
    pub fn last_execution_ms(&self, job_id: &str) -> Option<i64> {
        self.model_stats
            .iter()
            .filter(|s| s.job_id == job_id)
            .map(|s| s.log_time_ms)
            .max()
    }
}

/// The Parquet files of one result folder, in name order (their names start with the first
/// bucket's time); none when the folder does not exist.
fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Io {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    paths.sort();
    Ok(paths)
}

/// Calls `each` with every batch of every file in `dir` and the file's path; an error from
/// `each` is reported against that file.
fn for_each_batch(
    dir: &Path,
    mut each: impl FnMut(&RecordBatch, &Path) -> Result<(), String>,
) -> Result<(), Error> {
    for path in parquet_files(dir)? {
        let fail = |reason: String| Error::Output {
            path: path.clone(),
            reason,
        };
        let file = File::open(&path).map_err(|e| fail(e.to_string()))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .map_err(|e| fail(e.to_string()))?;
        for batch in reader {
            let batch = batch.map_err(|e| fail(e.to_string()))?;
            each(&batch, &path).map_err(fail)?;
        }
    }
    Ok(())
}

/// The `B` of `<kind>-A-B.parquet`: the end of what the commit modelled.
fn written_by_ms(path: &Path) -> Result<i64, String> {
    path.file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.rsplit('-').next())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "the file name does not end in -<epoch ms>.parquet".to_string())
}

/// Typed access to a batch's columns; errors name the column.
struct Columns<'a>(&'a RecordBatch);

impl<'a> Columns<'a> {
    fn get(&self, name: &str) -> Result<&'a ArrayRef, String> {
        self.0
            .column_by_name(name)
            .ok_or_else(|| format!("no column {name}"))
    }

    fn wrong(name: &str) -> String {
        format!("column {name} has an unexpected type")
    }

    fn text(&self, name: &str) -> Result<&'a StringArray, String> {
        self.get(name)?
            .as_string_opt::<i32>()
            .ok_or_else(|| Self::wrong(name))
    }

    fn primitive<T: ArrowPrimitiveType>(
        &self,
        name: &str,
    ) -> Result<&'a PrimitiveArray<T>, String> {
        self.get(name)?
            .as_primitive_opt::<T>()
            .ok_or_else(|| Self::wrong(name))
    }

    fn float(&self, name: &str) -> Result<&'a Float64Array, String> {
        self.primitive::<Float64Type>(name)
    }

    fn int(&self, name: &str) -> Result<&'a Int64Array, String> {
        self.primitive::<Int64Type>(name)
    }

    fn time(&self, name: &str) -> Result<&'a TimestampMillisecondArray, String> {
        self.primitive::<TimestampMillisecondType>(name)
    }

    fn flag(&self, name: &str) -> Result<&'a BooleanArray, String> {
        self.get(name)?
            .as_boolean_opt()
            .ok_or_else(|| Self::wrong(name))
    }

    fn list(&self, name: &str) -> Result<&'a GenericListArray<i32>, String> {
        self.get(name)?
            .as_list_opt::<i32>()
            .ok_or_else(|| Self::wrong(name))
    }

    fn texts(&self, name: &str, row: usize) -> Result<Vec<String>, String> {
        let list = self.list(name)?;
        if list.is_null(row) {
            return Ok(Vec::new());
        }
        let values = list.value(row);
        let values = values
            .as_string_opt::<i32>()
            .ok_or_else(|| Self::wrong(name))?;
        Ok(values.iter().flatten().map(str::to_string).collect())
    }

    fn floats(&self, name: &str, row: usize) -> Result<Vec<f64>, String> {
        let list = self.list(name)?;
        if list.is_null(row) {
            return Ok(Vec::new());
        }
        let values = list.value(row);
        let values = values
            .as_primitive_opt::<Float64Type>()
            .ok_or_else(|| Self::wrong(name))?;
        Ok(values.iter().flatten().collect())
    }

    fn opt_text(&self, name: &str, row: usize) -> Result<Option<String>, String> {
        let column = self.text(name)?;
        Ok((!column.is_null(row)).then(|| column.value(row).to_string()))
    }
}

fn read_records(dir: &Path) -> Result<Vec<StoredRecord>, Error> {
    let mut records: Vec<StoredRecord> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for_each_batch(dir, |batch, path| {
        let written_by_ms = written_by_ms(path)?;
        for record in record_rows(batch)? {
            let version = ScoreVersion {
                result_version: record.result_version,
                record_score: record.record_score,
                written_by_ms,
            };
            match index.get(&record.record_id) {
                Some(&i) => {
                    let stored = &mut records[i];
                    stored.versions.push(version);
                    if stored.record.result_version < record.result_version {
                        stored.record = record;
                    }
                }
                None => {
                    index.insert(record.record_id.clone(), records.len());
                    records.push(StoredRecord {
                        record,
                        versions: vec![version],
                    });
                }
            }
        }
        Ok(())
    })?;
    for stored in &mut records {
        stored.versions.sort_by_key(|v| v.result_version);
    }
    Ok(records)
}

/// The records of a batch of the records schema (`output::records_batch`).
fn record_rows(batch: &RecordBatch) -> Result<Vec<AnomalyRecord>, String> {
    let c = Columns(batch);
    let ids = c.text("record_id")?;
    let jobs = c.text("job_id")?;
    let times = c.time("timestamp")?;
    let spans = c.int("bucket_span")?;
    let detectors = c.primitive::<Int32Type>("detector_index")?;
    let interim = c.flag("is_interim")?;
    let functions = c.text("function")?;
    let descriptions = c.text("function_description")?;
    let by_names = c.text("by_field_name")?;
    let by_values = c.text("by_field_value")?;
    let probabilities = c.float("probability")?;
    let scores = c.float("record_score")?;
    let initial = c.float("initial_record_score")?;
    let versions = c.int("result_version")?;
    let capped = c.flag("influencers_capped")?;
    let first = c.time("by_field_first_occurrence")?;
    let rarity = c.float("by_field_relative_rarity")?;
    let events = c.int("event_count")?;
    let hosts = c.int("host_count")?;
    let explanations = c.text("explanation")?;
    let influencers = c.list("influencers")?;
    let mut rows = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        rows.push(AnomalyRecord {
            record_id: ids.value(row).to_string(),
            job_id: jobs.value(row).to_string(),
            timestamp_ms: EpochMs(times.value(row)),
            bucket_span: spans.value(row),
            detector_index: u32::try_from(detectors.value(row)).unwrap_or_default(),
            is_interim: interim.value(row),
            function: functions.value(row).to_string(),
            function_description: descriptions.value(row).to_string(),
            by_field_name: by_names.value(row).to_string(),
            by_field_value: by_values.value(row).to_string(),
            partition_field_name: c.opt_text("partition_field_name", row)?,
            partition_field_value: c.opt_text("partition_field_value", row)?,
            probability: probabilities.value(row),
            record_score: scores.value(row),
            initial_record_score: initial.value(row),
            result_version: u64::try_from(versions.value(row)).unwrap_or_default(),
            typical: c.floats("typical", row)?,
            actual: c.floats("actual", row)?,
            influencers: record_influencers(influencers, row)?,
            influencers_capped: capped.value(row),
            by_field_first_occurrence_ms: first.value(row),
            by_field_relative_rarity: rarity.value(row),
            event_count: u64::try_from(events.value(row)).unwrap_or_default(),
            host_count: u64::try_from(hosts.value(row)).unwrap_or_default(),
            explanation: explanations.value(row).to_string(),
        });
    }
    Ok(rows)
}

/// The `influencers` list of structs of one row.
fn record_influencers(
    column: &GenericListArray<i32>,
    row: usize,
) -> Result<Vec<Influencer>, String> {
    if column.is_null(row) {
        return Ok(Vec::new());
    }
    let wrong = || Columns::wrong("influencers");
    let entries = column.value(row);
    let entries: &StructArray = entries.as_struct_opt().ok_or_else(wrong)?;
    let names = entries
        .column_by_name("influencer_field_name")
        .and_then(|a| a.as_string_opt::<i32>())
        .ok_or_else(wrong)?;
    let values = entries
        .column_by_name("influencer_field_values")
        .and_then(|a| a.as_list_opt::<i32>())
        .ok_or_else(wrong)?;
    let mut influencers = Vec::with_capacity(entries.len());
    for i in 0..entries.len() {
        let list = values.value(i);
        let list = list.as_string_opt::<i32>().ok_or_else(wrong)?;
        influencers.push(Influencer {
            influencer_field_name: names.value(i).to_string(),
            influencer_field_values: list.iter().flatten().map(str::to_string).collect(),
        });
    }
    Ok(influencers)
}

/// The alerts of a batch of the alerts schema (`output::alerts_batch`).
fn alert_rows(batch: &RecordBatch) -> Result<Vec<StoredAlert>, String> {
    let c = Columns(batch);
    let uuids = c.text("kibana.alert.uuid")?;
    let times = c.time("@timestamp")?;
    let original = c.time("kibana.alert.original_time")?;
    let jobs = c.text("job_id")?;
    let names = c.text("kibana.alert.rule.name")?;
    let rule_ids = c.text("kibana.alert.rule.rule_id")?;
    let severities = c.text("kibana.alert.severity")?;
    let scores = c.float("record_score")?;
    let by_names = c.text("by_field_name")?;
    let by_values = c.text("by_field_value")?;
    let ancestors = c.list("kibana.alert.ancestors")?;
    let mut rows = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let ancestor = ancestors.value(row);
        let record_id = ancestor
            .as_struct_opt()
            .and_then(|s| s.column_by_name("id"))
            .and_then(|ids| ids.as_string_opt::<i32>())
            .filter(|ids| !ids.is_empty() && !ids.is_null(0))
            .map(|ids| ids.value(0).to_string())
            .ok_or_else(|| "column kibana.alert.ancestors has no record id".to_string())?;
        rows.push(StoredAlert {
            uuid: uuids.value(row).to_string(),
            timestamp_ms: times.value(row),
            original_time_ms: original.value(row),
            job_id: jobs.value(row).to_string(),
            rule_name: names.value(row).to_string(),
            rule_id: rule_ids.value(row).to_string(),
            severity: severities.value(row).to_string(),
            record_id,
            record_score: scores.value(row),
            by_field_name: by_names.value(row).to_string(),
            by_field_value: by_values.value(row).to_string(),
            hosts: c.texts("host.name", row)?,
            processes: c.texts("process.name", row)?,
            users: c.texts("user.name", row)?,
        });
    }
    Ok(rows)
}

fn model_stats_rows(batch: &RecordBatch) -> Result<Vec<StoredModelStats>, String> {
    let c = Columns(batch);
    let jobs = c.text("job_id")?;
    let log_times = c.time("log_time")?;
    let bytes = c.int("model_bytes")?;
    let by_counts = c.int("total_by_field_count")?;
    let failures = c.int("bucket_allocation_failures_count")?;
    let statuses = c.text("memory_status")?;
    Ok((0..batch.num_rows())
        .map(|row| StoredModelStats {
            job_id: jobs.value(row).to_string(),
            log_time_ms: log_times.value(row),
            model_bytes: bytes.value(row),
            total_by_field_count: by_counts.value(row),
            bucket_allocation_failures_count: failures.value(row),
            memory_status: statuses.value(row).to_string(),
        })
        .collect())
}

/// Keeps the highest version of each id: `rows` yields (id, version, row).
fn latest<T>(rows: impl IntoIterator<Item = (String, u64, T)>) -> Vec<T> {
    let mut kept: Vec<(u64, T)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (id, version, row) in rows {
        match index.get(&id) {
            Some(&i) if kept[i].0 < version => kept[i] = (version, row),
            Some(_) => {}
            None => {
                index.insert(id, kept.len());
                kept.push((version, row));
            }
        }
    }
    kept.into_iter().map(|(_, row)| row).collect()
}

fn read_buckets(dir: &Path) -> Result<Vec<StoredBucket>, Error> {
    let mut rows = Vec::new();
    for_each_batch(dir, |batch, _| {
        let c = Columns(batch);
        let ids = c.text("id")?;
        let jobs = c.text("job_id")?;
        let times = c.time("timestamp")?;
        let scores = c.float("anomaly_score")?;
        let events = c.int("event_count")?;
        let versions = c.int("result_version")?;
        for row in 0..batch.num_rows() {
            let version = u64::try_from(versions.value(row)).unwrap_or_default();
            rows.push((
                ids.value(row).to_string(),
                version,
                StoredBucket {
                    job_id: jobs.value(row).to_string(),
                    timestamp_ms: times.value(row),
                    anomaly_score: scores.value(row),
                    event_count: events.value(row),
                    result_version: version,
                },
            ));
        }
        Ok(())
    })?;
    Ok(latest(rows))
}

fn read_influencers(dir: &Path) -> Result<Vec<StoredInfluencer>, Error> {
    let mut rows = Vec::new();
    for_each_batch(dir, |batch, _| {
        let c = Columns(batch);
        let ids = c.text("id")?;
        let jobs = c.text("job_id")?;
        let times = c.time("timestamp")?;
        let fields = c.text("influencer_field_name")?;
        let values = c.text("influencer_field_value")?;
        let scores = c.float("influencer_score")?;
        let versions = c.int("result_version")?;
        for row in 0..batch.num_rows() {
            rows.push((
                ids.value(row).to_string(),
                u64::try_from(versions.value(row)).unwrap_or_default(),
                StoredInfluencer {
                    job_id: jobs.value(row).to_string(),
                    timestamp_ms: times.value(row),
                    field: fields.value(row).to_string(),
                    value: values.value(row).to_string(),
                    score: scores.value(row),
                },
            ));
        }
        Ok(())
    })?;
    Ok(latest(rows))
}
