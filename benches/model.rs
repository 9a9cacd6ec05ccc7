//! Micro-benchmarks of Elastic's `rare` model: one bucket's update and scoring, as a function of
//! how many distinct by-values the model already knows.
//!
//! The category probabilities and the normaliser are private to the model, so they are measured
//! through [`ElasticRare::update`], which learns the bucket, builds the rarity table over every
//! known value, scores the present ones and feeds the normaliser. Run with `cargo bench --bench model`.

use std::collections::BTreeMap;

use divan::Bencher;
use netrare::bucket::{BucketSummary, SeriesKey, ValueSummary};
use netrare::model::ModelParams;
use netrare::model::elastic::ElasticRare;
use netrare::time::EpochMs;

/// Buckets the model is trained with before it is measured.
const TRAINING_BUCKETS: usize = 100;
/// Values present in every bucket: the "common" ports or processes.
const COMMON: usize = 20;
/// Values present in the measured typical bucket.
const TYPICAL_PRESENT: usize = 50;
const SPAN_MS: i64 = 15 * 60 * 1000;

fn main() {
    divan::main();
}

fn params() -> ModelParams {
    // The shipped jobs' bucket span and `model_memory_limit` (64mb): 100,000 values fit in it.
    ModelParams {
        bucket_span_s: 900,
        memory_limit_bytes: 64 << 20,
        by_field_is_port: true,
    }
}

fn key(value: usize) -> SeriesKey {
    SeriesKey {
        partition: None,
        by: value.to_string(),
    }
}

fn bucket(index: usize, values: impl IntoIterator<Item = usize>) -> BucketSummary {
    let values: BTreeMap<SeriesKey, ValueSummary> = values
        .into_iter()
        .map(|v| {
            (
                key(v),
                ValueSummary {
                    event_count: 1,
                    ..ValueSummary::default()
                },
            )
        })
        .collect();
    let event_count = values.len() as u64;
    BucketSummary {
        start_ms: EpochMs(index as i64 * SPAN_MS),
        values,
        event_count,
    }
}

/// A model that has seen `known` distinct values: the first [`COMMON`] in every training bucket,
/// the others each in one bucket in [`TRAINING_BUCKETS`], so their frequencies differ.
fn trained(known: usize) -> ElasticRare {
    let mut model = ElasticRare::new(&params());
    let common = known.min(COMMON);
    for i in 0..TRAINING_BUCKETS {
        let rare = (common..known).filter(|v| v % TRAINING_BUCKETS == i);
        model.update(&bucket(i, (0..common).chain(rare)));
    }
    model
}

/// The next bucket with the common values and a few rarer known ones: what most buckets look like.
#[divan::bench(args = [10, 1_000, 100_000], sample_count = 30)]
fn update_typical_bucket(bencher: Bencher, known: usize) {
    let model = trained(known);
    let present = known.min(TYPICAL_PRESENT);
    let step = (known / present).max(1);
    let next = bucket(
        TRAINING_BUCKETS,
        (0..known.min(COMMON)).chain((0..present).map(|i| i * step)),
    );
    bencher
        .with_inputs(|| model.clone())
        .bench_local_refs(|m| m.update(&next));
}

/// The next bucket with every known value present: the worst case for scoring.
#[divan::bench(args = [10, 1_000, 100_000], sample_count = 30)]
fn update_all_present(bencher: Bencher, known: usize) {
    let model = trained(known);
    let next = bucket(TRAINING_BUCKETS, 0..known);
    bencher
        .with_inputs(|| model.clone())
        .bench_local_refs(|m| m.update(&next));
}
