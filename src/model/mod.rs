//! Models: per-bucket presence summaries in, scored by-values out.
//!
//! Input: `bucket::BucketSummary`, in time order. Output: one [`Score`] per by-value that deserves
//! an anomaly record. Neighbours: `bucket` feeds it, `results` turns its scores into records.
//! Every model sits behind [`Model`]: update with a bucket, snapshot, restore.

mod config;
pub mod elastic;
pub mod hierarchy;
#[cfg(test)]
pub(crate) mod ml_cpp;
pub mod new_terms;
pub mod population;
mod snapshot_error;

pub use config::{ModelConfig, ModelKind};
pub use snapshot_error::SnapshotError;

use serde::{Deserialize, Serialize};

use crate::bucket::{BucketSummary, SeriesKey};

/// Settings every model gets from its job.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelParams {
    /// Bucket span in seconds.
    pub bucket_span_s: i64,
    /// `model_memory_limit` in bytes.
    pub memory_limit_bytes: u64,
    /// True when the by-field holds ports (`destination.port`), so a model may class them.
    pub by_field_is_port: bool,
}

/// A by-value's score in one bucket, for values the model reports as anomalous.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// The value scored.
    pub key: SeriesKey,
    /// Probability of a value at least this rare, in `[f64::MIN_POSITIVE, 1]`.
    pub probability: f64,
    /// Unnormalised anomaly score, 0–100.
    pub raw_score: f64,
    /// Normalised score, 0–100, when the record was first written.
    pub record_score: f64,
    /// What the model expected (`typical`): for Elastic's `rare`, as ml-cpp writes it, the
    /// value's probability times the predicted presence indicator of 1, i.e. the probability.
    pub typical: f64,
    /// Start of the first bucket in which the value was ever seen, epoch ms.
    pub first_seen_ms: i64,
    /// median(concentrations) / concentration of this value: "seen in 1 of every n buckets".
    pub relative_rarity: f64,
    /// Why it scored as it did, in words, when the model can say more than the numbers.
    pub explanation: Option<String>,
}

/// Whether the model is within its memory limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemoryStatus {
    /// Below the soft limit.
    Ok,
    /// Above 70% of the limit; still learning new values.
    SoftLimit,
    /// At the limit: new by-values are refused, known ones still scored.
    HardLimit,
}

/// The model's memory use, as reported after each execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryReport {
    pub status: MemoryStatus,
    /// Estimated bytes of model state.
    pub bytes: u64,
    /// The limit it is held to.
    pub limit_bytes: u64,
    /// New by-values refused because of the limit, since the model was created.
    pub refused_values: u64,
}

impl MemoryReport {
    /// The report for an estimate of `bytes` against `limit`: `HardLimit` once a value was refused
    /// and use is still above 70% of the limit, `SoftLimit` above 70%, `Ok` otherwise.
    pub fn of(bytes: u64, limit: u64, refused_values: u64) -> MemoryReport {
        let soft = bytes as f64 > SOFT_LIMIT_FRACTION * limit as f64;
        let status = match (soft, refused_values > 0) {
            (true, true) => MemoryStatus::HardLimit,
            (true, false) => MemoryStatus::SoftLimit,
            (false, _) => MemoryStatus::Ok,
        };
        MemoryReport {
            status,
            bytes,
            limit_bytes: limit,
            refused_values,
        }
    }
}

/// What a model holds, counted for `model_size_stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldCounts {
    /// By-field values.
    pub by_values: u64,
    /// Partition-field values (0 without a partition field).
    pub partitions: u64,
}

/// Above this fraction of its limit a model's memory status is `SoftLimit`.
pub const SOFT_LIMIT_FRACTION: f64 = 0.7;

/// A model of one job; one variant per model kind a job file can choose.
#[derive(Debug, Clone, PartialEq)]
pub enum Model {
    Elastic(elastic::ElasticRare),
    Population(population::PopulationRare),
    NewTerms(new_terms::NewTermsRare),
}

/// A model's complete state, as stored in the state directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelSnapshot {
    Elastic(elastic::ElasticSnapshot),
    Population(population::PopulationSnapshot),
    NewTerms(new_terms::NewTermsSnapshot),
}

impl Model {
    /// A fresh model of the configured kind.
    pub fn new(config: &ModelConfig, params: &ModelParams) -> Model {
        match config.kind {
            ModelKind::Elastic => Model::Elastic(elastic::ElasticRare::new(params)),
            ModelKind::Population => Model::Population(population::PopulationRare::new(params)),
            ModelKind::NewTerms => {
                Model::NewTerms(new_terms::NewTermsRare::new(new_terms_of(config), params))
            }
        }
    }

    /// Learns from one bucket (empty buckets included, in time order), then scores the values
    /// present in it; returns the scores that deserve a record.
    pub fn update(&mut self, bucket: &BucketSummary) -> Vec<Score> {
        match self {
            Model::Elastic(m) => m.update(bucket),
            Model::Population(m) => m.update(bucket),
            Model::NewTerms(m) => m.update(bucket),
        }
    }

    /// The probability of every value of `bucket` the model holds, as its last `update` computed
    /// them: the leaves of Elastic's result tree. `None` when the model reports only anomalous
    /// values (the others then count as probability 1).
    pub fn leaf_probabilities(&self, bucket: &BucketSummary) -> Option<Vec<(SeriesKey, f64)>> {
        match self {
            Model::Elastic(m) => Some(m.leaf_probabilities(bucket)),
            Model::Population(_) | Model::NewTerms(_) => None,
        }
    }

    /// The by-field and partition values the model holds.
    pub fn field_counts(&self) -> FieldCounts {
        match self {
            Model::Elastic(m) => m.field_counts(),
            Model::Population(m) => m.field_counts(),
            Model::NewTerms(m) => m.field_counts(),
        }
    }

    /// True when the last update moved the model's normaliser enough that earlier records should
    /// be renormalised (ml-cpp's "big change"); never for models without a normaliser.
    pub fn big_change(&self) -> bool {
        match self {
            Model::Elastic(m) => m.big_change(),
            Model::Population(_) | Model::NewTerms(_) => false,
        }
    }

    /// The normaliser of record scores, for models whose scores are normalised.
    pub fn leaf_normalizer(&self) -> Option<&elastic::Normalizer> {
        match self {
            Model::Elastic(m) => Some(m.normalizer()),
            Model::Population(_) | Model::NewTerms(_) => None,
        }
    }

    /// The model's memory use and limit status.
    pub fn memory(&self) -> MemoryReport {
        match self {
            Model::Elastic(m) => m.memory(),
            Model::Population(m) => m.memory(),
            Model::NewTerms(m) => m.memory(),
        }
    }

    /// The full state, to continue later bit-identically.
    pub fn snapshot(&self) -> ModelSnapshot {
        match self {
            Model::Elastic(m) => ModelSnapshot::Elastic(m.snapshot()),
            Model::Population(m) => ModelSnapshot::Population(m.snapshot()),
            Model::NewTerms(m) => ModelSnapshot::NewTerms(m.snapshot()),
        }
    }

    /// Rebuilds a model from its snapshot, refusing one that does not fit `config`.
    pub fn restore(
        config: &ModelConfig,
        params: &ModelParams,
        snapshot: ModelSnapshot,
    ) -> Result<Model, SnapshotError> {
        match (config.kind, snapshot) {
            (ModelKind::Elastic, ModelSnapshot::Elastic(s)) => {
                Ok(Model::Elastic(elastic::ElasticRare::restore(params, s)?))
            }
            (ModelKind::Population, ModelSnapshot::Population(s)) => Ok(Model::Population(
                population::PopulationRare::restore(params, s)?,
            )),
            (ModelKind::NewTerms, ModelSnapshot::NewTerms(s)) => Ok(Model::NewTerms(
                new_terms::NewTermsRare::restore(new_terms_of(config), params, s)?,
            )),
            (configured, _) => Err(SnapshotError::OtherKind { configured }),
        }
    }
}

/// The terms the job loader resolved for a new-terms job; none (so no term) for a table it did
/// not resolve, which only a hand-built `ModelConfig` can be.
fn new_terms_of(config: &ModelConfig) -> new_terms::Terms {
    config.terms.clone().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_status_follows_the_soft_limit_and_refusals() {
        assert_eq!(MemoryReport::of(70, 100, 0).status, MemoryStatus::Ok);
        assert_eq!(MemoryReport::of(71, 100, 0).status, MemoryStatus::SoftLimit);
        assert_eq!(MemoryReport::of(99, 100, 3).status, MemoryStatus::HardLimit);
    }
}
