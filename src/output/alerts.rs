//! The alerts schema (`<out>/alerts/`): the fields of Kibana's alert document, typed.
//!
//! Rows are the documents of [`alert_document`](super::kibana::alert_document), so the Parquet
//! file and the NDJSON hold the same fields. Nested ECS copies (`host: {name: [..]}`) become
//! dotted list columns (`host.name`), as in the records file; the record's nested lists
//! (`kibana.alert.ancestors`, `kibana.alert.rule.threat`, `influencers`) stay lists of structs;
//! `kibana.alert.rule.parameters` (Elasticsearch's `flattened` type) and the rule's
//! always-empty object lists are JSON text.

use std::sync::{Arc, OnceLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use serde_json::{Map, Value};

use super::arrays::{json_list, json_struct, time};
use super::document::json_type;
use super::json_columns::batch_from_json;
use super::kibana::{OBJECT_FIELDS, flatten};
use super::records::RECORD;
use crate::results::ALERT_FIELDS;

fn text() -> DataType {
    DataType::Utf8
}

fn mitre(extra: Option<(&str, DataType)>) -> DataType {
    let mut fields = vec![("id", text()), ("name", text()), ("reference", text())];
    fields.extend(extra);
    json_struct(&fields)
}

/// Every column of the alerts files, in document order; see `docs/outputs.md`.
pub fn alerts_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let strings = json_list(text());
            let threat = json_list(json_struct(&[
                ("framework", text()),
                ("tactic", mitre(None)),
                (
                    "technique",
                    json_list(mitre(Some(("subtechnique", json_list(mitre(None)))))),
                ),
            ]));
            let mut record: Vec<_> = RECORD
                .iter()
                .filter_map(|f| Some((f.in_alert?, f)))
                .collect();
            record.sort_by_key(|(place, _)| *place);
            let mut columns: Vec<(String, DataType)> = record
                .into_iter()
                .map(|(_, f)| (f.name.to_string(), json_type(&f.read)))
                .collect();
            columns.push(("all_field_values".into(), strings.clone()));
            for field in ALERT_FIELDS {
                columns.push((field.to_string(), strings.clone()));
                if let Some(rest) = field.strip_prefix("event.") {
                    columns.push((
                        format!("kibana.alert.original_event.{rest}"),
                        strings.clone(),
                    ));
                }
            }
            let alert: Vec<(&str, DataType)> = vec![
                ("@timestamp", time()),
                ("kibana.alert.uuid", text()),
                ("kibana.space_ids", strings.clone()),
                ("event.kind", text()),
                ("kibana.alert.status", text()),
                ("kibana.alert.workflow_status", text()),
                ("kibana.alert.workflow_tags", strings.clone()),
                ("kibana.alert.workflow_assignee_ids", strings.clone()),
                ("kibana.alert.severity", text()),
                ("kibana.alert.risk_score", DataType::Float64),
                ("kibana.alert.reason", text()),
                ("kibana.alert.original_time", time()),
                ("kibana.alert.depth", DataType::Int64),
                (
                    "kibana.alert.ancestors",
                    json_list(json_struct(&[
                        ("id", text()),
                        ("type", text()),
                        ("index", text()),
                        ("depth", DataType::Int64),
                    ])),
                ),
                ("kibana.alert.start", time()),
                ("kibana.alert.last_detected", time()),
                ("kibana.alert.intended_timestamp", time()),
                ("kibana.alert.rule.execution.timestamp", time()),
                ("kibana.alert.rule.execution.type", text()),
                ("kibana.alert.rule.execution.uuid", text()),
                ("kibana.alert.rule.uuid", text()),
                ("kibana.alert.rule.rule_id", text()),
                ("kibana.alert.rule.name", text()),
                ("kibana.alert.rule.category", text()),
                ("kibana.alert.rule.rule_type_id", text()),
                ("kibana.alert.rule.consumer", text()),
                ("kibana.alert.rule.producer", text()),
                ("kibana.alert.rule.revision", DataType::Int64),
                ("kibana.alert.rule.type", text()),
                ("kibana.alert.rule.description", text()),
                ("kibana.alert.rule.author", strings.clone()),
                ("kibana.alert.rule.enabled", DataType::Boolean),
                ("kibana.alert.rule.immutable", DataType::Boolean),
                ("kibana.alert.rule.from", text()),
                ("kibana.alert.rule.to", text()),
                ("kibana.alert.rule.interval", text()),
                ("kibana.alert.rule.max_signals", DataType::Int64),
                ("kibana.alert.rule.version", DataType::Int64),
                ("kibana.alert.rule.tags", strings.clone()),
                ("kibana.alert.rule.references", strings.clone()),
                ("kibana.alert.rule.false_positives", strings.clone()),
                ("kibana.alert.rule.actions", strings.clone()),
                ("kibana.alert.rule.exceptions_list", strings.clone()),
                ("kibana.alert.rule.risk_score_mapping", strings.clone()),
                ("kibana.alert.rule.severity_mapping", strings.clone()),
                ("kibana.alert.rule.threat", threat),
                ("kibana.alert.rule.risk_score", DataType::Int64),
                ("kibana.alert.rule.severity", text()),
                ("kibana.alert.rule.license", text()),
                ("kibana.alert.rule.note", text()),
                ("kibana.version", text()),
                ("kibana.alert.url", text()),
                ("kibana.alert.rule.parameters", text()),
            ];
            columns.extend(alert.into_iter().map(|(name, t)| (name.to_string(), t)));
            Arc::new(Schema::new(
                columns
                    .into_iter()
                    .map(|(name, t)| Field::new(name, t, true))
                    .collect::<Vec<_>>(),
            ))
        })
        .clone()
}

/// The document with its nested ECS copies as dotted keys: the row of the alerts file.
pub fn alert_row(document: &Map<String, Value>) -> Map<String, Value> {
    let mut row = Map::new();
    for (key, value) in document {
        match value {
            Value::Object(inner) if !OBJECT_FIELDS.contains(&key.as_str()) => {
                row.extend(flatten(key, inner));
            }
            other => {
                row.insert(key.clone(), other.clone());
            }
        }
    }
    row
}

/// One row per alert document.
pub fn alerts_batch(documents: &[Map<String, Value>]) -> Result<RecordBatch, ArrowError> {
    let rows: Vec<Map<String, Value>> = documents.iter().map(alert_row).collect();
    batch_from_json(alerts_schema(), &rows)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::jobs::Job;
    use crate::output::kibana::{AlertTarget, alert_document};
    use crate::rule::Alert;

    #[test]
    fn every_field_of_the_document_is_a_column() {
        let job = Job::parse(
            Path::new("v3_linux_anomalous_network_activity_ea.toml"),
            include_str!("../../jobs/ea/v3_linux_anomalous_network_activity_ea.toml"),
        )
        .expect("shipped job parses");
        let record = crate::results::AnomalyRecord::sample(
            "4444",
            0,
            90.0,
            &[("host.name", &["h"]), ("event.module", &["auditd"])],
        );
        let alert = Alert::new(&job.file.rule, &record, 900_000);
        let doc = alert_document(&alert, &job.file, &AlertTarget::default());
        let schema = alerts_schema();
        for key in alert_row(&doc).keys() {
            assert!(schema.field_with_name(key).is_ok(), "no column for {key}");
        }
        let batch = alerts_batch(&[doc]).expect("batch");
        assert_eq!(batch.num_rows(), 1);
    }
}
