//! The Dirichlet–multinomial over by-field values ("categories") of one partition, and the
//! probability of seeing a category at least as rare as a given one.
//!
//! Input: the values present in each bucket. Output: per present value, its probability in
//! `[f64::MIN_POSITIVE, 1]`, its share `c_i / T` and its relative rarity. Each bucket's
//! [`RarityTable`] sorts the concentrations once and precomputes cumulative sums, so scoring a value
//! is a binary search per posterior sample.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use statrs::distribution::{Beta, ContinuousCDF};

use crate::model::SnapshotError;

/// Per-bucket-span decay rate of concentrations at the standard 30-minute bucket.
pub const DECAY_RATE: f64 = 0.0005;
/// The standard bucket length, seconds: decay is derated for shorter buckets.
pub const STANDARD_BUCKET_S: f64 = 1800.0;
/// Posterior samples are stretched by this factor before looking up rarer categories.
const SAMPLE_STRETCH: f64 = 1.05;

/// What the model holds about one by-value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueState {
    /// Decayed count of buckets the value was present in.
    pub concentration: f64,
    /// Start of the first bucket in which it was present, epoch ms.
    pub first_seen_ms: i64,
    /// ml-cpp's person id: 0, 1, 2, … in the order the partition's values were first seen. A
    /// snapshot written before ids were kept has none; restore numbers its values in name order.
    #[serde(default = "unassigned")]
    pub person_id: u64,
}

/// The person id of a value restored from a snapshot that kept none.
const UNASSIGNED: u64 = u64::MAX;

fn unassigned() -> u64 {
    UNASSIGNED
}

/// The categories of one partition.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Categories {
    /// Concentration per by-value.
    pub values: BTreeMap<String, ValueState>,
    /// Sum of the concentrations, decayed alongside them.
    pub total: f64,
}

/// The per-bucket decay factor `exp(-0.0005 · min(1, span / 1800))`.
pub fn decay_factor(bucket_span_s: i64) -> f64 {
    (-DECAY_RATE * (bucket_span_s as f64 / STANDARD_BUCKET_S).min(1.0)).exp()
}

/// Posterior samples taken for a total concentration `total`.
pub fn sample_count(total: f64) -> usize {
    if total <= 100.0 {
        7
    } else if total <= 1000.0 {
        5
    } else if total <= 10_000.0 {
        3
    } else {
        1
    }
}

impl Categories {
    /// Counts one more bucket for `value`. A new value starts at 0 and takes the next person id:
    /// values are never pruned, so ids are never recycled and the next is the count of values.
    pub fn observe(&mut self, value: &str, bucket_start_ms: i64) {
        let next_id = self.values.len() as u64;
        let state = match self.values.get_mut(value) {
            Some(state) => state,
            None => self.values.entry(value.to_string()).or_insert(ValueState {
                concentration: 0.0,
                first_seen_ms: bucket_start_ms,
                person_id: next_id,
            }),
        };
        state.concentration += 1.0;
        self.total += 1.0;
    }

    /// Multiplies every concentration and the total by `factor`.
    pub fn decay(&mut self, factor: f64) {
        for state in self.values.values_mut() {
            state.concentration *= factor;
        }
        self.total *= factor;
    }

    /// Numbers the values in name order when the snapshot kept no person ids (written before
    /// they were kept); leaves them as stored otherwise.
    pub fn assign_missing_person_ids(&mut self) {
        if self.values.values().all(|s| s.person_id == UNASSIGNED) {
            for (id, state) in (0..).zip(self.values.values_mut()) {
                state.person_id = id;
            }
        }
    }

    /// Checks the stored state: finite non-negative concentrations that add up to the total, and
    /// person ids that number the values 0, 1, 2, … each once.
    pub fn validate(&self) -> Result<(), SnapshotError> {
        let mut ids: Vec<u64> = self.values.values().map(|s| s.person_id).collect();
        ids.sort_unstable();
        for (expected, &found) in (0..).zip(&ids) {
            if found != expected {
                return Err(SnapshotError::PersonIds {
                    values: ids.len(),
                    expected,
                    found,
                });
            }
        }
        let mut sum = 0.0;
        for (value, state) in &self.values {
            if !(state.concentration.is_finite() && state.concentration >= 0.0) {
                return Err(SnapshotError::Concentration {
                    value: value.clone(),
                    concentration: state.concentration,
                });
            }
            sum += state.concentration;
        }
        if !self.total.is_finite() || (sum - self.total).abs() > 1e-6 * self.total.max(1.0) {
            return Err(SnapshotError::Total {
                sum,
                total: self.total,
            });
        }
        Ok(())
    }

    /// The sorted view used to score this bucket's values.
    pub fn rarity_table(&self) -> RarityTable {
        RarityTable::new(
            self.values.values().map(|s| s.concentration).collect(),
            self.total,
        )
    }
}

/// Concentrations sorted ascending with tie-shared cumulative probabilities.
#[derive(Debug, Clone, PartialEq)]
pub struct RarityTable {
    total: f64,
    /// Sorted concentrations.
    concentrations: Vec<f64>,
    /// `c_j / T`, ascending.
    p: Vec<f64>,
    /// `Σ_{k: p_k ≤ p_j} p_k`.
    cumulative: Vec<f64>,
}

impl RarityTable {
    /// Sorts `concentrations` once and precomputes the cumulative sums.
    pub fn new(mut concentrations: Vec<f64>, total: f64) -> RarityTable {
        concentrations.sort_by(f64::total_cmp);
        let p: Vec<f64> = concentrations.iter().map(|c| c / total).collect();
        let mut cumulative = Vec::with_capacity(p.len());
        let mut sum = 0.0;
        for &pj in &p {
            sum += pj;
            cumulative.push(sum);
        }
        for j in (0..p.len().saturating_sub(1)).rev() {
            if p[j] == p[j + 1] {
                cumulative[j] = cumulative[j + 1];
            }
        }
        RarityTable {
            total,
            concentrations,
            p,
            cumulative,
        }
    }

    /// median(concentrations) / `concentration`: "seen in 1 of every n buckets" relative to the
    /// typical value.
    pub fn relative_rarity(&self, concentration: f64) -> f64 {
        let n = self.concentrations.len();
        if n == 0 || concentration <= 0.0 {
            return 1.0;
        }
        let median = if n % 2 == 1 {
            self.concentrations[n / 2]
        } else {
            0.5 * (self.concentrations[n / 2 - 1] + self.concentrations[n / 2])
        };
        median / concentration
    }

    /// Probability of a category at least as rare as one with `concentration`, averaged over
    /// representative samples of its Beta posterior, clamped to `[f64::MIN_POSITIVE, 1]`.
    pub fn probability(&self, concentration: f64) -> f64 {
        if self.p.is_empty() {
            return 1.0;
        }
        let samples = posterior_samples(
            concentration,
            self.total - concentration,
            sample_count(self.total),
        );
        let sum: f64 = samples
            .iter()
            .map(|&s| self.rarer_mass(SAMPLE_STRETCH * s))
            .sum();
        (sum / samples.len() as f64).clamp(f64::MIN_POSITIVE, 1.0)
    }

    /// Cumulative probability at frequency `x`, interpolated linearly between the last category at
    /// or below `x` (or the origin) and the first above it (or the last category).
    fn rarer_mass(&self, x: f64) -> f64 {
        let last = self.p.len() - 1;
        let r = self.p.partition_point(|&pj| pj <= x).min(last);
        let (x0, y0) = if r == 0 {
            (0.0, 0.0)
        } else {
            (self.p[r - 1], self.cumulative[r - 1])
        };
        let (x1, y1) = (self.p[r], self.cumulative[r]);
        if x1 <= x0 {
            return y1;
        }
        let weight = ((x - x0) / (x1 - x0)).min(1.0);
        y0 + weight * (y1 - y0)
    }
}

/// `n` representative frequencies from Beta(a, b): the conditional means of `n` equal-probability
/// slices, `mean · n · (F_{a+1,b}(x_q) − F_{a+1,b}(x_{q−1}))` with `x_q` the `q/n` quantiles of
/// Beta(a, b). One sample (the mean) when `n = 1` or either shape is not positive.
pub fn posterior_samples(a: f64, b: f64, n: usize) -> Vec<f64> {
    let mean = if a + b > 0.0 { a / (a + b) } else { 0.0 };
    let (Ok(beta), Ok(shifted)) = (Beta::new(a, b), Beta::new(a + 1.0, b)) else {
        return vec![mean];
    };
    if n <= 1 {
        return vec![mean];
    }
    let mut samples = Vec::with_capacity(n);
    let mut previous = 0.0;
    for q in 1..=n {
        let upper = if q == n {
            1.0
        } else {
            shifted.cdf(beta.inverse_cdf(q as f64 / n as f64))
        };
        samples.push(mean * (upper - previous) * n as f64);
        previous = upper;
    }
    samples
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs()
    }

    #[test]
    fn fresh_value_among_common_ones() {
        // c = [1, 9999.5, 9999.5], T = 20000 > 10000 -> one sample, the mean 1/20000 = 5e-5.
        // p = [5e-5, 0.499975, 0.499975]; Pcum = [5e-5, 1, 1] (the tie shares 1).
        // x = 1.05 · 5e-5 = 5.25e-5; r = 1; weight = (5.25e-5 - 5e-5) / (0.499975 - 5e-5)
        //   = 2.5e-6 / 0.499925 = 5.00075e-6; p = 5e-5 + 5.00075e-6 · (1 - 5e-5) = 5.500050e-5.
        let table = RarityTable::new(vec![9999.5, 1.0, 9999.5], 20_000.0);
        let weight = 2.5e-6 / 0.499925;
        assert!(close(
            table.probability(1.0),
            5e-5 + weight * (1.0 - 5e-5),
            1e-9
        ));
        // A common value: x = 1.05 · 0.499975 > every p -> the last category, Pcum = 1.
        assert_eq!(table.probability(9999.5), 1.0);
    }

    #[test]
    fn ties_share_their_cumulative_probability() {
        // c = [1, 1, 19998], T = 20000: p = [5e-5, 5e-5, 0.9999]; Pcum = [1e-4, 1e-4, 1].
        // x = 5.25e-5, r = 2: weight = 2.5e-6 / (0.9999 - 5e-5) = 2.500375e-6;
        // p = 1e-4 + 2.500375e-6 · (1 - 1e-4) = 1.0250004e-4.
        let table = RarityTable::new(vec![1.0, 19_998.0, 1.0], 20_000.0);
        let weight = 2.5e-6 / (0.9999 - 5e-5);
        assert!(close(
            table.probability(1.0),
            1e-4 + weight * (1.0 - 1e-4),
            1e-9
        ));
    }

    #[test]
    fn a_single_value_has_probability_one() {
        // a = c, b = T - c = 0 -> the mean 1; x = 1.05 > p = 1 -> Pcum = 1.
        let mut categories = Categories::default();
        for bucket in 0..5 {
            categories.observe("only", bucket);
            categories.decay(decay_factor(900));
        }
        assert_eq!(categories.rarity_table().probability(categories.total), 1.0);
    }

    #[test]
    fn sample_count_switches_at_the_thresholds() {
        assert_eq!(sample_count(100.0), 7);
        assert_eq!(sample_count(100.001), 5);
        assert_eq!(sample_count(1000.0), 5);
        assert_eq!(sample_count(1000.001), 3);
        assert_eq!(sample_count(10_000.0), 3);
        assert_eq!(sample_count(10_000.001), 1);
    }

    #[test]
    fn posterior_samples_average_to_the_mean() {
        // The slice increments of F_{a+1,b} add up to 1, so the samples average to a/(a+b).
        for (a, b, n) in [(1.0, 99.0, 7), (3.0, 500.0, 5), (40.0, 9000.0, 3)] {
            let samples = posterior_samples(a, b, n);
            assert_eq!(samples.len(), n);
            let mean = samples.iter().sum::<f64>() / n as f64;
            assert!(close(mean, a / (a + b), 1e-9), "{a} {b}: {mean}");
            assert!(
                samples.windows(2).all(|w| w[0] < w[1]),
                "slices are increasing"
            );
        }
        assert_eq!(posterior_samples(2.0, 0.0, 7), vec![1.0]);
    }

    #[test]
    fn decay_is_derated_for_short_buckets() {
        // 15m: exp(-0.0005 · 0.5) = exp(-0.00025); 1h: capped at exp(-0.0005).
        assert_eq!(decay_factor(900), (-0.00025f64).exp());
        assert_eq!(decay_factor(3600), (-0.0005f64).exp());
    }

    #[test]
    fn relative_rarity_uses_the_median() {
        // Sorted c = [1, 4, 10]: median 4; 4 / 1 = 4 and 4 / 10 = 0.4.
        let table = RarityTable::new(vec![10.0, 1.0, 4.0], 15.0);
        assert_eq!(table.relative_rarity(1.0), 4.0);
        assert_eq!(table.relative_rarity(10.0), 0.4);
    }
}
