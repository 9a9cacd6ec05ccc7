//! `netrare fixtures generate --layout`: the same fleet in every store layout gives the same
//! records and alerts, and the `flat` layout has the large row groups lake writers produce.

use std::fs::File;
use std::path::{Path, PathBuf};

use parquet::basic::{Compression, Encoding};
use parquet::file::reader::{FileReader, SerializedFileReader};

use crate::util::*;

const LAYOUTS: [&str; 3] = ["mixed", "flat", "nested"];

/// Rows per row group of the `flat` layout, as `docs/labels.md` states it.
const FLAT_ROW_GROUP_ROWS: usize = 262_144;

/// A sandbox whose store is a fleet generated with `args` in `layout`.
fn generated(layout: &str, args: &[&str]) -> Sandbox {
    let mut sandbox = Sandbox::new();
    sandbox.store = sandbox.path("events");
    let store = sandbox.store.to_str().expect("utf-8 path").to_string();
    let mut all = vec!["fixtures", "generate", "--out", &store, "--layout", layout];
    all.extend_from_slice(args);
    netrare_in(sandbox.dir.path(), &all, &[]).success();
    sandbox
}

/// The published output files, relative to the output folder.
fn output_names(sandbox: &Sandbox) -> Vec<PathBuf> {
    let out = sandbox.out();
    sandbox
        .published()
        .iter()
        .map(|p| p.strip_prefix(&out).expect("inside out").to_path_buf())
        .collect()
}

#[test]
fn both_v3_jobs_find_the_same_records_and_alerts_in_every_layout() {
    let fleet = ["--hosts", "6", "--days", "3"];
    let backfill = |layout| {
        let sandbox = generated(layout, &fleet);
        let output = sandbox.backfill("2026-11-01T00:05:00Z", "2026-11-04T00:05:00Z", &[]);
        for job in [PROCESS_JOB, PORT_JOB] {
            assert!(
                output.job(job)["records"].as_u64().is_some_and(|n| n > 0),
                "{job} should find records over {layout}, or the comparison proves nothing"
            );
        }
        sandbox
    };
    let mixed = backfill("mixed");
    let alerts = mixed.alerts();
    assert!(!alerts.is_empty(), "the fleet's attacks should be alerted");
    for layout in ["flat", "nested"] {
        let other = backfill(layout);
        assert_eq!(
            record_bits(&other.records()),
            record_bits(&mixed.records()),
            "records over {layout}"
        );
        assert_eq!(
            alert_bits(&other.alerts()),
            alert_bits(&alerts),
            "alerts over {layout}"
        );
        assert_eq!(output_names(&other), output_names(&mixed), "{layout}");
    }
}

/// Every `.parquet` file of a store, with the rows of each of its row groups.
fn row_groups(store: &Path) -> Vec<(PathBuf, Vec<usize>)> {
    parquet_files(store)
        .into_iter()
        .map(|path| {
            let reader = SerializedFileReader::new(File::open(&path).expect("open")).expect("read");
            let rows = reader
                .metadata()
                .row_groups()
                .iter()
                .map(|g| g.num_rows() as usize)
                .collect();
            (path, rows)
        })
        .collect()
}

#[test]
fn the_flat_layout_is_one_file_a_day_in_row_groups_of_262144_rows() {
    // Enough hosts for a day of more than one row group.
    let sandbox = generated("flat", &["--hosts", "360", "--days", "1", "--no-attacks"]);
    let files = row_groups(&sandbox.store);
    let names: Vec<&Path> = files
        .iter()
        .map(|(p, _)| p.strip_prefix(&sandbox.store).expect("inside"))
        .collect();
    assert_eq!(names, [Path::new("date=2026-11-01/events.parquet")]);
    let (path, groups) = &files[0];
    let total: usize = groups.iter().sum();
    assert!(total > FLAT_ROW_GROUP_ROWS, "{total} rows fit one group");
    let (last, full) = groups.split_last().expect("a row group");
    assert!(full.iter().all(|&n| n == FLAT_ROW_GROUP_ROWS), "{groups:?}");
    assert!(*last <= FLAT_ROW_GROUP_ROWS, "{groups:?}");

    let reader = SerializedFileReader::new(File::open(path).expect("open")).expect("read");
    let group = reader.metadata().row_group(0);
    let host = group
        .columns()
        .iter()
        .find(|c| c.column_path().string() == "host.name")
        .expect("a flat host.name column");
    assert!(matches!(host.compression(), Compression::ZSTD(_)));
    assert!(
        host.encodings().any(|e| e == Encoding::RLE_DICTIONARY),
        "host.name should be dictionary-encoded"
    );
}

#[test]
fn every_layout_holds_the_same_events_in_its_column_style() {
    let fleet = ["--hosts", "6", "--days", "2", "--scenarios", "full"];
    let counts: Vec<usize> = LAYOUTS
        .iter()
        .map(|layout| {
            let sandbox = generated(layout, &fleet);
            let files = row_groups(&sandbox.store);
            for (path, _) in &files {
                let schema = parquet_schema(path);
                let flat = schema.field_with_name("host.name").is_ok();
                let nested = schema.field_with_name("host").is_ok();
                let auditd = path.ends_with("auditd.parquet");
                let expected = match *layout {
                    "mixed" => !auditd,
                    _ => *layout == "flat",
                };
                assert_eq!((flat, nested), (expected, !expected), "{}", path.display());
            }
            files.iter().flat_map(|(_, groups)| groups).sum()
        })
        .collect();
    assert!(counts[0] > 0);
    assert!(counts.iter().all(|&n| n == counts[0]), "{counts:?}");
}
