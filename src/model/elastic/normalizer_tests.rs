//! Unit tests of the normaliser's ceilings and state.

use super::*;

fn key(by: &str) -> SeriesKey {
    SeriesKey { partition: None, by: by.to_string() }
}

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance
}

#[test]
fn cold_start_and_zero_score_give_zero() {
    let normalizer = Normalizer::new(900);
    assert_eq!(normalizer.normalize(&key("a"), 5.0), 0.0);
    let mut normalizer = Normalizer::new(900);
    normalizer.update(&key("a"), 0.0);
    assert_eq!(normalizer.normalize(&key("a"), 0.0), 0.0);
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
    for i in 0..5000 {
        normalizer.update(&key(&format!("v{}", i % 50)), 0.0);
    }
    // p = 2e-4 -> raw (5000 - 20) / 9980 = 0.499; probability ceiling 0.05 + 0.95 · ln 250 / ln 500
    // = 0.05 + 0.95 · 0.88846 = 0.894 -> 89.4 binds: the noise ceiling is over 100 (digest mass at 0),
    // the max-score ceiling 100 (first score) and the percentile ceiling over 90.
    let raw = crate::model::elastic::score::anomaly_score(2e-4);
    normalizer.update(&key("new"), raw);
    let score = normalizer.normalize(&key("new"), raw);
    assert!(close(score, probability_ceiling(2e-4), 1e-9), "{score}");
    assert!(normalizer.percentile_ceiling(raw) > 90.0);
}

#[test]
fn max_scores_decay_and_are_forgotten() {
    let mut normalizer = Normalizer::new(900);
    normalizer.update(&key("a"), 2.0);
    normalizer.next_bucket();
    // 15m buckets: exp(-2 · 0.00025) per bucket.
    let (score, _) = normalizer.max_scores[&key("a")];
    assert_eq!(score, Some(2.0 * (-0.0005f64).exp()));
    for _ in 0..49 {
        normalizer.next_bucket();
    }
    assert_eq!(normalizer.max_score_count(), 1, "kept for 50 buckets");
    normalizer.next_bucket();
    assert_eq!(normalizer.max_score_count(), 0, "forgotten after 50");
}

#[test]
fn high_percentile_split_tracks_the_digest() {
    let mut normalizer = Normalizer::new(900);
    for i in 0..2000u32 {
        normalizer.update(&key("a"), f64::from(i % 100) / 10.0);
    }
    // Scores are uniform on 0..9.9: the 90th percentile is near 8.9 (discrete 8900).
    let split = normalizer.high_percentile_score;
    assert!((8500..=9300).contains(&split), "{split}");
    let fraction = normalizer.high_percentile_count as f64 / normalizer.scores.n() as f64;
    assert!((0.85..=0.95).contains(&fraction), "{fraction}");
    assert!(normalizer.high_scores.n() > 0);
}

#[test]
fn snapshot_round_trip_and_validation() {
    let mut normalizer = Normalizer::new(900);
    for i in 0..700u32 {
        normalizer.update(&key(&format!("v{}", i % 7)), f64::from(i % 13) / 7.0);
        if i % 10 == 0 {
            normalizer.next_bucket();
        }
    }
    let json = serde_json::to_string(&normalizer.snapshot()).unwrap();
    let restored = Normalizer::restore(900, serde_json::from_str(&json).unwrap()).unwrap();
    assert_eq!(restored, normalizer);
    let mut bad = normalizer.snapshot();
    bad.high_percentile_count = bad.scores.n + 1;
    assert!(Normalizer::restore(900, bad).unwrap_err().contains("high percentile count"));
}
