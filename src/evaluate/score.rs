//! Scoring one job's results against the labels: which attacks it caught, which alerts were
//! false, and how high any record scored each labelled scenario.
//!
//! Input: the job's by-field and bucket span, the labels, its alerts and records as [`Hit`]s and
//! the store's host-days. Output: a [`JobEval`]. The matching rule is in `docs/evaluation.md`.

use std::collections::BTreeMap;

use crate::fixtures::{Label, LabelKind};
use crate::results::AnomalyRecord;
use crate::rule::Alert;

/// What scoring needs of an alert or anomaly record.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The job's by-field, e.g. `destination.port`.
    pub by_field_name: String,
    /// The rare value.
    pub by_field_value: String,
    /// The `host.name` values of the record.
    pub hosts: Vec<String>,
    /// Start of the record's bucket (an alert's `original_time`), epoch ms.
    pub bucket_ms: i64,
    pub record_score: f64,
}

impl From<&AnomalyRecord> for Hit {
    fn from(record: &AnomalyRecord) -> Hit {
        Hit {
            by_field_name: record.by_field_name.clone(),
            by_field_value: record.by_field_value.clone(),
            hosts: record.field_values("host.name"),
            bucket_ms: record.timestamp_ms.ms(),
            record_score: record.record_score,
        }
    }
}

/// The job being scored.
#[derive(Debug, Clone, PartialEq)]
pub struct JobUnderTest {
    pub job_id: String,
    /// Its by-field; labels of another field are not applicable to it.
    pub by_field_name: String,
    pub bucket_span_ms: i64,
}

/// Host-days of the evaluated range: the denominator of the false-alert rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostDays {
    /// Distinct `host.name` values in the store.
    pub hosts: usize,
    /// Days evaluated.
    pub days: f64,
}

/// How one labelled scenario fared with one job.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioEval {
    /// The labels' `scenario` (their id when they have none).
    pub scenario: String,
    pub kind: LabelKind,
    /// The highest record score of any record matching one of its labels; `None` when no record did.
    pub max_record_score: Option<f64>,
    /// Alerts matching one of its labels.
    pub alerts: usize,
}

/// One job's results against the labels.
#[derive(Debug, Clone, PartialEq)]
pub struct JobEval {
    pub job: JobUnderTest,
    /// Ids of the attack labels of the job's by-field that an alert matched.
    pub detected: Vec<String>,
    /// Ids of the attack labels of the job's by-field that no alert matched.
    pub missed: Vec<String>,
    /// Alerts matching no attack label (those matching benign labels included).
    pub false_alerts: usize,
    /// Every scenario with a label of the job's by-field, in the labels' order.
    pub scenarios: Vec<ScenarioEval>,
    pub host_days: HostDays,
}

impl JobEval {
    /// Attack labels of the job's by-field.
    pub fn applicable(&self) -> usize {
        self.detected.len() + self.missed.len()
    }

    /// False alerts per 1,000 host-days (0 when there are no host-days).
    pub fn false_per_1000_host_days(&self) -> f64 {
        let host_days = self.host_days.hosts as f64 * self.host_days.days;
        if host_days > 0.0 {
            self.false_alerts as f64 / host_days * 1000.0
        } else {
            0.0
        }
    }
}

/// True when `hit` shows `label`: same field and value, the label's host among its hosts, and
/// its bucket within `[start - bucket_span, end]`.
pub fn matches(label: &Label, hit: &Hit, bucket_span_ms: i64) -> bool {
    hit.by_field_name == label.field.as_str()
        && hit.by_field_value == label.value
        && hit.hosts.contains(&label.host)
        && label.start.timestamp_millis() - bucket_span_ms <= hit.bucket_ms
        && hit.bucket_ms <= label.end.timestamp_millis()
}

/// True when one of `alerts` shows `label`, by [`matches`] in the alert's bucket span.
pub fn caught(label: &Label, alerts: &[Alert]) -> bool {
    alerts
        .iter()
        .any(|a| matches(label, &Hit::from(&a.record), a.record.bucket_span * 1000))
}

/// Scores `job`'s `alerts` and `records` against `labels`.
pub fn evaluate_job(
    job: &JobUnderTest,
    labels: &[Label],
    alerts: &[Hit],
    records: &[Hit],
    host_days: HostDays,
) -> JobEval {
    let applicable: Vec<&Label> = labels
        .iter()
        .filter(|l| l.field.as_str() == job.by_field_name)
        .collect();
    let span = job.bucket_span_ms;
    let (detected, missed): (Vec<&Label>, Vec<&Label>) = applicable
        .iter()
        .filter(|l| l.kind == LabelKind::Attack)
        .partition(|l| alerts.iter().any(|a| matches(l, a, span)));
    let ids = |labels: Vec<&Label>| labels.into_iter().map(|l| l.id.clone()).collect();
    let false_alerts = alerts
        .iter()
        .filter(|a| {
            !applicable
                .iter()
                .any(|l| l.kind == LabelKind::Attack && matches(l, a, span))
        })
        .count();
    JobEval {
        job: job.clone(),
        detected: ids(detected),
        missed: ids(missed),
        false_alerts,
        scenarios: scenarios(&applicable, alerts, records, span),
        host_days,
    }
}

/// Per scenario, in the order of its first label: the highest matching record score and the
/// number of matching alerts.
fn scenarios(labels: &[&Label], alerts: &[Hit], records: &[Hit], span: i64) -> Vec<ScenarioEval> {
    let mut groups: BTreeMap<&str, (usize, Vec<&Label>)> = BTreeMap::new();
    for (i, label) in labels.iter().enumerate() {
        groups
            .entry(label.scenario())
            .or_insert((i, Vec::new()))
            .1
            .push(label);
    }
    let mut ordered: Vec<(&str, (usize, Vec<&Label>))> = groups.into_iter().collect();
    ordered.sort_by_key(|(_, (first, _))| *first);
    ordered
        .into_iter()
        .map(|(scenario, (_, group))| {
            let shows = |hit: &&Hit| group.iter().any(|l| matches(l, hit, span));
            ScenarioEval {
                scenario: scenario.to_string(),
                kind: group[0].kind,
                max_record_score: records
                    .iter()
                    .filter(shows)
                    .map(|r| r.record_score)
                    .reduce(f64::max),
                alerts: alerts.iter().filter(shows).count(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::LabelField;
    use chrono::{DateTime, Utc};

    const SPAN: i64 = 900_000;
    const T0: i64 = 1_793_577_600_000;

    fn time(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    fn label(
        id: &str,
        kind: LabelKind,
        host: &str,
        value: &str,
        start: i64,
        end: i64,
        scenario: Option<&str>,
    ) -> Label {
        Label {
            id: id.into(),
            kind,
            technique: None,
            description: String::new(),
            host: host.into(),
            field: LabelField::DestinationPort,
            value: value.into(),
            start: time(start),
            end: time(end),
            scenario: scenario.map(str::to_string),
        }
    }

    fn hit(value: &str, hosts: &[&str], bucket_ms: i64, score: f64) -> Hit {
        Hit {
            by_field_name: "destination.port".into(),
            by_field_value: value.into(),
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            bucket_ms,
            record_score: score,
        }
    }

    fn job() -> JobUnderTest {
        JobUnderTest {
            job_id: "port".into(),
            by_field_name: "destination.port".into(),
            bucket_span_ms: SPAN,
        }
    }

    #[test]
    fn a_hit_matches_on_field_value_host_and_bucket_window() {
        let l = label(
            "a",
            LabelKind::Attack,
            "web-01",
            "4444",
            T0 + 100_000,
            T0 + 2 * SPAN,
            None,
        );
        assert!(matches(
            &l,
            &hit("4444", &["db-01", "web-01"], T0, 80.0),
            SPAN
        ));
        assert!(matches(
            &l,
            &hit("4444", &["web-01"], T0 + 2 * SPAN, 80.0),
            SPAN
        ));
        assert!(matches(
            &l,
            &hit("4444", &["web-01"], T0 + 100_000 - SPAN, 80.0),
            SPAN
        ));
        assert!(
            !matches(
                &l,
                &hit("4444", &["web-01"], T0 + 99_999 - SPAN, 80.0),
                SPAN
            ),
            "bucket ends before the label starts"
        );
        assert!(
            !matches(&l, &hit("4444", &["web-01"], T0 + 2 * SPAN + 1, 80.0), SPAN),
            "bucket starts after the label ends"
        );
        assert!(
            !matches(&l, &hit("4444", &["web-02"], T0, 80.0), SPAN),
            "another host"
        );
        assert!(
            !matches(&l, &hit("4445", &["web-01"], T0, 80.0), SPAN),
            "another value"
        );
        let other_field = Hit {
            by_field_name: "process.name".into(),
            ..hit("4444", &["web-01"], T0, 80.0)
        };
        assert!(!matches(&l, &other_field, SPAN), "another field");
    }

    #[test]
    fn detections_false_alerts_and_scenario_scores_are_counted() {
        let mut process = label(
            "p",
            LabelKind::Attack,
            "web-01",
            "kworker_upd",
            T0,
            T0,
            None,
        );
        process.field = LabelField::ProcessName;
        let labels = [
            label(
                "beacon",
                LabelKind::Attack,
                "web-01",
                "4444",
                T0,
                T0 + SPAN,
                None,
            ),
            label("curl", LabelKind::Attack, "db-01", "8443", T0, T0, None),
            process,
            label(
                "scan-a",
                LabelKind::Benign,
                "bastion-01",
                "21",
                T0,
                T0,
                Some("scanner"),
            ),
            label(
                "scan-b",
                LabelKind::Benign,
                "bastion-01",
                "23",
                T0,
                T0,
                Some("scanner"),
            ),
        ];
        let alerts = [
            hit("4444", &["web-01"], T0, 90.0),
            hit("4444", &["web-01"], T0 + SPAN, 70.0),
            hit("21", &["bastion-01"], T0, 60.0),
            hit("9999", &["ci-01"], T0, 55.0),
        ];
        let records = [
            alerts[0].clone(),
            hit("8443", &["db-01"], T0, 12.5),
            hit("23", &["bastion-01"], T0, 66.0),
            hit("21", &["bastion-01"], T0, 60.0),
        ];
        let eval = evaluate_job(
            &job(),
            &labels,
            &alerts,
            &records,
            HostDays {
                hosts: 10,
                days: 2.0,
            },
        );
        assert_eq!(
            (
                eval.detected.clone(),
                eval.missed.clone(),
                eval.applicable()
            ),
            (vec!["beacon".to_string()], vec!["curl".to_string()], 2)
        );
        assert_eq!(
            eval.false_alerts, 2,
            "the scanner alert and the unlabelled one"
        );
        assert_eq!(eval.false_per_1000_host_days(), 100.0);
        let scenarios: Vec<(&str, Option<f64>, usize)> = eval
            .scenarios
            .iter()
            .map(|s| (s.scenario.as_str(), s.max_record_score, s.alerts))
            .collect();
        assert_eq!(
            scenarios,
            [
                ("beacon", Some(90.0), 2),
                ("curl", Some(12.5), 0),
                ("scanner", Some(66.0), 1)
            ]
        );
    }

    #[test]
    fn no_host_days_gives_a_zero_rate() {
        let eval = evaluate_job(
            &job(),
            &[],
            &[hit("1", &["a"], T0, 60.0)],
            &[],
            HostDays {
                hosts: 0,
                days: 3.0,
            },
        );
        assert_eq!(
            (
                eval.false_alerts,
                eval.false_per_1000_host_days(),
                eval.applicable()
            ),
            (1, 0.0, 0)
        );
    }
}
