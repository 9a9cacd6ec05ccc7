//! Bucket results (`result_type: bucket`) with their bucket influencers, and influencer results
//! (`result_type: influencer`), chosen from a bucket's normalised tree as ml-cpp chooses them.

use serde::{Deserialize, Serialize};

use super::RecordContext;
use super::values_to_id::values_to_id;
use crate::model::elastic::MAX_ANOMALOUS_PROBABILITY;
use crate::model::hierarchy::{BucketScores, Scored};
use crate::time::EpochMs;

/// At most this many influencers and bucket influencers per bucket, the most anomalous kept
/// (Elasticsearch's `xpack.ml.max_anomaly_records` default).
pub const MAX_RESULTS_PER_BUCKET: usize = 500;
/// A result whose probability is within this factor of its written ancestor's smallest
/// descendant is written too, so a drill-down from the ancestor finds something.
const OUTPUT_TOLERANCE: f64 = 1.2;
/// The bucket influencer of the bucket itself.
pub const BUCKET_TIME: &str = "bucket_time";

/// One bucket influencer: the bucket as seen through one influencer field, or `bucket_time`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketInfluencer {
    pub job_id: String,
    /// Bucket start, epoch ms.
    pub timestamp_ms: EpochMs,
    /// Seconds.
    pub bucket_span: i64,
    pub is_interim: bool,
    /// The influencer field, or `bucket_time`.
    pub influencer_field_name: String,
    pub anomaly_score: f64,
    pub initial_anomaly_score: f64,
    pub raw_anomaly_score: f64,
    /// Kept so the score can be recomputed when the quantiles move.
    pub probability: f64,
}

/// One bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketResult {
    pub job_id: String,
    pub timestamp_ms: EpochMs,
    pub bucket_span: i64,
    pub is_interim: bool,
    /// The largest bucket influencer score; 0 without any.
    pub anomaly_score: f64,
    pub initial_anomaly_score: f64,
    /// Events the datafeed selected in the bucket.
    pub event_count: u64,
    /// Always 0: outputs must not depend on the machine's speed.
    pub processing_time_ms: u64,
    pub bucket_influencers: Vec<BucketInfluencer>,
    /// 1 when first written, one more at each renormalisation that rewrote a bucket influencer
    /// score (its bucket influencers are re-indexed with it); the latest row of an id is current.
    pub result_version: u64,
}

/// One influencer value in one bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InfluencerResult {
    pub job_id: String,
    pub timestamp_ms: EpochMs,
    pub bucket_span: i64,
    pub is_interim: bool,
    pub influencer_field_name: String,
    pub influencer_field_value: String,
    pub influencer_score: f64,
    pub initial_influencer_score: f64,
    /// Kept so the score can be recomputed when the quantiles move.
    pub probability: f64,
    /// 1 when first written, one more at each renormalisation that rewrote `influencer_score`.
    pub result_version: u64,
}

impl BucketResult {
    /// `<job_id>_bucket_<timestamp ms>_<bucket_span>`.
    pub fn id(&self) -> String {
        format!(
            "{}_bucket_{}_{}",
            self.job_id,
            self.timestamp_ms.ms(),
            self.bucket_span
        )
    }

    /// The bucket's `anomaly_score`: the largest of its bucket influencers' scores, 0 without any.
    pub fn max_influencer_score(&self) -> f64 {
        self.bucket_influencers
            .iter()
            .map(|b| b.anomaly_score)
            .fold(0.0, f64::max)
    }
}

impl BucketInfluencer {
    /// `<job_id>_bucket_influencer_<timestamp ms>_<bucket_span>_<influencer_field_name>`.
    pub fn id(&self) -> String {
        format!(
            "{}_bucket_influencer_{}_{}_{}",
            self.job_id,
            self.timestamp_ms.ms(),
            self.bucket_span,
            self.influencer_field_name
        )
    }
}

impl InfluencerResult {
    /// `<job_id>_influencer_<timestamp ms>_<bucket_span>_<field>_<valuesToId(value)>`.
    pub fn id(&self) -> String {
        format!(
            "{}_influencer_{}_{}_{}_{}",
            self.job_id,
            self.timestamp_ms.ms(),
            self.bucket_span,
            self.influencer_field_name,
            values_to_id(&[Some(&self.influencer_field_value)])
        )
    }
}

/// `min(p, smallest descendant) < 0.035`: the node or something below it is unusual.
fn unusual(scored: &Scored) -> bool {
    scored.node.probability.min(scored.node.smallest_descendant) < MAX_ANOMALOUS_PROBABILITY
}

/// Keeps the `MAX_RESULTS_PER_BUCKET` highest of `items` by `score`, in their original order.
fn cap<T>(items: Vec<T>, score: impl Fn(&T) -> f64) -> Vec<T> {
    if items.len() <= MAX_RESULTS_PER_BUCKET {
        return items;
    }
    let mut ranked: Vec<(usize, f64)> = items.iter().map(&score).enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut keep = vec![false; items.len()];
    for (i, _) in ranked.into_iter().take(MAX_RESULTS_PER_BUCKET) {
        keep[i] = true;
    }
    items
        .into_iter()
        .zip(keep)
        .filter_map(|(item, kept)| kept.then_some(item))
        .collect()
}

/// The bucket result and influencer results of the bucket at `start_ms` with `event_count`
/// events and `records` records written. `bucket_time` is written only with records.
pub fn bucket_results(
    ctx: &RecordContext,
    start_ms: EpochMs,
    event_count: u64,
    records: usize,
    scores: &BucketScores,
) -> (BucketResult, Vec<InfluencerResult>) {
    let bucket_influencer = |field: &str, s: &Scored| BucketInfluencer {
        job_id: ctx.job_id.to_string(),
        timestamp_ms: start_ms,
        bucket_span: ctx.bucket_span_s,
        is_interim: false,
        influencer_field_name: field.to_string(),
        anomaly_score: s.score,
        initial_anomaly_score: s.score,
        raw_anomaly_score: s.node.raw_score,
        probability: s.node.probability,
    };
    let mut influencers = Vec::new();
    let mut bucket_influencers = Vec::new();
    for pivot in &scores.pivots {
        let root_written = unusual(&pivot.root);
        if root_written {
            bucket_influencers.push(bucket_influencer(&pivot.field, &pivot.root));
        }
        for (value, s) in &pivot.values {
            let p = s.node.probability.min(s.node.smallest_descendant);
            let near_root =
                root_written && p <= OUTPUT_TOLERANCE * pivot.root.node.smallest_descendant;
            if unusual(s) || near_root {
                influencers.push(InfluencerResult {
                    job_id: ctx.job_id.to_string(),
                    timestamp_ms: start_ms,
                    bucket_span: ctx.bucket_span_s,
                    is_interim: false,
                    influencer_field_name: pivot.field.clone(),
                    influencer_field_value: value.to_string(),
                    influencer_score: s.score,
                    initial_influencer_score: s.score,
                    probability: s.node.probability,
                    result_version: 1,
                });
            }
        }
    }
    let mut bucket_influencers = cap(bucket_influencers, |b| b.initial_anomaly_score);
    if let Some(root) = scores.root.as_ref().filter(|_| records > 0) {
        bucket_influencers.push(bucket_influencer(BUCKET_TIME, root));
    }
    let mut bucket = BucketResult {
        job_id: ctx.job_id.to_string(),
        timestamp_ms: start_ms,
        bucket_span: ctx.bucket_span_s,
        is_interim: false,
        anomaly_score: 0.0,
        initial_anomaly_score: 0.0,
        event_count,
        processing_time_ms: 0,
        bucket_influencers,
        result_version: 1,
    };
    bucket.anomaly_score = bucket.max_influencer_score();
    bucket.initial_anomaly_score = bucket.anomaly_score;
    (bucket, cap(influencers, |i| i.initial_influencer_score))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::hierarchy::{Node, ScoredPivot};

    fn scored(probability: f64, smallest_descendant: f64, score: f64) -> Scored {
        Scored {
            node: Node {
                probability,
                raw_score: 1.0,
                smallest_descendant,
            },
            score,
        }
    }

    fn ctx() -> RecordContext<'static> {
        RecordContext {
            job_id: "j",
            bucket_span_s: 900,
            function: "rare",
            by_field_name: "destination.port",
            partition_field_name: None,
        }
    }

    #[test]
    fn writes_unusual_pivots_and_bucket_time_with_records_and_takes_the_max_score() {
        let scores = BucketScores {
            root: Some(scored(1e-5, 1e-6, 40.0)),
            pivots: vec![
                ScoredPivot {
                    field: "host.name".into(),
                    root: scored(1e-5, 1e-6, 60.0),
                    values: vec![
                        ("web-1".into(), scored(1e-6, 1e-6, 70.0)),
                        // Not unusual itself, but within 1.2 × the root's smallest descendant.
                        ("web-2".into(), scored(1.1e-6, 1.1e-6, 5.0)),
                        ("web-3".into(), scored(0.5, 0.5, 0.0)),
                    ],
                },
                ScoredPivot {
                    field: "user.name".into(),
                    root: scored(0.5, 0.5, 0.0),
                    values: vec![("root".into(), scored(0.5, 0.5, 0.0))],
                },
            ],
        };
        let (bucket, influencers) = bucket_results(&ctx(), EpochMs(900_000), 12, 1, &scores);
        let names: Vec<_> = bucket
            .bucket_influencers
            .iter()
            .map(|b| b.influencer_field_name.as_str())
            .collect();
        assert_eq!(names, ["host.name", "bucket_time"]);
        assert_eq!(bucket.anomaly_score, 60.0);
        assert_eq!(bucket.initial_anomaly_score, bucket.anomaly_score);
        assert_eq!(bucket.id(), "j_bucket_900000_900");
        assert_eq!(
            bucket.bucket_influencers[0].id(),
            "j_bucket_influencer_900000_900_host.name"
        );
        let values: Vec<_> = influencers
            .iter()
            .map(|i| i.influencer_field_value.as_str())
            .collect();
        assert_eq!(values, ["web-1", "web-2"]);
        // Without records there is no bucket_time.
        let (bucket, _) = bucket_results(&ctx(), EpochMs(900_000), 12, 0, &scores);
        assert_eq!(bucket.bucket_influencers.len(), 1);
    }

    #[test]
    fn influencer_id_hashes_the_value() {
        let i = InfluencerResult {
            job_id: "v3_linux_anomalous_network_activity".into(),
            timestamp_ms: EpochMs(1_700_000_100_000),
            bucket_span: 900,
            is_interim: false,
            influencer_field_name: "process.name".into(),
            influencer_field_value: "nc".into(),
            influencer_score: 0.0,
            initial_influencer_score: 0.0,
            probability: 1.0,
            result_version: 1,
        };
        assert_eq!(
            i.id(),
            "v3_linux_anomalous_network_activity_influencer_1700000100000_900_process.name_-137963705229589856294284031572529758102_2"
        );
    }

    #[test]
    fn cap_keeps_the_highest_in_order() {
        let items: Vec<f64> = (0..MAX_RESULTS_PER_BUCKET + 2).map(|i| i as f64).collect();
        let kept = cap(items, |x| *x);
        assert_eq!(kept.len(), MAX_RESULTS_PER_BUCKET);
        assert_eq!(kept[0], 2.0);
    }
}
