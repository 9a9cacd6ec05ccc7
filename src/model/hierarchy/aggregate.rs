//! Combining probabilities into one (ml-cpp's `CAnomalyScore::compute`): a weighted mix of the
//! joint probability of the set and the probability of its most extreme members.
//!
//! Input: probabilities in `[0, 1]` and the aggregation style's parameters. Output: the combined
//! probability and a raw score. Below ml-cpp's maximum anomalous probability the two parts are
//! mixed on the raw-score scale (`0.8 · (wj · s(Pj) + we · s(Pe))`), above it as `Pj^wj · Pe^we`.

use statrs::function::erf::erfc_inv;
use statrs::function::gamma::{checked_gamma_ur, ln_gamma};

use super::extreme::log_extreme_calibrated;
use super::numeric::one_minus_pow_one_minus;
use crate::model::elastic::MAX_ANOMALOUS_PROBABILITY;
use crate::model::elastic::score::{anomaly_score, inverse_anomaly_score};

/// How one group of probabilities is combined: ml-cpp's `DEFAULT_AGGREGATION_STYLE_PARAMS`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    pub joint_weight: f64,
    pub extreme_weight: f64,
    pub min_extreme: usize,
    pub max_extreme: usize,
}

/// Across the values of one detector in different partitions (and across pivot nodes).
pub const PEOPLE: Style = Style {
    joint_weight: 0.0,
    extreme_weight: 1.0,
    min_extreme: 1,
    max_extreme: 1,
};
/// Across the by-values of one person or influencer value.
pub const ATTRIBUTES: Style = Style {
    joint_weight: 0.5,
    extreme_weight: 0.5,
    min_extreme: 1,
    max_extreme: 5,
};
/// Across detectors (one here, so it only maps the probability to a raw score).
pub const DETECTORS: Style = Style {
    joint_weight: 0.5,
    extreme_weight: 0.5,
    min_extreme: 1,
    max_extreme: 1,
};

/// A combined probability and its raw score (0 when the probability is not anomalous).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Combined {
    pub raw_score: f64,
    pub probability: f64,
}

/// Share of the raw-score range the joint and extreme parts are mixed in.
const NORMAL_RANGE_SCORE_FRACTION: f64 = 0.8;
const SMALLEST_LOG_JOINT_PROBABILITY: f64 = -100_000.0;
const SMALLEST_LOG_EXTREME_PROBABILITY: f64 = -1_500.0;

/// Combines `probabilities` in `style`; none gives probability 1, score 0.
pub fn combine(style: Style, probabilities: &[f64]) -> Combined {
    let mut valid: Vec<f64> = probabilities
        .iter()
        .copied()
        .filter(|p| (0.0..=1.0).contains(p))
        .collect();
    valid.sort_by(f64::total_cmp);
    if valid.is_empty() {
        return Combined {
            raw_score: 0.0,
            probability: 1.0,
        };
    }
    let log_joint = log_joint_upper_bound(&valid);
    let n = valid.len().min(style.max_extreme);
    let log_extreme = (style.min_extreme.clamp(1, n.max(1))..=n)
        .map(|m| log_extreme_calibrated(&valid, m))
        .fold(0.0_f64, f64::min);
    let log_max = MAX_ANOMALOUS_PROBABILITY.ln();
    let mixed = (style.joint_weight * log_joint).exp() * (style.extreme_weight * log_extreme).exp();
    if log_joint > log_max && log_extreme > log_max {
        return Combined {
            raw_score: 0.0,
            probability: mixed,
        };
    }
    let raw_score = part_score(
        log_joint,
        SMALLEST_LOG_JOINT_PROBABILITY,
        style.joint_weight,
    ) + part_score(
        log_extreme,
        SMALLEST_LOG_EXTREME_PROBABILITY,
        style.extreme_weight,
    );
    let probability = if raw_score > 0.0 {
        inverse_anomaly_score(
            (raw_score / NORMAL_RANGE_SCORE_FRACTION).min(anomaly_score(f64::MIN_POSITIVE)),
        )
    } else {
        mixed
    };
    Combined {
        raw_score,
        probability,
    }
}

/// One part's share of the raw score; below the smallest probability the range is extended
/// linearly in log p up to `smallest_log`.
fn part_score(log_p: f64, smallest_log: f64, weight: f64) -> f64 {
    let log_smallest = f64::MIN_POSITIVE.ln();
    let largest = anomaly_score(f64::MIN_POSITIVE);
    if log_p < log_smallest {
        let interpolate = ((log_p - log_smallest) / (smallest_log - log_smallest)).min(1.0);
        (NORMAL_RANGE_SCORE_FRACTION + (1.0 - NORMAL_RANGE_SCORE_FRACTION) * interpolate)
            * weight
            * largest
    } else {
        NORMAL_RANGE_SCORE_FRACTION * weight * anomaly_score(log_p.exp())
    }
}

/// The z-score of a probability of less likely samples: `-Φ⁻¹(p / 2) = √2 · erfc⁻¹(p)`.
fn z_score(p: f64) -> f64 {
    std::f64::consts::SQRT_2 * erfc_inv(p)
}

/// Upper bound of the log joint probability of less likely samples: the χ² upper tail with n
/// degrees of freedom at Σz² (exact unless it underflows, then ml-cpp's analytic bound).
fn log_joint_upper_bound(probabilities: &[f64]) -> f64 {
    if let [only] = probabilities {
        return only.max(f64::MIN_POSITIVE).ln().min(0.0);
    }
    let n = probabilities.len() as f64;
    // The probabilities come sorted and repeat (many values share one probability): each run of
    // equal ones takes one inverse error function, and the sum keeps its order.
    let mut last: Option<(f64, f64)> = None;
    let sum_z2: f64 = probabilities
        .iter()
        .map(|&p| match last {
            Some((previous, z2)) if previous == p => z2,
            _ => {
                let z2 = z_score(p.max(f64::MIN_POSITIVE)).powi(2);
                last = Some((p, z2));
                z2
            }
        })
        .sum();
    if sum_z2 == 0.0 || sum_z2 / n < 1e-8 {
        return 0.0;
    }
    let (s, x) = (n / 2.0, sum_z2 / 2.0);
    let exact = checked_gamma_ur(s, x).unwrap_or(0.0).clamp(0.0, 1.0);
    if exact > 10.0 * f64::MIN_POSITIVE {
        return exact.ln();
    }
    let p = (s - 1.0).ceil();
    let log_double_max = (0.1 * f64::MAX).ln();
    let b1 = if (p + 1.0) * (p / x).ln() >= log_double_max {
        (p + 1.0) * (p / x).ln() - (p / x - 1.0).ln()
    } else if p != x {
        let r = 1.0 - p / x;
        (one_minus_pow_one_minus(r, p + 1.0) / r).ln()
    } else {
        (p + 1.0).ln()
    };
    let b2 = ln_gamma(p + 1.0) - p * x.ln() + x;
    let bound = (s - 1.0) * x.ln() - x + b1.min(b2) - ln_gamma(s);
    if bound.is_finite() {
        bound.min(0.0)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(f64::MIN_POSITIVE)
    }

    #[test]
    fn one_probability_keeps_itself_and_scores_0_8_of_its_raw_score() {
        // n = 1: joint = p, extreme (m = 1 of 1) = p; below 0.035 the raw score is
        // 0.8 · (0.5 · s(p) + 0.5 · s(p)) = 0.8 · s(p) and the probability s⁻¹(s(p)) = p.
        let c = combine(DETECTORS, &[1e-6]);
        assert!(close(c.probability, 1e-6, 1e-9), "{c:?}");
        assert!(close(c.raw_score, 0.8 * anomaly_score(1e-6), 1e-12));
        // Above 0.035: p^0.5 · p^0.5 = p, raw score 0.
        let c = combine(DETECTORS, &[0.2]);
        assert!(close(c.probability, 0.2, 1e-12) && c.raw_score == 0.0);
    }

    #[test]
    fn people_is_the_chance_that_the_smallest_of_n_is_as_small() {
        // (0, 1, 1, 1): 1 - (1 - 0.01)^3 = 0.029701, below 0.035 so mapped through the raw score
        // and back: the same probability.
        let c = combine(PEOPLE, &[0.01, 0.5, 0.9]);
        assert!(close(c.probability, 0.029701, 1e-9), "{c:?}");
        // 1 - (1 - 0.02)^2 = 0.0396 and the joint part (weight 0) 0.066 are both above 0.035:
        // the plain product, raw score 0.
        let c = combine(PEOPLE, &[0.02, 0.9]);
        assert!(
            close(c.probability, 0.0396, 1e-9) && c.raw_score == 0.0,
            "{c:?}"
        );
    }

    #[test]
    fn joint_probability_is_the_chi_square_tail() {
        // Two values of 0.05: z = 1.959964, Σz² = 7.682930; χ²(2) tail = exp(-Σz²/2) = 0.0214623.
        let log_p = log_joint_upper_bound(&[0.05, 0.05]);
        assert!(close(log_p.exp(), 0.021_462_3, 1e-5), "{}", log_p.exp());
        // Values of 1 carry no evidence but count as degrees of freedom: Σz² = 0 gives log 1.
        assert_eq!(log_joint_upper_bound(&[1.0, 1.0]), 0.0);
    }

    #[test]
    fn joint_bound_takes_over_when_the_tail_underflows() {
        // Four values at the smallest double: Σz² ≈ 4 · 1415.4; the exact tail underflows and the
        // bound is finite, negative and far below the smallest log probability.
        let log_p = log_joint_upper_bound(&[f64::MIN_POSITIVE; 4]);
        assert!(
            log_p.is_finite() && log_p < f64::MIN_POSITIVE.ln(),
            "{log_p}"
        );
    }

    #[test]
    fn attributes_mix_joint_and_extreme_parts() {
        // Many unremarkable values dilute a single small one less than the joint alone would,
        // and the result is never below the smallest input's own probability scaled by the
        // number of values (extreme part) nor above 1.
        let mut ps = vec![0.5; 20];
        ps.push(1e-8);
        let c = combine(ATTRIBUTES, &ps);
        assert!(c.probability > 1e-8 && c.probability < 1e-4, "{c:?}");
        assert!(c.raw_score > 0.0);
        let all_normal = combine(ATTRIBUTES, &[0.5; 20]);
        assert_eq!(all_normal.raw_score, 0.0);
        assert!(all_normal.probability > 0.035);
    }

    /// ml-cpp's reference in `CProbabilityAggregatorsTest.cc`, `logUpperIncompleteGamma`:
    /// `ln Γ(s, x)` by the recurrence `Γ(s, x) = (s − 1) Γ(s − 1, x) + x^(s−1) e^(−x)` down to
    /// `s ≤ 1`, where `e^(−x)/s ∫₀^s (x − ln(1 − t/s))^(s−1) dt` is integrated by five-point
    /// Gauss–Legendre on 40 pieces.
    fn log_upper_incomplete_gamma(s: f64, x: f64) -> f64 {
        const WEIGHTS: [f64; 5] = [
            0.5688888888888889,
            0.4786286704993665,
            0.4786286704993665,
            0.2369268850561891,
            0.2369268850561891,
        ];
        const ABSCISSAS: [f64; 5] = [
            0.0,
            -0.5384693101056831,
            0.5384693101056831,
            -0.906179845938664,
            0.906179845938664,
        ];
        if s <= 1.0 {
            let kernel = |u: f64| (x - (1.0 - u / s).ln()).powf(s - 1.0);
            let remainder: f64 = (0..40)
                .map(|i| {
                    let (a, b) = (s * f64::from(i) / 40.0, s * (f64::from(i) + 1.0) / 40.0);
                    let (centre, range) = ((a + b) / 2.0, (b - a) / 2.0);
                    ABSCISSAS
                        .iter()
                        .zip(WEIGHTS)
                        .map(|(u, w)| w * kernel(centre + range * u))
                        .sum::<f64>()
                        * range
                })
                .sum();
            return -x - s.ln() + remainder.ln();
        }
        let t1 = log_upper_incomplete_gamma(s - 1.0, x) + (s - 1.0).ln();
        let t2 = (s - 1.0) * x.ln() - x;
        let normalizer = t1.max(t2);
        normalizer + ((t1 - normalizer).exp() + (t2 - normalizer).exp()).ln()
    }

    /// Ports ml-cpp `lib/maths/common/unittest/CProbabilityAggregatorsTest.cc`,
    /// `testLogJointProbabilityOfLessLikelySamples`, the case near underflow: p = 0.1, 0.01,
    /// 0.001 and 0.0001, each added again and again until the joint probability has been below
    /// 10 · DBL_MIN for 20 additions. The reference is `ln Γ(n/2, Σz²/2) − lgamma(n/2)`.
    ///
    /// Before the underflow (n > 1) ml-cpp requires both bounds within 1e-6 of the log joint
    /// probability, which its test checks against the reference within 2e-5: here, the upper
    /// bound against the reference within 2e-5 + 1e-6. Below it ml-cpp requires
    /// `lower < reference < upper` and `upper − lower ≤ 8e-4 · |upper|`; netrare computes only the
    /// upper bound, so what is checked is `0 < upper − reference < 8e-4 · |upper|`, which those
    /// imply. (The mean width of the interval cannot be checked without the lower bound.)
    #[test]
    fn ml_cpp_log_joint_probability_near_underflow() {
        for p in [1e-1, 1e-2, 1e-3, 1e-4] {
            let mut probabilities = Vec::new();
            let mut underflowed = 0;
            while underflowed < 20 {
                probabilities.push(p);
                let n = probabilities.len() as f64;
                if n == 1.0 {
                    continue;
                }
                let sum_z2: f64 = probabilities.iter().map(|&p| z_score(p).powi(2)).sum();
                let (s, x) = (n / 2.0, sum_z2 / 2.0);
                let reference = log_upper_incomplete_gamma(s, x) - ln_gamma(s);
                let upper = log_joint_upper_bound(&probabilities);
                let joint = checked_gamma_ur(s, x).unwrap_or(0.0);
                if joint < 10.0 * f64::MIN_POSITIVE {
                    underflowed += 1;
                    let gap = upper - reference;
                    assert!(
                        gap > 0.0 && gap <= 8e-4 * upper.abs(),
                        "p {p}, n {n}: upper {upper}, reference {reference}"
                    );
                } else {
                    assert!(
                        (upper - reference).abs() <= 2e-5 + 1e-6,
                        "p {p}, n {n}: upper {upper}, reference {reference}"
                    );
                }
            }
        }
    }

    /// The joint and extreme probabilities [`combine`] compares with the maximum anomalous
    /// probability, for the attributes style.
    fn attribute_parts(probabilities: &[f64]) -> (f64, f64) {
        let mut sorted = probabilities.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len().min(ATTRIBUTES.max_extreme);
        let log_extreme = (ATTRIBUTES.min_extreme..=n)
            .map(|m| log_extreme_calibrated(&sorted, m))
            .fold(0.0_f64, f64::min);
        (log_joint_upper_bound(&sorted).exp(), log_extreme.exp())
    }

    /// Ports ml-cpp `lib/model/unittest/CAnomalyScoreTest.cc`, `testComputeScores`:
    /// `CAnomalyScore::compute(0.5, 0.5, 1, 5, 0.05, probabilities)`, raw score within 5e-7
    /// (exactly 0 where ml-cpp requires it).
    ///
    /// ml-cpp's test passes a maximum anomalous probability of 0.05; [`combine`] always uses
    /// 0.035. The threshold only decides whether the raw score is computed at all (when the
    /// joint or the extreme probability is at or below it), so a case is the same under both
    /// when neither part lies in (0.035, 0.05]: each case checks that first.
    #[test]
    fn ml_cpp_compute_scores() {
        let cases: [(&[f64], f64); 8] = [
            (&[0.001], 0.078557),
            (&[0.02], 0.002405),
            (&[0.1], 0.0),
            (
                &[0.21, 0.52, 0.13, 0.67, 0.89, 0.32, 0.46, 0.222, 0.35, 0.93],
                0.0,
            ),
            (
                &[
                    0.11, 0.13, 0.12, 0.22, 0.14, 0.09, 0.01, 0.13, 0.15, 0.14, 0.11, 0.13, 0.12,
                    0.22, 0.09, 0.01,
                ],
                0.318231,
            ),
            (
                &[
                    0.21, 0.52, 0.13, 0.67, 0.89, 0.32, 0.46, 0.222, 0.35, 0.93, 0.89, 0.32, 0.46,
                    0.000021,
                ],
                0.137591,
            ),
            (
                &[
                    0.21, 0.52, 0.0058, 0.13, 0.67, 0.89, 0.32, 0.03, 0.46, 0.222, 0.35, 0.93,
                    0.01, 0.89, 0.32, 0.46, 0.0021,
                ],
                0.029413,
            ),
            (
                &[
                    1e-100, 1.7e-20, 1.6e-150, 2.2e-150, 1.3e-180, 1.35e-95, 1.7e-180, 1.21e-300,
                ],
                86.995953,
            ),
        ];
        for (probabilities, expected) in cases {
            let (joint, extreme) = attribute_parts(probabilities);
            let in_band = |p: f64| p > MAX_ANOMALOUS_PROBABILITY && p <= 0.05;
            assert!(
                !in_band(joint) && !in_band(extreme),
                "{probabilities:?}: joint {joint}, extreme {extreme} between the thresholds"
            );
            let c = combine(ATTRIBUTES, probabilities);
            if expected == 0.0 {
                assert_eq!(c.raw_score, 0.0, "{probabilities:?}: {c:?}");
            } else {
                assert!(
                    (c.raw_score - expected).abs() <= 5e-7,
                    "{probabilities:?}: {} vs {expected}",
                    c.raw_score
                );
            }
        }
    }
}
