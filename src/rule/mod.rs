//! The rule stage: anomaly records in the lookback window become alerts, once each.
//!
//! Input: `results::AnomalyRecord`s (this execution's, plus those kept from earlier executions in
//! [`RuleState`]). Output: [`Alert`]s. It reproduces Kibana's machine-learning rule (threshold,
//! lookback, cap, deterministic alert ids) and mends two of its holes: duplicates are removed
//! before the cap, so a flood is alerted over several executions instead of starving, and a
//! missed execution widens the window back to where the last one stopped. Neighbours: `results`
//! before, `output` after; it never calls the model.

mod alert;
mod config;
mod select;

pub use alert::{Alert, alert_uuid};
pub use config::{
    KibanaRuleConfig, MitreEntry, Rule, RuleConfig, Severity, Technique, Threat, mitre_reference,
};
pub use select::{Execution, Outcome, RuleState, evaluate};
