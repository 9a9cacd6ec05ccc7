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
use std::time::Duration;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::document::document;
use super::records::RECORD;
use crate::results::AnomalyRecord;
use crate::rule::{
    Alert, KibanaRuleConfig, MitreEntry, RuleConfig, Threat, alert_uuid, mitre_reference,
};
use crate::time::EpochMs;

/// `kibana.version` by default: Kibana writes its own version into every alert, and 9.4 is the
/// release whose rules, `_ea` jobs and alert field maps netrare reproduces.
pub const KIBANA_VERSION: &str = "9.4.0";

/// Where the alerts are loaded: it enters every alert id (see `docs/configuration.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertTarget {
    /// Kibana space, `default` by default.
    pub space_id: String,
    /// Concrete index holding the anomaly records, `.ml-anomalies-shared` by default.
    pub results_index: String,
    /// The saved-object id of each rule, by `rule_id`; a rule not listed uses its `rule_id`.
    pub rule_uuids: BTreeMap<String, String>,
    /// `kibana.version`, [`KIBANA_VERSION`] by default.
    pub kibana_version: String,
    /// Kibana's `server.publicBaseUrl`: with it, `kibana.alert.url` is written.
    pub public_base_url: Option<String>,
}

impl Default for AlertTarget {
    fn default() -> Self {
        AlertTarget {
            space_id: "default".into(),
            results_index: ".ml-anomalies-shared".into(),
            rule_uuids: BTreeMap::new(),
            kibana_version: KIBANA_VERSION.into(),
            public_base_url: None,
        }
    }
}

impl AlertTarget {
    /// `kibana.alert.rule.uuid` of a rule.
    pub fn rule_uuid<'a>(&'a self, rule_id: &'a str) -> &'a str {
        self.rule_uuids.get(rule_id).map_or(rule_id, String::as_str)
    }

    /// The `_bulk` actions' target: Kibana's alias of the space, a data stream on Serverless.
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

/// What a job's alert documents copy from its job file, as Kibana's alerts copy their rule;
/// the alert itself carries the rule's name, severity, risk score and threat.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    /// `machine_learning_job_id`.
    pub job_id: String,
    /// The `[kibana_rule]` description, or else the job's.
    pub description: String,
    pub rule_id: String,
    pub from: String,
    pub interval: Duration,
    pub max_signals: usize,
    pub anomaly_threshold: f64,
    pub risk_score: u8,
    /// `[kibana_rule]`.
    pub kibana: KibanaRuleConfig,
}

impl AlertRule {
    /// What the alerts of the job `job_id`, described as `job_description`, copy from its
    /// `[rule]` and `[kibana_rule]` tables.
    pub fn new(
        job_id: &str,
        job_description: &str,
        rule: &RuleConfig,
        kibana: KibanaRuleConfig,
    ) -> AlertRule {
        AlertRule {
            job_id: job_id.to_string(),
            description: kibana
                .description
                .clone()
                .unwrap_or_else(|| job_description.to_string()),
            rule_id: rule.rule_id.clone(),
            from: rule.from.clone(),
            interval: rule.interval,
            max_signals: rule.max_signals,
            anomaly_threshold: rule.anomaly_threshold,
            risk_score: rule.risk_score,
            kibana,
        }
    }
}

/// The alert document of `alert`, made by the rule `rule`, for `target`.
pub fn alert_document(alert: &Alert, rule: &AlertRule, target: &AlertTarget) -> Map<String, Value> {
    let context = Context::new(alert, rule, target);
    let mut doc = Map::new();
    for key in KEYS {
        match key {
            Key::Record => doc.extend(document(&RECORD, &alert.record)),
            Key::Ecs => ecs_copies(&mut doc, &alert.record),
            Key::One(name, _, value) => {
                let value = value(&context);
                if !value.is_null() {
                    doc.insert(name.to_string(), value);
                }
            }
        }
    }
    doc
}

/// The column type of an alert key in the alerts file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Text,
    Texts,
    Time,
    Long,
    Double,
    Flag,
    /// `kibana.alert.ancestors`.
    Ancestors,
    /// `kibana.alert.rule.threat`.
    Threat,
    /// An object kept whole, as JSON text.
    Json,
}

/// A key, or keys, of the alert document, in the alerts file's column order: the one list both
/// the document and the alerts schema are made from.
pub(super) enum Key {
    /// The anomaly record's document fields, at their places (`Field::in_alert`).
    Record,
    /// One list per [`ALERT_FIELDS`](crate::results::ALERT_FIELDS) field, nested as ECS
    /// (`host: {name: [..]}`), and the `event.*` ones copied to `kibana.alert.original_event.*`.
    Ecs,
    /// One key: its column type and its value, not written when null.
    One(&'static str, Kind, fn(&Context) -> Value),
}

/// Kibana's alert document for a machine-learning rule: the record it embeds, then the alert
/// and rule fields it puts on top.
pub(super) const KEYS: &[Key] = &[
    Key::Record,
    Key::One("all_field_values", Kind::Texts, |c| {
        all_field_values(&c.alert.record)
    }),
    Key::Ecs,
    Key::One("@timestamp", Kind::Time, |c| json!(c.timestamp)),
    Key::One("kibana.alert.uuid", Kind::Text, |c| json!(c.uuid)),
    Key::One("kibana.space_ids", Kind::Texts, |c| {
        json!([c.target.space_id])
    }),
    Key::One("event.kind", Kind::Text, |_| json!("signal")),
    Key::One("kibana.alert.status", Kind::Text, |_| json!("active")),
    Key::One("kibana.alert.workflow_status", Kind::Text, |_| {
        json!("open")
    }),
    Key::One("kibana.alert.workflow_tags", Kind::Texts, |_| json!([])),
    Key::One("kibana.alert.workflow_assignee_ids", Kind::Texts, |_| {
        json!([])
    }),
    Key::One("kibana.alert.severity", Kind::Text, |c| {
        json!(c.alert.severity)
    }),
    Key::One("kibana.alert.risk_score", Kind::Double, |c| {
        json!(c.alert.risk_score)
    }),
    Key::One("kibana.alert.reason", Kind::Text, |c| json!(c.alert.reason)),
    Key::One("kibana.alert.original_time", Kind::Time, |c| {
        json!(EpochMs(c.alert.original_time_ms).document())
    }),
    Key::One("kibana.alert.depth", Kind::Long, |_| json!(1)),
    Key::One("kibana.alert.ancestors", Kind::Ancestors, |c| {
        json!([{
            "id": c.alert.record.record_id,
            "type": "event",
            "index": c.target.results_index,
            "depth": 0,
        }])
    }),
    Key::One("kibana.alert.start", Kind::Time, |c| json!(c.timestamp)),
    Key::One("kibana.alert.last_detected", Kind::Time, |c| {
        json!(c.timestamp)
    }),
    Key::One("kibana.alert.intended_timestamp", Kind::Time, |c| {
        json!(c.timestamp)
    }),
    Key::One("kibana.alert.rule.execution.timestamp", Kind::Time, |c| {
        json!(c.timestamp)
    }),
    Key::One("kibana.alert.rule.execution.type", Kind::Text, |_| {
        json!("scheduled")
    }),
    Key::One("kibana.alert.rule.execution.uuid", Kind::Text, |c| {
        json!(execution_uuid(c.rule_uuid, c.alert.timestamp_ms))
    }),
    Key::One("kibana.alert.rule.uuid", Kind::Text, |c| json!(c.rule_uuid)),
    Key::One("kibana.alert.rule.rule_id", Kind::Text, |c| {
        json!(c.rule.rule_id)
    }),
    Key::One("kibana.alert.rule.name", Kind::Text, |c| {
        json!(c.alert.rule_name)
    }),
    Key::One("kibana.alert.rule.category", Kind::Text, |_| {
        json!("Machine Learning Rule")
    }),
    Key::One("kibana.alert.rule.rule_type_id", Kind::Text, |_| {
        json!("siem.mlRule")
    }),
    Key::One("kibana.alert.rule.consumer", Kind::Text, |_| json!("siem")),
    Key::One("kibana.alert.rule.producer", Kind::Text, |_| json!("siem")),
    Key::One("kibana.alert.rule.revision", Kind::Long, |_| json!(0)),
    Key::One("kibana.alert.rule.type", Kind::Text, |_| {
        json!("machine_learning")
    }),
    Key::One("kibana.alert.rule.description", Kind::Text, |c| {
        json!(c.rule.description)
    }),
    Key::One("kibana.alert.rule.author", Kind::Texts, |c| {
        json!(c.rule.kibana.author)
    }),
    Key::One("kibana.alert.rule.enabled", Kind::Flag, |_| json!(true)),
    Key::One("kibana.alert.rule.immutable", Kind::Flag, |c| {
        json!(c.rule.kibana.immutable)
    }),
    Key::One("kibana.alert.rule.from", Kind::Text, |c| json!(c.rule.from)),
    Key::One("kibana.alert.rule.to", Kind::Text, |_| json!("now")),
    Key::One("kibana.alert.rule.interval", Kind::Text, |c| {
        json!(humantime::format_duration(c.rule.interval).to_string())
    }),
    Key::One("kibana.alert.rule.max_signals", Kind::Long, |c| {
        json!(c.rule.max_signals)
    }),
    Key::One("kibana.alert.rule.version", Kind::Long, |c| {
        json!(c.rule.kibana.version)
    }),
    Key::One("kibana.alert.rule.tags", Kind::Texts, |c| {
        json!(c.rule.kibana.tags)
    }),
    Key::One("kibana.alert.rule.references", Kind::Texts, |c| {
        json!(c.rule.kibana.references)
    }),
    Key::One("kibana.alert.rule.false_positives", Kind::Texts, |c| {
        json!(c.rule.kibana.false_positives)
    }),
    Key::One("kibana.alert.rule.actions", Kind::Texts, |_| json!([])),
    Key::One("kibana.alert.rule.exceptions_list", Kind::Texts, |_| {
        json!([])
    }),
    Key::One("kibana.alert.rule.risk_score_mapping", Kind::Texts, |_| {
        json!([])
    }),
    Key::One("kibana.alert.rule.severity_mapping", Kind::Texts, |_| {
        json!([])
    }),
    Key::One("kibana.alert.rule.threat", Kind::Threat, |c| {
        c.threat.clone()
    }),
    Key::One("kibana.alert.rule.risk_score", Kind::Long, |c| {
        json!(c.alert.risk_score)
    }),
    Key::One("kibana.alert.rule.severity", Kind::Text, |c| {
        json!(c.alert.severity)
    }),
    Key::One("kibana.alert.rule.license", Kind::Text, |c| {
        json!(c.rule.kibana.license)
    }),
    Key::One("kibana.alert.rule.note", Kind::Text, |c| {
        json!(c.rule.kibana.note)
    }),
    Key::One("kibana.version", Kind::Text, |c| {
        json!(c.target.kibana_version)
    }),
    Key::One("kibana.alert.url", Kind::Text, |c| {
        json!(c.target.alert_url(&c.uuid, &c.timestamp))
    }),
    Key::One("kibana.alert.rule.parameters", Kind::Json, parameters),
];

/// What the keys' values are made from: the alert, its rule and the target, and the values
/// several keys share, made once.
pub(super) struct Context<'a> {
    alert: &'a Alert,
    rule: &'a AlertRule,
    target: &'a AlertTarget,
    rule_uuid: &'a str,
    uuid: String,
    timestamp: String,
    threat: Value,
}

impl<'a> Context<'a> {
    fn new(alert: &'a Alert, rule: &'a AlertRule, target: &'a AlertTarget) -> Self {
        Context {
            alert,
            rule,
            target,
            rule_uuid: target.rule_uuid(&rule.rule_id),
            uuid: target.uuid(alert),
            timestamp: EpochMs(alert.timestamp_ms).document(),
            threat: threat_json(&alert.threat),
        }
    }
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

/// `all_field_values`: the by-field, partition and influencer values and the job id.
fn all_field_values(record: &AnomalyRecord) -> Value {
    let mut all_values = vec![record.by_field_value.clone()];
    all_values.extend(record.partition_field_value.iter().cloned());
    all_values.push(record.job_id.clone());
    for influencer in &record.influencers {
        all_values.extend(influencer.influencer_field_values.iter().cloned());
    }
    json!(all_values)
}

/// Each influencer and the by-field of the record as a nested ECS field holding its values, the
/// by-field last so that it wins; then `event.*` copied to `kibana.alert.original_event.*`.
fn ecs_copies(doc: &mut Map<String, Value>, record: &AnomalyRecord) {
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
            set_path(doc, field, Value::Array(valid));
        }
    }
    if let Some(Value::Object(event)) = doc.get("event") {
        let copies: Vec<(String, Value)> = flatten("kibana.alert.original_event", event);
        doc.extend(copies);
    }
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

/// `kibana.alert.rule.parameters`: the rule's parameters in snake case, as Kibana writes them.
fn parameters(c: &Context) -> Value {
    let rule = c.rule;
    let about = &rule.kibana;
    let mut parameters = json!({
        "anomaly_threshold": whole_or_fraction(rule.anomaly_threshold),
        "author": about.author,
        "description": rule.description,
        "exceptions_list": [],
        "false_positives": about.false_positives,
        "from": rule.from,
        "immutable": about.immutable,
        "machine_learning_job_id": [rule.job_id],
        "max_signals": rule.max_signals,
        "references": about.references,
        "risk_score": rule.risk_score,
        "risk_score_mapping": [],
        "rule_id": rule.rule_id,
        "severity": c.alert.severity,
        "severity_mapping": [],
        "threat": c.threat,
        "to": "now",
        "type": "machine_learning",
        "version": about.version,
    });
    if let Some(license) = &about.license {
        parameters["license"] = json!(license);
    }
    if let Some(note) = &about.note {
        parameters["note"] = json!(note);
    }
    parameters
}

#[cfg(test)]
#[path = "kibana_tests.rs"]
pub(super) mod tests;
