//! End-to-end tests of [`ElasticRare`]: streams of buckets in, scores out.

use std::collections::BTreeMap;

use super::*;
use crate::bucket::ValueSummary;
use crate::model::MemoryStatus;
use crate::time::EpochMs;

const SPAN_MS: i64 = 900_000;

fn params(limit: u64) -> ModelParams {
    ModelParams {
        bucket_span_s: 900,
        memory_limit_bytes: limit,
        by_field_is_port: true,
    }
}

fn bucket(index: i64, values: &[&str]) -> BucketSummary {
    let values: BTreeMap<SeriesKey, ValueSummary> = values
        .iter()
        .map(|v| {
            (
                SeriesKey {
                    partition: None,
                    by: v.to_string(),
                },
                ValueSummary {
                    event_count: 1,
                    ..Default::default()
                },
            )
        })
        .collect();
    BucketSummary {
        start_ms: EpochMs(index * SPAN_MS),
        event_count: values.len() as u64,
        values,
    }
}

/// A deterministic stream: 30 common ports every bucket, a few occasional ones, empty buckets, and
/// new values appearing late.
fn stream(buckets: i64) -> Vec<BucketSummary> {
    let mut state: u64 = 12345;
    (0..buckets)
        .map(|i| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if i % 17 == 5 {
                return BucketSummary::empty(EpochMs(i * SPAN_MS));
            }
            let mut values: Vec<String> = (0..30).map(|p| format!("common{p}")).collect();
            if (state >> 33).is_multiple_of(7) {
                values.push(format!("occasional{}", (state >> 40) % 3));
            }
            if i > 40 && (state >> 20).is_multiple_of(23) {
                values.push(format!("new{i}"));
            }
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            bucket(i, &refs)
        })
        .collect()
}

#[test]
fn a_new_value_after_a_long_common_history_gets_the_top_score() {
    let mut model = ElasticRare::new(&params(32 << 20));
    let common: Vec<String> = (0..30).map(|p| format!("common{p}")).collect();
    let refs: Vec<&str> = common.iter().map(String::as_str).collect();
    let mut all = Vec::new();
    for i in 0..400 {
        all.extend(model.update(&bucket(i, &refs)));
    }
    assert!(all.is_empty(), "common values are never anomalous: {all:?}");
    let mut with_new = refs.clone();
    with_new.push("4444");
    let scores = model.update(&bucket(400, &with_new));
    assert_eq!(scores.len(), 1);
    let score = &scores[0];
    assert_eq!(score.key.by, "4444");
    assert_eq!(score.first_seen_ms, 400 * SPAN_MS);
    // T ≈ 30 · 400 · decay ≈ 11,500 > 10,000: one sample, p ≈ 1/T + interpolation ≈ 2e-4.
    assert!(score.probability < 5e-4, "{}", score.probability);
    assert!(score.record_score >= 75.0, "{score:?}");
    assert!(
        score.relative_rarity > 300.0,
        "median c ≈ 383 vs c = 1: {}",
        score.relative_rarity
    );
    // Seen again right away it is less surprising.
    let again = model.update(&bucket(401, &with_new));
    assert!(again.iter().all(|s| s.record_score < score.record_score));
}

#[test]
fn only_rare_values_are_reported_and_scores_are_bounded() {
    let mut model = ElasticRare::new(&params(32 << 20));
    for b in stream(300) {
        for s in model.update(&b) {
            assert!(s.probability < MAX_ANOMALOUS_PROBABILITY);
            assert!((0.0..=100.0).contains(&s.record_score), "{s:?}");
            assert!(s.raw_score > 0.0 && s.typical > 0.0 && s.typical < 1.0);
            assert!(!s.key.by.starts_with("common"));
        }
    }
}

#[test]
fn snapshot_restore_continues_bit_identically() {
    let buckets = stream(300);
    let mut straight = ElasticRare::new(&params(32 << 20));
    let expected: Vec<Vec<Score>> = buckets.iter().map(|b| straight.update(b)).collect();
    assert!(
        expected.iter().flatten().count() > 3,
        "the stream must produce scores"
    );

    let mut model = ElasticRare::new(&params(32 << 20));
    let mut got = Vec::new();
    for (i, b) in buckets.iter().enumerate() {
        if [1, 57, 150, 299].contains(&i) {
            let json = serde_json::to_string(&model.snapshot()).unwrap();
            model = ElasticRare::restore(&params(32 << 20), serde_json::from_str(&json).unwrap())
                .unwrap();
        }
        got.push(model.update(b));
    }
    assert_eq!(got, expected);
    assert_eq!(model, straight);
    assert_eq!(model.memory(), straight.memory());
}

#[test]
fn restore_refuses_bad_snapshots() {
    let mut model = ElasticRare::new(&params(32 << 20));
    for b in stream(30) {
        model.update(&b);
    }
    let err =
        ElasticRare::restore(&params(32 << 20).with_span(3600), model.snapshot()).unwrap_err();
    assert!(err.to_string().contains("900 s buckets"), "{err}");
    let mut bad = model.snapshot();
    bad.partitions[0].categories.total += 1.0;
    let err = ElasticRare::restore(&params(32 << 20), bad).unwrap_err();
    let SnapshotError::Partition { problem, .. } = &err else {
        panic!("{err}");
    };
    assert!(
        matches!(**problem, SnapshotError::Total { .. }),
        "{problem}"
    );
}

#[test]
fn hard_limit_refuses_new_values_but_keeps_scoring_known_ones() {
    // Room for the fixed state and ten 5-byte values (64 + 96 + 24 + 10 = 194 bytes each) plus the
    // partition (80 bytes).
    let limit = memory::FIXED_BYTES + 80 + 10 * 194;
    let mut model = ElasticRare::new(&params(limit));
    let names: Vec<String> = (0..40).map(|i| format!("v{i:04}")).collect();
    for i in 0..100 {
        let refs: Vec<&str> = names
            .iter()
            .take(5 + (i as usize % 35))
            .map(String::as_str)
            .collect();
        model.update(&bucket(i, &refs));
        assert!(model.memory().bytes <= limit);
    }
    let report = model.memory();
    assert_eq!(report.status, MemoryStatus::HardLimit);
    assert!(report.refused_values > 0);
    assert!(report.bytes <= limit);
    assert_eq!(model.partitions[&None].values.len(), 10);
    let known = model.snapshot().partitions[0].categories.values["v0000"].concentration;
    model.update(&bucket(100, &["v0000"]));
    assert!(model.snapshot().partitions[0].categories.values["v0000"].concentration > known);
}

#[test]
fn partitions_have_their_own_categories_but_share_the_normalizer() {
    let mut model = ElasticRare::new(&params(32 << 20));
    let key = |p: &str, by: &str| SeriesKey {
        partition: Some(p.to_string()),
        by: by.to_string(),
    };
    for i in 0..50 {
        let mut values = BTreeMap::new();
        values.insert(key("a", "22"), ValueSummary::default());
        values.insert(key("b", "443"), ValueSummary::default());
        model.update(&BucketSummary {
            start_ms: EpochMs(i * SPAN_MS),
            values,
            event_count: 2,
        });
    }
    // Each partition holds one value with all of its partition's mass.
    let snapshot = model.snapshot();
    assert_eq!(snapshot.partitions.len(), 2);
    assert!(
        snapshot
            .partitions
            .iter()
            .all(|p| p.categories.values.len() == 1)
    );
    assert_eq!(snapshot.normalizer.max_scores.len(), 2);
}

impl ModelParams {
    fn with_span(mut self, span: i64) -> ModelParams {
        self.bucket_span_s = span;
        self
    }
}

#[test]
fn a_bucket_of_100k_known_values_is_linearithmic() {
    let names: Vec<String> = (0..100_000).map(|i| format!("{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut model = ElasticRare::new(&params(64 << 20));
    let started = std::time::Instant::now();
    for i in 0..3 {
        model.update(&bucket(i, &refs));
    }
    // A quadratic pass over 100,000 values would take minutes even optimised.
    assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
    assert_eq!(model.partitions[&None].values.len(), 100_000);
}
