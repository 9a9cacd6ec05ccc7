//! The model size statistics schema (`<out>/model_size_stats/`).

use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use super::arrays::{strings, timestamps};
use super::buckets::{Column, longs};
use super::records::batch;
use crate::results::ModelSizeStats;

/// One row per execution; see `docs/outputs.md`.
pub fn model_size_stats_batch(rows: &[ModelSizeStats]) -> Result<RecordBatch, ArrowError> {
    let ids: Vec<String> = rows.iter().map(ModelSizeStats::id).collect();
    let mut columns: Vec<Column> = vec![
        (
            "id".into(),
            strings(ids.iter().map(|s| Some(s.as_str()))),
            false,
        ),
        (
            "job_id".into(),
            strings(rows.iter().map(|r| Some(r.job_id.as_str()))),
            false,
        ),
        (
            "result_type".into(),
            strings(rows.iter().map(|_| Some("model_size_stats"))),
            false,
        ),
        (
            "timestamp".into(),
            timestamps(rows.iter().map(|r| r.timestamp_ms)),
            false,
        ),
        (
            "log_time".into(),
            timestamps(rows.iter().map(|r| r.log_time_ms)),
            false,
        ),
    ];
    type Count = fn(&ModelSizeStats) -> u64;
    let counts: [(&str, Count); 8] = [
        ("model_bytes", |r| r.model_bytes),
        ("peak_model_bytes", |r| r.peak_model_bytes),
        ("model_bytes_exceeded", |r| r.model_bytes_exceeded),
        ("model_bytes_memory_limit", |r| r.model_bytes_memory_limit),
        ("total_by_field_count", |r| r.total_by_field_count),
        ("total_over_field_count", |r| r.total_over_field_count),
        ("total_partition_field_count", |r| {
            r.total_partition_field_count
        }),
        ("bucket_allocation_failures_count", |r| {
            r.bucket_allocation_failures_count
        }),
    ];
    for (name, f) in counts {
        columns.push((name.into(), longs(rows, f), false));
    }
    columns.push((
        "memory_status".into(),
        strings(rows.iter().map(|r| Some(r.memory_status_name()))),
        false,
    ));
    batch(columns)
}
