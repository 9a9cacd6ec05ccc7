//! Renormalisation: when a normaliser moved (a "big change" at any level), earlier results are
//! re-scored from their stored probability against the current state of their level's normaliser,
//! as Elasticsearch does with each new quantiles document: records, buckets (through their bucket
//! influencers) and influencers alike, whichever level moved.
//!
//! Input: the latest version of every result of the last [`window_ms`], and the normalisers.
//! Output: the results whose score moved enough ([`is_big_update`]), each as a new version with
//! the new score; the initial score never changes. A bucket is re-scored through its bucket
//! influencers (`bucket_time` against the bucket normaliser, the others against their field's
//! `inflb` one) and takes the largest of their scores; an influencer is re-scored against its
//! field's `infl` normaliser, a record against the leaf normaliser.

use super::{AnomalyRecord, BUCKET_TIME, BucketInfluencer, BucketResult, InfluencerResult};
use crate::model::elastic::Normalizer;
use crate::model::hierarchy::LevelScorers;
use crate::time::EpochMs;

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

/// A stored result that renormalisation re-scores.
pub trait Renormalizable: Clone {
    /// Bucket start, epoch ms.
    fn timestamp_ms(&self) -> EpochMs;
    /// The current (normalised) score.
    fn score(&self) -> f64;
    /// Takes `score` as the new current score, as the next version of the result.
    fn rescore(&mut self, score: f64);
}

impl Renormalizable for AnomalyRecord {
    fn timestamp_ms(&self) -> EpochMs {
        self.timestamp_ms
    }

    fn score(&self) -> f64 {
        self.record_score
    }

    fn rescore(&mut self, score: f64) {
        self.record_score = score;
        self.result_version += 1;
    }
}

impl Renormalizable for InfluencerResult {
    fn timestamp_ms(&self) -> EpochMs {
        self.timestamp_ms
    }

    fn score(&self) -> f64 {
        self.influencer_score
    }

    fn rescore(&mut self, score: f64) {
        self.influencer_score = score;
        self.result_version += 1;
    }
}

/// Versioned with its bucket, which Elasticsearch re-indexes with all its bucket influencers.
impl Renormalizable for BucketInfluencer {
    fn timestamp_ms(&self) -> EpochMs {
        self.timestamp_ms
    }

    fn score(&self) -> f64 {
        self.anomaly_score
    }

    fn rescore(&mut self, score: f64) {
        self.anomaly_score = score;
    }
}

/// Re-scores the results of `recent` whose bucket starts in `[from_ms, to_ms)` with `new_score`,
/// their score against the current state of their level (`None`: no normaliser, left as is).
/// Each big update is applied in place and returned, to be written as a new row.
fn renormalize<T: Renormalizable>(
    recent: &mut [T],
    from_ms: EpochMs,
    to_ms: EpochMs,
    new_score: impl Fn(&T) -> Option<f64>,
) -> Vec<T> {
    let mut updated = Vec::new();
    for result in recent
        .iter_mut()
        .filter(|r| (from_ms..to_ms).contains(&r.timestamp_ms()))
    {
        if let Some(score) = new_score(result).filter(|&s| is_big_update(result.score(), s)) {
            result.rescore(score);
            updated.push(result.clone());
        }
    }
    updated
}

/// Re-scores the records of `recent` in `[from_ms, to_ms)` against `leaf`, the record
/// normaliser, each in its series' scope.
pub fn renormalize_records(
    recent: &mut [AnomalyRecord],
    leaf: &Normalizer,
    from_ms: EpochMs,
    to_ms: EpochMs,
) -> Vec<AnomalyRecord> {
    let scorer = leaf.scorer();
    renormalize(recent, from_ms, to_ms, |r| {
        Some(scorer.normalize_probability(&r.series_key(), r.probability))
    })
}

/// Re-scores the influencers of `recent` in `[from_ms, to_ms)`, each against its field's `infl`
/// normaliser in its value's scope.
pub fn renormalize_influencers(
    recent: &mut [InfluencerResult],
    scorers: &LevelScorers,
    from_ms: EpochMs,
    to_ms: EpochMs,
) -> Vec<InfluencerResult> {
    renormalize(recent, from_ms, to_ms, |i| {
        scorers.influencer_score(
            &i.influencer_field_name,
            &i.influencer_field_value,
            i.probability,
        )
    })
}

/// Re-scores the bucket influencers of the buckets of `recent` in `[from_ms, to_ms)`; a bucket
/// with a big update in one of them becomes a new version, its `anomaly_score` the largest of
/// its bucket influencers' scores, as Elasticsearch's `Normalizer` sets it. A bucket whose score
/// fell to 0 leaves `recent`: Elasticsearch renormalises only buckets scoring above 0.
pub fn renormalize_buckets(
    recent: &mut Vec<BucketResult>,
    scorers: &LevelScorers,
    from_ms: EpochMs,
    to_ms: EpochMs,
) -> Vec<BucketResult> {
    let mut updated = Vec::new();
    for bucket in recent.iter_mut() {
        let changed = renormalize(&mut bucket.bucket_influencers, from_ms, to_ms, |b| {
            if b.influencer_field_name == BUCKET_TIME {
                Some(scorers.bucket_score(b.probability))
            } else {
                scorers.influencer_bucket_score(&b.influencer_field_name, b.probability)
            }
        });
        if !changed.is_empty() {
            bucket.anomaly_score = bucket.max_influencer_score();
            bucket.result_version += 1;
            updated.push(bucket.clone());
        }
    }
    recent.retain(|b| b.anomaly_score > 0.0);
    updated
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::SeriesKey;
    use crate::model::elastic::raw_score;
    use crate::model::hierarchy::Levels;

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
        let updated = renormalize_records(&mut recent, &normalizer, EpochMs(0), EpochMs(1_800_000));
        // Only the first: the second moved by 1 within its band, the third is out of range.
        assert_eq!(updated.len(), 1);
        assert_eq!(updated[0].record_score, current);
        assert_eq!(updated[0].initial_record_score, 20.0);
        assert_eq!(updated[0].result_version, 2);
        assert_eq!(recent[0], updated[0]);
        assert_eq!(recent[1].result_version, 1);
        assert_eq!(recent[2].record_score, 20.0);
    }

    /// Bucket and influencer normalisers that learnt a day of ordinary buckets, a rare value on
    /// `web-3` every 7th, and last a very rare one on `web-9`.
    fn trained_levels() -> Levels {
        let mut levels = Levels::new(900);
        for i in 0..96 {
            let mut values = vec![("22", 0.6, "web-1"), ("443", 0.9, "web-2")];
            if i % 7 == 3 {
                values.push(("4444", 1e-4, "web-3"));
            }
            levels.score_values(&values);
        }
        levels.score_values(&[("22", 0.6, "web-1"), ("31337", 1e-9, "web-9")]);
        levels
    }

    fn influencer(
        value: &str,
        timestamp_ms: i64,
        score: f64,
        probability: f64,
    ) -> InfluencerResult {
        InfluencerResult {
            job_id: "j".into(),
            timestamp_ms: EpochMs(timestamp_ms),
            bucket_span: 900,
            is_interim: false,
            influencer_field_name: "host.name".into(),
            influencer_field_value: value.into(),
            influencer_score: score,
            initial_influencer_score: score,
            probability,
            result_version: 1,
        }
    }

    #[test]
    fn influencers_are_rescored_against_their_field_and_value() {
        let levels = trained_levels();
        let scorers = levels.scorers();
        let web3 = scorers
            .influencer_score("host.name", "web-3", 1e-4)
            .expect("a host.name normaliser");
        let web9 = scorers
            .influencer_score("host.name", "web-9", 1e-4)
            .expect("a host.name normaliser");
        // Each value is its own scope: web-3 scored 1e-4 before, web-9 far more.
        assert!(web3 > web9 + 1.5, "{web3} {web9}");
        let mut unknown_field = influencer("root", 0, 10.0, 1e-4);
        unknown_field.influencer_field_name = "user.name".into();
        let mut recent = vec![
            influencer("web-3", 0, 10.0, 1e-4),
            influencer("web-9", 0, web9 + 1.0, 1e-4),
            unknown_field,
            influencer("web-3", 900_000, 10.0, 1e-4),
        ];
        let updated = renormalize_influencers(&mut recent, &scorers, EpochMs(0), EpochMs(900_000));
        // web-9 moved by 1 within its band; user.name has no normaliser; the last is out of range.
        assert_eq!(updated.len(), 1);
        assert_eq!(updated[0].influencer_score, web3);
        assert_eq!(updated[0].initial_influencer_score, 10.0);
        assert_eq!(updated[0].result_version, 2);
        assert_eq!(recent[0], updated[0]);
        assert!(recent[1..].iter().all(|i| i.result_version == 1));
    }

    fn bucket_influencer(field: &str, score: f64, probability: f64) -> BucketInfluencer {
        BucketInfluencer {
            job_id: "j".into(),
            timestamp_ms: EpochMs(0),
            bucket_span: 900,
            is_interim: false,
            influencer_field_name: field.into(),
            anomaly_score: score,
            initial_anomaly_score: score,
            raw_anomaly_score: raw_score(probability),
            probability,
        }
    }

    fn bucket(bucket_influencers: Vec<BucketInfluencer>) -> BucketResult {
        let mut bucket = BucketResult {
            job_id: "j".into(),
            timestamp_ms: EpochMs(0),
            bucket_span: 900,
            is_interim: false,
            anomaly_score: 0.0,
            initial_anomaly_score: 0.0,
            event_count: 3,
            processing_time_ms: 0,
            bucket_influencers,
            result_version: 1,
        };
        bucket.anomaly_score = bucket.max_influencer_score();
        bucket.initial_anomaly_score = bucket.anomaly_score;
        bucket
    }

    #[test]
    fn buckets_are_rescored_through_their_bucket_influencers_and_take_the_max() {
        let levels = trained_levels();
        let scorers = levels.scorers();
        let time = scorers.bucket_score(1e-4);
        let host = scorers
            .influencer_bucket_score("host.name", 1e-3)
            .expect("a host.name normaliser");
        assert!(time > 0.0 && host > 0.0, "{time} {host}");
        // Stored with stale scores: bucket_time far above its current score, host.name below.
        let stale = bucket(vec![
            bucket_influencer("host.name", host / 4.0, 1e-3),
            bucket_influencer(BUCKET_TIME, time + 30.0, 1e-4),
        ]);
        // Within 1.5 of the current scores: not a big update, so not a new version.
        let settled = BucketResult {
            timestamp_ms: EpochMs(900_000),
            ..bucket(vec![bucket_influencer(BUCKET_TIME, time + 1.0, 1e-4)])
        };
        // Its only bucket influencer is no longer anomalous: re-scored to 0.
        let fading = bucket(vec![bucket_influencer("host.name", 30.0, 0.5)]);
        let mut recent = vec![stale.clone(), settled.clone(), fading];
        let updated = renormalize_buckets(&mut recent, &scorers, EpochMs(0), EpochMs(1_800_000));
        assert_eq!(updated.len(), 2);
        let rescored = &updated[0];
        let scores: Vec<f64> = rescored
            .bucket_influencers
            .iter()
            .map(|b| b.anomaly_score)
            .collect();
        assert_eq!(scores, [host, time]);
        assert_eq!(rescored.anomaly_score, host.max(time));
        assert_eq!(rescored.initial_anomaly_score, stale.initial_anomaly_score);
        assert_eq!(
            rescored.bucket_influencers[1].initial_anomaly_score,
            time + 30.0
        );
        assert_eq!(rescored.result_version, 2);
        assert_eq!(updated[1].anomaly_score, 0.0);
        // Only buckets scoring above 0 stay to be renormalised again.
        assert_eq!(recent, [rescored.clone(), settled]);
    }
}
