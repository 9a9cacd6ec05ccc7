//! Test helpers: the project's audit fixtures, the optional shared real-world corpus, and
//! reading a written store back.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, Int64Array, ListArray, StringArray, TimestampMillisecondArray};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::store::EcsEvent;

/// The project's own audit logs, `fixtures/auditd/`.
pub(crate) fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/auditd")
        .join(name)
}

/// The bytes of one of the project's audit logs.
pub(crate) fn fixture(name: &str) -> Vec<u8> {
    read(&fixture_path(name))
}

/// The shared real-world audit corpus, an extra check run only when `NETRARE_TESTDATA` names its
/// folder; otherwise prints why the calling test is skipped and returns `None`.
pub(crate) fn testdata_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("NETRARE_TESTDATA").map(PathBuf::from);
    if dir.is_none() {
        println!("skipped {test}: NETRARE_TESTDATA does not name the shared audit corpus");
    }
    dir
}

/// The bytes of one file of the shared corpus in `dir`.
pub(crate) fn testdata(dir: &Path, name: &str) -> Vec<u8> {
    read(&dir.join(name))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every event in the Parquet files under `dir`, sorted by time then process id.
pub(crate) fn read_store(dir: &Path) -> Vec<EcsEvent> {
    let mut events = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.path().extension().is_some_and(|e| e == "parquet") {
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(File::open(entry.path()).unwrap())
                    .unwrap()
                    .build()
                    .unwrap();
            for batch in reader {
                events.extend(batch_events(&batch.unwrap()));
            }
        }
    }
    events.sort_by_key(|e| (e.timestamp_ms, e.process_pid));
    events
}

fn batch_events(batch: &RecordBatch) -> Vec<EcsEvent> {
    let col = |name: &str| {
        batch
            .column_by_name(name)
            .unwrap_or_else(|| panic!("no column {name}"))
            .clone()
    };
    let text = |name: &str, row: usize| {
        let array = col(name);
        let array = array.as_any().downcast_ref::<StringArray>().unwrap();
        array.is_valid(row).then(|| array.value(row).to_string())
    };
    let int = |name: &str, row: usize| {
        let array = col(name);
        let array = array.as_any().downcast_ref::<Int64Array>().unwrap();
        array.is_valid(row).then(|| array.value(row))
    };
    let list = |name: &str, row: usize| {
        let array = col(name);
        let values = array
            .as_any()
            .downcast_ref::<ListArray>()
            .unwrap()
            .value(row);
        let values = values.as_any().downcast_ref::<StringArray>().unwrap();
        (0..values.len())
            .map(|i| values.value(i).to_string())
            .collect::<Vec<_>>()
    };
    let times = col("@timestamp");
    let times = times
        .as_any()
        .downcast_ref::<TimestampMillisecondArray>()
        .unwrap();
    (0..batch.num_rows())
        .map(|row| EcsEvent {
            timestamp_ms: times.value(row),
            event_category: list("event.category", row),
            event_type: list("event.type", row),
            event_action: text("event.action", row),
            event_dataset: text("event.dataset", row),
            event_module: text("event.module", row),
            event_outcome: text("event.outcome", row),
            host_name: text("host.name", row),
            host_id: text("host.id", row),
            host_os_type: text("host.os.type", row),
            host_os_family: text("host.os.family", row),
            process_pid: int("process.pid", row),
            process_name: text("process.name", row),
            process_executable: text("process.executable", row),
            process_args: list("process.args", row),
            process_title: text("process.title", row),
            process_working_directory: text("process.working_directory", row),
            process_parent_pid: int("process.parent.pid", row),
            user_id: text("user.id", row),
            user_name: text("user.name", row),
            source_ip: text("source.ip", row),
            source_port: int("source.port", row),
            destination_ip: text("destination.ip", row),
            destination_port: int("destination.port", row),
            network_direction: text("network.direction", row),
            network_transport: text("network.transport", row),
        })
        .collect()
}
