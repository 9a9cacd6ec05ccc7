//! The `[rule]` table of a job file: the detection rule that turns its records into alerts.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The longest lookback a rule may have: far beyond Kibana's rules (45 minutes), and bounded so
/// every time computed from it stays in range.
const MAX_LOOKBACK: Duration = Duration::from_secs(90 * 86_400);

/// `[rule]`: Kibana's machine-learning rule settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// The rule's stable id (Elastic's prebuilt rule id).
    pub rule_id: String,
    /// The rule's name, copied into every alert.
    pub name: String,
    /// Minimum `record_score` (0–100) for an alert.
    pub anomaly_threshold: f64,
    /// How often the rule runs, e.g. `"15m"`.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Start of the lookback window as date math, e.g. `"now-45m"`.
    pub from: String,
    /// Most alerts written per execution.
    pub max_signals: usize,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: Severity,
    /// 0–100.
    pub risk_score: u8,
    /// Exception list files (relative to the jobs directory) applied to this rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<String>,
    /// MITRE ATT&CK mapping.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threat: Vec<Threat>,
}

/// A job's rule, checked: its `[rule]` table and the lookback its `from` gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub config: RuleConfig,
    /// The lookback (`from = "now-45m"`).
    pub lookback: Duration,
}

impl Rule {
    /// Checks `config`; the error is the key and what it expects, for a job file's
    /// `jobs::Error::Invalid`.
    pub fn new(config: RuleConfig) -> Result<Rule, (&'static str, String)> {
        config.validate()?;
        let lookback = config.lookback().map_err(|e| ("rule.from", e))?;
        Ok(Rule { config, lookback })
    }
}

/// `[kibana_rule]`: the rest of Kibana's saved rule. None of it changes what is alerted; each
/// alert copies it into its `kibana.alert.rule.*` fields, as Kibana copies its rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KibanaRuleConfig {
    /// What the rule detects. Default: the job's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub author: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// The rule's version. Default 1.
    #[serde(default = "first_version")]
    pub version: i64,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub references: Vec<String>,
    #[serde(default)]
    pub false_positives: Vec<String>,
    /// The investigation guide (Markdown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// True for Elastic's prebuilt rules.
    #[serde(default)]
    pub immutable: bool,
}

impl Default for KibanaRuleConfig {
    fn default() -> Self {
        KibanaRuleConfig {
            description: None,
            author: Vec::new(),
            license: None,
            version: first_version(),
            tags: Vec::new(),
            references: Vec::new(),
            false_positives: Vec::new(),
            note: None,
            immutable: false,
        }
    }
}

fn first_version() -> i64 {
    1
}

/// Alert severity, as Kibana names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// The lower-case name used in alerts.
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// One MITRE ATT&CK tactic and the techniques of it the rule covers, in Kibana's shape (the
/// `[[rule.threat]]` tables of `elastic/detection-rules` read as they are).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threat {
    /// `"MITRE ATT&CK"`.
    #[serde(default = "mitre_attack")]
    pub framework: String,
    /// e.g. `{ id = "TA0011", name = "Command and Control" }`.
    pub tactic: MitreEntry,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub technique: Vec<Technique>,
}

/// A MITRE ATT&CK technique and its sub-techniques.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Technique {
    /// e.g. `"T1205"`.
    pub id: String,
    /// e.g. `"Traffic Signaling"`.
    pub name: String,
    /// Default: the technique's page on attack.mitre.org.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subtechnique: Vec<MitreEntry>,
}

/// A MITRE ATT&CK tactic or sub-technique.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MitreEntry {
    /// e.g. `"TA0011"` or `"T1205.001"`.
    pub id: String,
    pub name: String,
    /// Default: the entry's page on attack.mitre.org.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

fn mitre_attack() -> String {
    "MITRE ATT&CK".to_string()
}

/// The attack.mitre.org page of a tactic (`TA…`) or technique (`T…`, sub-techniques as
/// `T1205/001`), as Elastic's rules give it.
pub fn mitre_reference(id: &str) -> String {
    if id.starts_with("TA") {
        format!("https://attack.mitre.org/tactics/{id}/")
    } else {
        format!(
            "https://attack.mitre.org/techniques/{}/",
            id.replace('.', "/")
        )
    }
}

impl RuleConfig {
    /// The lookback as a duration, from `from = "now-<duration>"`; the error is what a job
    /// file's `jobs::Error::Invalid` says `rule.from` expects.
    fn lookback(&self) -> Result<Duration, String> {
        let rest = self
            .from
            .trim()
            .strip_prefix("now-")
            .ok_or_else(|| format!("{:?} is not of the form \"now-<duration>\"", self.from))?;
        let lookback =
            humantime::parse_duration(rest).map_err(|e| format!("{:?}: {e}", self.from))?;
        if lookback.is_zero() || lookback > MAX_LOOKBACK {
            return Err(format!(
                "{:?}: expected a lookback from 1s to {}",
                self.from,
                humantime::format_duration(MAX_LOOKBACK)
            ));
        }
        Ok(lookback)
    }

    /// Checks values a TOML type cannot; the error is the key and what it expects.
    fn validate(&self) -> Result<(), (&'static str, String)> {
        if !(0.0..=100.0).contains(&self.anomaly_threshold) {
            return Err((
                "rule.anomaly_threshold",
                format!("expected 0 to 100, found {}", self.anomaly_threshold),
            ));
        }
        if self.risk_score > 100 {
            return Err((
                "rule.risk_score",
                format!("expected 0 to 100, found {}", self.risk_score),
            ));
        }
        if self.max_signals == 0 {
            return Err(("rule.max_signals", "expected at least 1".into()));
        }
        if self.interval.is_zero() {
            return Err(("rule.interval", "expected a positive duration".into()));
        }
        self.lookback().map(|_| ()).map_err(|e| ("rule.from", e))
    }
}
