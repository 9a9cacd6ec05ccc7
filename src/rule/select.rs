//! Choosing which records of the lookback window to alert on, and remembering what was alerted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::alert::Alert;
use super::config::RuleConfig;
use super::exceptions::Exceptions;
use crate::results::AnomalyRecord;

/// What the rule remembers between executions (stored with the job's state).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleState {
    /// Qualifying records not yet alerted: those still inside a future window, and those held
    /// back by the cap (pending).
    pub candidates: Vec<AnomalyRecord>,
    /// Ids of alerted records, with their bucket time, kept while they could be selected again.
    pub alerted: BTreeMap<String, i64>,
    /// Every qualifying record before this time (epoch ms) has been alerted or dropped; the next
    /// window starts here if that is earlier than `now − lookback`.
    pub watermark_ms: Option<i64>,
    /// When the rule last ran, epoch ms.
    pub last_execution_ms: Option<i64>,
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

/// Runs the rule at `now_ms` over `new_records` (this execution's) and the remembered candidates.
/// `modelled_until_ms` is the end of the last modelled bucket: records before it all exist now.
pub fn evaluate(
    rule: &RuleConfig,
    lookback_ms: i64,
    exceptions: &Exceptions,
    state: &mut RuleState,
    new_records: &[AnomalyRecord],
    now_ms: i64,
    modelled_until_ms: i64,
) -> Outcome {
    let qualifies = |r: &AnomalyRecord| !r.is_interim && r.record_score >= rule.anomaly_threshold;
    state.candidates.extend(new_records.iter().filter(|r| qualifies(r)).cloned());

    let mut window_start = now_ms - lookback_ms;
    let mut gap_ms = None;
    if let Some(watermark) = state.watermark_ms.filter(|&w| w < window_start) {
        // Records held back by the cap widen the window too, but only a late execution is a gap.
        let missed = state.last_execution_ms.is_some_and(|last| now_ms - last > rule.interval.as_millis() as i64);
        gap_ms = missed.then_some(window_start - watermark);
        window_start = watermark;
    }
    let in_window = |r: &AnomalyRecord| r.timestamp_ms >= window_start && r.timestamp_ms <= now_ms;

    let mut excepted = 0;
    let mut selected: Vec<AnomalyRecord> = Vec::new();
    let mut later: Vec<AnomalyRecord> = Vec::new();
    for record in std::mem::take(&mut state.candidates) {
        if state.alerted.contains_key(&record.record_id) {
            continue;
        }
        if !in_window(&record) {
            // Newer than `now` (a backfill's future) waits; older than the window is gone.
            if record.timestamp_ms > now_ms {
                later.push(record);
            }
            continue;
        }
        if exceptions.matches(&record).is_some() {
            excepted += 1;
            continue;
        }
        selected.push(record);
    }
    selected.sort_by(|a, b| {
        b.record_score.total_cmp(&a.record_score).then(a.timestamp_ms.cmp(&b.timestamp_ms)).then(a.record_id.cmp(&b.record_id))
    });
    let pending: Vec<AnomalyRecord> = selected.split_off(selected.len().min(rule.max_signals));
    let alerts: Vec<Alert> = selected.iter().map(|r| Alert::new(rule, r, now_ms)).collect();
    for record in &selected {
        state.alerted.insert(record.record_id.clone(), record.timestamp_ms);
    }

    let oldest_pending = pending.iter().map(|r| r.timestamp_ms).min();
    let watermark = oldest_pending.map_or(modelled_until_ms, |p| p.min(modelled_until_ms));
    state.watermark_ms = Some(watermark);
    state.last_execution_ms = Some(now_ms);
    let outcome = Outcome { pending: pending.len(), alerts, excepted, gap_ms };
    state.candidates = pending;
    state.candidates.extend(later);
    let keep_from = watermark.min(now_ms - lookback_ms) - lookback_ms;
    state.alerted.retain(|_, t| *t >= keep_from);
    outcome
}
