//! One ECS document (nested objects, dotted keys, or a mix) into an [`EcsEvent`], normalising
//! the drift of older exports: numbers written as strings, `network.direction` spelled
//! `incoming`/`outgoing`/`inbound`/`outbound`, keyword fields as a string or a list,
//! `@timestamp` as RFC 3339 text or epoch milliseconds.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime};
use serde_json::{Map, Value};

use crate::ingest::write::timestamp_in_range;
use crate::store::EcsEvent;

/// A document's leaves by dotted ECS name.
struct Flat<'a>(HashMap<String, &'a Value>);

impl<'a> Flat<'a> {
    /// The leaves of `doc`; a field given twice (flat `destination.port` and nested
    /// `destination{port}`) with different values is an error naming it, since neither can be
    /// preferred safely.
    fn new(doc: &'a Map<String, Value>) -> Result<Self, String> {
        let mut flat = Flat(HashMap::new());
        flat.add("", doc)?;
        Ok(flat)
    }

    fn add(&mut self, prefix: &str, map: &'a Map<String, Value>) -> Result<(), String> {
        for (key, value) in map {
            let name = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            match value {
                Value::Object(inner) => self.add(&name, inner)?,
                Value::Null => {}
                _ => match self.0.get(&name) {
                    Some(&earlier) if earlier != value => {
                        return Err(format!(
                            "{name}: given twice, flat and nested, with different values ({earlier} and {value})"
                        ));
                    }
                    Some(_) => {}
                    None => {
                        self.0.insert(name, value);
                    }
                },
            }
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.0.get(name).copied()
    }

    /// A keyword: a string, a number or bool as text, or the first of a list.
    fn text(&self, name: &str) -> Result<Option<String>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => items.first().map(|v| scalar_text(name, v)).transpose(),
            Some(value) => scalar_text(name, value).map(Some),
        }
    }

    fn lower(&self, name: &str) -> Result<Option<String>, String> {
        Ok(self.text(name)?.map(|s| s.to_ascii_lowercase()))
    }

    /// A list of keywords: one string or a list of strings.
    fn list(&self, name: &str) -> Result<Vec<String>, String> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items.iter().map(|v| scalar_text(name, v)).collect(),
            Some(value) => Ok(vec![scalar_text(name, value)?]),
        }
    }

    /// An integer: a JSON integer, an integral float, or a numeric string.
    fn int(&self, name: &str) -> Result<Option<i64>, String> {
        let bad = |v: &Value| format!("{name}: expected an integer, got {v}");
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        let parsed = match value {
            Value::Number(n) => n.as_i64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                    .map(|f| f as i64)
            }),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        parsed.map(Some).ok_or_else(|| bad(value))
    }

    fn port(&self, name: &str) -> Result<Option<i64>, String> {
        match self.int(name)? {
            Some(p) if !(0..=65_535).contains(&p) => Err(format!("{name}: port {p} out of range")),
            port => Ok(port),
        }
    }
}

fn scalar_text(name: &str, value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("{name}: expected a string, got {other}")),
    }
}

/// `@timestamp` as epoch milliseconds: a number, a numeric string, RFC 3339, or a date-time
/// without zone (taken as UTC).
fn timestamp(flat: &Flat) -> Result<i64, String> {
    let value = flat.get("@timestamp").ok_or("missing @timestamp")?;
    let ms = match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && f.abs() < 9e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => parse_time_text(s.trim()),
        _ => None,
    };
    ms.filter(|&ms| timestamp_in_range(ms))
        .ok_or_else(|| format!("bad @timestamp {value}"))
}

fn parse_time_text(s: &str) -> Option<i64> {
    if let Ok(ms) = s.parse::<i64>() {
        return Some(ms);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(s, format).ok())
        .map(|t| t.and_utc().timestamp_millis())
}

/// ECS `ingress`/`egress` for the spellings older shippers used; others lower-cased as is.
fn direction(raw: String) -> String {
    match raw.to_ascii_lowercase().as_str() {
        "incoming" | "inbound" | "ingress" => "ingress".into(),
        "outgoing" | "outbound" | "egress" => "egress".into(),
        other => other.into(),
    }
}

/// The document as an event; `Ok(None)` if `event.category` does not contain `network`.
pub(crate) fn to_event(doc: &Map<String, Value>) -> Result<Option<EcsEvent>, String> {
    let flat = Flat::new(doc)?;
    let category: Vec<String> = flat
        .list("event.category")?
        .iter()
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if !category.iter().any(|c| c == "network") {
        return Ok(None);
    }
    let module = flat.lower("event.module")?;
    let os_type = flat
        .lower("host.os.type")?
        .or_else(|| (module.as_deref() == Some("auditd")).then(|| "linux".into()));
    Ok(Some(EcsEvent {
        timestamp_ms: timestamp(&flat)?,
        event_category: category,
        event_type: flat
            .list("event.type")?
            .iter()
            .map(|t| t.to_ascii_lowercase())
            .collect(),
        event_action: flat.text("event.action")?,
        event_dataset: flat
            .text("event.dataset")?
            .or(flat.text("data_stream.dataset")?),
        event_module: module,
        event_outcome: flat.lower("event.outcome")?,
        host_name: flat.text("host.name")?,
        host_id: flat.text("host.id")?,
        host_os_type: os_type,
        host_os_family: flat.lower("host.os.family")?,
        process_pid: flat.int("process.pid")?,
        process_name: flat.text("process.name")?,
        process_executable: flat.text("process.executable")?,
        process_args: flat.list("process.args")?,
        process_title: flat.text("process.title")?,
        process_working_directory: flat.text("process.working_directory")?,
        process_parent_pid: flat.int("process.parent.pid")?,
        user_id: flat.text("user.id")?,
        user_name: flat.text("user.name")?,
        source_ip: flat.text("source.ip")?,
        source_port: flat.port("source.port")?,
        destination_ip: flat.text("destination.ip")?,
        destination_port: flat.port("destination.port")?,
        network_direction: flat.text("network.direction")?.map(direction),
        network_transport: flat.lower("network.transport")?,
    }))
}
