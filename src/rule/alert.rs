//! The alert document, with Kibana's field names.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::config::RuleConfig;
use crate::results::{ALERT_FIELDS, AnomalyRecord};

/// One alert, as Kibana's detection engine writes it for a machine-learning rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// `kibana.alert.uuid`: [`alert_uuid`] of the record and the rule.
    pub uuid: String,
    /// `@timestamp`: the execution time, epoch ms.
    pub timestamp_ms: i64,
    /// `kibana.alert.original_time`: the record's bucket start, epoch ms.
    pub original_time_ms: i64,
    pub rule_id: String,
    pub rule_name: String,
    pub severity: String,
    pub risk_score: u8,
    /// `kibana.alert.reason`: one readable sentence.
    pub reason: String,
    /// `kibana.alert.workflow_status`: `open`.
    pub workflow_status: String,
    /// The MITRE tactics and techniques of the rule, e.g. `TA0011:T1071,T1571`.
    pub threat: Vec<String>,
    /// The record the alert was made from.
    pub record: AnomalyRecord,
    /// The values of each of [`ALERT_FIELDS`], in that order.
    pub field_values: Vec<Vec<String>>,
}

/// `kibana.alert.uuid`: hex SHA-256 of the anomaly record id followed by the rule id, so the
/// same record alerted by the same rule always gets the same id.
pub fn alert_uuid(record_id: &str, rule_id: &str) -> String {
    let digest = Sha256::new()
        .chain_update(record_id.as_bytes())
        .chain_update(rule_id.as_bytes())
        .finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Alert {
    /// The alert of `record` under `rule`, made by the execution at `now_ms`.
    pub fn new(rule: &RuleConfig, record: &AnomalyRecord, now_ms: i64) -> Alert {
        let field_values: Vec<Vec<String>> = ALERT_FIELDS
            .iter()
            .map(|f| record.field_values(f))
            .collect();
        Alert {
            uuid: alert_uuid(&record.record_id, &rule.rule_id),
            timestamp_ms: now_ms,
            original_time_ms: record.timestamp_ms,
            rule_id: rule.rule_id.clone(),
            rule_name: rule.name.clone(),
            severity: rule.severity.as_str().to_string(),
            risk_score: rule.risk_score,
            reason: reason(rule, record),
            workflow_status: "open".to_string(),
            threat: rule
                .threat
                .iter()
                .map(|t| format!("{}:{}", t.tactic_id, t.techniques.join(",")))
                .collect(),
            record: record.clone(),
            field_values,
        }
    }
}

fn reason(rule: &RuleConfig, record: &AnomalyRecord) -> String {
    let list = |field: &str| {
        let values = record.field_values(field);
        match values.len() {
            0 => "-".to_string(),
            1..=3 => values.join(", "),
            n => format!("{} and {} more", values[..3].join(", "), n - 3),
        }
    };
    format!(
        "{}: rare {} {:?} (record score {:.0}) on host {} by process {} as user {}. {}.",
        rule.name,
        record.by_field_name,
        record.by_field_value,
        record.record_score,
        list("host.name"),
        list("process.name"),
        list("user.name"),
        record.explanation,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_is_deterministic_and_rule_specific() {
        let a = alert_uuid("job_record_0_900_0_1_1", "rule-a");
        assert_eq!(a, alert_uuid("job_record_0_900_0_1_1", "rule-a"));
        assert_ne!(a, alert_uuid("job_record_0_900_0_1_1", "rule-b"));
        assert_eq!(a.len(), 64);
    }
}
