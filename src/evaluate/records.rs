//! Reading back the anomaly records a backfill wrote, as [`Hit`]s: every record, not only those
//! that became alerts, so an evaluation can say how close a missed incident came.
//!
//! Input: `<out>/anomalies/<job id>/*.parquet` in the schema of `output::records_batch`. Output:
//! one [`Hit`] per record, from its latest (renormalised) version.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int64Type, TimestampMillisecondType};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::{Error, Hit};

/// Every record under `dir` (the records folder of one job); none when the folder is absent.
pub fn read_records(dir: &Path) -> Result<Vec<Hit>, Error> {
    let fail = |path: &Path, reason: String| Error::Records {
        path: path.to_path_buf(),
        reason,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(fail(dir, e.to_string())),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    paths.sort();
    let mut hits: Vec<(i64, Hit)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for path in paths {
        let file = File::open(&path).map_err(|e| fail(&path, e.to_string()))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .map_err(|e| fail(&path, e.to_string()))?;
        for batch in reader {
            let batch = batch.map_err(|e| fail(&path, e.to_string()))?;
            for (id, version, hit) in batch_hits(&batch).map_err(|reason| fail(&path, reason))? {
                match index.get(&id) {
                    Some(&i) if hits[i].0 < version => hits[i] = (version, hit),
                    Some(_) => {}
                    None => {
                        index.insert(id, hits.len());
                        hits.push((version, hit));
                    }
                }
            }
        }
    }
    Ok(hits.into_iter().map(|(_, hit)| hit).collect())
}

/// The hits of one batch with their record id and version; the error names the missing or
/// mistyped column.
fn batch_hits(batch: &RecordBatch) -> Result<Vec<(String, i64, Hit)>, String> {
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .ok_or_else(|| format!("no column {name}"))
    };
    let wrong = |name: &str| format!("column {name} has an unexpected type");
    let ids = column("record_id")?
        .as_string_opt::<i32>()
        .ok_or_else(|| wrong("record_id"))?;
    let versions = column("result_version")?
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| wrong("result_version"))?;
    let names = column("by_field_name")?
        .as_string_opt::<i32>()
        .ok_or_else(|| wrong("by_field_name"))?;
    let values = column("by_field_value")?
        .as_string_opt::<i32>()
        .ok_or_else(|| wrong("by_field_value"))?;
    let scores = column("record_score")?
        .as_primitive_opt::<Float64Type>()
        .ok_or_else(|| wrong("record_score"))?;
    let times = column("timestamp")?
        .as_primitive_opt::<TimestampMillisecondType>()
        .ok_or_else(|| wrong("timestamp"))?;
    let hosts = column("host.name")?
        .as_list_opt::<i32>()
        .ok_or_else(|| wrong("host.name"))?;
    (0..batch.num_rows())
        .map(|row| {
            let list = hosts.value(row);
            let list = list
                .as_string_opt::<i32>()
                .ok_or_else(|| wrong("host.name"))?;
            let hit = Hit {
                by_field_name: names.value(row).to_string(),
                by_field_value: values.value(row).to_string(),
                hosts: (0..list.len())
                    .filter(|&i| list.is_valid(i))
                    .map(|i| list.value(i).to_string())
                    .collect(),
                bucket_ms: times.value(row),
                record_score: scores.value(row),
            };
            Ok((ids.value(row).to_string(), versions.value(row), hit))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{records_batch, write_parquet};
    use crate::results::AnomalyRecord;

    fn record(value: &str, host: &str, timestamp_ms: i64, record_score: f64) -> AnomalyRecord {
        AnomalyRecord {
            record_id: format!("r-{value}"),
            job_id: "port".into(),
            ..AnomalyRecord::sample(value, timestamp_ms, record_score, &[("host.name", &[host])])
        }
    }

    #[test]
    fn written_records_read_back_as_hits() {
        let dir = tempfile::tempdir().unwrap();
        let records = [
            record("4444", "web-01", 1_000_000, 91.5),
            record("8443", "db-01", 2_000_000, 12.0),
        ];
        write_parquet(
            &dir.path().join("records-0-1.parquet"),
            &records_batch(&records[..1]).unwrap(),
        )
        .unwrap();
        write_parquet(
            &dir.path().join("records-1-2.parquet"),
            &records_batch(&records[1..]).unwrap(),
        )
        .unwrap();
        let hits = read_records(dir.path()).unwrap();
        assert_eq!(hits, records.iter().map(Hit::from).collect::<Vec<_>>());
        // A renormalised version in a later file replaces the record's first one.
        let rescored = AnomalyRecord {
            record_score: 55.0,
            result_version: 2,
            ..records[0].clone()
        };
        write_parquet(
            &dir.path().join("records-2-3.parquet"),
            &records_batch(std::slice::from_ref(&rescored)).unwrap(),
        )
        .unwrap();
        let hits = read_records(dir.path()).unwrap();
        assert_eq!(hits, [Hit::from(&rescored), Hit::from(&records[1])]);
        assert_eq!(hits[0].hosts, ["web-01"]);
        assert!(read_records(&dir.path().join("absent")).unwrap().is_empty());
        std::fs::write(dir.path().join("records-3-4.parquet"), b"not parquet").unwrap();
        assert!(
            matches!(read_records(dir.path()), Err(Error::Records { path, .. }) if path.ends_with("records-3-4.parquet"))
        );
    }
}
