//! The new-terms model's complete state as stored, and its checked restore.
//!
//! Input: a [`NewTermsSnapshot`] (serde). Output: a model that continues identically, or a
//! message naming what is inconsistent. The memory estimate is rebuilt from the terms.

use serde::{Deserialize, Serialize};

use super::{NewTermsRare, Terms, memory};
use crate::model::{ModelParams, SnapshotError};

/// One term and the start of the last bucket that had it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermEntry {
    /// One value per field, in the fields' order.
    pub values: Vec<String>,
    pub last_seen_ms: i64,
}

/// The model's complete state: restoring it and continuing gives the same records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTermsSnapshot {
    /// Bucket span the state was learnt with, seconds.
    pub bucket_span_s: i64,
    /// The fields of its terms, in order.
    pub fields: Vec<String>,
    pub history_window_ms: i64,
    /// Start of the first bucket with data.
    pub learning_since_ms: Option<i64>,
    /// The latest cutoff before which terms were forgotten, once some were.
    pub forgotten_before_ms: Option<i64>,
    /// In term order.
    pub terms: Vec<TermEntry>,
    /// New terms refused at the memory limit so far.
    pub refused_terms: u64,
}

impl NewTermsRare {
    /// The complete state.
    pub fn snapshot(&self) -> NewTermsSnapshot {
        NewTermsSnapshot {
            bucket_span_s: self.bucket_span_s,
            fields: self.terms.names(),
            history_window_ms: self.terms.history_window_ms,
            learning_since_ms: self.learning_since_ms,
            forgotten_before_ms: self.forgotten_before_ms,
            terms: self
                .last_seen
                .iter()
                .map(|(values, &last_seen_ms)| TermEntry {
                    values: values.clone(),
                    last_seen_ms,
                })
                .collect(),
            refused_terms: self.refused_terms,
        }
    }

    /// Rebuilds a model of `terms` from `s`, refusing a snapshot of another bucket span, other
    /// fields or history window, or with terms the model could not have held.
    pub fn restore(
        terms: Terms,
        params: &ModelParams,
        s: NewTermsSnapshot,
    ) -> Result<Self, SnapshotError> {
        if s.bucket_span_s != params.bucket_span_s {
            return Err(SnapshotError::BucketSpan {
                snapshot_s: s.bucket_span_s,
                job_s: params.bucket_span_s,
            });
        }
        if s.fields != terms.names() {
            return Err(SnapshotError::TermFields {
                snapshot: s.fields,
                job: terms.names(),
            });
        }
        if s.history_window_ms != terms.history_window_ms {
            return Err(SnapshotError::HistoryWindow {
                snapshot_ms: s.history_window_ms,
                job_ms: terms.history_window_ms,
            });
        }
        let width = terms.fields.len();
        let mut model = NewTermsRare::new(terms, params);
        model.learning_since_ms = s.learning_since_ms;
        model.forgotten_before_ms = s.forgotten_before_ms;
        model.refused_terms = s.refused_terms;
        for TermEntry {
            values,
            last_seen_ms,
        } in s.terms
        {
            if values.len() != width {
                return Err(SnapshotError::TermShape(values));
            }
            if s.learning_since_ms.is_none_or(|since| last_seen_ms < since) {
                return Err(SnapshotError::TermLastSeen {
                    term: values,
                    last_seen_ms,
                });
            }
            model.bytes += memory::term_cost(&values);
            if model.last_seen.contains_key(&values) {
                return Err(SnapshotError::DuplicateTerm(values));
            }
            model.last_seen.insert(values, last_seen_ms);
        }
        Ok(model)
    }
}
