//! The alerts schema (`<out>/alerts/`), with Kibana's dotted field names.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int32Array};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use super::arrays::{string_lists, strings, timestamps};
use super::records::batch;
use crate::results::ALERT_FIELDS;
use crate::rule::Alert;

/// One row per alert; see `docs/outputs.md`.
pub fn alerts_batch(alerts: &[Alert]) -> Result<RecordBatch, ArrowError> {
    let text = |f: fn(&Alert) -> &str| strings(alerts.iter().map(|a| Some(f(a))));
    let float = |f: fn(&Alert) -> f64| -> ArrayRef {
        Arc::new(alerts.iter().map(f).collect::<Float64Array>())
    };
    let mut columns: Vec<(String, ArrayRef, bool)> = vec![
        ("kibana.alert.uuid".into(), text(|a| &a.uuid), false),
        (
            "@timestamp".into(),
            timestamps(alerts.iter().map(|a| a.timestamp_ms)),
            false,
        ),
        (
            "kibana.alert.original_time".into(),
            timestamps(alerts.iter().map(|a| a.original_time_ms)),
            false,
        ),
        (
            "kibana.alert.rule.rule_id".into(),
            text(|a| &a.rule_id),
            false,
        ),
        (
            "kibana.alert.rule.name".into(),
            text(|a| &a.rule_name),
            false,
        ),
        (
            "kibana.alert.rule.severity".into(),
            text(|a| &a.severity),
            false,
        ),
        (
            "kibana.alert.rule.risk_score".into(),
            Arc::new(
                alerts
                    .iter()
                    .map(|a| a.risk_score as i32)
                    .collect::<Int32Array>(),
            ),
            false,
        ),
        (
            "kibana.alert.rule.threat".into(),
            string_lists(alerts.iter().map(|a| a.threat.iter())),
            false,
        ),
        ("kibana.alert.reason".into(), text(|a| &a.reason), false),
        (
            "kibana.alert.workflow_status".into(),
            text(|a| &a.workflow_status),
            false,
        ),
        ("event.kind".into(), text(|_| "signal"), false),
        ("job_id".into(), text(|a| &a.record.job_id), false),
        ("record_id".into(), text(|a| &a.record.record_id), false),
        (
            "record_score".into(),
            float(|a| a.record.record_score),
            false,
        ),
        (
            "initial_record_score".into(),
            float(|a| a.record.initial_record_score),
            false,
        ),
        ("probability".into(), float(|a| a.record.probability), false),
        (
            "by_field_name".into(),
            text(|a| &a.record.by_field_name),
            false,
        ),
        (
            "by_field_value".into(),
            text(|a| &a.record.by_field_value),
            false,
        ),
    ];
    for (i, field) in ALERT_FIELDS.iter().enumerate() {
        columns.push((
            field.to_string(),
            string_lists(alerts.iter().map(|a| a.field_values[i].iter())),
            false,
        ));
    }
    batch(columns)
}
