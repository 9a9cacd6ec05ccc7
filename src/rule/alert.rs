//! The alert: which record a rule alerted on, when, and why, as Kibana's detection engine states
//! it for a machine-learning rule.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::config::{RuleConfig, Threat};
use crate::results::{ALERT_FIELDS, AnomalyRecord};
use crate::time::EpochMs;

/// One alert of a machine-learning rule. Where it is loaded (Kibana space, rule saved object)
/// is the output's concern: see [`alert_uuid`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// `@timestamp`: the execution time, epoch ms.
    pub timestamp_ms: i64,
    /// `kibana.alert.original_time`: the record's bucket start, epoch ms.
    pub original_time_ms: i64,
    pub rule_id: String,
    pub rule_name: String,
    pub severity: String,
    pub risk_score: u8,
    /// `kibana.alert.reason`, worded as Kibana words it.
    pub reason: String,
    /// The rule's MITRE ATT&CK mapping.
    pub threat: Vec<Threat>,
    /// The record the alert was made from.
    pub record: AnomalyRecord,
    /// The values of each of [`ALERT_FIELDS`], in that order.
    pub field_values: Vec<Vec<String>>,
}

/// `kibana.alert.uuid`, Kibana's formula: hex SHA-256 of the concrete results index, the record
/// id, the record's `_version` (Kibana's search asks for none, so the text `undefined`) and
/// `<space>:<rule saved-object id>`. The same record alerted by the same rule in the same space
/// always gets the same id, so loading it twice is a no-op.
pub fn alert_uuid(results_index: &str, record_id: &str, space_id: &str, rule_uuid: &str) -> String {
    let digest = Sha256::new()
        .chain_update(results_index.as_bytes())
        .chain_update(record_id.as_bytes())
        .chain_update(b"undefined")
        .chain_update(format!("{space_id}:{rule_uuid}").as_bytes())
        .finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Alert {
    /// The alert of `record` under `rule`, made by the execution at `now`.
    pub fn new(rule: &RuleConfig, record: &AnomalyRecord, now: EpochMs) -> Alert {
        let field_values: Vec<Vec<String>> = ALERT_FIELDS
            .iter()
            .map(|f| record.field_values(f))
            .collect();
        Alert {
            timestamp_ms: now.ms(),
            original_time_ms: record.timestamp_ms.ms(),
            rule_id: rule.rule_id.clone(),
            rule_name: rule.name.clone(),
            severity: rule.severity.as_str().to_string(),
            risk_score: rule.risk_score,
            reason: reason(&rule.name, rule.severity.as_str(), record),
            threat: rule.threat.clone(),
            record: record.clone(),
            field_values,
        }
    }
}

/// Kibana's alert reason: `event with process nc, destination 10.0.0.5:4444, by root on web-1
/// created low alert <rule>.` Each part is left out when the record has no value for it; the
/// values are the record's influencer and by-field values.
fn reason(rule_name: &str, severity: &str, record: &AnomalyRecord) -> String {
    let joined = |field: &str| {
        let values = record.field_values(field);
        (!values.is_empty() && values != ["-"]).then(|| values.join(", "))
    };
    let process = joined("process.name");
    let address = joined("destination.ip");
    let port = joined("destination.port");
    let mut text = String::from("event");
    if process.is_some() || address.is_some() || port.is_some() {
        text.push_str(" with");
    }
    if let Some(process) = process {
        text.push_str(&format!(" process {process},"));
    }
    if let Some(address) = address {
        text.push_str(&format!(" destination {address}"));
    }
    if let Some(port) = port {
        text.push_str(&format!(":{port},"));
    }
    if let Some(user) = joined("user.name") {
        text.push_str(&format!(" by {user}"));
    }
    if let Some(host) = joined("host.name") {
        text.push_str(&format!(" on {host}"));
    }
    format!("{text} created {severity} alert {rule_name}.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_follows_kibanas_formula() {
        // Computed with Kibana's recipe (sha256 of index, record id, "undefined", space:rule).
        let record_id = "v3_linux_anomalous_network_port_activity_record_1700000100000_900_0_-57010440841075555165749155328788668196_4";
        let rule = "11111111-2222-3333-4444-555555555555";
        let id = alert_uuid(".ml-anomalies-shared", record_id, "default", rule);
        assert_eq!(
            id,
            "c7734c813d79c1c78b4d364ca3df9b1fcc8c1a0b20d434923a86391eb1c4abbd"
        );
        assert_ne!(
            id,
            alert_uuid(".ml-anomalies-shared", record_id, "soc", rule)
        );
        assert_ne!(
            id,
            alert_uuid(".ml-anomalies-shared", record_id, "default", "r2")
        );
    }

    #[test]
    fn reason_is_worded_as_kibana_words_it() {
        let record = AnomalyRecord::sample(
            "4444",
            0,
            80.0,
            &[
                ("host.name", &["web-1"]),
                ("process.name", &["nc"]),
                ("user.name", &["root"]),
                ("destination.ip", &["10.0.0.5"]),
            ],
        );
        assert_eq!(
            reason("Unusual Linux Network Port Activity", "low", &record),
            "event with process nc, destination 10.0.0.5:4444, by root on web-1 created low alert Unusual Linux Network Port Activity."
        );
        let bare = AnomalyRecord {
            by_field_name: "process.name".into(),
            by_field_value: "store".into(),
            ..AnomalyRecord::sample(
                "-",
                0,
                80.0,
                &[("user.name", &["root"]), ("host.name", &["mothra"])],
            )
        };
        // Kibana's own test alert for this record reads the same.
        assert_eq!(
            reason("Test ML rule", "critical", &bare),
            "event with process store, by root on mothra created critical alert Test ML rule."
        );
    }
}
