//! Choosing which records of the lookback window to alert on, and remembering what was alerted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::alert::Alert;
use super::config::RuleConfig;
use crate::exceptions::{Exceptions, Subject};
use crate::results::AnomalyRecord;
use crate::time::EpochMs;

/// What the rule remembers between executions (stored with the job's state).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleState {
    /// Qualifying records not yet alerted: those still inside a future window, and those held
    /// back by the cap (pending).
    pub candidates: Vec<AnomalyRecord>,
    /// Ids of alerted records, with their bucket time, kept while they could be selected again.
    pub alerted: BTreeMap<String, EpochMs>,
    /// Every qualifying record before this time has been alerted or dropped; the next window
    /// starts here if that is earlier than `now − lookback`.
    pub watermark_ms: Option<EpochMs>,
    /// When the rule last ran.
    pub last_execution_ms: Option<EpochMs>,
}

/// What one execution of the rule did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// New alerts, highest score first.
    pub alerts: Vec<Alert>,
    /// Qualifying records left for later executions by the cap.
    pub pending: usize,
    /// Records that qualified but matched an exception.
    pub excepted: usize,
    /// When executions were missed: how far (ms) the window reached back beyond `now − lookback`.
    pub gap_ms: Option<i64>,
}

/// The times of one execution of the rule, named so that none can be passed for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Execution {
    /// When the rule runs.
    pub now: EpochMs,
    /// The end of the last modelled bucket: records before it all exist now.
    pub modelled_until: EpochMs,
    /// How far before `now` the window reaches, ms.
    pub lookback_ms: i64,
}

/// Runs the rule's `execution` over `new_records` (this execution's, new and renormalised, oldest
/// version first) and the remembered candidates.
pub fn evaluate(
    rule: &RuleConfig,
    exceptions: &Exceptions,
    state: &mut RuleState,
    new_records: &[AnomalyRecord],
    execution: Execution,
) -> Outcome {
    let Execution {
        now,
        modelled_until,
        lookback_ms,
    } = execution;
    let qualifies = |r: &AnomalyRecord| !r.is_interim && r.record_score >= rule.anomaly_threshold;
    // A renormalised record replaces its earlier version: the rule decides on current scores, so
    // a record re-scored below the threshold no longer qualifies and one re-scored above it does.
    let latest: BTreeMap<&str, &AnomalyRecord> = new_records
        .iter()
        .map(|r| (r.record_id.as_str(), r))
        .collect();
    state
        .candidates
        .retain(|c| !latest.contains_key(c.record_id.as_str()));
    state.candidates.extend(
        new_records
            .iter()
            .filter(|r| {
                latest
                    .get(r.record_id.as_str())
                    .is_some_and(|l| std::ptr::eq(*l, *r))
                    && qualifies(r)
            })
            .cloned(),
    );

    let mut window_start = now - lookback_ms;
    let mut gap_ms = None;
    if let Some(watermark) = state.watermark_ms.filter(|&w| w < window_start) {
        // Records held back by the cap widen the window too, but only a late execution is a gap.
        let missed = state
            .last_execution_ms
            .is_some_and(|last| now - last > rule.interval.as_millis() as i64);
        gap_ms = missed.then_some(window_start - watermark);
        window_start = watermark;
    }
    let in_window = |r: &AnomalyRecord| r.timestamp_ms >= window_start && r.timestamp_ms <= now;

    let mut excepted = 0;
    let mut selected: Vec<AnomalyRecord> = Vec::new();
    let mut later: Vec<AnomalyRecord> = Vec::new();
    for record in std::mem::take(&mut state.candidates) {
        if state.alerted.contains_key(&record.record_id) {
            continue;
        }
        if !in_window(&record) {
            // Newer than `now` (a backfill's future) waits; older than the window is gone.
            if record.timestamp_ms > now {
                later.push(record);
            }
            continue;
        }
        if exceptions.matches(&Subject::Record(&record)).is_some() {
            excepted += 1;
            continue;
        }
        selected.push(record);
    }
    selected.sort_by(|a, b| {
        b.record_score
            .total_cmp(&a.record_score)
            .then(a.timestamp_ms.cmp(&b.timestamp_ms))
            .then(a.record_id.cmp(&b.record_id))
    });
    let pending: Vec<AnomalyRecord> = selected.split_off(selected.len().min(rule.max_signals));
    let alerts: Vec<Alert> = selected.iter().map(|r| Alert::new(rule, r, now)).collect();
    for record in &selected {
        state
            .alerted
            .insert(record.record_id.clone(), record.timestamp_ms);
    }

    let oldest_pending = pending.iter().map(|r| r.timestamp_ms).min();
    let watermark = oldest_pending.map_or(modelled_until, |p| p.min(modelled_until));
    state.watermark_ms = Some(watermark);
    state.last_execution_ms = Some(now);
    let outcome = Outcome {
        pending: pending.len(),
        alerts,
        excepted,
        gap_ms,
    };
    state.candidates = pending;
    state.candidates.extend(later);
    let keep_from = watermark.min(now - lookback_ms) - lookback_ms;
    state.alerted.retain(|_, t| *t >= keep_from);
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::config::Severity;
    use std::time::Duration;

    const SPAN: i64 = 900_000;

    fn rule(max_signals: usize) -> RuleConfig {
        RuleConfig {
            rule_id: "r".into(),
            name: "Rule".into(),
            anomaly_threshold: 50.0,
            interval: Duration::from_secs(900),
            from: "now-45m".into(),
            max_signals,
            severity: Severity::Low,
            risk_score: 21,
            exceptions: Vec::new(),
            threat: Vec::new(),
        }
    }

    fn record(id: &str, bucket: i64, score: f64) -> AnomalyRecord {
        AnomalyRecord {
            record_id: id.into(),
            ..AnomalyRecord::sample(id, bucket * SPAN, score, &[])
        }
    }

    /// One execution at `now = (bucket + 1) · span + delay`, as a run after bucket `bucket` completes.
    fn execute(
        rule: &RuleConfig,
        state: &mut RuleState,
        records: &[AnomalyRecord],
        bucket: i64,
    ) -> Outcome {
        let now = (bucket + 1) * SPAN + 120_000;
        let execution = Execution {
            now: EpochMs(now),
            modelled_until: EpochMs((bucket + 1) * SPAN),
            lookback_ms: 45 * 60_000,
        };
        evaluate(rule, &Exceptions::default(), state, records, execution)
    }

    #[test]
    fn threshold_and_score_order() {
        let mut state = RuleState::default();
        let out = execute(
            &rule(100),
            &mut state,
            &[
                record("a", 10, 49.9),
                record("b", 10, 60.0),
                record("c", 10, 90.0),
            ],
            10,
        );
        let ids: Vec<&str> = out
            .alerts
            .iter()
            .map(|a| a.record.record_id.as_str())
            .collect();
        assert_eq!(ids, ["c", "b"]);
    }

    #[test]
    fn capped_records_are_alerted_by_later_executions_not_starved() {
        let mut state = RuleState::default();
        let flood: Vec<AnomalyRecord> = (0..5)
            .map(|i| record(&format!("r{i}"), 10, 60.0 + i as f64))
            .collect();
        let first = execute(&rule(2), &mut state, &flood, 10);
        assert_eq!((first.alerts.len(), first.pending), (2, 3));
        let second = execute(&rule(2), &mut state, &[], 11);
        let third = execute(&rule(2), &mut state, &[], 12);
        let mut all: Vec<String> = [first, second, third]
            .iter()
            .flat_map(|o| o.alerts.iter().map(|a| a.record.record_id.clone()))
            .collect();
        all.sort();
        assert_eq!(all, ["r0", "r1", "r2", "r3", "r4"]);
    }

    /// The record `id` of `bucket` renormalised to `score`, as its next version.
    fn rescored(id: &str, bucket: i64, score: f64) -> AnomalyRecord {
        AnomalyRecord {
            result_version: 2,
            initial_record_score: 10.0,
            ..record(id, bucket, score)
        }
    }

    #[test]
    fn a_record_renormalised_above_the_threshold_in_the_lookback_alerts_once() {
        let mut state = RuleState::default();
        assert!(
            execute(&rule(100), &mut state, &[record("a", 10, 10.0)], 10)
                .alerts
                .is_empty()
        );
        let out = execute(&rule(100), &mut state, &[rescored("a", 10, 70.0)], 11);
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(out.alerts[0].record.record_score, 70.0);
        assert_eq!(out.alerts[0].record.initial_record_score, 10.0);
        // Renormalised again, still above: alerted already.
        let again = execute(&rule(100), &mut state, &[rescored("a", 10, 80.0)], 12);
        assert!(again.alerts.is_empty());
        // Outside the lookback a rescore no longer alerts.
        let late = execute(&rule(100), &mut state, &[rescored("b", 10, 90.0)], 14);
        assert!(late.alerts.is_empty());
    }

    #[test]
    fn a_record_renormalised_below_the_threshold_no_longer_alerts() {
        let mut state = RuleState::default();
        // Capped to one alert: "b" (60) waits as a candidate.
        let first = execute(
            &rule(1),
            &mut state,
            &[record("a", 10, 90.0), record("b", 10, 60.0)],
            10,
        );
        assert_eq!((first.alerts.len(), first.pending), (1, 1));
        let out = execute(&rule(1), &mut state, &[rescored("b", 10, 40.0)], 11);
        assert!(out.alerts.is_empty());
        assert_eq!(out.pending, 0);
        // In one execution the last version wins.
        let mut state = RuleState::default();
        let out = execute(
            &rule(100),
            &mut state,
            &[record("c", 10, 60.0), rescored("c", 10, 30.0)],
            10,
        );
        assert!(out.alerts.is_empty());
    }

    #[test]
    fn a_record_is_alerted_once_across_overlapping_windows() {
        let mut state = RuleState::default();
        assert_eq!(
            execute(&rule(100), &mut state, &[record("a", 10, 80.0)], 10)
                .alerts
                .len(),
            1
        );
        assert!(execute(&rule(100), &mut state, &[], 11).alerts.is_empty());
        assert!(execute(&rule(100), &mut state, &[], 12).alerts.is_empty());
    }

    #[test]
    fn missed_executions_widen_the_window_to_the_last_one() {
        let mut state = RuleState::default();
        execute(
            &rule(1),
            &mut state,
            &[record("old", 10, 70.0), record("older", 10, 60.0)],
            10,
        );
        // Six hours of missed executions: "older" was pending and is far outside now-45m.
        let late = execute(&rule(100), &mut state, &[], 34);
        assert_eq!(
            late.alerts
                .iter()
                .map(|a| a.record.record_id.as_str())
                .collect::<Vec<_>>(),
            ["older"]
        );
        assert!(late.gap_ms.is_some_and(|g| g > 5 * 3_600_000));
    }
}
