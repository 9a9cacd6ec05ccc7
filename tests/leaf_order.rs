//! The process job's leaf normaliser learns a bucket's process names in the order ml-cpp visits
//! them, which follows their person ids (the order of their first events), never their names:
//! renaming every process so that name order is shuffled leaves every record's initial score
//! bit for bit as it was. Fed in name order, the shuffle pairs other calls into samples and moves
//! scores: a model fed in name order fails this test on this fleet, which needs three weeks and
//! the full scenarios to hold enough buckets with several anomalous processes.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::util::*;

const PROCESS_JOB: &str = "v3_linux_anomalous_network_activity";
const PROCESS: &str = "process.name";

#[test]
fn shuffling_the_name_order_of_processes_leaves_every_initial_record_score() {
    let mut original = Sandbox::new();
    original.store = original.path("events");
    original.jobs = process_job_only(&original);
    let store = original.store.to_str().expect("utf-8 path").to_string();
    netrare_in(
        original.dir.path(),
        &[
            "fixtures",
            "generate",
            "--out",
            &store,
            "--hosts",
            "40",
            "--days",
            "21",
            "--scenarios",
            "full",
            "--layout",
            "flat",
        ],
        &[],
    )
    .success();

    let mut renamed = Sandbox::new();
    renamed.jobs = process_job_only(&renamed);
    renamed.store = copy_dir(&original.store, &renamed.path("events"));
    let names = shuffled_names(&renamed.store);
    for file in parquet_files(&renamed.store) {
        rename_processes(&file, &names);
    }

    let (from, to) = ("2026-11-01T00:00:00Z", "2026-11-22T00:00:00Z");
    original.backfill(from, to, &[]);
    renamed.backfill(from, to, &[]);
    let back: BTreeMap<&str, &str> = names
        .iter()
        .map(|(a, b)| (b.as_str(), a.as_str()))
        .collect();
    let initial = |sandbox: &Sandbox, rename: &dyn Fn(&str) -> String| {
        sandbox
            .records()
            .iter()
            .map(|r| {
                let key = (
                    r.number("timestamp") as i64,
                    rename(r.text("by_field_value")),
                );
                (key, r.number("initial_record_score").to_bits())
            })
            .collect::<BTreeMap<_, _>>()
    };
    let expected = initial(&original, &|by| by.to_string());
    let found = initial(&renamed, &|by| {
        back.get(by).copied().unwrap_or(by).to_string()
    });
    let unrenamed: Vec<Row> = renamed
        .records()
        .into_iter()
        .filter(|r| !back.contains_key(r.text("by_field_value")))
        .collect();
    assert!(
        unrenamed.is_empty(),
        "records of processes not renamed: {unrenamed:?}"
    );

    assert_eq!(found, expected);
    // The fleet must give the order something to decide: buckets with several records.
    let mut per_bucket: BTreeMap<i64, usize> = BTreeMap::new();
    for (timestamp, _) in expected.keys() {
        *per_bucket.entry(*timestamp).or_default() += 1;
    }
    let busy = per_bucket.values().filter(|&&n| n >= 2).count();
    assert!(busy >= 3, "{busy} buckets with several records");
}

/// A jobs folder of the sandbox holding only the process job, without exception lists (they
/// name processes, which the test renames).
fn process_job_only(sandbox: &Sandbox) -> std::path::PathBuf {
    let jobs = sandbox.path("jobs");
    std::fs::create_dir_all(&jobs).expect("jobs folder");
    let file = format!("{PROCESS_JOB}.toml");
    std::fs::copy(Path::new(JOBS).join(&file), jobs.join(&file)).expect("copy the job");
    jobs
}

/// Every process name of the store mapped to a new name, the new names in the order of the old
/// names read backwards: a shuffle of the name order. Names the job's query excludes keep their
/// name, so the selection stays the same.
fn shuffled_names(store: &Path) -> BTreeMap<String, String> {
    let excluded = [
        "elastic-agent",
        "metricbeat",
        "filebeat",
        "packetbeat",
        "winlogbeat",
    ];
    let mut names = BTreeSet::new();
    for file in parquet_files(store) {
        for batch in read_batches(&file) {
            let Some(column) = batch.column_by_name(PROCESS) else {
                continue;
            };
            let texts = as_strings(column);
            names.extend(texts.iter().flatten().map(str::to_string));
        }
    }
    names.retain(|n| !excluded.iter().any(|e| n.trim_end_matches(".exe") == *e));
    let mut backwards: Vec<(String, String)> = names
        .into_iter()
        .map(|name| (name.chars().rev().collect(), name))
        .collect();
    backwards.sort();
    backwards
        .into_iter()
        .enumerate()
        .map(|(rank, (_, name))| (name, format!("p{rank:06}")))
        .collect()
}

fn read_batches(file: &Path) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(File::open(file).expect("open"))
        .expect("parquet")
        .build()
        .expect("reader")
        .map(|b| b.expect("batch"))
        .collect()
}

fn as_strings(column: &ArrayRef) -> StringArray {
    cast(column, &DataType::Utf8)
        .expect("process.name as text")
        .as_string::<i32>()
        .clone()
}

/// Rewrites `file` with its process names renamed through `names`, every other column as it was.
fn rename_processes(file: &Path, names: &BTreeMap<String, String>) {
    let batches = read_batches(file);
    let Some(schema) = batches.first().map(RecordBatch::schema) else {
        return;
    };
    let Ok(at) = schema.index_of(PROCESS) else {
        return;
    };
    let mut writer =
        ArrowWriter::try_new(File::create(file).expect("create"), schema.clone(), None)
            .expect("writer");
    for batch in batches {
        let column = batch.column(at);
        let renamed: StringArray = as_strings(column)
            .iter()
            .map(|v| v.map(|v| names.get(v).map_or(v, String::as_str)))
            .collect();
        let renamed: ArrayRef =
            cast(&(Arc::new(renamed) as ArrayRef), column.data_type()).expect("same type");
        let mut columns = batch.columns().to_vec();
        columns[at] = renamed;
        let batch = RecordBatch::try_new(schema.clone(), columns).expect("batch");
        writer.write(&batch).expect("write");
    }
    writer.close().expect("close");
}
