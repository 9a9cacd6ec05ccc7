//! The anomaly records schema (`<out>/anomalies/`).

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, StructArray};
use arrow::datatypes::{Field, Fields, Schema};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use super::arrays::{
    field_of, float_lists, string_lists, strings, struct_lists, timestamp_field, timestamps,
};
use crate::results::{ALERT_FIELDS, AnomalyRecord};

/// One row per record, with Elastic's field names; see `docs/outputs.md`.
pub fn records_batch(records: &[AnomalyRecord]) -> Result<RecordBatch, ArrowError> {
    let text = |f: fn(&AnomalyRecord) -> &str| strings(records.iter().map(|r| Some(f(r))));
    let float = |f: fn(&AnomalyRecord) -> f64| -> ArrayRef {
        Arc::new(records.iter().map(f).collect::<Float64Array>())
    };
    let int = |f: fn(&AnomalyRecord) -> i64| -> ArrayRef {
        Arc::new(records.iter().map(f).collect::<Int64Array>())
    };
    let mut columns: Vec<(String, ArrayRef, bool)> = vec![
        ("record_id".into(), text(|r| &r.record_id), false),
        ("job_id".into(), text(|r| &r.job_id), false),
        ("result_type".into(), text(|_| "record"), false),
        (
            "timestamp".into(),
            timestamps(records.iter().map(|r| r.timestamp_ms)),
            false,
        ),
        ("bucket_span".into(), int(|r| r.bucket_span), false),
        (
            "detector_index".into(),
            Arc::new(
                records
                    .iter()
                    .map(|r| r.detector_index as i32)
                    .collect::<Int32Array>(),
            ),
            false,
        ),
        (
            "is_interim".into(),
            Arc::new(
                records
                    .iter()
                    .map(|r| Some(r.is_interim))
                    .collect::<BooleanArray>(),
            ),
            false,
        ),
        ("function".into(), text(|r| &r.function), false),
        (
            "function_description".into(),
            text(|r| &r.function_description),
            false,
        ),
        ("by_field_name".into(), text(|r| &r.by_field_name), false),
        ("by_field_value".into(), text(|r| &r.by_field_value), false),
        (
            "partition_field_name".into(),
            strings(records.iter().map(|r| r.partition_field_name.as_deref())),
            true,
        ),
        (
            "partition_field_value".into(),
            strings(records.iter().map(|r| r.partition_field_value.as_deref())),
            true,
        ),
        ("probability".into(), float(|r| r.probability), false),
        ("record_score".into(), float(|r| r.record_score), false),
        (
            "initial_record_score".into(),
            float(|r| r.initial_record_score),
            false,
        ),
        (
            "result_version".into(),
            int(|r| r.result_version as i64),
            false,
        ),
        (
            "typical".into(),
            float_lists(records.iter().map(|r| &r.typical)),
            false,
        ),
        (
            "actual".into(),
            float_lists(records.iter().map(|r| &r.actual)),
            false,
        ),
        ("influencers".into(), influencers(records)?, false),
        (
            "anomaly_score_explanation".into(),
            explanations(records)?,
            false,
        ),
        (
            "influencers_capped".into(),
            Arc::new(
                records
                    .iter()
                    .map(|r| Some(r.influencers_capped))
                    .collect::<BooleanArray>(),
            ),
            false,
        ),
    ];
    for field in ALERT_FIELDS {
        let values: Vec<Vec<String>> = records.iter().map(|r| r.field_values(field)).collect();
        columns.push((field.to_string(), string_lists(values.iter()), false));
    }
    columns.extend([
        (
            "by_field_first_occurrence".to_string(),
            timestamps(records.iter().map(|r| r.by_field_first_occurrence_ms)),
            false,
        ),
        (
            "by_field_relative_rarity".to_string(),
            float(|r| r.by_field_relative_rarity),
            false,
        ),
        (
            "event_count".to_string(),
            int(|r| r.event_count as i64),
            false,
        ),
        (
            "host_count".to_string(),
            int(|r| r.host_count as i64),
            false,
        ),
        ("explanation".to_string(), text(|r| &r.explanation), false),
    ]);
    batch(columns)
}

/// Builds a batch from named columns; timestamp columns get the UTC timestamp field type.
pub(super) fn batch(columns: Vec<(String, ArrayRef, bool)>) -> Result<RecordBatch, ArrowError> {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array, nullable)| match array.data_type() {
            arrow::datatypes::DataType::Timestamp(..) => timestamp_field(name),
            _ => field_of(name, array, *nullable),
        })
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, a, _)| a).collect(),
    )
}

/// `anomaly_score_explanation`: a struct of the keys ml-cpp writes for `rare`, null where it omits
/// the key.
fn explanations(records: &[AnomalyRecord]) -> Result<ArrayRef, ArrowError> {
    let all: Vec<_> = records
        .iter()
        .map(AnomalyRecord::anomaly_score_explanation)
        .collect();
    let first: ArrayRef = Arc::new(
        all.iter()
            .map(|e| e.by_field_first_occurrence)
            .collect::<BooleanArray>(),
    );
    let rarity: ArrayRef = Arc::new(
        all.iter()
            .map(|e| e.by_field_relative_rarity)
            .collect::<Float64Array>(),
    );
    let fields = Fields::from(vec![
        field_of("by_field_first_occurrence", &first, true),
        field_of("by_field_relative_rarity", &rarity, true),
    ]);
    Ok(Arc::new(StructArray::try_new(
        fields,
        vec![first, rarity],
        None,
    )?))
}

/// `influencers`: list of `{influencer_field_name, influencer_field_values}`, as Elastic nests it.
fn influencers(records: &[AnomalyRecord]) -> Result<ArrayRef, ArrowError> {
    let all: Vec<_> = records.iter().flat_map(|r| r.influencers.iter()).collect();
    let names = strings(all.iter().map(|i| Some(i.influencer_field_name.as_str())));
    let values = string_lists(all.iter().map(|i| i.influencer_field_values.iter()));
    struct_lists(
        vec![
            ("influencer_field_name".into(), names, false),
            ("influencer_field_values".into(), values, false),
        ],
        records.iter().map(|r| r.influencers.len()),
    )
}
