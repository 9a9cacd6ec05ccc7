//! Renormalisation: when the normaliser moved (a "big change"), earlier records are re-scored from
//! their stored probability against its current state, as Elasticsearch does with each new
//! quantiles document.
//!
//! Input: the latest version of every result of the last [`window_ms`], and the normaliser of its
//! level. Output: the results whose score moved enough ([`is_big_update`]), each as a new version
//! with the new score; the initial score never changes. Records implement [`Renormalizable`] and
//! are re-scored against the leaf normaliser; other levels (bucket influencers against `inflb` or
//! the root, influencers against `infl`) plug in by implementing it and passing their normaliser.

use super::AnomalyRecord;
use crate::bucket::SeriesKey;
use crate::model::elastic::Normalizer;

/// Elasticsearch's default renormalisation window: 30 days...
const MIN_WINDOW_MS: i64 = 30 * 86_400_000;
/// ...or 100 buckets, whichever is longer.
const MIN_WINDOW_BUCKETS: i64 = 100;

/// How far back a big change re-scores: `max(30 days, 100 buckets)`.
pub fn window_ms(bucket_span_ms: i64) -> i64 {
    MIN_WINDOW_MS.max(MIN_WINDOW_BUCKETS * bucket_span_ms)
}

/// Elasticsearch's `isBigUpdate`: a new score is kept if it moves to another multiple of 25
/// (another severity), moves by 1.5 or more, or one score is below a third (0.33) of the other.
pub fn is_big_update(old: f64, new: f64) -> bool {
    if (old / 25.0) as i64 != (new / 25.0) as i64 || (old - new).abs() >= 1.5 {
        return true;
    }
    if old > new {
        old * 0.33 > new
    } else {
        new * 0.33 > old
    }
}

/// A stored result that renormalisation re-scores from its probability.
pub trait Renormalizable: Clone {
    /// Bucket start, epoch ms.
    fn timestamp_ms(&self) -> i64;
    /// The stored probability the score is recomputed from.
    fn probability(&self) -> f64;
    /// Whose maximum score bounds it in its normaliser (partition and person value).
    fn scope(&self) -> SeriesKey;
    /// The current (normalised) score.
    fn score(&self) -> f64;
    /// Takes `score` as the new current score, as the next version of the result.
    fn rescore(&mut self, score: f64);
}

impl Renormalizable for AnomalyRecord {
    fn timestamp_ms(&self) -> i64 {
        self.timestamp_ms
    }

    fn probability(&self) -> f64 {
        self.probability
    }

    fn scope(&self) -> SeriesKey {
        self.series_key()
    }

    fn score(&self) -> f64 {
        self.record_score
    }

    fn rescore(&mut self, score: f64) {
        self.record_score = score;
        self.result_version += 1;
    }
}

/// Re-scores the results of `recent` whose bucket starts in `[from_ms, to_ms)` against
/// `normalizer`, the normaliser of their level. Each big update is applied in place and returned,
/// to be written as a new row.
pub fn renormalize<T: Renormalizable>(
    recent: &mut [T],
    normalizer: &Normalizer,
    from_ms: i64,
    to_ms: i64,
) -> Vec<T> {
    let scorer = normalizer.scorer();
    let mut updated = Vec::new();
    for result in recent
        .iter_mut()
        .filter(|r| (from_ms..to_ms).contains(&r.timestamp_ms()))
    {
        let score = scorer.normalize_probability(&result.scope(), result.probability());
        if is_big_update(result.score(), score) {
            result.rescore(score);
            updated.push(result.clone());
        }
    }
    updated
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::elastic::raw_score;

    #[test]
    fn the_window_is_30_days_or_100_buckets() {
        assert_eq!(window_ms(900_000), 30 * 86_400_000);
        // 1-day buckets: 100 days.
        assert_eq!(window_ms(86_400_000), 100 * 86_400_000);
    }

    #[test]
    fn big_updates_cross_a_severity_move_by_1_5_or_shrink_to_a_third() {
        // Another multiple of 25: 49.9 -> 50.1 (moves only 0.2).
        assert!(is_big_update(49.9, 50.1));
        assert!(is_big_update(75.0, 74.9));
        // Within one band: 1.5 or more moves, less does not.
        assert!(is_big_update(60.0, 61.5));
        assert!(!is_big_update(60.0, 61.4));
        assert!(!is_big_update(61.4, 60.0));
        // Small scores: 1.0 -> 0.3 is below a third (0.33); 1.0 -> 0.34 is not.
        assert!(is_big_update(1.0, 0.3));
        assert!(!is_big_update(1.0, 0.34));
        assert!(is_big_update(0.3, 1.0));
        assert!(!is_big_update(0.0, 0.0));
    }

    #[test]
    fn records_in_the_range_with_a_big_update_get_a_new_version() {
        // A normaliser with 500 samples of 0 then one of `p = 2e-4`, keyed "4444".
        let mut normalizer = Normalizer::new(900);
        let key = |by: &str| SeriesKey {
            partition: None,
            by: by.into(),
        };
        for _ in 0..1000 {
            normalizer.update(&key("common"), 0.0);
        }
        normalizer.update(&key("4444"), raw_score(2e-4));
        normalizer.update(&key("common"), 0.0);
        let current = normalizer
            .scorer()
            .normalize_probability(&key("4444"), 2e-4);
        assert!(current > 80.0, "{current}");
        let mut old = AnomalyRecord::sample("4444", 0, 20.0, &[]);
        old.probability = 2e-4;
        let mut unchanged = AnomalyRecord::sample("4444", 900_000, current - 1.0, &[]);
        unchanged.probability = 2e-4;
        let mut outside = AnomalyRecord::sample("4444", 1_800_000, 20.0, &[]);
        outside.probability = 2e-4;
        let mut recent = vec![old, unchanged, outside];
        let updated = renormalize(&mut recent, &normalizer, 0, 1_800_000);
        // Only the first: the second moved by 1 within its band, the third is out of range.
        assert_eq!(updated.len(), 1);
        assert_eq!(updated[0].record_score, current);
        assert_eq!(updated[0].initial_record_score, 20.0);
        assert_eq!(updated[0].result_version, 2);
        assert_eq!(recent[0], updated[0]);
        assert_eq!(recent[1].result_version, 1);
        assert_eq!(recent[2].record_score, 20.0);
    }
}
