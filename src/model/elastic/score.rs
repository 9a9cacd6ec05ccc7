//! Raw anomaly score from a probability (ml-cpp's `CTools::anomalyScore`) and its inverse.
//!
//! Input: a probability in `[f64::MIN_POSITIVE, 1]`. Output: a raw score in `[0, 100]`, in four
//! pieces: 0 above 0.05; linear in `1/p` up to 1 at 1e-4; logarithmic up to 50 at 1e-50; then
//! logarithmic up to 100 at the smallest positive double.

/// Probabilities at or above this score 0.
pub const LARGEST_SIGNIFICANT_PROBABILITY: f64 = 0.05;
/// Probability that scores 1.
pub const SMALL_PROBABILITY: f64 = 1e-4;
/// Probability that scores 50.
pub const MINUSCULE_PROBABILITY: f64 = 1e-50;

/// The raw score of probability `p`.
pub fn anomaly_score(p: f64) -> f64 {
    let p = p.max(f64::MIN_POSITIVE);
    if p >= LARGEST_SIGNIFICANT_PROBABILITY {
        0.0
    } else if p >= SMALL_PROBABILITY {
        (1.0 / p - 1.0 / LARGEST_SIGNIFICANT_PROBABILITY)
            / (1.0 / SMALL_PROBABILITY - 1.0 / LARGEST_SIGNIFICANT_PROBABILITY)
    } else if p >= MINUSCULE_PROBABILITY {
        1.0 + 49.0 * (SMALL_PROBABILITY.ln() - p.ln())
            / (SMALL_PROBABILITY.ln() - MINUSCULE_PROBABILITY.ln())
    } else {
        50.0 + 50.0 * (MINUSCULE_PROBABILITY.ln() - p.ln())
            / (MINUSCULE_PROBABILITY.ln() - f64::MIN_POSITIVE.ln())
    }
}

/// The probability whose raw score is `score` (1 for a score of 0).
pub fn inverse_anomaly_score(score: f64) -> f64 {
    if score <= 0.0 {
        1.0
    } else if score <= 1.0 {
        let inverse = 1.0 / LARGEST_SIGNIFICANT_PROBABILITY
            + score * (1.0 / SMALL_PROBABILITY - 1.0 / LARGEST_SIGNIFICANT_PROBABILITY);
        1.0 / inverse
    } else if score <= 50.0 {
        let log_p = SMALL_PROBABILITY.ln()
            - (score - 1.0) / 49.0 * (SMALL_PROBABILITY.ln() - MINUSCULE_PROBABILITY.ln());
        log_p.exp()
    } else {
        let log_p = MINUSCULE_PROBABILITY.ln()
            - (score.min(100.0) - 50.0) / 50.0
                * (MINUSCULE_PROBABILITY.ln() - f64::MIN_POSITIVE.ln());
        log_p.exp().max(f64::MIN_POSITIVE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn piece_boundaries() {
        // p = 0.05 -> 0; just below: (1/0.0499 - 20) / 9980 = 0.0401/9980 = 4.02e-6.
        assert_eq!(anomaly_score(0.05), 0.0);
        assert_eq!(anomaly_score(1.0), 0.0);
        assert!(close(anomaly_score(0.0499), (1.0 / 0.0499 - 20.0) / 9980.0));
        // p = 0.01: (100 - 20) / 9980 = 0.008016.
        assert!(close(anomaly_score(0.01), 80.0 / 9980.0));
        // p = 1e-4: (10000 - 20) / 9980 = 1.
        assert!(close(anomaly_score(1e-4), 1.0));
        // p = 1e-27: 1 + 49 · (ln 1e27 - ln 1e4) / (ln 1e50 - ln 1e4) = 1 + 49 · 23/46 = 25.5.
        assert!(close(anomaly_score(1e-27), 25.5));
        // p = 1e-50: 1 + 49 = 50.
        assert!(close(anomaly_score(1e-50), 50.0));
        // p = DBL_MIN (and anything below, clamped): 50 + 50 = 100.
        assert!(close(anomaly_score(f64::MIN_POSITIVE), 100.0));
        assert!(close(anomaly_score(0.0), 100.0));
    }

    #[test]
    fn inverse_round_trips() {
        for p in [0.04, 0.01, 1e-4, 3e-9, 1e-50, 1e-200, f64::MIN_POSITIVE] {
            let back = inverse_anomaly_score(anomaly_score(p));
            assert!((back.ln() - p.ln()).abs() < 1e-9, "{p} -> {back}");
        }
        assert_eq!(inverse_anomaly_score(0.0), 1.0);
    }
}
