//! The new-terms model: Elastic's new-terms rule type, bucket by bucket.
//!
//! Input: every bucket's [`BucketSummary`], in time order, empty ones included. Output: a [`Score`]
//! of 100 for each by-value that carries a term (a combination of the values of the job's
//! `[model] fields`) not seen in the history window before its bucket. The state is each term's
//! last bucket, forgotten once it falls out of the window. See "The new-terms model" in
//! `docs/model.md`.

mod memory;
mod snapshot;
mod terms;

use std::collections::BTreeMap;

use super::{FieldCounts, MemoryReport, ModelParams, Score};
use crate::bucket::BucketSummary;
use crate::time::{DAY_MS, EpochMs};
pub use snapshot::{NewTermsSnapshot, TermEntry};
pub use terms::{DEFAULT_HISTORY_WINDOW, JobFields, Source, TermField, Terms};

/// A new term's record: the lowest probability a record holds, and the top score.
pub const NEW_TERM_PROBABILITY: f64 = f64::MIN_POSITIVE;
pub const NEW_TERM_SCORE: f64 = 100.0;
/// After its first bucket with data the model only learns for this long (or its history window
/// when shorter): a day's cycle, so that its first day's every term does not look new.
pub const LEARNING_MS: i64 = DAY_MS;
/// New terms named in one record's explanation; the rest are counted.
const EXPLAINED_TERMS: usize = 5;

/// The model of one job.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTermsRare {
    terms: Terms,
    bucket_span_s: i64,
    memory_limit_bytes: u64,
    /// Each term held, with the start of the last bucket that had it.
    last_seen: BTreeMap<Vec<String>, i64>,
    /// Start of the first bucket with data.
    learning_since_ms: Option<i64>,
    /// The latest cutoff before which terms were forgotten, once some were.
    forgotten_before_ms: Option<i64>,
    bytes: u64,
    refused_terms: u64,
}

/// A term new in a bucket, and when it was last seen before it.
struct NewTerm<'a> {
    term: &'a [String],
    last_seen_ms: Option<i64>,
}

impl NewTermsRare {
    /// A model that has seen nothing.
    pub fn new(terms: Terms, params: &ModelParams) -> Self {
        NewTermsRare {
            terms,
            bucket_span_s: params.bucket_span_s,
            memory_limit_bytes: params.memory_limit_bytes,
            last_seen: BTreeMap::new(),
            learning_since_ms: None,
            forgotten_before_ms: None,
            bytes: memory::FIXED_BYTES,
            refused_terms: 0,
        }
    }

    /// Learns the terms of one bucket; after the learning period, scores each by-value that
    /// carries a term unseen since the history window before the bucket. Every value is judged
    /// against what came before the bucket, so a term new in it counts for each of its values.
    pub fn update(&mut self, bucket: &BucketSummary) -> Vec<Score> {
        let start = bucket.start_ms.ms();
        if start.rem_euclid(DAY_MS) == 0 {
            self.forget(start);
        }
        if bucket.values.is_empty() {
            return Vec::new();
        }
        let since = *self.learning_since_ms.get_or_insert(start);
        let learning = start - since < LEARNING_MS.min(self.terms.history_window_ms);
        let cutoff = start - self.terms.history_window_ms;
        let per_value: Vec<_> = bucket
            .values
            .iter()
            .map(|(key, value)| (key, self.terms.of(key, value)))
            .collect();
        let before: BTreeMap<&[String], Option<i64>> = per_value
            .iter()
            .flat_map(|(_, terms)| terms.iter())
            .map(|term| (term.as_slice(), self.last_seen.get(term).copied()))
            .collect();
        for term in before.keys() {
            self.observe(term, start);
        }
        if learning {
            return Vec::new();
        }
        per_value
            .iter()
            .filter_map(|(key, terms)| {
                let new: Vec<NewTerm> = terms
                    .iter()
                    .filter(|term| self.last_seen.contains_key(*term))
                    .filter_map(|term| {
                        let last_seen_ms = before.get(term.as_slice()).copied().flatten();
                        let fresh = last_seen_ms.is_none_or(|last| last < cutoff);
                        fresh.then_some(NewTerm { term, last_seen_ms })
                    })
                    .collect();
                (!new.is_empty()).then(|| Score {
                    key: (*key).clone(),
                    probability: NEW_TERM_PROBABILITY,
                    raw_score: NEW_TERM_SCORE,
                    record_score: NEW_TERM_SCORE,
                    typical: NEW_TERM_PROBABILITY,
                    first_seen_ms: start,
                    relative_rarity: 0.0,
                    explanation: Some(self.explain(&new)),
                })
            })
            .collect()
    }

    /// Terms held and the partitions they name (none: a term has no partition of its own).
    pub fn field_counts(&self) -> FieldCounts {
        FieldCounts {
            by_values: self.last_seen.len() as u64,
            partitions: 0,
        }
    }

    /// The estimated state size against the limit.
    pub fn memory(&self) -> MemoryReport {
        MemoryReport::of(self.bytes, self.memory_limit_bytes, self.refused_terms)
    }

    /// Notes `term` in the bucket at `start`; a term not held is admitted if it fits the limit,
    /// else refused (neither learnt nor scored).
    fn observe(&mut self, term: &[String], start: i64) {
        if let Some(last) = self.last_seen.get_mut(term) {
            *last = start;
            return;
        }
        let cost = memory::term_cost(term);
        if self.bytes + cost > self.memory_limit_bytes {
            self.refused_terms += 1;
            return;
        }
        self.bytes += cost;
        self.last_seen.insert(term.to_vec(), start);
    }

    /// Forgets the terms last seen before the history window of the bucket at `start`: they are
    /// new when they come back whether held or not. Done at midnight buckets, so the state holds
    /// at most the window and a day of terms.
    fn forget(&mut self, start: i64) {
        let cutoff = start - self.terms.history_window_ms;
        let before = self.last_seen.len();
        let bytes = &mut self.bytes;
        self.last_seen.retain(|term, &mut last| {
            let keep = last >= cutoff;
            if !keep {
                *bytes -= memory::term_cost(term);
            }
            keep
        });
        if self.last_seen.len() < before {
            self.forgotten_before_ms = Some(cutoff);
        }
    }

    /// `new term of host.name, destination.port unseen in the 7days history window: web-01, 4444
    /// (never seen); ...`.
    fn explain(&self, new: &[NewTerm]) -> String {
        let window = humantime::format_duration(std::time::Duration::from_millis(
            self.terms.history_window_ms as u64,
        ));
        let listed: Vec<String> = new
            .iter()
            .take(EXPLAINED_TERMS)
            .map(|n| {
                let when = match (n.last_seen_ms, self.forgotten_before_ms) {
                    (Some(last), _) => format!("last seen {}", EpochMs(last).minute_utc()),
                    (None, Some(cutoff)) => {
                        format!("not seen since before {}", EpochMs(cutoff).minute_utc())
                    }
                    (None, None) => "never seen".to_string(),
                };
                format!("{} ({when})", n.term.join(", "))
            })
            .collect();
        let more = match new.len().saturating_sub(EXPLAINED_TERMS) {
            0 => String::new(),
            n => format!("; and {n} more"),
        };
        format!(
            "{} new term{} of {} unseen in the {window} history window: {}{more}",
            new.len(),
            if new.len() == 1 { "" } else { "s" },
            self.terms.names().join(", "),
            listed.join("; "),
        )
    }
}

#[cfg(test)]
mod tests;
