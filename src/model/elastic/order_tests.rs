//! Person ids and the order in which the leaf normaliser learns a bucket: ids in arrival order,
//! kept in the snapshot, and the normaliser fed in ml-cpp's order of them, not in name order.

use std::collections::BTreeMap;

use super::*;
use crate::bucket::ValueSummary;
use crate::time::EpochMs;

const SPAN_MS: i64 = 900_000;

fn params() -> ModelParams {
    ModelParams {
        bucket_span_s: 900,
        memory_limit_bytes: 32 << 20,
        by_field_is_port: false,
    }
}

fn key(by: &str) -> SeriesKey {
    SeriesKey {
        partition: None,
        by: by.to_string(),
    }
}

/// Bucket `index` holding `values`, each with the offset (ms into the bucket) of its first event.
fn bucket(index: i64, values: &[(&str, i64)]) -> BucketSummary {
    let start = index * SPAN_MS;
    let values: BTreeMap<SeriesKey, ValueSummary> = values
        .iter()
        .map(|&(by, offset)| {
            let value = ValueSummary {
                event_count: 1,
                first_event_ms: EpochMs(start + offset),
                ..Default::default()
            };
            (key(by), value)
        })
        .collect();
    BucketSummary {
        start_ms: EpochMs(start),
        event_count: values.len() as u64,
        values,
    }
}

fn person_ids(model: &ElasticRare) -> BTreeMap<String, u64> {
    model.partitions[&None]
        .values
        .iter()
        .map(|(by, state)| (by.clone(), state.person_id))
        .collect()
}

fn ids(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|&(by, id)| (by.to_string(), id)).collect()
}

#[test]
fn a_new_value_takes_the_next_id_when_its_first_event_arrives_ties_in_name_order() {
    let mut model = ElasticRare::new(&params());
    model.update(&bucket(0, &[("zsh", 5), ("apt", 9), ("mysqld", 5)]));
    assert_eq!(
        person_ids(&model),
        ids(&[("mysqld", 0), ("zsh", 1), ("apt", 2)])
    );
    // Known values keep their ids whenever their events come.
    model.update(&bucket(
        1,
        &[("apt", 0), ("bash", 3), ("zsh", 1), ("curl", 2)],
    ));
    assert_eq!(
        person_ids(&model),
        ids(&[
            ("mysqld", 0),
            ("zsh", 1),
            ("apt", 2),
            ("curl", 3),
            ("bash", 4)
        ])
    );
}

#[test]
fn person_ids_survive_a_snapshot_and_an_older_snapshot_numbers_its_values_by_name() {
    let mut model = ElasticRare::new(&params());
    model.update(&bucket(0, &[("zsh", 1), ("apt", 2), ("curl", 3)]));
    let json = serde_json::to_string(&model.snapshot()).expect("serialises");
    let snapshot: ElasticSnapshot = serde_json::from_str(&json).expect("parses");
    let restored = ElasticRare::restore(&params(), snapshot).expect("restores");
    assert_eq!(person_ids(&restored), person_ids(&model));
    assert_eq!(restored, model);

    let mut older: serde_json::Value = serde_json::from_str(&json).expect("parses");
    for state in older["partitions"][0]["categories"]["values"]
        .as_object_mut()
        .expect("values")
        .values_mut()
    {
        state.as_object_mut().expect("state").remove("person_id");
    }
    let older: ElasticSnapshot = serde_json::from_value(older).expect("an older snapshot parses");
    let restored = ElasticRare::restore(&params(), older).expect("restores");
    assert_eq!(
        person_ids(&restored),
        ids(&[("apt", 0), ("curl", 1), ("zsh", 2)])
    );
}

#[test]
fn restore_refuses_person_ids_that_do_not_number_the_values() {
    let mut model = ElasticRare::new(&params());
    model.update(&bucket(0, &[("zsh", 1), ("apt", 2), ("curl", 3)]));
    let mut snapshot = model.snapshot();
    let values = &mut snapshot.partitions[0].categories.values;
    if let Some(state) = values.get_mut("curl") {
        state.person_id = 0;
    }
    let err = ElasticRare::restore(&params(), snapshot).expect_err("a repeated id");
    let source = std::error::Error::source(&err).map(ToString::to_string);
    let chain = format!("{err} / {}", source.unwrap_or_default());
    assert!(chain.contains("id 1 is missing or repeated"), "{chain}");
}

/// The record scores of `buckets` when the leaf normaliser learns each bucket's values in the
/// order `order` gives for it, computed step by step from the model's raw scores: age, one
/// `update` per value (0 for a value that is not anomalous), then normalise the records.
fn replay(
    buckets: &[BucketSummary],
    raw: &[BTreeMap<String, f64>],
    mut order: impl FnMut(&BucketSummary) -> Vec<String>,
) -> Vec<Vec<(String, f64)>> {
    let mut normalizer = Normalizer::new(900);
    buckets
        .iter()
        .zip(raw)
        .map(|(bucket, raw)| {
            normalizer.age();
            for by in order(bucket) {
                normalizer.update(&key(&by), raw.get(&by).copied().unwrap_or(0.0));
            }
            let scorer = normalizer.scorer();
            raw.iter()
                .map(|(by, &r)| (by.clone(), scorer.normalize(&key(by), r)))
                .collect()
        })
        .collect()
}

/// 30 common values in every bucket, arriving in name order; from bucket 40 on, three new values
/// a bucket whose names run against their arrival (and against the earlier buckets' new
/// values), and every fifth bucket one of them again.
fn busy_stream() -> Vec<BucketSummary> {
    (0..120)
        .map(|index| {
            let mut values: Vec<(String, i64)> = (0..30).map(|i| (format!("c{i:02}"), i)).collect();
            if index >= 40 {
                for j in 0..3 {
                    values.push((format!("n{:03}-{j}", 999 - index), 100 + 10 * (2 - j)));
                }
                if index % 5 == 0 {
                    values.push((format!("n{:03}-1", 999 - (index - 3)), 50));
                }
            }
            let refs: Vec<(&str, i64)> = values.iter().map(|(by, at)| (by.as_str(), *at)).collect();
            bucket(index, &refs)
        })
        .collect()
}

#[test]
fn the_leaf_normaliser_learns_each_bucket_in_ml_cpps_order_of_person_ids() {
    let buckets = busy_stream();
    let mut model = ElasticRare::new(&params());
    let scores: Vec<Vec<Score>> = buckets.iter().map(|b| model.update(b)).collect();
    let raw: Vec<BTreeMap<String, f64>> = scores
        .iter()
        .map(|s| s.iter().map(|s| (s.key.by.clone(), s.raw_score)).collect())
        .collect();
    assert!(
        raw.iter().filter(|r| r.len() >= 3).count() >= 50,
        "most buckets should hold several anomalous values"
    );
    let model_scores: Vec<Vec<(String, f64)>> = scores
        .iter()
        .map(|s| {
            s.iter()
                .map(|s| (s.key.by.clone(), s.record_score))
                .collect()
        })
        .collect();

    // ml-cpp's order, worked out on its own: ids by first event (ties by name), each bucket's
    // ids ascending into Boost's set, its iteration order mapped back to names.
    let mut ids: BTreeMap<String, u64> = BTreeMap::new();
    let ml_cpp = replay(&buckets, &raw, |bucket| {
        let mut arrivals: Vec<(EpochMs, &String)> = bucket
            .values
            .iter()
            .map(|(k, v)| (v.first_event_ms, &k.by))
            .collect();
        arrivals.sort();
        for (_, by) in arrivals {
            let next = ids.len() as u64;
            ids.entry(by.clone()).or_insert(next);
        }
        let by_id: BTreeMap<u64, String> = bucket
            .values
            .keys()
            .filter_map(|k| Some((*ids.get(&k.by)?, k.by.clone())))
            .collect();
        let ascending: Vec<u64> = by_id.keys().copied().collect();
        people::iteration_order(&ascending)
            .iter()
            .filter_map(|id| by_id.get(id).cloned())
            .collect()
    });
    let by_name = replay(&buckets, &raw, |bucket| {
        bucket.values.keys().map(|k| k.by.clone()).collect()
    });
    assert_eq!(model_scores, ml_cpp);
    let moved = model_scores
        .iter()
        .flatten()
        .zip(by_name.iter().flatten())
        .filter(|(a, b)| a != b)
        .count();
    assert!(moved > 0, "name order would give the same scores");
}
