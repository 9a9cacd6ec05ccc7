//! The alert document Kibana's detection engine writes for a machine-learning rule, field for
//! field, so the NDJSON indexes into `.alerts-security.alerts-<space>` as Kibana's own alerts do
//! and the Security app shows it as one of them.
//!
//! Kibana builds it in three steps, reproduced here: the anomaly record is embedded (its own
//! fields, then each influencer and the by-field as a nested ECS field holding the values, the
//! by-field last), values that fail their ECS type are dropped and `event.*` is copied to
//! `kibana.alert.original_event.*`; then the alert and rule fields are put on top.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, SecondsFormat};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::document::document;
use super::records::RECORD;
use crate::jobs::JobFile;
use crate::results::AnomalyRecord;
use crate::rule::{Alert, MitreEntry, Threat, alert_uuid, mitre_reference};

/// Where the alerts are loaded: it enters every alert id (see `docs/configuration.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertTarget {
    /// Kibana space, `default` by default.
    pub space_id: String,
    /// Concrete index holding the anomaly records, `.ml-anomalies-shared` by default.
    pub results_index: String,
    /// The saved-object id of each rule, by `rule_id`; a rule not listed uses its `rule_id`.
    pub rule_uuids: BTreeMap<String, String>,
    /// `kibana.version`; not written when unset.
    pub kibana_version: Option<String>,
    /// Kibana's `server.publicBaseUrl`: with it, `kibana.alert.url` is written.
    pub public_base_url: Option<String>,
}

impl Default for AlertTarget {
    fn default() -> Self {
        AlertTarget {
            space_id: "default".into(),
            results_index: ".ml-anomalies-shared".into(),
            rule_uuids: BTreeMap::new(),
            kibana_version: None,
            public_base_url: None,
        }
    }
}

impl AlertTarget {
    /// `kibana.alert.rule.uuid` of a rule.
    pub fn rule_uuid<'a>(&'a self, rule_id: &'a str) -> &'a str {
        self.rule_uuids.get(rule_id).map_or(rule_id, String::as_str)
    }

    /// The alias the `_bulk` actions target.
    pub fn alerts_index(&self) -> String {
        format!(".alerts-security.alerts-{}", self.space_id)
    }

    /// `kibana.alert.url`: the alert's page in the Security app, as Kibana links it (the space
    /// in the path unless it is `default`).
    pub fn alert_url(&self, uuid: &str, timestamp: &str) -> Option<String> {
        let base = self.public_base_url.as_deref()?.trim_end_matches('/');
        let space = match self.space_id.as_str() {
            "default" => String::new(),
            other => format!("/s/{other}"),
        };
        Some(format!(
            "{base}{space}/app/security/alerts/redirect/{uuid}?index={}&timestamp={timestamp}",
            self.alerts_index()
        ))
    }

    /// `kibana.alert.uuid` of an alert, Kibana's `_id`.
    pub fn uuid(&self, alert: &Alert) -> String {
        alert_uuid(
            &self.results_index,
            &alert.record.record_id,
            &self.space_id,
            self.rule_uuid(&alert.rule_id),
        )
    }
}

/// Object-valued fields that stay whole: everything else nested is an ECS copy of a record value.
pub const OBJECT_FIELDS: [&str; 2] = ["anomaly_score_explanation", "kibana.alert.rule.parameters"];

/// The alert document of `alert`, made by the rule of `job`, for `target`.
pub fn alert_document(alert: &Alert, job: &JobFile, target: &AlertTarget) -> Map<String, Value> {
    let mut doc = embedded_record(&alert.record);
    if let Some(Value::Object(event)) = doc.get("event") {
        let copies: Vec<(String, Value)> = flatten("kibana.alert.original_event", event);
        doc.extend(copies);
    }
    doc.extend(alert_fields(alert, job, target));
    doc
}

/// Nested objects as dotted keys, `{"a": {"b": 1}}` under `p` as `p.a.b = 1`.
pub fn flatten(prefix: &str, object: &Map<String, Value>) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (key, value) in object {
        let path = format!("{prefix}.{key}");
        match value {
            Value::Object(inner) => out.extend(flatten(&path, inner)),
            other => out.push((path, other.clone())),
        }
    }
    out
}

/// The record as Kibana's ML rule finds it in `.ml-anomalies-*` and embeds it.
fn embedded_record(record: &AnomalyRecord) -> Map<String, Value> {
    let mut doc = document(&RECORD, record);
    let mut all_values = vec![record.by_field_value.clone()];
    all_values.extend(record.partition_field_value.iter().cloned());
    all_values.push(record.job_id.clone());
    for influencer in &record.influencers {
        all_values.extend(influencer.influencer_field_values.iter().cloned());
    }
    doc.insert("all_field_values".into(), json!(all_values));
    let by_field = (
        record.by_field_name.as_str(),
        vec![record.by_field_value.clone()],
    );
    let fields = record
        .influencers
        .iter()
        .map(|i| {
            (
                i.influencer_field_name.as_str(),
                i.influencer_field_values.clone(),
            )
        })
        .chain(std::iter::once(by_field));
    for (field, values) in fields {
        let valid: Vec<Value> = values
            .into_iter()
            .filter(|v| ecs_compliant(field, v))
            .map(Value::String)
            .collect();
        if !valid.is_empty() {
            set_path(&mut doc, field, Value::Array(valid));
        }
    }
    doc
}

/// Whether `value` fits the ECS type of `field`, which Kibana checks before indexing: `ip`
/// fields need an address, `long` fields an integer.
fn ecs_compliant(field: &str, value: &str) -> bool {
    let leaf = field.rsplit('.').next().unwrap_or(field);
    match leaf {
        "ip" => value.parse::<IpAddr>().is_ok(),
        "port" | "pid" | "bytes" | "packets" => value.parse::<i64>().is_ok(),
        _ => true,
    }
}

/// Sets `a.b.c` as nested objects, replacing a value already there (the by-field wins); a
/// path through a non-object value is left alone.
fn set_path(doc: &mut Map<String, Value>, path: &str, value: Value) {
    let mut parts = path.split('.').peekable();
    let mut node = doc;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            node.insert(part.to_string(), value);
            return;
        }
        let child = node
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        match child {
            Value::Object(inner) => node = inner,
            _ => return,
        }
    }
}

fn rfc3339_text(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn rfc3339(ms: i64) -> Value {
    json!(rfc3339_text(ms))
}

/// `kibana.alert.rule.execution.uuid`: Kibana draws one per execution; here it is derived from
/// the rule and the execution time, so a re-run writes the same document.
fn execution_uuid(rule_uuid: &str, now_ms: i64) -> String {
    let digest = Sha256::new()
        .chain_update(format!("{rule_uuid}:{now_ms}").as_bytes())
        .finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn threat_json(threat: &[Threat]) -> Value {
    let entry = |e: &MitreEntry| {
        json!({
            "id": e.id,
            "name": e.name,
            "reference": e.reference.clone().unwrap_or_else(|| mitre_reference(&e.id)),
        })
    };
    let tactics: Vec<Value> = threat
        .iter()
        .map(|t| {
            let mut tactic = json!({ "framework": t.framework, "tactic": entry(&t.tactic) });
            if !t.technique.is_empty() {
                let techniques: Vec<Value> = t
                    .technique
                    .iter()
                    .map(|tech| {
                        let mut technique = entry(&MitreEntry {
                            id: tech.id.clone(),
                            name: tech.name.clone(),
                            reference: tech.reference.clone(),
                        });
                        if !tech.subtechnique.is_empty() {
                            technique["subtechnique"] =
                                tech.subtechnique.iter().map(entry).collect();
                        }
                        technique
                    })
                    .collect();
                tactic["technique"] = Value::Array(techniques);
            }
            tactic
        })
        .collect();
    Value::Array(tactics)
}

/// A threshold as Kibana's rule holds it: `50`, not `50.0`.
fn whole_or_fraction(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// The alert and rule fields Kibana puts on top of the embedded record.
fn alert_fields(alert: &Alert, job: &JobFile, target: &AlertTarget) -> Vec<(String, Value)> {
    let rule = &job.rule;
    let about = &job.kibana_rule;
    let rule_uuid = target.rule_uuid(&rule.rule_id);
    let timestamp = rfc3339_text(alert.timestamp_ms);
    let now = json!(timestamp);
    let interval = humantime::format_duration(rule.interval).to_string();
    let description = about
        .description
        .clone()
        .unwrap_or_else(|| job.job.description.clone());
    let threat = threat_json(&alert.threat);
    let mut parameters = json!({
        "anomaly_threshold": whole_or_fraction(rule.anomaly_threshold),
        "author": about.author,
        "description": description,
        "exceptions_list": [],
        "false_positives": about.false_positives,
        "from": rule.from,
        "immutable": about.immutable,
        "machine_learning_job_id": [job.job.id],
        "max_signals": rule.max_signals,
        "references": about.references,
        "risk_score": rule.risk_score,
        "risk_score_mapping": [],
        "rule_id": rule.rule_id,
        "severity": alert.severity,
        "severity_mapping": [],
        "threat": threat,
        "to": "now",
        "type": "machine_learning",
        "version": about.version,
    });
    let mut fields: Vec<(&str, Value)> = vec![
        ("@timestamp", now.clone()),
        ("kibana.alert.uuid", json!(target.uuid(alert))),
        ("kibana.space_ids", json!([target.space_id])),
        ("event.kind", json!("signal")),
        ("kibana.alert.status", json!("active")),
        ("kibana.alert.workflow_status", json!("open")),
        ("kibana.alert.workflow_tags", json!([])),
        ("kibana.alert.workflow_assignee_ids", json!([])),
        ("kibana.alert.severity", json!(alert.severity)),
        ("kibana.alert.risk_score", json!(alert.risk_score)),
        ("kibana.alert.reason", json!(alert.reason)),
        (
            "kibana.alert.original_time",
            rfc3339(alert.original_time_ms),
        ),
        ("kibana.alert.depth", json!(1)),
        (
            "kibana.alert.ancestors",
            json!([{
                "id": alert.record.record_id,
                "type": "event",
                "index": target.results_index,
                "depth": 0,
            }]),
        ),
        ("kibana.alert.start", now.clone()),
        ("kibana.alert.last_detected", now.clone()),
        ("kibana.alert.intended_timestamp", now.clone()),
        ("kibana.alert.rule.execution.timestamp", now),
        ("kibana.alert.rule.execution.type", json!("scheduled")),
        (
            "kibana.alert.rule.execution.uuid",
            json!(execution_uuid(rule_uuid, alert.timestamp_ms)),
        ),
        ("kibana.alert.rule.uuid", json!(rule_uuid)),
        ("kibana.alert.rule.rule_id", json!(rule.rule_id)),
        ("kibana.alert.rule.name", json!(alert.rule_name)),
        ("kibana.alert.rule.category", json!("Machine Learning Rule")),
        ("kibana.alert.rule.rule_type_id", json!("siem.mlRule")),
        ("kibana.alert.rule.consumer", json!("siem")),
        ("kibana.alert.rule.producer", json!("siem")),
        ("kibana.alert.rule.revision", json!(0)),
        ("kibana.alert.rule.type", json!("machine_learning")),
        ("kibana.alert.rule.description", json!(description)),
        ("kibana.alert.rule.author", json!(about.author)),
        ("kibana.alert.rule.enabled", json!(true)),
        ("kibana.alert.rule.immutable", json!(about.immutable)),
        ("kibana.alert.rule.from", json!(rule.from)),
        ("kibana.alert.rule.to", json!("now")),
        ("kibana.alert.rule.interval", json!(interval)),
        ("kibana.alert.rule.max_signals", json!(rule.max_signals)),
        ("kibana.alert.rule.version", json!(about.version)),
        ("kibana.alert.rule.tags", json!(about.tags)),
        ("kibana.alert.rule.references", json!(about.references)),
        (
            "kibana.alert.rule.false_positives",
            json!(about.false_positives),
        ),
        ("kibana.alert.rule.actions", json!([])),
        ("kibana.alert.rule.exceptions_list", json!([])),
        ("kibana.alert.rule.risk_score_mapping", json!([])),
        ("kibana.alert.rule.severity_mapping", json!([])),
        ("kibana.alert.rule.threat", threat_json(&alert.threat)),
        ("kibana.alert.rule.risk_score", json!(alert.risk_score)),
        ("kibana.alert.rule.severity", json!(alert.severity)),
    ];
    if let Some(license) = &about.license {
        fields.push(("kibana.alert.rule.license", json!(license)));
        parameters["license"] = json!(license);
    }
    if let Some(note) = &about.note {
        fields.push(("kibana.alert.rule.note", json!(note)));
        parameters["note"] = json!(note);
    }
    if let Some(version) = &target.kibana_version {
        fields.push(("kibana.version", json!(version)));
    }
    if let Some(url) = target.alert_url(&target.uuid(alert), &timestamp) {
        fields.push(("kibana.alert.url", json!(url)));
    }
    fields.push(("kibana.alert.rule.parameters", parameters));
    fields
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

#[cfg(test)]
#[path = "kibana_tests.rs"]
mod tests;
