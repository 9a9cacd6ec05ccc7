//! The alert document checked field by field against Kibana's field maps.

use std::path::Path;

use serde_json::{Map, Value};

use super::*;
use crate::output::alerts::alert_row;
use crate::rule::Alert;

/// `(field, type, array, required)` as Kibana's alert field maps declare them: the framework's
/// `alert_field_map.ts` and `legacy_alert_field_map.ts`, and the security solution's
/// `8.0.0/alerts.ts` and `8.0.0/rules.ts`. Object entries marked "implied" are not in the maps
/// themselves; their dotted sub-fields are.
const FIELD_MAP: &[(&str, &str, bool, bool)] = &[
    ("@timestamp", "date", false, true),
    ("event.kind", "keyword", false, false),
    ("kibana.space_ids", "keyword", true, true),
    ("kibana.version", "version", false, false),
    ("kibana.alert.uuid", "keyword", false, true),
    ("kibana.alert.instance.id", "keyword", false, true),
    ("kibana.alert.status", "keyword", false, true),
    ("kibana.alert.workflow_status", "keyword", false, false),
    ("kibana.alert.workflow_tags", "keyword", true, false),
    ("kibana.alert.workflow_assignee_ids", "keyword", true, false),
    ("kibana.alert.severity", "keyword", false, false),
    ("kibana.alert.risk_score", "float", false, false),
    ("kibana.alert.reason", "keyword", false, false),
    ("kibana.alert.original_time", "date", false, true),
    ("kibana.alert.depth", "long", false, true),
    ("kibana.alert.ancestors", "object", true, true),
    ("kibana.alert.ancestors.depth", "long", false, true),
    ("kibana.alert.ancestors.id", "keyword", false, true),
    ("kibana.alert.ancestors.index", "keyword", false, true),
    ("kibana.alert.ancestors.rule", "keyword", false, false),
    ("kibana.alert.ancestors.type", "keyword", false, true),
    ("kibana.alert.start", "date", false, false),
    ("kibana.alert.last_detected", "date", false, false),
    ("kibana.alert.intended_timestamp", "date", false, false),
    ("kibana.alert.url", "keyword", false, false),
    ("kibana.alert.original_event.module", "keyword", false, true),
    (
        "kibana.alert.original_event.dataset",
        "keyword",
        false,
        true,
    ),
    ("kibana.alert.original_event.action", "keyword", false, true),
    (
        "kibana.alert.original_event.category",
        "keyword",
        true,
        true,
    ),
    ("kibana.alert.original_event.type", "keyword", true, true),
    (
        "kibana.alert.rule.execution.timestamp",
        "date",
        false,
        false,
    ),
    ("kibana.alert.rule.execution.type", "keyword", false, false),
    ("kibana.alert.rule.execution.uuid", "keyword", false, false),
    ("kibana.alert.rule.uuid", "keyword", false, true),
    ("kibana.alert.rule.rule_id", "keyword", false, false),
    ("kibana.alert.rule.name", "keyword", false, true),
    ("kibana.alert.rule.category", "keyword", false, true),
    ("kibana.alert.rule.rule_type_id", "keyword", false, true),
    ("kibana.alert.rule.consumer", "keyword", false, true),
    ("kibana.alert.rule.producer", "keyword", false, true),
    ("kibana.alert.rule.revision", "long", false, true),
    ("kibana.alert.rule.parameters", "flattened", false, false),
    ("kibana.alert.rule.tags", "keyword", true, false),
    ("kibana.alert.rule.type", "keyword", false, false),
    ("kibana.alert.rule.description", "keyword", false, false),
    ("kibana.alert.rule.author", "keyword", false, false),
    ("kibana.alert.rule.enabled", "keyword", false, false),
    ("kibana.alert.rule.from", "keyword", false, false),
    ("kibana.alert.rule.to", "keyword", false, false),
    ("kibana.alert.rule.interval", "keyword", false, false),
    ("kibana.alert.rule.license", "keyword", false, false),
    ("kibana.alert.rule.note", "keyword", false, false),
    ("kibana.alert.rule.references", "keyword", true, false),
    ("kibana.alert.rule.version", "keyword", false, false),
    ("kibana.alert.rule.created_at", "date", false, false),
    ("kibana.alert.rule.updated_at", "date", false, false),
    ("kibana.alert.rule.exceptions_list", "object", true, false),
    ("kibana.alert.rule.false_positives", "keyword", true, true),
    ("kibana.alert.rule.immutable", "keyword", true, false),
    ("kibana.alert.rule.max_signals", "long", true, true),
    ("kibana.alert.rule.threat", "object", true, false),
    ("kibana.alert.rule.threat.framework", "keyword", false, true),
    ("kibana.alert.rule.threat.tactic", "object", false, true),
    ("kibana.alert.rule.threat.tactic.id", "keyword", false, true),
    (
        "kibana.alert.rule.threat.tactic.name",
        "keyword",
        false,
        true,
    ),
    (
        "kibana.alert.rule.threat.tactic.reference",
        "keyword",
        false,
        true,
    ),
    ("kibana.alert.rule.threat.technique", "object", true, false),
    (
        "kibana.alert.rule.threat.technique.id",
        "keyword",
        false,
        true,
    ),
    (
        "kibana.alert.rule.threat.technique.name",
        "keyword",
        false,
        true,
    ),
    (
        "kibana.alert.rule.threat.technique.reference",
        "keyword",
        false,
        true,
    ),
    (
        "kibana.alert.rule.threat.technique.subtechnique",
        "object",
        true,
        false,
    ),
    (
        "kibana.alert.rule.threat.technique.subtechnique.id",
        "keyword",
        false,
        true,
    ),
    (
        "kibana.alert.rule.threat.technique.subtechnique.name",
        "keyword",
        false,
        true,
    ),
    (
        "kibana.alert.rule.threat.technique.subtechnique.reference",
        "keyword",
        false,
        true,
    ),
];

/// Required fields Kibana itself does not write on the machine-learning path (ES does not
/// enforce `required`): no alert instance, and only the `event.*` fields the record has.
const NOT_WRITTEN_BY_KIBANA: &[&str] =
    &["kibana.alert.instance.id", "kibana.alert.original_event."];

/// Fields Kibana writes as arrays although the map says `array: false`: the rule's author list,
/// and the `event.*` copies, which keep the record's value lists.
const WRITTEN_AS_ARRAYS: &[&str] = &["kibana.alert.rule.author", "kibana.alert.original_event."];

/// Fields Kibana writes as one value although the map says `array: true`.
const WRITTEN_AS_SCALARS: &[&str] = &[
    "kibana.alert.rule.max_signals",
    "kibana.alert.rule.immutable",
];

/// Fields Kibana writes that no field map declares: kept in `_source`, not indexed
/// (`build_alert.ts` says so of the rule's risk score and severity).
const UNMAPPED: &[&str] = &[
    "kibana.alert.rule.actions",
    "kibana.alert.rule.risk_score",
    "kibana.alert.rule.risk_score_mapping",
    "kibana.alert.rule.severity",
    "kibana.alert.rule.severity_mapping",
];

/// The ECS types of the embedded influencer and by-field copies.
const ECS: &[(&str, &str)] = &[
    ("host.name", "keyword"),
    ("host.id", "keyword"),
    ("process.name", "keyword"),
    ("user.name", "keyword"),
    ("user.id", "keyword"),
    ("destination.ip", "ip"),
    ("destination.port", "long"),
    ("event.module", "keyword"),
];

/// The anomaly record's own fields, which Kibana keeps as they are.
const RECORD_FIELDS: &[&str] = &[
    "job_id",
    "result_type",
    "timestamp",
    "bucket_span",
    "detector_index",
    "is_interim",
    "probability",
    "multi_bucket_impact",
    "record_score",
    "initial_record_score",
    "function",
    "function_description",
    "by_field_name",
    "by_field_value",
    "partition_field_name",
    "partition_field_value",
    "typical",
    "actual",
    "influencers",
    "anomaly_score_explanation",
    "all_field_values",
];

fn entry(field: &str) -> Option<&'static (&'static str, &'static str, bool, bool)> {
    FIELD_MAP.iter().find(|(f, ..)| *f == field)
}

fn listed(list: &[&str], field: &str) -> bool {
    list.iter()
        .any(|p| field == *p || (p.ends_with('.') && field.starts_with(p)))
}

fn has_type(kind: &str, value: &Value) -> bool {
    match (kind, value) {
        ("keyword" | "version", Value::String(_)) => true,
        // Kibana writes `enabled` as a boolean and `version` as a number into keyword fields.
        ("keyword", Value::Bool(_) | Value::Number(_)) => true,
        ("long", Value::Number(n)) => n.is_i64(),
        ("long", Value::String(s)) => s.parse::<i64>().is_ok(),
        ("float", Value::Number(_)) => true,
        ("date", Value::String(s)) => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
        ("ip", Value::String(s)) => s.parse::<std::net::IpAddr>().is_ok(),
        ("object" | "flattened", Value::Object(_)) => true,
        _ => false,
    }
}

/// Checks `value` of `field`, and inside objects each sub-field, against the maps; returns the
/// problems found.
fn check(field: &str, value: &Value, problems: &mut Vec<String>) {
    let Some(&(_, kind, array, _)) = entry(field) else {
        let ecs = ECS.iter().find(|(f, _)| *f == field);
        match ecs {
            Some((_, kind)) => match value {
                Value::Array(items) if !items.is_empty() => {
                    for item in items.iter().filter(|v| !has_type(kind, v)) {
                        problems.push(format!("{field}: {item} is not ECS {kind}"));
                    }
                }
                other => {
                    problems.push(format!("{field}: expected a list of values, found {other}"))
                }
            },
            None if RECORD_FIELDS.contains(&field) || UNMAPPED.contains(&field) => {}
            None => problems.push(format!("{field}: not a field of Kibana's ML alert")),
        }
        return;
    };
    let items: Vec<&Value> = match value {
        Value::Array(items) => {
            if !array && !listed(WRITTEN_AS_ARRAYS, field) {
                problems.push(format!("{field}: an array where Kibana writes one value"));
            }
            items.iter().collect()
        }
        one => {
            if array && !listed(WRITTEN_AS_SCALARS, field) {
                problems.push(format!("{field}: one value where Kibana writes an array"));
            }
            vec![one]
        }
    };
    for item in items {
        if !has_type(kind, item) {
            problems.push(format!("{field}: {item} is not of type {kind}"));
            continue;
        }
        if let (Value::Object(object), "object") = (item, kind) {
            for (key, sub) in object {
                check(&format!("{field}.{key}"), sub, problems);
            }
            let prefix = format!("{field}.");
            for (sub, ..) in FIELD_MAP.iter().filter(|(f, _, _, required)| {
                *required
                    && f.strip_prefix(&prefix)
                        .is_some_and(|rest| !rest.contains('.'))
            }) {
                if !object.contains_key(&sub[prefix.len()..]) {
                    problems.push(format!("{sub}: required, missing"));
                }
            }
        }
    }
}

fn problems_of(doc: &Map<String, Value>) -> Vec<String> {
    let doc = alert_row(doc);
    let mut problems = Vec::new();
    for (field, value) in &doc {
        check(field, value, &mut problems);
    }
    let top_level_required = FIELD_MAP.iter().filter(|(field, _, _, required)| {
        *required
            && !listed(NOT_WRITTEN_BY_KIBANA, field)
            && !FIELD_MAP.iter().any(|(parent, kind, ..)| {
                *kind == "object" && field.starts_with(&format!("{parent}."))
            })
    });
    for (field, ..) in top_level_required {
        if !doc.contains_key(*field) {
            problems.push(format!("{field}: required, missing"));
        }
    }
    problems
}

/// A job file's tables, its `[rule]` and what its alerts copy, read as `jobs` reads them.
pub(in crate::output) struct JobRules {
    pub tables: toml::Table,
    pub rule: RuleConfig,
    pub alert: AlertRule,
}

/// The [`JobRules`] of a job file's text.
pub(in crate::output) fn job_rules(text: &str) -> JobRules {
    let tables: toml::Table = toml::from_str(text).expect("a job file");
    let rule: RuleConfig = tables["rule"].clone().try_into().expect("[rule]");
    let kibana: KibanaRuleConfig = match tables.get("kibana_rule") {
        Some(table) => table.clone().try_into().expect("[kibana_rule]"),
        None => KibanaRuleConfig::default(),
    };
    let job = |key: &str| {
        tables["job"][key]
            .as_str()
            .expect("a [job] text")
            .to_string()
    };
    let alert = AlertRule::new(&job("id"), &job("description"), &rule, kibana);
    JobRules {
        tables,
        rule,
        alert,
    }
}

fn ea_port_job() -> JobRules {
    job_rules(include_str!(
        "../../jobs/ea/v3_linux_anomalous_network_port_activity_ea.toml"
    ))
}

fn sample_alert(job: &JobRules) -> Alert {
    let record = crate::results::AnomalyRecord::sample(
        "4444",
        1_700_000_100_000,
        80.0,
        &[
            ("host.name", &["web-1"]),
            ("host.id", &["4c1d"]),
            ("process.name", &["nc"]),
            ("user.name", &["root"]),
            ("destination.ip", &["10.0.0.5", "not-an-ip"]),
            ("event.module", &["endpoint"]),
        ],
    );
    Alert::new(&job.rule, &record, EpochMs(1_700_001_000_000))
}

#[test]
fn every_field_has_the_type_kibanas_field_maps_give_it() {
    let job = ea_port_job();
    let doc = alert_document(&sample_alert(&job), &job.alert, &AlertTarget::default());
    let problems = problems_of(&doc);
    assert!(problems.is_empty(), "{problems:#?}\n{doc:#?}");
}

#[test]
fn the_checker_catches_a_missing_or_mistyped_field() {
    let job = ea_port_job();
    let doc = alert_document(&sample_alert(&job), &job.alert, &AlertTarget::default());
    let mut threat_as_text = doc.clone();
    threat_as_text.insert(
        "kibana.alert.rule.threat".into(),
        Value::from(vec!["TA0011:T1071,T1571"]),
    );
    assert!(!problems_of(&threat_as_text).is_empty());
    let mut no_space = doc.clone();
    no_space.remove("kibana.space_ids");
    assert!(!problems_of(&no_space).is_empty());
    let mut bad_depth = doc.clone();
    bad_depth.insert("kibana.alert.depth".into(), Value::from("one"));
    assert!(!problems_of(&bad_depth).is_empty());
    let mut stray = doc;
    stray.insert("record_id".into(), Value::from("x"));
    assert!(!problems_of(&stray).is_empty());
}

#[test]
fn the_record_is_embedded_as_kibana_embeds_it() {
    let job = ea_port_job();
    let target = AlertTarget {
        space_id: "soc".into(),
        public_base_url: Some("https://kibana.example.com/".into()),
        rule_uuids: [(
            "3c7e32e6-6104-46d9-a06e-da0f8b5795a0".to_string(),
            "11111111-2222-3333-4444-555555555555".to_string(),
        )]
        .into(),
        ..AlertTarget::default()
    };
    let alert = sample_alert(&job);
    let doc = alert_document(&alert, &job.alert, &target);
    let get = |path: &str| doc.get(path).cloned().unwrap_or(Value::Null);
    assert_eq!(get("destination")["port"], serde_json::json!(["4444"]));
    assert_eq!(
        get("destination")["ip"],
        serde_json::json!(["10.0.0.5"]),
        "a value failing its ECS type is dropped"
    );
    assert_eq!(get("host")["id"], serde_json::json!(["4c1d"]));
    assert_eq!(get("event")["module"], serde_json::json!(["endpoint"]));
    assert_eq!(
        get("kibana.alert.original_event.module"),
        serde_json::json!(["endpoint"])
    );
    assert_eq!(get("event.kind"), Value::from("signal"));
    assert!(
        !doc.contains_key("host.name"),
        "no flat copies of the ECS fields"
    );
    assert_eq!(get("kibana.space_ids"), serde_json::json!(["soc"]));
    assert_eq!(
        get("kibana.alert.rule.uuid"),
        Value::from("11111111-2222-3333-4444-555555555555")
    );
    assert_eq!(
        get("kibana.alert.uuid"),
        Value::from(alert_uuid(
            ".ml-anomalies-shared",
            &alert.record.record_id,
            "soc",
            "11111111-2222-3333-4444-555555555555"
        ))
    );
    assert_eq!(
        get("kibana.alert.rule.threat")[1]["technique"][0]["subtechnique"][0]["reference"],
        Value::from("https://attack.mitre.org/techniques/T1205/001/")
    );
    assert_eq!(
        get("kibana.alert.rule.parameters")["machine_learning_job_id"],
        serde_json::json!(["v3_linux_anomalous_network_port_activity_ea"])
    );
    assert_eq!(get("@timestamp"), Value::from("2023-11-14T22:30:00.000Z"));
    assert_eq!(
        get("kibana.alert.url"),
        Value::from(format!(
            "https://kibana.example.com/s/soc/app/security/alerts/redirect/{}?index=.alerts-security.alerts-soc&timestamp=2023-11-14T22:30:00.000Z",
            get("kibana.alert.uuid").as_str().unwrap_or_default()
        ))
    );
    assert!(problems_of(&doc).is_empty(), "{:?}", problems_of(&doc));
    assert_eq!(
        get("kibana.alert.original_time"),
        Value::from("2023-11-14T22:15:00.000Z")
    );
}

#[test]
fn the_alerts_of_every_shipped_job_pass_the_field_maps() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dirs = ["jobs", "jobs/ea", "jobs/population", "docs/examples"];
    let mut checked = 0;
    for dir in dirs.iter().map(|d| root.join(d)) {
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .expect("jobs folder")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).expect("a job file");
            let job = job_rules(&text);
            let field = |key: &str| job.tables["job"].get(key).and_then(|v| v.as_str());
            let partition_field_name = field("partition_field_name").map(str::to_string);
            let record = crate::results::AnomalyRecord {
                by_field_name: field("by_field_name").expect("by_field_name").to_string(),
                partition_field_value: partition_field_name.as_ref().map(|_| "h".into()),
                partition_field_name,
                ..crate::results::AnomalyRecord::sample(
                    "22",
                    0,
                    75.0,
                    &[("host.name", &["h"]), ("event.module", &["endpoint"])],
                )
            };
            let alert = Alert::new(&job.rule, &record, EpochMs(900_000));
            let doc = alert_document(&alert, &job.alert, &AlertTarget::default());
            let problems = problems_of(&doc);
            assert!(problems.is_empty(), "{}: {problems:#?}", path.display());
            checked += 1;
        }
    }
    assert_eq!(checked, 7);
}

#[test]
fn every_alert_carries_a_kibana_version_that_leaves_its_ids_alone() {
    let job = ea_port_job();
    let alert = sample_alert(&job);
    let default = alert_document(&alert, &job.alert, &AlertTarget::default());
    assert_eq!(default["kibana.version"], Value::from("9.4.0"));
    let other = AlertTarget {
        kibana_version: "8.19.3".into(),
        ..AlertTarget::default()
    };
    let configured = alert_document(&alert, &job.alert, &other);
    assert_eq!(configured["kibana.version"], Value::from("8.19.3"));
    for id in ["kibana.alert.uuid", "kibana.alert.rule.execution.uuid"] {
        assert_eq!(default[id], configured[id], "{id}");
    }
}
