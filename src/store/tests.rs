//! End-to-end tests of the store: Parquet files written in a temporary directory, planned and
//! read back through [`EventStore`].

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, ListBuilder, StringArray, StringBuilder,
    StructArray, TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
    TimestampSecondArray, UInt16Array,
};
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{BrotliLevel, Compression};
use parquet::file::properties::WriterProperties;

use super::write::{ColumnStyle, WriteOptions, write_partitioned};
use super::*;

const DAY: i64 = 86_400_000;
/// 2026-11-22T00:00:00Z.
const D22: i64 = 1_795_305_600_000;

fn write(path: &Path, columns: Vec<(&str, ArrayRef)>, row_group_rows: usize) {
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(row_group_rows))
        .build();
    write_with(path, columns, props);
}

fn write_with(path: &Path, columns: Vec<(&str, ArrayRef)>, props: WriterProperties) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap();
    let mut writer =
        ArrowWriter::try_new(fs::File::create(path).unwrap(), batch.schema(), Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

fn ms(values: &[i64]) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from(values.to_vec()))
}

fn strings(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

fn window(start_ms: i64, end_ms: i64) -> TimeRange {
    TimeRange { start_ms, end_ms }
}

fn field(name: &str, required: bool) -> FieldRequest {
    FieldRequest {
        name: name.to_string(),
        required,
    }
}

/// Plans and reads `location` over `window`; returns the frames and the summed stats.
fn scan(
    location: &Path,
    window: TimeRange,
    fields: &[FieldRequest],
) -> Result<(Vec<EventFrame>, ScanStats), Error> {
    let (units, mut stats) = EventStore::open(location.to_str().unwrap())?.plan(window)?;
    let mut frames = Vec::new();
    for unit in units {
        let frame = unit.read(fields)?;
        stats += frame.stats.clone();
        frames.push(frame);
    }
    Ok((frames, stats))
}

fn scan_one(path: &Path, window: TimeRange, fields: &[FieldRequest]) -> EventFrame {
    let (mut frames, _) = scan(path, window, fields).unwrap();
    assert_eq!(frames.len(), 1);
    frames.remove(0)
}

/// Every value of every row of `name`, as text.
fn rows(frame: &EventFrame, name: &str) -> Vec<Vec<String>> {
    let column = &frame.columns[name];
    (0..column.len())
        .map(|row| column.values(row).map(|v| v.to_string()).collect())
        .collect()
}

fn text(values: &[&[&str]]) -> Vec<Vec<String>> {
    values
        .iter()
        .map(|row| row.iter().map(|v| v.to_string()).collect())
        .collect()
}

fn event(t: i64, port: i64, process: &str) -> EcsEvent {
    EcsEvent {
        timestamp_ms: t,
        event_category: vec!["network".into()],
        event_type: vec!["connection".into(), "start".into()],
        host_name: Some(format!("host-{}", port % 3)),
        host_os_type: Some("linux".into()),
        process_name: Some(process.into()),
        process_pid: Some(port * 10),
        process_title: Some(format!("{process} -v")),
        process_working_directory: Some("/srv".into()),
        process_parent_pid: Some(port * 10 - 1),
        destination_port: Some(port),
        destination_ip: (port % 2 == 0).then(|| "10.0.0.1".to_string()),
        ..EcsEvent::default()
    }
}

fn events() -> Vec<EcsEvent> {
    (0..30)
        .map(|i| {
            event(
                D22 + i * DAY / 10,
                1000 + i,
                ["sshd", "curl", "nc"][i as usize % 3],
            )
        })
        .collect()
}

fn write_store(dir: &Path, style: ColumnStyle, row_group_rows: usize) -> Vec<PathBuf> {
    let opts = WriteOptions {
        style,
        row_group_rows,
        ..WriteOptions::default()
    };
    write_partitioned(dir, &events(), &opts).unwrap()
}

const ECS_FIELDS: [&str; 10] = [
    "event.category",
    "event.type",
    "host.name",
    "host.os.type",
    "process.name",
    "process.pid",
    "process.title",
    "process.working_directory",
    "process.parent.pid",
    "destination.port",
];

#[test]
fn flat_and_nested_stores_give_identical_frames() {
    let (flat, nested) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_store(flat.path(), ColumnStyle::Flat, 4);
    write_store(nested.path(), ColumnStyle::Nested, 4);
    let mut fields: Vec<FieldRequest> = ECS_FIELDS.iter().map(|n| field(n, true)).collect();
    fields.push(field("destination.ip", false));
    let all = window(D22, D22 + 3 * DAY);
    let (flat_frames, flat_stats) = scan(flat.path(), all, &fields).unwrap();
    let (nested_frames, nested_stats) = scan(nested.path(), all, &fields).unwrap();
    assert_eq!(flat_frames.len(), 3);
    assert_eq!(flat_stats.rows_in_window, 30);
    assert_eq!(flat_stats.rows_in_window, nested_stats.rows_in_window);
    for (a, b) in flat_frames.iter().zip(&nested_frames) {
        assert_eq!(a.timestamps, b.timestamps);
        for f in &fields {
            assert_eq!(rows(a, &f.name), rows(b, &f.name), "{}", f.name);
        }
    }
    assert_eq!(
        rows(&flat_frames[0], "event.type")[0],
        ["connection", "start"]
    );
    assert_eq!(
        rows(&nested_frames[0], "destination.ip")[..2],
        text(&[&["10.0.0.1"], &[]])
    );
    let process: Vec<_> = [
        "process.title",
        "process.working_directory",
        "process.parent.pid",
    ]
    .iter()
    .map(|name| rows(&nested_frames[0], name)[0].clone())
    .collect();
    assert_eq!(process, text(&[&["sshd -v"], &["/srv"], &["9999"]]));
}

#[test]
fn timestamps_of_every_kind_read_as_milliseconds() {
    let dir = tempfile::tempdir().unwrap();
    let t = [D22 + 1_000, D22 + 2_000];
    let kinds: Vec<(&str, ArrayRef)> = vec![
        (
            "s",
            Arc::new(TimestampSecondArray::from(vec![t[0] / 1000, t[1] / 1000])),
        ),
        (
            "ms_tz",
            Arc::new(TimestampMillisecondArray::from(t.to_vec()).with_timezone("+01:00")),
        ),
        (
            "us",
            Arc::new(TimestampMicrosecondArray::from(vec![
                t[0] * 1000,
                t[1] * 1000,
            ])),
        ),
        (
            "ns_tz",
            Arc::new(
                TimestampNanosecondArray::from(vec![t[0] * 1_000_000, t[1] * 1_000_000])
                    .with_timezone("UTC"),
            ),
        ),
        ("epoch", Arc::new(Int64Array::from(t.to_vec()))),
        (
            "rfc3339",
            strings(&[
                Some("2026-11-22T00:00:01Z"),
                Some("2026-11-22T01:00:02+01:00"),
            ]),
        ),
    ];
    for (name, array) in kinds {
        let path = dir.path().join(format!("{name}.parquet"));
        write(&path, vec![("@timestamp", array)], 1);
        let frame = scan_one(&path, window(D22, D22 + DAY), &[]);
        assert_eq!(frame.timestamps, t, "{name}");
        // Statistics of every kind but strings prune the second row group.
        let (frames, stats) = scan(&path, window(t[0], t[0] + 1), &[]).unwrap();
        assert_eq!(frames[0].timestamps, [t[0]], "{name}");
        assert_eq!(
            stats.row_groups_skipped,
            u64::from(name != "rfc3339"),
            "{name}"
        );
    }
}

#[test]
fn unparseable_or_null_timestamps_drop_their_row_and_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.parquet");
    let stamps = strings(&[
        Some("2026-11-22T00:00:01Z"),
        Some("noon"),
        None,
        Some("2026-11-23T00:00:01Z"),
    ]);
    write(
        &path,
        vec![
            ("@timestamp", stamps),
            (
                "process.name",
                strings(&[Some("a"), Some("b"), Some("c"), Some("d")]),
            ),
        ],
        1024,
    );
    let frame = scan_one(
        &path,
        window(D22, D22 + DAY),
        &[field("process.name", true)],
    );
    assert_eq!(frame.timestamps, [D22 + 1_000]);
    assert_eq!(rows(&frame, "process.name"), text(&[&["a"]]));
    assert_eq!(
        frame.stats.invalid[&(path.clone(), "@timestamp".to_string())],
        2
    );
    assert_eq!((frame.stats.rows_read, frame.stats.rows_in_window), (4, 1));
}

#[test]
fn event_category_reads_as_a_list_or_a_single_string() {
    let dir = tempfile::tempdir().unwrap();
    let mut lists = ListBuilder::new(StringBuilder::new());
    lists.values().append_value("network");
    lists.values().append_value("host");
    lists.append(true);
    lists.append(false);
    let single = strings(&[Some("network"), None]);
    for (name, array) in [
        ("list", Arc::new(lists.finish()) as ArrayRef),
        ("single", single),
    ] {
        let path = dir.path().join(format!("{name}.parquet"));
        write(
            &path,
            vec![("@timestamp", ms(&[D22, D22])), ("event.category", array)],
            1024,
        );
        let frame = scan_one(
            &path,
            window(D22, D22 + 1),
            &[field("event.category", true)],
        );
        assert!(matches!(
            frame.columns["event.category"],
            Column::KeywordList(_)
        ));
        assert_eq!(rows(&frame, "event.category")[1], Vec::<String>::new());
        assert_eq!(rows(&frame, "event.category")[0][0], "network");
    }
}

#[test]
fn ports_read_from_any_integer_type_or_numeric_strings() {
    let dir = tempfile::tempdir().unwrap();
    let ports: Vec<(&str, ArrayRef)> = vec![
        ("int32", Arc::new(Int32Array::from(vec![22, 443]))),
        ("int64", Arc::new(Int64Array::from(vec![22, 443]))),
        ("uint16", Arc::new(UInt16Array::from(vec![22, 443]))),
        ("text", strings(&[Some("22"), Some("443")])),
    ];
    for (name, array) in ports {
        let path = dir.path().join(format!("{name}.parquet"));
        write(
            &path,
            vec![("@timestamp", ms(&[D22, D22])), ("destination.port", array)],
            1024,
        );
        let frame = scan_one(
            &path,
            window(D22, D22 + 1),
            &[field("destination.port", true)],
        );
        assert!(
            matches!(frame.columns["destination.port"], Column::Integer(_)),
            "{name}"
        );
        assert_eq!(
            rows(&frame, "destination.port"),
            text(&[&["22"], &["443"]]),
            "{name}"
        );
        assert!(frame.stats.invalid.is_empty());
    }
}

#[test]
fn bad_ports_are_nulled_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let ints = dir.path().join("ints.parquet");
    let texts = dir.path().join("texts.parquet");
    write(
        &ints,
        vec![
            ("@timestamp", ms(&[D22; 3])),
            (
                "destination.port",
                Arc::new(Int64Array::from(vec![-1, 70_000, 80])),
            ),
        ],
        1024,
    );
    write(
        &texts,
        vec![
            ("@timestamp", ms(&[D22; 3])),
            (
                "destination.port",
                strings(&[Some("abc"), Some("80"), None]),
            ),
        ],
        1024,
    );
    let (frames, stats) = scan(
        dir.path(),
        window(D22, D22 + 1),
        &[field("destination.port", true)],
    )
    .unwrap();
    assert_eq!(
        rows(&frames[0], "destination.port"),
        text(&[&[], &[], &["80"]])
    );
    assert_eq!(
        rows(&frames[1], "destination.port"),
        text(&[&[], &["80"], &[]])
    );
    let port = |path: &Path| stats.invalid[&(path.to_path_buf(), "destination.port".to_string())];
    assert_eq!((port(&ints), port(&texts)), (2, 1));
}

#[test]
fn missing_required_column_names_file_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.parquet");
    write(&path, vec![("@timestamp", ms(&[D22]))], 1024);
    let error = scan(
        &path,
        window(D22, D22 + 1),
        &[field("destination.port", true)],
    )
    .unwrap_err();
    assert!(
        matches!(&error, Error::MissingColumn { path: p, column } if *p == path && column == "destination.port")
    );
    let frame = scan_one(
        &path,
        window(D22, D22 + 1),
        &[field("destination.port", false)],
    );
    assert!(frame.columns.is_empty());
    let untimed = dir.path().join("untimed.parquet");
    write(&untimed, vec![("host.name", strings(&[Some("a")]))], 1024);
    let error = scan(&untimed, window(D22, D22 + 1), &[]).unwrap_err();
    assert!(matches!(error, Error::MissingColumn { column, .. } if column == "@timestamp"));
}

#[test]
fn unreadable_types_name_file_column_and_types() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.parquet");
    write(
        &path,
        vec![
            ("@timestamp", ms(&[D22])),
            ("destination.port", Arc::new(Float64Array::from(vec![22.0]))),
        ],
        1024,
    );
    let error = scan(
        &path,
        window(D22, D22 + 1),
        &[field("destination.port", true)],
    )
    .unwrap_err();
    let Error::WrongType {
        path: p,
        column,
        found,
        expected,
    } = error
    else {
        panic!("{error}")
    };
    assert_eq!(
        (p, column.as_str(), found.as_str()),
        (path, "destination.port", "Float64")
    );
    assert!(expected.contains("integer"), "{expected}");
}

#[test]
fn brotli_compressed_files_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("brotli.parquet");
    let props = WriterProperties::builder()
        .set_compression(Compression::BROTLI(BrotliLevel::default()))
        .build();
    write_with(
        &path,
        vec![
            ("@timestamp", ms(&[D22 + 1, D22 + 2])),
            ("process.name", strings(&[Some("curl"), Some("sshd")])),
        ],
        props,
    );
    let frame = scan_one(
        &path,
        window(D22, D22 + DAY),
        &[field("process.name", true)],
    );
    assert_eq!(rows(&frame, "process.name"), text(&[&["curl"], &["sshd"]]));
}

#[test]
fn a_field_both_flat_and_nested_names_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("both.parquet");
    let nested: ArrayRef = Arc::new(StructArray::from(vec![(
        Arc::new(Field::new("port", arrow::datatypes::DataType::Int64, true)),
        Arc::new(Int64Array::from(vec![443])) as ArrayRef,
    )]));
    write(
        &path,
        vec![
            ("@timestamp", ms(&[D22 + 1])),
            ("destination.port", Arc::new(Int64Array::from(vec![80]))),
            ("destination", nested),
        ],
        16,
    );
    for required in [true, false] {
        let error = scan(
            &path,
            window(D22, D22 + DAY),
            &[field("destination.port", required)],
        )
        .unwrap_err();
        assert!(
            matches!(&error, Error::TwoForms { column, .. } if column == "destination.port"),
            "{error}"
        );
        assert!(error.to_string().contains("both.parquet"), "{error}");
    }
}

#[test]
fn truncated_and_foreign_files_are_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_store(dir.path(), ColumnStyle::Flat, 1024);
    let bytes = fs::read(&files[0]).unwrap();
    fs::write(&files[0], &bytes[..bytes.len() / 2]).unwrap();
    let error = scan(&files[0], window(D22, D22 + DAY), &[]).unwrap_err();
    assert!(
        matches!(&error, Error::Corrupt { path, .. } if *path == files[0]),
        "{error}"
    );
    let text = dir.path().join("notes.parquet");
    fs::write(&text, "not parquet at all").unwrap();
    let error = scan(&text, window(D22, D22 + DAY), &[]).unwrap_err();
    assert!(error.to_string().contains("notes.parquet"), "{error}");
    assert!(matches!(error, Error::Corrupt { .. }));
}

#[test]
fn hive_partitions_beyond_the_next_day_are_not_opened() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_store(dir.path(), ColumnStyle::Flat, 1024);
    assert_eq!(files.len(), 3);
    // A corrupt file two days from the window proves it is never opened; the next day's file
    // is opened (it may hold events stamped just after midnight) and pruned by its statistics.
    fs::write(&files[2], "garbage").unwrap();
    let (frames, stats) = scan(
        dir.path(),
        window(D22, D22 + DAY),
        &[field("process.name", true)],
    )
    .unwrap();
    assert_eq!(stats.files, 2);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].path, files[0]);
    assert_eq!(stats.rows_in_window, 10);
    assert!(
        frames[0]
            .timestamps
            .iter()
            .all(|t| (D22..D22 + DAY).contains(t))
    );
}

#[test]
fn row_groups_outside_the_window_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_store(dir.path(), ColumnStyle::Nested, 2);
    // Day 22 holds events at 0.0, 0.1, ... 0.9 days; groups of two rows each.
    let (frames, stats) = scan(
        &files[0],
        window(D22 + DAY / 5, D22 + DAY * 3 / 10),
        &[field("destination.port", true)],
    )
    .unwrap();
    assert_eq!(
        (stats.files, stats.row_groups_read, stats.row_groups_skipped),
        (1, 1, 4)
    );
    assert_eq!((stats.rows_read, stats.rows_in_window), (2, 1));
    assert_eq!(frames[0].timestamps, [D22 + DAY / 5]);
    assert_eq!(rows(&frames[0], "destination.port"), text(&[&["1002"]]));
    let (units, plan) = EventStore::open(files[0].to_str().unwrap())
        .unwrap()
        .plan(window(D22 + DAY * 19 / 20, D22 + DAY))
        .unwrap();
    assert!(units.is_empty());
    assert_eq!(plan.row_groups_skipped, 5);
}

#[test]
fn string_timestamps_are_filtered_by_row_not_by_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.parquet");
    let stamps = strings(&[Some("2026-11-22T00:00:00Z"), Some("2026-11-23T00:00:00Z")]);
    write(&path, vec![("@timestamp", stamps)], 1);
    let (frames, stats) = scan(&path, window(D22 + DAY, D22 + 2 * DAY), &[]).unwrap();
    assert_eq!((stats.row_groups_skipped, stats.row_groups_read), (0, 2));
    assert_eq!(frames[0].timestamps, [D22 + DAY]);
}

#[test]
fn glob_and_directory_locations_find_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_store(dir.path(), ColumnStyle::Flat, 1024);
    let by_dir = EventStore::open(dir.path().to_str().unwrap()).unwrap();
    let by_glob = EventStore::open(&format!("{}/date=*/*.parquet", dir.path().display())).unwrap();
    assert_eq!(by_dir.files(), files);
    assert_eq!(by_glob.files(), files);
    assert!(matches!(
        EventStore::open(&format!("{}/x=*", dir.path().display())),
        Err(Error::NoFiles { .. })
    ));
}

#[test]
fn only_requested_columns_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.parquet");
    // A column of an unreadable type is harmless when not requested.
    let score: ArrayRef = Arc::new(Float64Array::from(vec![0.5]));
    write(
        &path,
        vec![
            ("@timestamp", ms(&[D22])),
            ("process.name", strings(&[Some("nc")])),
            ("host.name", strings(&[Some("h")])),
            ("score", score),
        ],
        1024,
    );
    let frame = scan_one(
        &path,
        window(D22, D22 + 1),
        &[field("process.name", true), field("user.name", false)],
    );
    let keys: Vec<&String> = frame.columns.keys().collect();
    assert_eq!(keys, ["process.name"]);
}

#[test]
fn a_struct_may_hold_dotted_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.parquet");
    let os_type = strings(&[Some("linux"), None]);
    let host = StructArray::from(vec![(
        Arc::new(Field::new(
            "os.type",
            arrow::datatypes::DataType::Utf8,
            true,
        )),
        os_type,
    )]);
    write(
        &path,
        vec![("@timestamp", ms(&[D22, D22])), ("host", Arc::new(host))],
        1024,
    );
    let frame = scan_one(&path, window(D22, D22 + 1), &[field("host.os.type", true)]);
    assert_eq!(rows(&frame, "host.os.type"), text(&[&["linux"], &[]]));
}

#[test]
fn a_stale_unit_naming_absent_row_groups_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.parquet");
    write(&path, vec![("@timestamp", ms(&[D22]))], 1024);
    let unit = ScanUnit {
        path: path.clone(),
        row_groups: vec![0, 3],
        window: window(D22, D22 + 1),
        object: None,
    };
    assert!(matches!(unit.read(&[]), Err(Error::Corrupt { path: p, .. }) if p == path));
}

#[test]
fn a_null_struct_makes_its_fields_null() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.parquet");
    let port = Arc::new(Field::new("port", arrow::datatypes::DataType::Int64, true));
    let ports: ArrayRef = Arc::new(Int64Array::from(vec![22, 443]));
    let parents = arrow::buffer::NullBuffer::from(vec![true, false]);
    let destination = StructArray::try_new(vec![port].into(), vec![ports], Some(parents)).unwrap();
    write(
        &path,
        vec![
            ("@timestamp", ms(&[D22, D22])),
            ("destination", Arc::new(destination)),
        ],
        1024,
    );
    let frame = scan_one(
        &path,
        window(D22, D22 + 1),
        &[field("destination.port", true)],
    );
    assert_eq!(rows(&frame, "destination.port"), text(&[&["22"], &[]]));
}

#[test]
fn an_event_stamped_past_midnight_in_the_previous_days_partition_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let day_22 = dir.path().join("date=2026-11-22");
    fs::create_dir_all(&day_22).unwrap();
    let late = D22 + DAY + 3_000;
    write(
        &day_22.join("events.parquet"),
        vec![
            ("@timestamp", ms(&[D22 + DAY - 1, late])),
            ("process.name", strings(&[Some("sshd"), Some("curl")])),
        ],
        1024,
    );
    let (frames, stats) = scan(
        dir.path(),
        window(D22 + DAY, D22 + 2 * DAY),
        &[field("process.name", true)],
    )
    .unwrap();
    assert_eq!(stats.rows_in_window, 1);
    assert_eq!(frames[0].timestamps, [late]);
    assert_eq!(rows(&frames[0], "process.name"), text(&[&["curl"]]));
}

#[test]
fn keywords_read_the_same_from_plain_and_dictionary_encoded_pages() {
    let dir = tempfile::tempdir().unwrap();
    let names = [Some("sshd"), None, Some("curl"), Some("sshd")];
    let columns = || {
        vec![
            ("@timestamp", ms(&[D22, D22 + 1, D22 + 2, D22 + 3])),
            ("process.name", strings(&names)),
        ]
    };
    for dictionary in [true, false] {
        let path = dir.path().join(format!("dictionary-{dictionary}.parquet"));
        let props = WriterProperties::builder()
            .set_dictionary_enabled(dictionary)
            .build();
        write_with(&path, columns(), props);
        let frame = scan_one(
            &path,
            window(D22, D22 + DAY),
            &[field("process.name", true)],
        );
        assert_eq!(
            rows(&frame, "process.name"),
            text(&[&["sshd"], &[], &["curl"], &["sshd"]]),
            "dictionary pages: {dictionary}"
        );
        let Column::Keyword(keywords) = &frame.columns["process.name"] else {
            panic!("process.name is a keyword column");
        };
        let codes = keywords.codes();
        assert!(
            codes[0] == codes[3] && codes[0] != codes[2],
            "equal strings share a code: {codes:?}"
        );
    }
}

/// Row groups of a file, as the timestamps of their rows.
fn row_group_times(path: &Path) -> Vec<Vec<i64>> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let builder = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(path).unwrap()).unwrap();
    let groups = builder.metadata().num_row_groups();
    (0..groups)
        .map(|group| {
            let reader = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(path).unwrap())
                .unwrap()
                .with_row_groups(vec![group])
                .build()
                .unwrap();
            reader
                .flat_map(|batch| {
                    let batch = batch.unwrap();
                    batch
                        .column_by_name("@timestamp")
                        .unwrap()
                        .as_any()
                        .downcast_ref::<TimestampMillisecondArray>()
                        .unwrap()
                        .values()
                        .to_vec()
                })
                .collect()
        })
        .collect()
}

#[test]
fn day_files_write_bounded_batches_sorted_and_name_them_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = write::DayFiles::new(dir.path(), WriteOptions::default(), 4);
    // Two days interleaved, each in falling time order.
    let mut times = Vec::new();
    for i in 0..15 {
        let t = D22 + (i % 2) * DAY + 1000 * (20 - i);
        files.push(event(t, i, "curl")).unwrap();
        times.push(t);
    }
    assert_eq!(files.days(), ["2026-11-22", "2026-11-23"]);
    let hidden: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
    assert!(
        hidden.iter().all(|e| e
            .as_ref()
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with('.')),
        "only hidden temporary files before finish: {hidden:?}"
    );
    let written = files.finish("x").unwrap();
    assert_eq!(
        written,
        [
            dir.path().join("date=2026-11-22/x.parquet"),
            dir.path().join("date=2026-11-23/x.parquet")
        ]
    );
    let mut read = Vec::new();
    for path in &written {
        let groups = row_group_times(path);
        assert!(groups.len() > 1, "{groups:?}");
        assert!(
            groups.iter().all(|g| g.len() <= 4 && g.is_sorted()),
            "{groups:?}"
        );
        read.extend(groups.into_iter().flatten());
    }
    read.sort();
    times.sort();
    assert_eq!(read, times);
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        2,
        "no temporary file left"
    );
}

#[test]
fn a_day_in_one_batch_is_written_byte_for_byte_as_write_partitioned_writes_it() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let opts = WriteOptions {
        file_stem: "s".into(),
        ..WriteOptions::default()
    };
    let whole = write_partitioned(a.path(), &events(), &opts).unwrap();
    let mut files = write::DayFiles::new(b.path(), opts, 1000);
    for e in events().into_iter().rev() {
        files.push(e).unwrap();
    }
    let streamed = files.finish("s").unwrap();
    assert_eq!(whole.len(), streamed.len());
    for (w, s) in whole.iter().zip(&streamed) {
        assert_eq!(w.strip_prefix(a.path()), s.strip_prefix(b.path()));
        assert_eq!(
            fs::read(w).unwrap(),
            fs::read(s).unwrap(),
            "{}",
            w.display()
        );
    }
}

#[test]
fn dropped_day_files_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = write::DayFiles::new(dir.path(), WriteOptions::default(), 2);
    for i in 0..5 {
        files.push(event(D22 + i, i, "nc")).unwrap();
    }
    drop(files);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}
