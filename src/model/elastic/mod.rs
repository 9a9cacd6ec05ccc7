//! Elastic's `rare` model without an over field (ml-cpp's individual analysis), reproduced.
//!
//! Input: every bucket's [`BucketSummary`], in time order, empty ones included. Output: a [`Score`]
//! for each present by-value whose probability is below 0.035. Per partition, a Dirichlet–multinomial
//! over by-values ([`categories`]) gives each present value the probability of a value at least as
//! rare; [`score`] turns it into a raw score; one leaf [`Normalizer`] per detector turns raw scores
//! into `record_score`. See `docs/model.md` for the algorithm and its numbers.

mod categories;
mod memory;
pub mod normalizer;
mod people;
mod qdigest;
pub(crate) mod score;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{FieldCounts, MemoryReport, ModelParams, Score, SnapshotError};
use crate::bucket::{BucketSummary, SeriesKey};
use crate::time::EpochMs;
use categories::{Categories, decay_factor};
pub use normalizer::{MAX_ANOMALOUS_PROBABILITY, Normalizer, NormalizerSnapshot, raw_score};

/// The model of one job.
#[derive(Debug, Clone, PartialEq)]
pub struct ElasticRare {
    bucket_span_s: i64,
    memory_limit_bytes: u64,
    partitions: BTreeMap<Option<String>, Categories>,
    normalizer: Normalizer,
    /// The last bucket raised some value's maximum score by more than 10%.
    big_change: bool,
    bytes: u64,
    refused_values: u64,
}

/// One partition's categories, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionSnapshot {
    /// The partition-field value; None for jobs without a partition field.
    pub partition: Option<String>,
    pub categories: Categories,
}

/// The model's complete state: restoring it and continuing gives bit-identical scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElasticSnapshot {
    /// Bucket span the state was learnt with, seconds.
    pub bucket_span_s: i64,
    pub partitions: Vec<PartitionSnapshot>,
    pub normalizer: NormalizerSnapshot,
    /// New by-values refused at the memory limit so far.
    pub refused_values: u64,
}

/// A present, accepted value's probability in this bucket.
struct Scored {
    key: SeriesKey,
    probability: f64,
    relative_rarity: f64,
    first_seen_ms: i64,
    person_id: u64,
}

impl ElasticRare {
    /// A model that has seen nothing.
    pub fn new(params: &ModelParams) -> Self {
        ElasticRare {
            bucket_span_s: params.bucket_span_s,
            memory_limit_bytes: params.memory_limit_bytes,
            partitions: BTreeMap::new(),
            normalizer: Normalizer::new(params.bucket_span_s),
            big_change: false,
            bytes: memory::FIXED_BYTES,
            refused_values: 0,
        }
    }

    /// Learns from one bucket, then scores its present values; returns those with p < 0.035.
    /// As ml-cpp does for a final bucket: the normaliser ages by one bucket, learns the raw score
    /// of every present value (0 included) in ml-cpp's order of its people, and only then
    /// normalises.
    pub fn update(&mut self, bucket: &BucketSummary) -> Vec<Score> {
        let accepted = self.learn(bucket);
        let scored = self.probabilities(&accepted);
        self.normalizer.age();
        self.big_change = false;
        for at in self.visiting_order(&scored) {
            let s = &scored[at];
            self.big_change |= self.normalizer.update(&s.key, raw_score(s.probability));
        }
        let scorer = self.normalizer.scorer();
        scored
            .into_iter()
            .filter(|s| s.probability < MAX_ANOMALOUS_PROBABILITY)
            .map(|s| {
                let raw = raw_score(s.probability);
                Score {
                    record_score: scorer.normalize(&s.key, raw),
                    key: s.key,
                    probability: s.probability,
                    raw_score: raw,
                    typical: s.probability,
                    first_seen_ms: s.first_seen_ms,
                    relative_rarity: s.relative_rarity,
                    explanation: None,
                }
            })
            .collect()
    }

    /// Probabilities of the values of `bucket` the model holds, after `update` learnt the bucket:
    /// the same as `update` computed, recomputed from the unchanged categories, in the order
    /// ml-cpp's result tree lists its leaves (see [`ElasticRare::visiting_order`]).
    pub fn leaf_probabilities(&self, bucket: &BucketSummary) -> Vec<(SeriesKey, f64)> {
        let known: Vec<SeriesKey> = bucket
            .values
            .keys()
            .filter(|k| {
                self.partitions
                    .get(&k.partition)
                    .is_some_and(|c| c.values.contains_key(&k.by))
            })
            .cloned()
            .collect();
        let scored = self.probabilities(&known);
        self.visiting_order(&scored)
            .into_iter()
            .map(|at| (scored[at].key.clone(), scored[at].probability))
            .collect()
    }

    /// The order in which ml-cpp visits the bucket's `scored` values (in key order): partition by
    /// partition in value order (its detectors sort by partition value), and within a partition
    /// in the iteration order of its people's ids ([`people`]). Positions into `scored`.
    fn visiting_order(&self, scored: &[Scored]) -> Vec<usize> {
        let mut order = Vec::with_capacity(scored.len());
        let mut start = 0;
        while start < scored.len() {
            let partition = &scored[start].key.partition;
            let end = start
                + scored[start..]
                    .iter()
                    .take_while(|s| &s.key.partition == partition)
                    .count();
            let ids: Vec<u64> = scored[start..end].iter().map(|s| s.person_id).collect();
            order.extend(
                people::visiting_order(&ids)
                    .into_iter()
                    .map(|at| start + at),
            );
            start = end;
        }
        order
    }

    /// By-values and partitions held.
    pub fn field_counts(&self) -> FieldCounts {
        FieldCounts {
            by_values: self
                .partitions
                .values()
                .map(|c| c.values.len() as u64)
                .sum(),
            partitions: self.partitions.keys().filter(|p| p.is_some()).count() as u64,
        }
    }

    /// True when the last bucket raised some value's maximum score by more than 10% (or gave a
    /// value its first positive score): ml-cpp's "big change", after which earlier records are
    /// renormalised.
    pub fn big_change(&self) -> bool {
        self.big_change
    }

    /// The leaf normaliser, to renormalise stored records against.
    pub fn normalizer(&self) -> &Normalizer {
        &self.normalizer
    }

    /// The estimated state size against the limit.
    pub fn memory(&self) -> MemoryReport {
        MemoryReport::of(self.bytes, self.memory_limit_bytes, self.refused_values)
    }

    /// The complete state.
    pub fn snapshot(&self) -> ElasticSnapshot {
        ElasticSnapshot {
            bucket_span_s: self.bucket_span_s,
            partitions: self
                .partitions
                .iter()
                .map(|(partition, categories)| PartitionSnapshot {
                    partition: partition.clone(),
                    categories: categories.clone(),
                })
                .collect(),
            normalizer: self.normalizer.snapshot(),
            refused_values: self.refused_values,
        }
    }

    /// Rebuilds a model from `s`, refusing a snapshot of another bucket span or with inconsistent
    /// state.
    pub fn restore(params: &ModelParams, s: ElasticSnapshot) -> Result<Self, SnapshotError> {
        if s.bucket_span_s != params.bucket_span_s {
            return Err(SnapshotError::BucketSpan {
                snapshot_s: s.bucket_span_s,
                job_s: params.bucket_span_s,
            });
        }
        let mut model = ElasticRare::new(params);
        for mut p in s.partitions {
            p.categories.assign_missing_person_ids();
            p.categories
                .validate()
                .map_err(|problem| SnapshotError::Partition {
                    partition: p.partition.clone(),
                    problem: Box::new(problem),
                })?;
            model.bytes += memory::partition_cost(p.partition.as_deref());
            for value in p.categories.values.keys() {
                model.bytes += memory::value_cost(value, p.partition.as_deref());
            }
            if model
                .partitions
                .insert(p.partition.clone(), p.categories)
                .is_some()
            {
                return Err(SnapshotError::DuplicatePartition(p.partition));
            }
        }
        model.normalizer = Normalizer::restore(params.bucket_span_s, s.normalizer)?;
        model.refused_values = s.refused_values;
        Ok(model)
    }

    /// Counts the bucket's values into their partitions (refusing new ones at the memory limit),
    /// then decays the partitions that had data. Returns the accepted keys, in key order.
    ///
    /// Values are admitted in the order they arrived, as ml-cpp's data gatherer meets them: by
    /// the time of their first event in the bucket, and values whose first events share a
    /// millisecond in key order. So a new value's person id follows its first event.
    fn learn(&mut self, bucket: &BucketSummary) -> Vec<SeriesKey> {
        let mut arrivals: Vec<(&SeriesKey, EpochMs)> = bucket
            .values
            .iter()
            .map(|(key, value)| (key, value.first_event_ms))
            .collect();
        arrivals.sort_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
        let mut accepted = Vec::with_capacity(bucket.values.len());
        for (key, _) in arrivals {
            if self.admit(key) {
                let categories = self.partitions.entry(key.partition.clone()).or_default();
                categories.observe(&key.by, bucket.start_ms.ms());
                accepted.push(key.clone());
            }
        }
        accepted.sort_unstable();
        let factor = decay_factor(self.bucket_span_s);
        let mut decayed: Option<&Option<String>> = None;
        for key in &accepted {
            if decayed != Some(&key.partition) {
                if let Some(categories) = self.partitions.get_mut(&key.partition) {
                    categories.decay(factor);
                }
                decayed = Some(&key.partition);
            }
        }
        accepted
    }

    /// True if `key` is known or fits in the memory limit (and is then charged).
    fn admit(&mut self, key: &SeriesKey) -> bool {
        let partition = self.partitions.get(&key.partition);
        if partition.is_some_and(|c| c.values.contains_key(&key.by)) {
            return true;
        }
        let mut cost = memory::value_cost(&key.by, key.partition.as_deref());
        if partition.is_none() {
            cost += memory::partition_cost(key.partition.as_deref());
        }
        if self.bytes + cost > self.memory_limit_bytes {
            self.refused_values += 1;
            return false;
        }
        self.bytes += cost;
        true
    }

    /// Probabilities of the accepted values, one sorted table per partition.
    fn probabilities(&self, accepted: &[SeriesKey]) -> Vec<Scored> {
        let mut scored = Vec::with_capacity(accepted.len());
        let mut table = None;
        let mut known: rustc_hash::FxHashMap<u64, (f64, f64)> = Default::default();
        for key in accepted {
            let Some(categories) = self.partitions.get(&key.partition) else {
                continue;
            };
            let Some(state) = categories.values.get(&key.by) else {
                continue;
            };
            let fresh = match &table {
                Some((partition, _)) => partition != &key.partition,
                None => true,
            };
            if fresh {
                table = Some((key.partition.clone(), categories.rarity_table()));
                // Values seen in every bucket share one concentration: each is scored once.
                known.clear();
            }
            let Some((_, rarity)) = &table else { continue };
            let (probability, relative_rarity) = *known
                .entry(state.concentration.to_bits())
                .or_insert_with(|| {
                    (
                        rarity.probability(state.concentration),
                        rarity.relative_rarity(state.concentration),
                    )
                });
            scored.push(Scored {
                key: key.clone(),
                probability,
                relative_rarity,
                first_seen_ms: state.first_seen_ms,
                person_id: state.person_id,
            });
        }
        scored
    }
}

#[cfg(test)]
mod order_tests;
#[cfg(test)]
mod tests;
