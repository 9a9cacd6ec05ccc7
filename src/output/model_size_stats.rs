//! The model size statistics' document and their row of the files
//! (`<out>/model_size_stats/`).

use std::sync::LazyLock;

use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use super::document::{Field, Read::*, batch};
use crate::results::ModelSizeStats;

/// The statistics' fields, in the file's column order; see `docs/outputs.md`.
pub(super) static MODEL_SIZE_STATS: LazyLock<Vec<Field<ModelSizeStats>>> = LazyLock::new(|| {
    let mut fields: Vec<Field<ModelSizeStats>> = vec![
        Field::row("id", Id(ModelSizeStats::id)),
        Field::job_id(),
        Field::result_type(),
        Field::timestamp(),
        Field::both("log_time", Time(|s| s.log_time_ms.ms())),
    ];
    type Reader = fn(&ModelSizeStats) -> u64;
    let counts: [(&str, Reader); 8] = [
        ("model_bytes", |s| s.model_bytes),
        ("peak_model_bytes", |s| s.peak_model_bytes),
        ("model_bytes_exceeded", |s| s.model_bytes_exceeded),
        ("model_bytes_memory_limit", |s| s.model_bytes_memory_limit),
        ("total_by_field_count", |s| s.total_by_field_count),
        ("total_over_field_count", |s| s.total_over_field_count),
        ("total_partition_field_count", |s| {
            s.total_partition_field_count
        }),
        ("bucket_allocation_failures_count", |s| {
            s.bucket_allocation_failures_count
        }),
    ];
    fields.extend(counts.map(|(name, count)| Field::both(name, Count(count))));
    fields.push(Field::both(
        "memory_status",
        Keyword(|s| s.memory_status_name()),
    ));
    fields
});

/// One row per execution; see `docs/outputs.md`.
pub fn model_size_stats_batch(stats: &[ModelSizeStats]) -> Result<RecordBatch, ArrowError> {
    let rows: Vec<&ModelSizeStats> = stats.iter().collect();
    batch(&MODEL_SIZE_STATS, &rows)
}
