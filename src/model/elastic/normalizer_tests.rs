//! Unit tests of the normaliser's sampling, ageing, ceilings and state.

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

/// One final bucket: ages, then learns `scores` of series `v0`, `v1`, ... in it.
fn bucket(normalizer: &mut Normalizer, scores: &[f64]) -> bool {
    normalizer.age();
    let mut big_change = false;
    for (i, score) in scores.iter().enumerate() {
        big_change |= normalizer.update(&key(&format!("v{i}")), *score);
    }
    big_change
}

#[test]
fn calls_per_sample_follow_the_bucket_span() {
    // 3600 / clamp(2 · span, 300, 3600), integer division.
    assert_eq!(count_per_sample(900), 2);
    assert_eq!(count_per_sample(60), 12);
    assert_eq!(count_per_sample(1000), 1);
    assert_eq!(count_per_sample(1800), 1);
    assert_eq!(count_per_sample(86_400), 1);
}

#[test]
fn a_sample_is_the_maximum_of_two_calls_not_of_two_buckets() {
    let mut normalizer = Normalizer::new(900);
    // Calls 1-2 (2.0, 0.5) make a sample of 2.0; call 3 (3.0) waits for its pair.
    bucket(&mut normalizer, &[2.0, 0.5, 3.0]);
    assert_eq!(normalizer.quantiles.scores.summary(), vec![(2000, 1)]);
    assert_eq!(
        (normalizer.count_since_last_sample, normalizer.sample),
        (1, 3.0)
    );
    // Call 4 (1.0) completes it: max(3.0, 1.0) = 3.0.
    bucket(&mut normalizer, &[1.0]);
    assert_eq!(
        normalizer.quantiles.scores.summary(),
        vec![(2000, 1), (3000, 2)]
    );
    // Empty buckets add nothing: no call, no sample.
    bucket(&mut normalizer, &[]);
    bucket(&mut normalizer, &[]);
    assert_eq!(normalizer.quantiles.scores.n(), 2);
    // Four zero scores are two samples of 0. (Sampling every two buckets, these four buckets
    // would have made two samples, 3.0 and 0, and this one would be pending.)
    bucket(&mut normalizer, &[0.0, 0.0, 0.0, 0.0]);
    assert_eq!(
        normalizer.quantiles.scores.summary(),
        vec![(0, 2), (2000, 3), (3000, 4)]
    );
}

#[test]
fn normalises_against_the_digest_only_and_is_cold_until_a_sample_exists() {
    let mut normalizer = Normalizer::new(900);
    assert_eq!(normalizer.scorer().normalize(&key("a"), 5.0), 0.0);
    // One call: the sample is pending and the digest empty, so still cold.
    bucket(&mut normalizer, &[5.0]);
    assert_eq!(normalizer.scorer().normalize(&key("v0"), 5.0), 0.0);
    // A second value in the same bucket completes the sample: scores are no longer 0.
    let mut normalizer = Normalizer::new(900);
    bucket(&mut normalizer, &[5.0, 0.0]);
    assert!(normalizer.scorer().normalize(&key("v0"), 5.0) > 0.0);
    assert_eq!(normalizer.scorer().normalize(&key("v0"), 0.0), 0.0);
}

#[test]
fn a_busy_bucket_fills_the_digest_with_zeros_so_a_lone_score_ranks_high() {
    // 100 buckets of 10 values that all score 0: 5 samples of 0 a bucket, 500 in all (sampling
    // every two buckets would have made 50).
    let mut normalizer = Normalizer::new(900);
    for _ in 0..100 {
        bucket(&mut normalizer, &[0.0; 10]);
    }
    assert_eq!(normalizer.quantiles.scores.n(), 500);
    // Then p = 2e-4, raw (5000 - 20) / 9980 = 0.498998, first in key order among 10 values:
    // calls (r, 0) make a sample of 499, the other 8 zeros four samples of 0: n = 505.
    let raw = crate::model::elastic::score::anomaly_score(2e-4);
    assert_eq!(discrete(raw), 499);
    normalizer.age();
    normalizer.update(&key("new"), raw);
    for i in 0..9 {
        normalizer.update(&key(&format!("v{i}")), 0.0);
    }
    assert_eq!(normalizer.quantiles.scores.n(), 505);
    // 504 of 505 at 0 puts the score above the 99.8th percentile; the percentile ceiling is
    // above 90, the noise ceiling above 100 (mass at 0), the maximum-score ceiling 100 (first
    // score), so the probability ceiling binds: 100 · (0.05 + 0.95 · ln(0.05 / 2e-4) / ln 500)
    // = 100 · (0.05 + 0.95 · 5.52146 / 6.21461) = 89.404. Sampling every two buckets, the digest
    // would hold 50 zeros and the pending 499, and the percentile ceiling would bind at 56.5.
    let percentile = normalizer
        .quantiles
        .percentile_ceiling(&normalizer.quantiles.baseline(), discrete(raw));
    assert!(percentile > 90.0, "{percentile}");
    let score = normalizer.scorer().normalize(&key("new"), raw);
    assert!(close(score, 89.404, 0.001), "{score}");
    assert_eq!(score, probability_ceiling(2e-4));
}

#[test]
fn digests_age_every_40_buckets_by_time_whatever_the_calls() {
    let mut normalizer = Normalizer::new(900);
    normalizer.quantiles.scores.add(0, 10_000);
    // 39 buckets of 10 zero scores: 5 samples each, no ageing yet (20 - 39 / 2 = 0.5 left).
    for _ in 0..39 {
        bucket(&mut normalizer, &[0.0; 10]);
    }
    assert_eq!(normalizer.quantiles.scores.n(), 10_195);
    assert_eq!(normalizer.time_to_quantile_decay, 0.5);
    // Bucket 40 ages first: 10,195 · exp(-0.00025) = 10,192.45 -> 10,192; then 5 more samples.
    bucket(&mut normalizer, &[0.0; 10]);
    assert_eq!(normalizer.quantiles.scores.n(), 10_197);
    assert_eq!(normalizer.time_to_quantile_decay, 20.0);
    // Empty buckets count as time too: 40 of them age once more, 10,197 -> 10,194.45 -> 10,194.
    for _ in 0..40 {
        bucket(&mut normalizer, &[]);
    }
    assert_eq!(normalizer.quantiles.scores.n(), 10_194);
}

#[test]
fn big_change_is_a_maximum_up_by_more_than_ten_percent() {
    let mut normalizer = Normalizer::new(900);
    assert!(!normalizer.update(&key("a"), 0.0), "0 > 1.1 · 0 is false");
    assert!(normalizer.update(&key("a"), 2.0), "a first positive score");
    assert!(!normalizer.update(&key("a"), 2.2), "2.2 > 2.2 is false");
    assert!(!normalizer.update(&key("a"), 1.0), "below the maximum");
    assert!(
        normalizer.update(&key("a"), 2.43),
        "2.43 > 1.1 · 2.2 = 2.42"
    );
    assert!(
        normalizer.update(&key("b"), 0.1),
        "each scope has its own maximum"
    );
}

#[test]
fn stored_max_scores_are_in_scope_order_whatever_the_order_learnt() {
    let mut normalizer = Normalizer::new(900);
    let scopes = ["web-9", "10.0.0.1", "ssh", "a", "443", "zz", "web-10"];
    for scope in scopes {
        normalizer.update(&key(scope), 1.0);
    }
    let partitioned = SeriesKey {
        partition: Some("web-1".into()),
        by: "22".into(),
    };
    normalizer.update(&partitioned, 1.0);
    let stored: Vec<SeriesKey> = normalizer
        .snapshot()
        .max_scores
        .into_iter()
        .map(|m| m.key)
        .collect();
    let mut expected: Vec<SeriesKey> = scopes.iter().map(|s| key(s)).collect();
    expected.push(partitioned);
    expected.sort();
    assert_eq!(stored, expected);
}

#[test]
fn max_scores_decay_and_are_forgotten() {
    let mut normalizer = Normalizer::new(900);
    normalizer.update(&key("a"), 2.0);
    normalizer.age();
    // 15m: exp(-2 · 0.00025) per bucket.
    assert_eq!(normalizer.max_scores[&key("a")].0, 2.0 * (-0.0005f64).exp());
    for _ in 0..49 {
        normalizer.age();
    }
    assert_eq!(normalizer.max_scores.len(), 1, "kept for 50 buckets");
    normalizer.age();
    assert!(normalizer.max_scores.is_empty(), "forgotten after 50");
    // Forgotten, a value's next positive score is a big change again.
    assert!(normalizer.update(&key("a"), 0.5));
}

#[test]
fn renormalising_a_probability_scores_it_as_the_bucket_did() {
    let mut normalizer = Normalizer::new(900);
    for _ in 0..100 {
        bucket(&mut normalizer, &[0.0; 10]);
    }
    let p = 3e-4;
    normalizer.update(&key("x"), raw_score(p));
    normalizer.update(&key("y"), 0.0);
    let direct = normalizer.scorer().normalize(&key("x"), raw_score(p));
    assert!(direct > 0.0);
    assert_eq!(
        normalizer.scorer().normalize_probability(&key("x"), p),
        direct
    );
    // Above 0.035 the raw score, and so the score, is 0.
    assert_eq!(
        normalizer.scorer().normalize_probability(&key("x"), 0.04),
        0.0
    );
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
fn a_lone_high_score_among_zeros_has_a_narrow_high_percentile_interval() {
    let mut normalizer = Normalizer::new(900);
    for _ in 0..1000 {
        normalizer.update(&key("common"), 0.0);
    }
    let raw = crate::model::elastic::score::anomaly_score(2e-4);
    normalizer.update(&key("new"), raw);
    normalizer.update(&key("other"), 0.0);
    let quantiles = &normalizer.quantiles;
    // floor(501 / 201) = 2: the lone count at 499 is compressed up into the root [0, 511].
    assert_eq!(quantiles.scores.summary(), vec![(0, 500), (511, 501)]);
    // 500 of 501 at or below the split at 0, so the 70% interval of the percentile is about
    // [0.99860, 0.999995] (Beta(n·F + 1/3, n·(1−F) + 1/3) quantiles 0.15 and 0.85, n = 501).
    let (lower, upper) = quantiles.quantile_bounds(&quantiles.baseline(), discrete(raw));
    assert!(
        close(lower, 0.99860, 1e-5) && close(upper, 0.999995, 1e-6),
        "{lower} {upper}"
    );
    // knot(99.860) = 50 + 40 · 0.860 / 0.9 = 88.24; knot(99.9995) = 90 + 10 · 0.0995 / 0.1 = 99.95;
    // the mean is 94.10.
    let percentile = quantiles.percentile_ceiling(&quantiles.baseline(), discrete(raw));
    assert!(close(percentile, 94.10, 0.01), "{percentile}");
}

#[test]
fn high_percentile_split_tracks_the_digest() {
    // 30m buckets: one call per sample.
    let mut normalizer = Normalizer::new(1800);
    for i in 0..2000u32 {
        bucket(&mut normalizer, &[f64::from(i % 100) / 10.0]);
    }
    // 2000 high-water marks uniform on 0..9.9: the 90th percentile is near 8.9 (discrete 8900).
    let quantiles = &normalizer.quantiles;
    assert!((1990..=2000).contains(&quantiles.scores.n()));
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
    // 301 buckets of 7 calls: 2107 calls, one pending.
    assert_eq!(snapshot.count_since_last_sample, 1, "mid-sample");
    let json = serde_json::to_string(&snapshot).unwrap();
    resumed = Normalizer::restore(900, serde_json::from_str(&json).unwrap()).unwrap();
    assert_eq!(resumed, straight);
    for i in 301..400u32 {
        bucket(&mut straight, &stream_scores(i));
        bucket(&mut resumed, &stream_scores(i));
        for (v, s) in stream_scores(i).iter().enumerate() {
            let k = key(&format!("v{v}"));
            assert_eq!(
                straight.scorer().normalize(&k, *s).to_bits(),
                resumed.scorer().normalize(&k, *s).to_bits()
            );
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
    let refused = |edit: &dyn Fn(&mut NormalizerSnapshot), expected: &str| {
        let mut bad = normalizer.snapshot();
        edit(&mut bad);
        let error = Normalizer::restore(900, bad).unwrap_err().to_string();
        assert!(error.contains(expected), "{error}");
    };
    refused(
        &|s| s.high_percentile_count = s.scores.n + 1,
        "high percentile count",
    );
    refused(&|s| s.count_since_last_sample = 2, "calls per sample");
    refused(&|s| s.sample = f64::NAN, "sample maximum");
    refused(&|s| s.time_to_quantile_decay = 0.0, "quantile decay");
    refused(&|s| s.time_to_quantile_decay = f64::NAN, "quantile decay");
    refused(&|s| s.max_scores[0].score = -1.0, "maximum score");
}

/// Ports ml-cpp `lib/model/unittest/CAnomalyScoreTest.cc`, `testNormalizeScoresNearZero`: 500
/// raw scores of 0, the first n of them (not the anomalies) raised by 0.0055, and the anomalies
/// `{0.02, 0.01, 0.006, 0.01, 0.015}` added at `{50, 110, 190, 220, 290}`; a fresh normaliser
/// for 1800 s buckets (one call per sample, decay 0.0005) learns them all in one scope, without
/// ageing, then normalises the anomalies. The expected scores are ml-cpp's strings at 7
/// significant digits. (ml-cpp normalises in the `bucket_time` scope, whose maximum score it
/// keys on a blank person name: the scope it learnt in, here [`key`]`("")`.)
#[test]
fn ml_cpp_normalize_scores_near_zero() {
    use crate::model::ml_cpp::pretty_list;
    const TIMES: [usize; 5] = [50, 110, 190, 220, 290];
    const ANOMALIES: [f64; 5] = [0.02, 0.01, 0.006, 0.01, 0.015];
    let cases: [(usize, &str); 8] = [
        (0, "[41.62776, 32.36435, 26.16873, 32.36435, 37.68726]"),
        (100, "[41.62776, 32.36435, 26.16873, 32.36435, 37.68726]"),
        (200, "[41.62776, 32.36435, 17.74216, 32.36435, 37.68726]"),
        (249, "[41.62776, 32.36435, 11.1645, 32.36435, 37.68726]"),
        (251, "[41.62776, 32.36435, 11.05937, 32.36435, 37.68726]"),
        (300, "[41.62776, 32.36435, 8.523397, 32.36435, 37.68726]"),
        (400, "[1.14, 1.04, 1, 1.04, 1.09]"),
        (450, "[1.14, 1.04, 1, 1.04, 1.09]"),
    ];
    let scope = key("");
    let mut failures = Vec::new();
    for (non_zero, expected) in cases {
        let mut samples = [0.0; 500];
        for (j, sample) in samples.iter_mut().enumerate().take(non_zero) {
            if !TIMES.contains(&j) {
                *sample += 0.0055;
            }
        }
        for (t, a) in TIMES.iter().zip(ANOMALIES) {
            samples[*t] += a;
        }
        let mut normalizer = Normalizer::new(1800);
        for sample in samples {
            normalizer.update(&scope, sample);
        }
        let scorer = normalizer.scorer();
        let scores: Vec<f64> = TIMES
            .iter()
            .map(|&t| scorer.normalize(&scope, samples[t]))
            .collect();
        let got = pretty_list(&scores);
        if got != expected {
            failures.push(format!("n = {non_zero}: {got}, ml-cpp {expected}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
