//! The anomaly record: Elastic's `result_type: record` document, plus explanation fields.

use serde::{Deserialize, Serialize};

use super::record_id::record_id;
use crate::bucket::{SeriesKey, ValueSummary};
use crate::model::Score;
use crate::time::EpochMs;

/// The ECS fields that get a top-level list column in records and alerts, holding the values of
/// the record's influencers, by-field and partition field for that field.
/// The last three are influencers of Elastic's current (`_ea`) jobs only.
pub const ALERT_FIELDS: [&str; 8] = [
    "host.name",
    "process.name",
    "user.name",
    "destination.ip",
    "destination.port",
    "host.id",
    "user.id",
    "event.module",
];

/// One influencer of a record: a field and the values of it that co-occurred with the anomaly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Influencer {
    pub influencer_field_name: String,
    pub influencer_field_values: Vec<String>,
}

/// `anomaly_score_explanation` as ml-cpp writes it for `rare`: the keys it omits (false, zero) are
/// `None`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct AnomalyScoreExplanation {
    /// `true` in the first bucket the by-value was ever seen; omitted otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_field_first_occurrence: Option<bool>,
    /// Typical (median) concentration ÷ the value's; omitted unless both are positive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_field_relative_rarity: Option<f64>,
}

/// One anomaly record, as Elastic writes it to `.ml-anomalies-*` (see `docs/outputs.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyRecord {
    /// Elastic's deterministic record id.
    pub record_id: String,
    pub job_id: String,
    /// Bucket start.
    pub timestamp_ms: EpochMs,
    /// Seconds.
    pub bucket_span: i64,
    pub detector_index: u32,
    /// Always false: only complete buckets are modelled.
    pub is_interim: bool,
    pub function: String,
    pub function_description: String,
    pub by_field_name: String,
    pub by_field_value: String,
    pub partition_field_name: Option<String>,
    pub partition_field_value: Option<String>,
    pub probability: f64,
    /// The current score: renormalisation rewrites it (as a new row, see `result_version`).
    pub record_score: f64,
    /// The score when first written; never changes.
    pub initial_record_score: f64,
    /// 1 when first written, one more at each renormalisation that rewrote `record_score`
    /// (Elasticsearch's `_version` of the document); the latest row of a `record_id` is current.
    pub result_version: u64,
    pub typical: Vec<f64>,
    pub actual: Vec<f64>,
    pub influencers: Vec<Influencer>,
    /// True when some influencer had more values than were kept.
    pub influencers_capped: bool,
    /// First bucket in which the by-value was ever seen, epoch ms.
    pub by_field_first_occurrence_ms: i64,
    /// median(concentration) / concentration of the value: seen in 1 of every n buckets.
    pub by_field_relative_rarity: f64,
    /// Events with the value in the bucket.
    pub event_count: u64,
    /// Distinct hosts with the value in the bucket.
    pub host_count: u64,
    /// Why it scored as it did, in one sentence.
    pub explanation: String,
}

/// What a record needs from its job.
#[derive(Debug, Clone)]
pub struct RecordContext<'a> {
    pub job_id: &'a str,
    pub bucket_span_s: i64,
    pub function: &'a str,
    pub by_field_name: &'a str,
    pub partition_field_name: Option<&'a str>,
}

impl AnomalyRecord {
    /// Builds the record of `score` in the bucket starting at `bucket_start_ms`.
    pub fn new(
        ctx: &RecordContext,
        bucket_start_ms: EpochMs,
        score: &Score,
        value: &ValueSummary,
    ) -> AnomalyRecord {
        let by = score.key.by.clone();
        let partition = score.key.partition.clone();
        let influencers = value
            .influencers
            .iter()
            .filter(|(_, values)| !values.is_empty())
            .map(|(field, values)| Influencer {
                influencer_field_name: field.clone(),
                influencer_field_values: values.iter().map(|v| v.to_string()).collect(),
            })
            .collect();
        let explanation = score
            .explanation
            .clone()
            .unwrap_or_else(|| explain(ctx, bucket_start_ms, score, value));
        AnomalyRecord {
            record_id: record_id(
                ctx.job_id,
                bucket_start_ms.ms(),
                ctx.bucket_span_s,
                0,
                Some(&by),
                None,
                partition.as_deref(),
            ),
            job_id: ctx.job_id.to_string(),
            timestamp_ms: bucket_start_ms,
            bucket_span: ctx.bucket_span_s,
            detector_index: 0,
            is_interim: false,
            function: ctx.function.to_string(),
            function_description: ctx.function.to_string(),
            by_field_name: ctx.by_field_name.to_string(),
            by_field_value: by,
            partition_field_name: ctx.partition_field_name.map(str::to_string),
            partition_field_value: partition,
            probability: score.probability,
            record_score: score.record_score,
            initial_record_score: score.record_score,
            result_version: 1,
            typical: vec![score.typical],
            actual: vec![1.0],
            influencers,
            influencers_capped: value.influencers_capped,
            by_field_first_occurrence_ms: score.first_seen_ms,
            by_field_relative_rarity: score.relative_rarity,
            event_count: value.event_count,
            host_count: value.hosts.len() as u64,
            explanation,
        }
    }

    /// The explanation ml-cpp writes for this record.
    pub fn anomaly_score_explanation(&self) -> AnomalyScoreExplanation {
        let rarity = self.by_field_relative_rarity;
        AnomalyScoreExplanation {
            by_field_first_occurrence: (self.by_field_first_occurrence_ms
                == self.timestamp_ms.ms())
            .then_some(true),
            by_field_relative_rarity: (rarity.is_finite() && rarity > 0.0).then_some(rarity),
        }
    }

    /// The series (partition and by-value) the record scores.
    pub fn series_key(&self) -> SeriesKey {
        SeriesKey {
            partition: self.partition_field_value.clone(),
            by: self.by_field_value.clone(),
        }
    }

    /// The values of `field` in this record: its influencer values, plus the by-field or
    /// partition value when that is the field. Sorted, without duplicates.
    pub fn field_values(&self, field: &str) -> Vec<String> {
        let mut values: Vec<String> = self
            .influencers
            .iter()
            .filter(|i| i.influencer_field_name == field)
            .flat_map(|i| i.influencer_field_values.iter().cloned())
            .collect();
        if self.by_field_name == field {
            values.push(self.by_field_value.clone());
        }
        if let (Some(name), Some(value)) = (&self.partition_field_name, &self.partition_field_value)
            && name == field
        {
            values.push(value.clone());
        }
        values.sort();
        values.dedup();
        values
    }
}

fn explain(
    ctx: &RecordContext,
    bucket_start_ms: EpochMs,
    score: &Score,
    value: &ValueSummary,
) -> String {
    let first = EpochMs(score.first_seen_ms).minute_utc();
    let novelty = if score.first_seen_ms == bucket_start_ms.ms() {
        "first time ever".to_string()
    } else {
        format!("first seen {first}")
    };
    format!(
        "{} {}: {novelty}; seen in 1 of every {:.0} buckets; probability {:.2e}; {} event(s) on {} host(s) in this bucket",
        ctx.by_field_name,
        score.key.by,
        score.relative_rarity.max(1.0),
        score.probability,
        value.event_count,
        value.hosts.len(),
    )
}

#[cfg(test)]
impl AnomalyRecord {
    /// A port-job record of `port` for tests: bucket at `timestamp_ms`, score `record_score`,
    /// influencers as `(field, values)`; everything else a plain default.
    pub(crate) fn sample(
        port: &str,
        timestamp_ms: i64,
        record_score: f64,
        influencers: &[(&str, &[&str])],
    ) -> AnomalyRecord {
        AnomalyRecord {
            record_id: crate::results::record_id("j", timestamp_ms, 900, 0, Some(port), None, None),
            job_id: "j".into(),
            timestamp_ms: EpochMs(timestamp_ms),
            bucket_span: 900,
            detector_index: 0,
            is_interim: false,
            function: "rare".into(),
            function_description: "rare".into(),
            by_field_name: "destination.port".into(),
            by_field_value: port.into(),
            partition_field_name: None,
            partition_field_value: None,
            probability: 1e-6,
            record_score,
            initial_record_score: record_score,
            result_version: 1,
            typical: vec![0.01],
            actual: vec![1.0],
            influencers: influencers
                .iter()
                .map(|(f, v)| Influencer {
                    influencer_field_name: f.to_string(),
                    influencer_field_values: v.iter().map(|s| s.to_string()).collect(),
                })
                .collect(),
            influencers_capped: false,
            by_field_first_occurrence_ms: timestamp_ms,
            by_field_relative_rarity: 1.0,
            event_count: 1,
            host_count: 1,
            explanation: String::new(),
        }
    }
}
