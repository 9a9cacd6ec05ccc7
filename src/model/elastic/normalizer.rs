//! Normalisation of raw scores to 0–100 (ml-cpp's `CAnomalyScore::CNormalizer`), one instance per
//! result level: the leaf level turns raw scores into `record_score`; bucket and influencer
//! levels use the same type.
//!
//! Per final bucket, in this order: [`Normalizer::age`] once (every bucket from the level's first
//! result on, empty buckets included), [`Normalizer::update`] once per result of the level (for
//! the leaf level: every by-value present, raw score 0 included), then [`Scorer::normalize`] on
//! [`Normalizer::scorer`] for the results to write. State: a q-digest of sample high-water marks
//! (a sample is the largest raw score of [`count_per_sample`] consecutive `update` calls,
//! discretised), a finer digest of those above the ~90th percentile, the sample in progress, and a
//! decaying maximum raw score per scope (partition and person value). Renormalisation scores
//! stored probabilities against the current state with [`Scorer::normalize_probability`].

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use statrs::distribution::{Beta, ContinuousCDF};

use super::qdigest::{QDigest, QDigestSnapshot};
use super::score::{
    LARGEST_SIGNIFICANT_PROBABILITY, SMALL_PROBABILITY, anomaly_score, inverse_anomaly_score,
};
use crate::bucket::SeriesKey;
use crate::model::SnapshotError;

/// Size parameter of both q-digests.
pub const DIGEST_K: u64 = 201;
/// Raw scores are stored in the digests as `round(1000 · score)`.
const DISCRETIZATION: f64 = 1000.0;
/// The split between the coarse and the fine digest.
const HIGH_PERCENTILE: f64 = 90.0;
/// The digests age once every this many samples' worth of buckets (ml-cpp's `QUANTILE_DECAY_TIME`).
pub(in crate::model) const QUANTILE_DECAY_TIME: f64 = 20.0;
/// One hour, seconds: `count_per_sample = 3600 / clamp(2 · span, 300, 3600)`.
const HOUR_S: i64 = 3600;
/// The standard bucket length, seconds: maximum scores decay faster for longer buckets.
const STANDARD_BUCKET_S: f64 = 1800.0;
/// Per-bucket decay rate of the digests at the standard bucket length.
const DECAY_RATE: f64 = 0.0005;
/// A scope's maximum score is forgotten after this many buckets without a score.
const FORGET_MAX_SCORE_BUCKETS: f64 = 50.0;
/// A scope's maximum score growing past this factor is a "big change" (ml-cpp's
/// `BIG_CHANGE_FACTOR`).
const BIG_CHANGE_FACTOR: f64 = 1.1;
/// Width of the credible interval on a score's percentile, percent.
const CONFIDENCE: f64 = 70.0;
/// Percentile below which scores count as noise.
const NOISE_PERCENTILE: f64 = 50.0;
/// Weight of the signal above the noise score.
const NOISE_MULTIPLIER: f64 = 1.0;
/// Percentile -> normalised score.
pub const KNOTS: [(f64, f64); 9] = [
    (0.0, 0.0),
    (70.0, 1.0),
    (85.0, 1.2),
    (90.0, 1.5),
    (95.0, 3.0),
    (97.0, 20.0),
    (99.0, 50.0),
    (99.9, 90.0),
    (100.0, 100.0),
];
const MAX_NORMALIZED: f64 = 100.0;
/// The largest raw score (`CTools::anomalyScore` of the smallest probability).
pub(in crate::model) const MAX_RAW_SCORE: f64 = 100.0;
/// Probabilities above this give a raw score of 0 (ml-cpp's maximum anomalous probability).
pub const MAX_ANOMALOUS_PROBABILITY: f64 = 0.035;

/// A scope's decaying maximum raw score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaxScore {
    pub key: SeriesKey,
    pub score: f64,
    /// Buckets since the last score.
    pub buckets_since_score: f64,
}

/// The normaliser's complete state, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormalizerSnapshot {
    pub high_percentile_score: u32,
    pub high_percentile_count: u64,
    /// Buckets (in samples) until the digests next age, in (0, 20].
    pub time_to_quantile_decay: f64,
    /// `update` calls of the sample in progress, below the calls per sample.
    pub count_since_last_sample: u32,
    /// The largest raw score of the sample in progress (0 when none).
    pub sample: f64,
    pub scores: QDigestSnapshot,
    pub high_scores: QDigestSnapshot,
    pub max_scores: Vec<MaxScore>,
}

/// The digests of sample high-water marks: a coarse one of all of them and a fine one of those
/// above the split at the ~90th percentile, with the count at or below the split.
#[derive(Debug, Clone, PartialEq)]
struct Quantiles {
    high_percentile_score: u32,
    high_percentile_count: u64,
    scores: QDigest,
    high_scores: QDigest,
}

/// What normalising needs from the digests that does not depend on the score: the count, the
/// noise score and mass at 0, and the interval of the fraction below the split. Computed once per
/// state, so renormalisation can score many stored results against one state cheaply.
#[derive(Debug, Clone, Copy)]
struct Baseline {
    n: f64,
    noise_score: u32,
    zero_mass: f64,
    below_split_lower: f64,
    below_split_upper: f64,
}

/// Normalises scores against one state of a normaliser (see [`Normalizer::scorer`]).
#[derive(Debug)]
pub struct Scorer<'a> {
    normalizer: &'a Normalizer,
    /// None while the digest is empty (cold start: every score is 0). Made on the first
    /// nonzero score: most of a bucket's nodes score 0 and never need it.
    baseline: OnceCell<Option<Baseline>>,
    /// The noise and percentile ceilings by discretised score, which is all they depend on:
    /// renormalisation scores thousands of stored results against one state.
    digest_ceilings: RefCell<HashMap<u32, f64>>,
}

/// One level's normaliser.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalizer {
    /// `update` calls whose largest raw score makes one digest entry.
    count_per_sample: u32,
    /// Per-bucket decay of the maximum scores is `exp(-2 · max_score_decay)`.
    max_score_decay: f64,
    /// Digest decay rate per ageing.
    digest_decay: f64,
    time_to_quantile_decay: f64,
    count_since_last_sample: u32,
    sample: f64,
    quantiles: Quantiles,
    /// Maximum raw score and buckets since it was last updated, per scope: looked up once per
    /// pivot value of every bucket, so hashed; sorted when stored.
    max_scores: FxHashMap<SeriesKey, (f64, f64)>,
}

fn discrete(score: f64) -> u32 {
    (DISCRETIZATION * score + 0.5) as u32
}

/// Quantile `q` of the Beta(n·p + 1/3, n·(1−p) + 1/3) posterior of a fraction `p` measured on `n`
/// samples (`p` itself at the median or when the posterior is undefined).
fn cdf_quantile(n: f64, p: f64, q: f64) -> f64 {
    if q == 0.5 {
        return p;
    }
    match Beta::new(n * p + 1.0 / 3.0, n * (1.0 - p) + 1.0 / 3.0) {
        Ok(beta) => beta.inverse_cdf(q),
        Err(_) => p,
    }
}

/// The quantiles bounding the 70% credible interval: 0.15 and 0.85.
fn credible_quantiles() -> (f64, f64) {
    ((100.0 - CONFIDENCE) / 200.0, (100.0 + CONFIDENCE) / 200.0)
}

/// Maps a percentile through the knots, linearly between them.
pub fn knot_score(percentile: f64) -> f64 {
    let index = KNOTS.partition_point(|k| k.0 < percentile).max(1);
    match (KNOTS.get(index - 1), KNOTS.get(index)) {
        (Some(left), Some(right)) => {
            left.1 + (right.1 - left.1) * (percentile - left.0) / (right.0 - left.0)
        }
        _ => MAX_NORMALIZED,
    }
}

/// The probability ceiling: `100 · (0.05 + 0.95 · ln(0.05 / p) / ln(500))`.
pub fn probability_ceiling(p: f64) -> f64 {
    let slope = 1.0 / (SMALL_PROBABILITY.ln() - LARGEST_SIGNIFICANT_PROBABILITY.ln());
    MAX_NORMALIZED * (0.95 * slope * (p.ln() - LARGEST_SIGNIFICANT_PROBABILITY.ln()) + 0.05)
}

/// The per-scope ceiling: `100 · min(1.5 r, 0.5 + 0.5 r)` with `r = score / max score`.
pub fn max_score_ceiling(score: f64, max_score: f64) -> f64 {
    let ratio = score / max_score;
    MAX_NORMALIZED * (1.5 * ratio).min(0.5 + 0.5 * ratio)
}

/// The raw score the normaliser sees for a probability: 0 above the maximum anomalous
/// probability, `CTools::anomalyScore` below.
pub fn raw_score(probability: f64) -> f64 {
    if probability > MAX_ANOMALOUS_PROBABILITY {
        0.0
    } else {
        anomaly_score(probability)
    }
}

/// `3600 / clamp(2 · span, 300, 3600)` (integer division): 2 at 15 minutes.
pub fn count_per_sample(bucket_span_s: i64) -> u32 {
    (HOUR_S / (2 * bucket_span_s).clamp(300, HOUR_S)) as u32
}

impl Normalizer {
    /// An empty normaliser for buckets of `bucket_span_s` seconds.
    pub fn new(bucket_span_s: i64) -> Normalizer {
        let ratio = bucket_span_s as f64 / STANDARD_BUCKET_S;
        let decay = DECAY_RATE * ratio.min(1.0);
        Normalizer {
            count_per_sample: count_per_sample(bucket_span_s),
            max_score_decay: decay * ratio.max(1.0),
            digest_decay: decay,
            time_to_quantile_decay: QUANTILE_DECAY_TIME,
            count_since_last_sample: 0,
            sample: 0.0,
            quantiles: Quantiles::new(decay),
            max_scores: Default::default(),
        }
    }

    /// Advances one final bucket (ml-cpp's `propagateForwardByTime(1)`): ages the maximum scores,
    /// forgetting those idle for more than 50 buckets, and ages the digests once every
    /// `20 · count_per_sample` buckets (40 at 15 minutes).
    pub fn age(&mut self) {
        let alpha = (-2.0 * self.max_score_decay).exp();
        self.max_scores.retain(|_, (score, since)| {
            *score *= alpha;
            *since += 1.0;
            *since <= FORGET_MAX_SCORE_BUCKETS
        });
        self.time_to_quantile_decay -= 1.0 / f64::from(self.count_per_sample);
        if self.time_to_quantile_decay <= 0.0 {
            let time =
                ((QUANTILE_DECAY_TIME - self.time_to_quantile_decay) / QUANTILE_DECAY_TIME).floor();
            self.quantiles.age(time);
            self.time_to_quantile_decay +=
                QUANTILE_DECAY_TIME + (-self.time_to_quantile_decay / QUANTILE_DECAY_TIME).floor();
        }
    }

    /// Learns one result's raw score in `scope` (ml-cpp's `updateQuantiles`): raises the scope's
    /// maximum, and every `count_per_sample` calls adds the largest raw score of those calls to
    /// the digests. True when the scope's maximum grew by more than 10% (any first positive score
    /// does): a "big change" after which earlier results are renormalised.
    pub fn update(&mut self, scope: &SeriesKey, score: f64) -> bool {
        let entry = match self.max_scores.get_mut(scope) {
            Some(entry) => entry,
            None => self.max_scores.entry(scope.clone()).or_insert((0.0, 0.0)),
        };
        let old_max = entry.0;
        entry.0 = old_max.max(score);
        entry.1 = 0.0;
        let big_change = entry.0 > BIG_CHANGE_FACTOR * old_max;
        self.sample = self.sample.max(score);
        self.count_since_last_sample += 1;
        if self.count_since_last_sample >= self.count_per_sample {
            self.quantiles.add(discrete(self.sample));
            self.count_since_last_sample = 0;
            self.sample = 0.0;
        }
        big_change
    }

    /// A scorer for the current state, to normalise many scores against it.
    pub fn scorer(&self) -> Scorer<'_> {
        Scorer {
            normalizer: self,
            baseline: OnceCell::new(),
            digest_ceilings: RefCell::new(HashMap::new()),
        }
    }

    /// The state as stored.
    pub fn snapshot(&self) -> NormalizerSnapshot {
        NormalizerSnapshot {
            high_percentile_score: self.quantiles.high_percentile_score,
            high_percentile_count: self.quantiles.high_percentile_count,
            time_to_quantile_decay: self.time_to_quantile_decay,
            count_since_last_sample: self.count_since_last_sample,
            sample: self.sample,
            scores: self.quantiles.scores.snapshot(),
            high_scores: self.quantiles.high_scores.snapshot(),
            max_scores: {
                let mut scopes: Vec<MaxScore> = self
                    .max_scores
                    .iter()
                    .map(|(key, &(score, since))| MaxScore {
                        key: key.clone(),
                        score,
                        buckets_since_score: since,
                    })
                    .collect();
                scopes.sort_unstable_by(|a, b| a.key.cmp(&b.key));
                scopes
            },
        }
    }

    /// Rebuilds a normaliser for `bucket_span_s`, validating the digests, counts and sample.
    pub fn restore(bucket_span_s: i64, s: NormalizerSnapshot) -> Result<Normalizer, SnapshotError> {
        let mut normalizer = Normalizer::new(bucket_span_s);
        if s.count_since_last_sample >= normalizer.count_per_sample {
            return Err(SnapshotError::SampleCount {
                count: s.count_since_last_sample,
                per_sample: normalizer.count_per_sample,
            });
        }
        if !(0.0..=MAX_RAW_SCORE).contains(&s.sample) {
            return Err(SnapshotError::SampleMaximum(s.sample));
        }
        if !(s.time_to_quantile_decay > 0.0 && s.time_to_quantile_decay <= QUANTILE_DECAY_TIME) {
            return Err(SnapshotError::QuantileDecay(s.time_to_quantile_decay));
        }
        for m in &s.max_scores {
            if !(0.0..=MAX_RAW_SCORE).contains(&m.score)
                || !(0.0..=FORGET_MAX_SCORE_BUCKETS).contains(&m.buckets_since_score)
            {
                return Err(SnapshotError::MaxScore {
                    score: m.score,
                    buckets_since_score: m.buckets_since_score,
                    key: m.key.clone(),
                });
            }
        }
        normalizer.quantiles = Quantiles::restore(&s, normalizer.digest_decay)?;
        normalizer.time_to_quantile_decay = s.time_to_quantile_decay;
        normalizer.count_since_last_sample = s.count_since_last_sample;
        normalizer.sample = s.sample;
        for m in s.max_scores {
            normalizer
                .max_scores
                .insert(m.key, (m.score, m.buckets_since_score));
        }
        Ok(normalizer)
    }
}

impl Scorer<'_> {
    /// The normalised score of raw `score` in `scope`: the minimum of the noise, percentile,
    /// maximum-score and probability ceilings; 0 for a zero score or while the digest is empty.
    pub fn normalize(&self, scope: &SeriesKey, score: f64) -> f64 {
        if score == 0.0 {
            return 0.0;
        }
        let quantiles = &self.normalizer.quantiles;
        let baseline = self
            .baseline
            .get_or_init(|| (quantiles.scores.n() > 0).then(|| quantiles.baseline()));
        let Some(baseline) = baseline.as_ref() else {
            return 0.0;
        };
        let value = discrete(score);
        let digest = *self
            .digest_ceilings
            .borrow_mut()
            .entry(value)
            .or_insert_with(|| {
                let noise = quantiles.noise_ceiling(baseline, value);
                noise.min(quantiles.percentile_ceiling(baseline, value))
            });
        let max_score = match self.normalizer.max_scores.get(scope) {
            Some(&(max, _)) if max != 0.0 => max_score_ceiling(score, max),
            _ => MAX_NORMALIZED,
        };
        let probability = probability_ceiling(inverse_anomaly_score(score));
        digest.min(max_score).min(probability).min(MAX_NORMALIZED)
    }

    /// The score of a stored result from its probability, as renormalisation computes it
    /// (ml-cpp's `CResultNormalizer`): the one function every result level re-scores with.
    pub fn normalize_probability(&self, scope: &SeriesKey, probability: f64) -> f64 {
        self.normalize(scope, raw_score(probability))
    }
}

impl Quantiles {
    fn new(decay: f64) -> Quantiles {
        Quantiles {
            high_percentile_score: u32::MAX,
            high_percentile_count: 0,
            scores: QDigest::new(DIGEST_K, decay),
            high_scores: QDigest::new(DIGEST_K, decay),
        }
    }

    /// Rebuilds the digests of a snapshot, checking k and the count below the split.
    fn restore(s: &NormalizerSnapshot, decay: f64) -> Result<Quantiles, SnapshotError> {
        let digest = |digest, snapshot: &QDigestSnapshot| {
            QDigest::restore(snapshot.clone(), decay).map_err(|problem| SnapshotError::Digest {
                digest,
                problem: Box::new(problem),
            })
        };
        let scores = digest("raw score", &s.scores)?;
        let high_scores = digest("high score", &s.high_scores)?;
        if scores.k() != DIGEST_K || high_scores.k() != DIGEST_K {
            return Err(SnapshotError::DigestK);
        }
        if s.high_percentile_count > scores.n() {
            return Err(SnapshotError::HighPercentileCount {
                count: s.high_percentile_count,
                held: scores.n(),
            });
        }
        Ok(Quantiles {
            high_percentile_score: s.high_percentile_score,
            high_percentile_count: s.high_percentile_count,
            scores,
            high_scores,
        })
    }

    /// Adds one discretised high-water mark.
    fn add(&mut self, value: u32) {
        let n = self.scores.n();
        if n + 1 == self.scores.k() {
            self.seed_high_scores(n);
        }
        self.scores.add(value, 1);
        if value <= self.high_percentile_score {
            self.high_percentile_count += 1;
        } else {
            self.high_scores.add(value, 1);
        }
        if n + 1 > self.scores.k() && (n + 1).is_multiple_of(self.scores.k()) {
            self.refresh_high_percentile(n + 1);
        }
    }

    /// Ages both digests by `time` units, scaling the count below the split alike.
    fn age(&mut self, time: f64) {
        let before = self.scores.n();
        self.scores.propagate_forwards_by_time(time);
        self.high_scores.propagate_forwards_by_time(time);
        if before > 0 {
            let scale = self.scores.n() as f64 / before as f64;
            self.high_percentile_count = (scale * self.high_percentile_count as f64 + 0.5) as u64;
        }
    }

    /// The parts of the ceilings that do not depend on the score.
    fn baseline(&self) -> Baseline {
        let n = self.scores.n() as f64;
        let (l0, u0) = self.scores.cdf(0);
        let f = self.high_percentile_count as f64 / n;
        let (lq, uq) = credible_quantiles();
        Baseline {
            n,
            noise_score: self.scores.quantile(NOISE_PERCENTILE / 100.0),
            zero_mass: (50.0 * (l0 + u0) / NOISE_PERCENTILE).min(1.0),
            below_split_lower: cdf_quantile(n, f, lq),
            below_split_upper: cdf_quantile(n, f, uq),
        }
    }

    /// `knot(50%) · max(1 + 10 · (s − s₅₀), 0) + 100 · max(2 · min(l₀ + u₀, 1) − 1, 0)`, `value`
    /// the discretised score.
    fn noise_ceiling(&self, baseline: &Baseline, value: u32) -> f64 {
        let knot = KNOTS
            .iter()
            .find(|k| **k >= (NOISE_PERCENTILE, 0.0))
            .map_or(MAX_NORMALIZED, |k| k.1);
        let signal = NOISE_MULTIPLIER * 10.0 / DISCRETIZATION
            * (f64::from(value) - f64::from(baseline.noise_score));
        knot * (1.0 + signal).max(0.0) + MAX_NORMALIZED * (2.0 * baseline.zero_mass - 1.0).max(0.0)
    }

    /// The mean of the knot scores of the ends of the 70% percentile interval of the discretised
    /// score `value`.
    fn percentile_ceiling(&self, baseline: &Baseline, value: u32) -> f64 {
        let (lower, upper) = self.quantile_bounds(baseline, value);
        let (lower, upper) = (100.0 * lower.min(upper), 100.0 * lower.max(upper));
        (knot_score(lower.clamp(0.0, 100.0)) + knot_score(upper.clamp(0.0, 100.0))) / 2.0
    }

    /// The 70% credible interval of the fraction of scores below the discretised score `value`.
    fn quantile_bounds(&self, baseline: &Baseline, value: u32) -> (f64, f64) {
        let n = baseline.n;
        let (lq, uq) = credible_quantiles();
        let (fl, fu) = (baseline.below_split_lower, baseline.below_split_upper);
        let (lower, upper) = if value <= self.high_percentile_score || self.high_scores.n() == 0 {
            let (l, u) = self.scores.cdf(value);
            let (pl, pu) = self.scores.pdf(value);
            ((l - pu).max(0.0).min(fl), (u - pl).max(0.0).min(fu))
        } else {
            let (l, u) = self.high_scores.cdf(value);
            let (cl, cu) = self.high_scores.cdf(self.high_percentile_score);
            let (pl, pu) = self.high_scores.pdf(value);
            (
                fl + (1.0 - fl) * (l - cu - pu).max(0.0) / (1.0 - cu).max(f64::EPSILON),
                fu + (1.0 - fu) * (u - cl - pl).max(0.0) / (1.0 - cl).max(f64::EPSILON),
            )
        };
        (cdf_quantile(n, lower, lq), cdf_quantile(n, upper, uq))
    }

    /// When the coarse digest is about to start merging (`n + 1 = k`), estimates the 90th
    /// percentile from its still-exact summary and moves everything above it to the fine digest.
    fn seed_high_scores(&mut self, n: u64) {
        let summary = self.scores.summary();
        let Some(&(first_value, first_count)) = summary.first() else {
            return;
        };
        let target = (HIGH_PERCENTILE / 100.0 * n as f64 + 0.5) as u64;
        let split = (1..summary.len()).find(|&i| summary[i].1 > target);
        let (score, count) = split.map_or((first_value, first_count), |i| summary[i - 1]);
        self.high_percentile_score = score;
        self.high_percentile_count = count.min(n);
        for i in split.unwrap_or(summary.len())..summary.len() {
            self.high_scores
                .add(summary[i].0, summary[i].1 - summary[i - 1].1);
        }
    }

    /// Every `k` scores, moves the 90th-percentile split to where the coarse digest now puts it.
    fn refresh_high_percentile(&mut self, n: u64) {
        let target = (HIGH_PERCENTILE / 100.0 * n as f64 + 0.5) as u64;
        if self.high_percentile_count <= target {
            self.high_percentile_score = self.scores.quantile(HIGH_PERCENTILE / 100.0);
            let (lower, _) = self.scores.cdf(self.high_percentile_score);
            self.high_percentile_count = (n as f64 * lower + 0.5) as u64;
            return;
        }
        let coarse = self.scores.summary();
        let fine = self.high_scores.summary();
        let Some(last) = coarse.len().checked_sub(1) else {
            return;
        };
        let i0 = coarse.partition_point(|c| c.1 < target).min(last);
        let mut j = fine
            .partition_point(|h| h.0 <= coarse[i0].0)
            .min(fine.len().wrapping_sub(1));
        let mut running = coarse[i0].1;
        let mut i = i0 + 1;
        while i < coarse.len() && coarse[i0].1 + self.high_scores.n() < n {
            while j < fine.len() && fine[j].0 <= coarse[i].0 {
                running += fine[j].1 - if j == 0 { 0 } else { fine[j - 1].1 };
                j += 1;
            }
            let missing = coarse[i].1.saturating_sub(running);
            running += missing;
            if missing > 0 {
                self.high_scores.add(coarse[i].0, missing);
            }
            i += 1;
        }
        self.high_percentile_score = coarse[i0].0;
        self.high_percentile_count = if coarse[i0].1 > n {
            n - 1
        } else {
            coarse[i0].1
        };
    }
}

#[cfg(test)]
#[path = "normalizer_tests.rs"]
mod tests;
