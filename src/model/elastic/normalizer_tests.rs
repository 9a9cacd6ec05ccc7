//! Unit tests of the normaliser's ceilings and state.

use super::*;

fn key(by: &str) -> SeriesKey {
    SeriesKey {
        partition: None,
        by: by.to_string(),
    }
}

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance
}

/// Advances one bucket and learns `scores` of series `v0`, `v1`, ... in it.
fn bucket(normalizer: &mut Normalizer, scores: &[f64]) {
    normalizer.next_bucket();
    for (i, score) in scores.iter().enumerate() {
        normalizer.update(&key(&format!("v{i}")), *score);
    }
}

#[test]
fn cold_start_until_a_sample_is_complete_and_zero_score_give_zero() {
    let normalizer = Normalizer::new(900);
    assert_eq!(normalizer.scorer().normalize(&key("a"), 5.0), 0.0);
    // 15m: a sample is two buckets; its first bucket alone is still a cold start.
    let mut normalizer = Normalizer::new(900);
    bucket(&mut normalizer, &[5.0]);
    assert_eq!(normalizer.scorer().normalize(&key("v0"), 5.0), 0.0);
    bucket(&mut normalizer, &[0.0]);
    assert!(normalizer.scorer().normalize(&key("v0"), 5.0) > 0.0);
    assert_eq!(normalizer.scorer().normalize(&key("v0"), 0.0), 0.0);
}

#[test]
fn two_buckets_of_one_sample_add_one_entry_holding_the_larger_score() {
    let mut normalizer = Normalizer::new(900);
    assert_eq!(normalizer.buckets_per_sample, 2);
    bucket(&mut normalizer, &[2.0, 0.5]);
    bucket(&mut normalizer, &[3.0]);
    assert_eq!(
        normalizer.quantiles.scores.n(),
        0,
        "added when the next sample starts"
    );
    bucket(&mut normalizer, &[1.0]);
    // max(2.0, 0.5, 3.0) = 3.0 -> round(1000 · 3.0) = 3000, once.
    assert_eq!(normalizer.quantiles.scores.summary(), vec![(3000, 1)]);
    bucket(&mut normalizer, &[]);
    bucket(&mut normalizer, &[]);
    // The second sample's high-water mark is 1.0 -> 1000.
    assert_eq!(
        normalizer.quantiles.scores.summary(),
        vec![(1000, 1), (3000, 2)]
    );
    // A sample of empty buckets adds 0.
    bucket(&mut normalizer, &[]);
    bucket(&mut normalizer, &[]);
    assert_eq!(
        normalizer.quantiles.scores.summary(),
        vec![(0, 1), (1000, 2), (3000, 3)]
    );
}

#[test]
fn digests_age_every_20_samples_not_every_20_buckets() {
    let mut normalizer = Normalizer::new(900);
    normalizer.quantiles.scores.add(0, 10_000);
    // Buckets 1..=40 are samples 1..=20; the 20th is added when bucket 41 starts.
    for _ in 0..40 {
        bucket(&mut normalizer, &[0.0]);
    }
    assert_eq!(
        normalizer.quantiles.scores.n(),
        10_019,
        "19 samples added, no ageing yet"
    );
    assert_eq!(normalizer.samples_to_quantile_decay, 1);
    bucket(&mut normalizer, &[0.0]);
    // 10,020 · exp(-0.00025) = 10,017.495 -> 10,017.
    assert_eq!(normalizer.quantiles.scores.n(), 10_017);
    assert_eq!(normalizer.samples_to_quantile_decay, 20);
}

#[test]
fn first_score_of_a_value_is_not_capped_by_its_maximum() {
    // max = s -> r = 1 -> 100 · min(1.5, 1) = 100.
    assert_eq!(max_score_ceiling(2.0, 2.0), 100.0);
    // r = 0.5 -> 100 · min(0.75, 0.75) = 75; r = 0.2 -> 100 · min(0.3, 0.6) = 30.
    assert_eq!(max_score_ceiling(1.0, 2.0), 75.0);
    assert!(close(max_score_ceiling(0.2, 1.0), 30.0, 1e-12));
}

#[test]
fn probability_ceiling_numbers() {
    // 100 · (0.05 + 0.95 · ln(0.05/p) / ln 500):
    // p = 2.63e-3: ln(19.011) = 2.9450; / 6.2146 = 0.47389; · 0.95 + 0.05 = 0.50019 -> 50.02.
    assert!(close(probability_ceiling(2.63e-3), 50.02, 0.01));
    assert!(probability_ceiling(2.65e-3) < 50.0);
    // p = 5.1e-4: ln(98.04) = 4.5854; / 6.2146 = 0.73784; · 0.95 + 0.05 = 0.75095 -> 75.09.
    assert!(close(probability_ceiling(5.1e-4), 75.09, 0.01));
    // p = 1e-4: ln 500 / ln 500 = 1 -> 100; p = 0.05 -> 5.
    assert!(close(probability_ceiling(1e-4), 100.0, 1e-9));
    assert!(close(probability_ceiling(0.05), 5.0, 1e-9));
}

#[test]
fn knots_map_percentiles_to_scores() {
    assert_eq!(knot_score(0.0), 0.0);
    // 35 is half way from (0, 0) to (70, 1).
    assert!(close(knot_score(35.0), 0.5, 1e-12));
    assert!(close(knot_score(70.0), 1.0, 1e-12));
    // Half way from (97, 20) to (99, 50): 35.
    assert!(close(knot_score(98.0), 35.0, 1e-12));
    assert!(close(knot_score(99.0), 50.0, 1e-12));
    assert!(close(knot_score(99.9), 90.0, 1e-9));
    assert_eq!(knot_score(100.0), 100.0);
}

#[test]
fn a_lone_high_score_among_zeros_normalises_high() {
    let mut normalizer = Normalizer::new(900);
    for _ in 0..1000 {
        bucket(&mut normalizer, &[0.0; 50]);
    }
    // p = 2e-4 -> raw (5000 - 20) / 9980 = 0.499, in the first bucket of sample 501, so the digest
    // it is judged against is 500 zeros plus its own pending high-water mark.
    let raw = crate::model::elastic::score::anomaly_score(2e-4);
    normalizer.next_bucket();
    normalizer.update(&key("new"), raw);
    let scorer = normalizer.scorer();
    let quantiles = scorer.quantiles.as_ref().unwrap();
    // floor(501 / 201) = 2: the lone count at 499 is compressed up into the root [0, 511].
    assert_eq!(quantiles.scores.summary(), vec![(0, 500), (511, 501)]);
    // Probability ceiling 0.05 + 0.95 · ln 250 / ln 500 = 0.05 + 0.95 · 0.88846 = 0.894 -> 89.4
    // binds: the noise ceiling is over 100 (digest mass at 0), the max-score ceiling 100 (first
    // score) and the percentile ceiling 94.1.
    let score = scorer.normalize(&key("new"), raw);
    assert!(close(score, probability_ceiling(2e-4), 1e-9), "{score}");
    // 500 of 501 at or below the split at 0, so the 70% interval of the percentile is about
    // [0.99860, 0.999995] (Beta(n·F + 1/3, n·(1−F) + 1/3) quantiles 0.15 and 0.85, n = 501).
    let (lower, upper) = quantiles.quantile_bounds(raw);
    assert!(
        close(lower, 0.99860, 1e-5) && close(upper, 0.999995, 1e-6),
        "{lower} {upper}"
    );
    // knot(99.860) = 50 + 40 · 0.860 / 0.9 = 88.24; knot(99.9995) = 90 + 10 · 0.0995 / 0.1 = 99.95;
    // the mean is 94.10. No exponent: the sample already spans 30 minutes.
    let percentile = quantiles.percentile_ceiling(raw);
    assert!(close(percentile, 94.10, 0.01), "{percentile}");
}

#[test]
fn max_scores_decay_and_are_forgotten() {
    let mut normalizer = Normalizer::new(900);
    normalizer.update(&key("a"), 2.0);
    normalizer.next_bucket();
    // 15m: exp(-2 · 0.00025) per bucket.
    let (score, _) = normalizer.max_scores[&key("a")];
    assert_eq!(score, Some(2.0 * (-0.0005f64).exp()));
    for _ in 0..49 {
        normalizer.next_bucket();
    }
    assert_eq!(normalizer.max_scores.len(), 1, "kept for 50 buckets");
    normalizer.next_bucket();
    assert!(normalizer.max_scores.is_empty(), "forgotten after 50");
}

#[test]
fn high_percentile_split_tracks_the_digest() {
    // 30m buckets: one bucket per sample.
    let mut normalizer = Normalizer::new(1800);
    for i in 0..2001u32 {
        bucket(&mut normalizer, &[f64::from(i % 100) / 10.0]);
    }
    // 2000 high-water marks uniform on 0..9.9: the 90th percentile is near 8.9 (discrete 8900).
    let quantiles = &normalizer.quantiles;
    assert_eq!(quantiles.scores.n(), 2000);
    let split = quantiles.high_percentile_score;
    assert!((8500..=9300).contains(&split), "{split}");
    let fraction = quantiles.high_percentile_count as f64 / quantiles.scores.n() as f64;
    assert!((0.85..=0.95).contains(&fraction), "{fraction}");
    assert!(quantiles.high_scores.n() > 0);
}

/// Raw scores of bucket `i` of a deterministic stream.
fn stream_scores(i: u32) -> Vec<f64> {
    (0..7).map(|v| f64::from((i * 7 + v) % 13) / 7.0).collect()
}

#[test]
fn snapshot_mid_sample_restores_and_continues_bit_identically() {
    let mut straight = Normalizer::new(900);
    let mut resumed = Normalizer::new(900);
    for i in 0..301u32 {
        bucket(&mut straight, &stream_scores(i));
        bucket(&mut resumed, &stream_scores(i));
    }
    let snapshot = resumed.snapshot();
    assert_eq!(
        (snapshot.buckets_in_sample, snapshot.sample_max),
        (1, 12.0 / 7.0),
        "mid-sample"
    );
    let json = serde_json::to_string(&snapshot).unwrap();
    resumed = Normalizer::restore(900, serde_json::from_str(&json).unwrap()).unwrap();
    assert_eq!(resumed, straight);
    for i in 301..400u32 {
        bucket(&mut straight, &stream_scores(i));
        bucket(&mut resumed, &stream_scores(i));
        let (a, b) = (straight.scorer(), resumed.scorer());
        for (v, s) in stream_scores(i).iter().enumerate() {
            let k = key(&format!("v{v}"));
            assert_eq!(a.normalize(&k, *s).to_bits(), b.normalize(&k, *s).to_bits());
        }
    }
    assert_eq!(resumed, straight);
}

#[test]
fn restore_refuses_inconsistent_state() {
    let mut normalizer = Normalizer::new(900);
    for i in 0..41u32 {
        bucket(&mut normalizer, &stream_scores(i));
    }
    let mut bad = normalizer.snapshot();
    bad.high_percentile_count = bad.scores.n + 1;
    assert!(
        Normalizer::restore(900, bad)
            .unwrap_err()
            .contains("high percentile count")
    );
    let mut bad = normalizer.snapshot();
    bad.buckets_in_sample = 3;
    assert!(
        Normalizer::restore(900, bad)
            .unwrap_err()
            .contains("buckets per sample")
    );
    let mut bad = normalizer.snapshot();
    bad.sample_max = f64::NAN;
    assert!(
        Normalizer::restore(900, bad)
            .unwrap_err()
            .contains("sample maximum")
    );
    let mut bad = normalizer.snapshot();
    bad.samples_to_quantile_decay = 0;
    assert!(
        Normalizer::restore(900, bad)
            .unwrap_err()
            .contains("quantile decay")
    );
}
