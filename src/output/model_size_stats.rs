//! The model size statistics' document and their row of the files
//! (`<out>/model_size_stats/`).

use std::sync::LazyLock;

use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use super::document::{Field, Read::*, batch};
use crate::results::ModelSizeStats;

/// Elasticsearch's categorisation counters, written on every job.
const CATEGORISATION_COUNTS: [&str; 6] = [
    "categorized_doc_count",
    "total_category_count",
    "frequent_category_count",
    "rare_category_count",
    "dead_category_count",
    "failed_category_count",
];

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
    // ml-cpp and Elasticsearch write these for every job; netrare's jobs never categorise, so
    // the counts are ml-cpp's defaults.
    fields.push(Field::both(
        "assignment_memory_basis",
        Keyword(|_| ModelSizeStats::ASSIGNMENT_MEMORY_BASIS),
    ));
    fields.extend(CATEGORISATION_COUNTS.map(|name| Field::both(name, Count(|_| 0))));
    fields.push(Field::both("categorization_status", Keyword(|_| "ok")));
    fields
});

/// One row per execution; see `docs/outputs.md`.
pub fn model_size_stats_batch(stats: &[ModelSizeStats]) -> Result<RecordBatch, ArrowError> {
    let rows: Vec<&ModelSizeStats> = stats.iter().collect();
    batch(&MODEL_SIZE_STATS, &rows)
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, Int64Array, StringArray};
    use serde_json::json;

    use super::*;
    use crate::model::{FieldCounts, MemoryReport};
    use crate::output::document::document;
    use crate::time::EpochMs;

    fn stats() -> ModelSizeStats {
        let memory = MemoryReport::of(4_096, 33_554_432, 0);
        ModelSizeStats::new(
            "j",
            EpochMs(900_000),
            EpochMs(1_800_000),
            &memory,
            FieldCounts::default(),
            0,
        )
    }

    #[test]
    fn documents_carry_the_fields_elasticsearch_writes_for_a_job_without_categorisation() {
        let doc = document(&MODEL_SIZE_STATS, &stats());
        for name in CATEGORISATION_COUNTS {
            assert_eq!(doc.get(name), Some(&json!(0)), "{name}");
        }
        assert_eq!(doc["categorization_status"], json!("ok"));
        assert_eq!(doc["assignment_memory_basis"], json!("model_memory_limit"));
    }

    #[test]
    fn rows_carry_them_too() {
        let batch = model_size_stats_batch(&[stats()]).expect("batch");
        for name in CATEGORISATION_COUNTS {
            let column = batch.column_by_name(name).expect(name);
            let counts = column.as_any().downcast_ref::<Int64Array>().expect(name);
            assert_eq!(counts.value(0), 0, "{name}");
        }
        let text = |name: &str| {
            let column = batch.column_by_name(name).expect(name);
            let values = column.as_any().downcast_ref::<StringArray>().expect(name);
            values.value(0).to_string()
        };
        assert_eq!(text("categorization_status"), "ok");
        assert_eq!(text("assignment_memory_basis"), "model_memory_limit");
    }
}
