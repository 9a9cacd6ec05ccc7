//! The alerts schema (`<out>/alerts/`): the fields of Kibana's alert document, typed.
//!
//! Rows are the documents of [`alert_document`](super::kibana::alert_document), and the columns
//! are made from the same table of keys ([`KEYS`]), so the Parquet file and the NDJSON hold the
//! same fields. Nested ECS copies (`host: {name: [..]}`) become
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
use super::kibana::{KEYS, Key, Kind, flatten};
use super::records::RECORD;
use crate::results::ALERT_FIELDS;

impl Kind {
    fn data_type(self) -> DataType {
        let text = || DataType::Utf8;
        let mitre = |extra: Option<(&str, DataType)>| {
            let mut fields = vec![("id", text()), ("name", text()), ("reference", text())];
            fields.extend(extra);
            json_struct(&fields)
        };
        match self {
            Kind::Text | Kind::Json => text(),
            Kind::Texts => json_list(text()),
            Kind::Time => time(),
            Kind::Long => DataType::Int64,
            Kind::Double => DataType::Float64,
            Kind::Flag => DataType::Boolean,
            Kind::Ancestors => json_list(json_struct(&[
                ("id", text()),
                ("type", text()),
                ("index", text()),
                ("depth", DataType::Int64),
            ])),
            Kind::Threat => json_list(json_struct(&[
                ("framework", text()),
                ("tactic", mitre(None)),
                (
                    "technique",
                    json_list(mitre(Some(("subtechnique", json_list(mitre(None)))))),
                ),
            ])),
        }
    }
}

/// Every column of the alerts files, in the order of [`KEYS`]; see `docs/outputs.md`.
pub fn alerts_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let mut columns: Vec<(String, DataType)> = Vec::new();
            for key in KEYS {
                match key {
                    Key::Record => {
                        let mut record: Vec<_> = RECORD
                            .iter()
                            .filter_map(|f| Some((f.in_alert?, f)))
                            .collect();
                        record.sort_by_key(|(place, _)| *place);
                        columns.extend(
                            record
                                .into_iter()
                                .map(|(_, f)| (f.name.to_string(), json_type(&f.read))),
                        );
                    }
                    Key::Ecs => {
                        for field in ALERT_FIELDS {
                            columns.push((field.to_string(), Kind::Texts.data_type()));
                            if let Some(rest) = field.strip_prefix("event.") {
                                columns.push((
                                    format!("kibana.alert.original_event.{rest}"),
                                    Kind::Texts.data_type(),
                                ));
                            }
                        }
                    }
                    Key::One(name, kind, _) => columns.push((name.to_string(), kind.data_type())),
                }
            }
            Arc::new(Schema::new(
                columns
                    .into_iter()
                    .map(|(name, t)| Field::new(name, t, true))
                    .collect::<Vec<_>>(),
            ))
        })
        .clone()
}

/// The document with its nested ECS copies as dotted keys: the row of the alerts file. An
/// object with a column of its own (the record's explanation, the rule's parameters) stays whole.
pub fn alert_row(document: &Map<String, Value>) -> Map<String, Value> {
    let schema = alerts_schema();
    let mut row = Map::new();
    for (key, value) in document {
        match value {
            Value::Object(inner) if schema.field_with_name(key).is_err() => {
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
    use super::*;
    use crate::output::kibana::tests::job_rules;
    use crate::output::kibana::{AlertTarget, alert_document};
    use crate::results::{AnomalyRecord, Influencer};
    use crate::rule::Alert;
    use crate::time::EpochMs;

    /// An alert with every optional key set: a partition, a valid value for every ECS field,
    /// the rule's license and note, the Kibana version and URL.
    fn full_alert_row() -> Map<String, Value> {
        let mut job = job_rules(include_str!(
            "../../jobs/ea/v3_linux_anomalous_network_port_activity_ea.toml"
        ));
        job.alert.kibana.license = Some("Elastic License v2".into());
        job.alert.kibana.note = Some("## Triage".into());
        let values = |field: &str| match field {
            "destination.ip" => "10.0.0.5",
            "destination.port" => "4444",
            _ => "x",
        };
        let record = AnomalyRecord {
            partition_field_name: Some("host.name".into()),
            partition_field_value: Some("x".into()),
            influencers: ALERT_FIELDS
                .iter()
                .map(|field| Influencer {
                    influencer_field_name: field.to_string(),
                    influencer_field_values: vec![values(field).to_string()],
                })
                .collect(),
            ..AnomalyRecord::sample("4444", 0, 90.0, &[])
        };
        let target = AlertTarget {
            kibana_version: "9.1.0".into(),
            public_base_url: Some("https://kibana.example.com".into()),
            ..AlertTarget::default()
        };
        let alert = Alert::new(&job.rule, &record, EpochMs(900_000));
        alert_row(&alert_document(&alert, &job.alert, &target))
    }

    /// Whether `value` fills a column of `data_type` as itself, not as JSON text.
    fn fits(data_type: &DataType, value: &Value) -> bool {
        match (data_type, value) {
            (DataType::Utf8, Value::String(_)) => true,
            (DataType::Int64, v) => v.is_i64(),
            (DataType::Float64, v) => v.is_number(),
            (DataType::Boolean, v) => v.is_boolean(),
            (DataType::Timestamp(..), Value::String(s)) => {
                chrono::DateTime::parse_from_rfc3339(s).is_ok()
            }
            (DataType::Timestamp(..), v) => v.is_i64(),
            (DataType::List(item), Value::Array(items)) => {
                items.iter().all(|v| fits(item.data_type(), v))
            }
            (DataType::Struct(fields), Value::Object(object)) => object.iter().all(|(k, v)| {
                fields
                    .find(k)
                    .is_some_and(|(_, field)| fits(field.data_type(), v))
            }),
            _ => false,
        }
    }

    #[test]
    fn every_column_has_a_value_and_every_value_a_column_of_its_type() {
        let row = full_alert_row();
        let schema = alerts_schema();
        for field in schema.fields() {
            let value = row.get(field.name()).unwrap_or(&Value::Null);
            assert!(!value.is_null(), "no value for the column {}", field.name());
        }
        let json_text: Vec<&str> = KEYS
            .iter()
            .filter_map(|key| match key {
                Key::One(name, Kind::Json, _) => Some(*name),
                _ => None,
            })
            .collect();
        for (key, value) in &row {
            let field = schema
                .field_with_name(key)
                .unwrap_or_else(|_| panic!("no column for {key}"));
            let as_text = json_text.contains(&key.as_str()) && value.is_object();
            assert!(
                as_text || fits(field.data_type(), value),
                "{key}: {value} does not fit {}",
                field.data_type()
            );
        }
        let batch = alerts_batch(&[row]).expect("batch");
        assert_eq!(batch.num_rows(), 1);
    }
}
