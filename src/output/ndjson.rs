//! Alerts as Elasticsearch `_bulk` NDJSON, to load them into an Elastic alerts index.

use chrono::{DateTime, SecondsFormat};
use serde_json::{Map, Value, json};

use crate::results::ALERT_FIELDS;
use crate::rule::Alert;

/// The index the `_bulk` actions target.
pub const ALERTS_INDEX: &str = ".alerts-security.alerts-default";

/// `_bulk` text: a `create` action with the alert uuid as `_id` (so loading twice is a no-op),
/// then the document with dotted ECS keys, one line each.
pub fn alerts_ndjson(alerts: &[Alert]) -> String {
    let mut out = String::new();
    for alert in alerts {
        let action = json!({ "create": { "_index": ALERTS_INDEX, "_id": alert.uuid } });
        out.push_str(&action.to_string());
        out.push('\n');
        out.push_str(&Value::Object(document(alert)).to_string());
        out.push('\n');
    }
    out
}

fn rfc3339(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn document(alert: &Alert) -> Map<String, Value> {
    let record = &alert.record;
    let mut doc = Map::new();
    let mut put = |k: &str, v: Value| {
        doc.insert(k.to_string(), v);
    };
    put("@timestamp", json!(rfc3339(alert.timestamp_ms)));
    put("kibana.alert.uuid", json!(alert.uuid));
    put(
        "kibana.alert.original_time",
        json!(rfc3339(alert.original_time_ms)),
    );
    put("kibana.alert.rule.rule_id", json!(alert.rule_id));
    put("kibana.alert.rule.name", json!(alert.rule_name));
    put("kibana.alert.rule.severity", json!(alert.severity));
    put("kibana.alert.rule.risk_score", json!(alert.risk_score));
    put("kibana.alert.rule.threat", json!(alert.threat));
    put("kibana.alert.reason", json!(alert.reason));
    put("kibana.alert.workflow_status", json!(alert.workflow_status));
    put(
        "kibana.alert.ancestors",
        json!([{ "id": record.record_id, "type": "event", "index": ".ml-anomalies-shared", "depth": 0 }]),
    );
    put("event.kind", json!("signal"));
    put("job_id", json!(record.job_id));
    put("record_id", json!(record.record_id));
    put("record_score", json!(record.record_score));
    put("initial_record_score", json!(record.initial_record_score));
    put("probability", json!(record.probability));
    put("typical", json!(record.typical));
    put("actual", json!(record.actual));
    put("by_field_name", json!(record.by_field_name));
    put("by_field_value", json!(record.by_field_value));
    put("influencers", json!(record.influencers));
    for (i, field) in ALERT_FIELDS.iter().enumerate() {
        if !alert.field_values[i].is_empty() {
            put(field, json!(alert.field_values[i]));
        }
    }
    doc
}
