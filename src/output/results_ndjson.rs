//! Every result as Elasticsearch `_bulk` NDJSON for `.ml-anomalies-shared`: `index` actions with
//! Elasticsearch's own `_id`s, so loading the same results twice overwrites instead of duplicating.

use serde_json::{Map, Value, json};

use crate::results::{
    AnomalyRecord, BucketInfluencer, BucketResult, InfluencerResult, ModelSizeStats, ResultSet,
};

/// The index the results are written to (Elasticsearch's shared results index).
pub const RESULTS_INDEX: &str = ".ml-anomalies-shared";

/// `_bulk` text of the records and results: records, influencers, each bucket followed by its
/// bucket influencers, then the model size statistics.
pub fn results_ndjson(records: &[AnomalyRecord], results: &ResultSet) -> String {
    let mut out = String::new();
    let mut push = |id: String, doc: Value| {
        let action = json!({ "index": { "_index": RESULTS_INDEX, "_id": id } });
        out.push_str(&action.to_string());
        out.push('\n');
        out.push_str(&doc.to_string());
        out.push('\n');
    };
    for record in records {
        push(record.record_id.clone(), record_doc(record));
    }
    for influencer in &results.influencers {
        push(influencer.id(), influencer_doc(influencer));
    }
    for bucket in &results.buckets {
        push(bucket.id(), bucket_doc(bucket));
        for b in &bucket.bucket_influencers {
            push(b.id(), bucket_influencer_doc(b));
        }
    }
    for stats in &results.model_size_stats {
        push(stats.id(), model_size_stats_doc(stats));
    }
    out
}

/// The fields every result shares.
fn common(
    result_type: &str,
    job_id: &str,
    timestamp_ms: i64,
    bucket_span: i64,
) -> Map<String, Value> {
    let mut doc = Map::new();
    doc.insert("job_id".into(), json!(job_id));
    doc.insert("result_type".into(), json!(result_type));
    doc.insert("timestamp".into(), json!(timestamp_ms));
    doc.insert("bucket_span".into(), json!(bucket_span));
    doc.insert("is_interim".into(), json!(false));
    doc
}

fn record_doc(r: &AnomalyRecord) -> Value {
    let mut doc = common("record", &r.job_id, r.timestamp_ms, r.bucket_span);
    let fields = [
        ("detector_index", json!(r.detector_index)),
        ("probability", json!(r.probability)),
        // ml-cpp writes it on every event rate record; `rare` has no multi-bucket feature.
        ("multi_bucket_impact", json!(0.0)),
        ("record_score", json!(r.record_score)),
        ("initial_record_score", json!(r.initial_record_score)),
        ("function", json!(r.function)),
        ("function_description", json!(r.function_description)),
        ("by_field_name", json!(r.by_field_name)),
        ("by_field_value", json!(r.by_field_value)),
        ("typical", json!(r.typical)),
        ("actual", json!(r.actual)),
        ("influencers", json!(r.influencers)),
        (
            "anomaly_score_explanation",
            json!(r.anomaly_score_explanation()),
        ),
    ];
    doc.extend(fields.into_iter().map(|(k, v)| (k.to_string(), v)));
    if let (Some(name), Some(value)) = (&r.partition_field_name, &r.partition_field_value) {
        doc.insert("partition_field_name".into(), json!(name));
        doc.insert("partition_field_value".into(), json!(value));
    }
    // One array per by, partition and influencer field, by value first.
    let mut names = vec![r.by_field_name.clone()];
    names.extend(r.partition_field_name.iter().cloned());
    names.extend(
        r.influencers
            .iter()
            .map(|i| i.influencer_field_name.clone()),
    );
    for name in names {
        if doc.contains_key(&name) {
            continue;
        }
        let mut values = Vec::new();
        if name == r.by_field_name {
            values.push(r.by_field_value.clone());
        }
        for value in r.field_values(&name) {
            if !values.contains(&value) {
                values.push(value);
            }
        }
        doc.insert(name, json!(values));
    }
    Value::Object(doc)
}

fn influencer_doc(i: &InfluencerResult) -> Value {
    let mut doc = common("influencer", &i.job_id, i.timestamp_ms, i.bucket_span);
    doc.insert(
        "influencer_field_name".into(),
        json!(i.influencer_field_name),
    );
    doc.insert(
        "influencer_field_value".into(),
        json!(i.influencer_field_value),
    );
    doc.insert("influencer_score".into(), json!(i.influencer_score));
    doc.insert(
        "initial_influencer_score".into(),
        json!(i.initial_influencer_score),
    );
    doc.insert("probability".into(), json!(i.probability));
    if !doc.contains_key(&i.influencer_field_name) {
        doc.insert(
            i.influencer_field_name.clone(),
            json!(i.influencer_field_value),
        );
    }
    Value::Object(doc)
}

fn bucket_influencer_doc(b: &BucketInfluencer) -> Value {
    let mut doc = common(
        "bucket_influencer",
        &b.job_id,
        b.timestamp_ms,
        b.bucket_span,
    );
    doc.insert(
        "influencer_field_name".into(),
        json!(b.influencer_field_name),
    );
    doc.insert("anomaly_score".into(), json!(b.anomaly_score));
    doc.insert(
        "initial_anomaly_score".into(),
        json!(b.initial_anomaly_score),
    );
    doc.insert("raw_anomaly_score".into(), json!(b.raw_anomaly_score));
    doc.insert("probability".into(), json!(b.probability));
    Value::Object(doc)
}

fn bucket_doc(b: &BucketResult) -> Value {
    let mut doc = common("bucket", &b.job_id, b.timestamp_ms, b.bucket_span);
    doc.insert("anomaly_score".into(), json!(b.anomaly_score));
    doc.insert(
        "initial_anomaly_score".into(),
        json!(b.initial_anomaly_score),
    );
    doc.insert("event_count".into(), json!(b.event_count));
    doc.insert("processing_time_ms".into(), json!(b.processing_time_ms));
    doc.insert(
        "bucket_influencers".into(),
        Value::Array(
            b.bucket_influencers
                .iter()
                .map(bucket_influencer_doc)
                .collect(),
        ),
    );
    Value::Object(doc)
}

fn model_size_stats_doc(s: &ModelSizeStats) -> Value {
    json!({
        "job_id": s.job_id,
        "result_type": "model_size_stats",
        "timestamp": s.timestamp_ms,
        "log_time": s.log_time_ms,
        "model_bytes": s.model_bytes,
        "peak_model_bytes": s.peak_model_bytes,
        "model_bytes_exceeded": s.model_bytes_exceeded,
        "model_bytes_memory_limit": s.model_bytes_memory_limit,
        "total_by_field_count": s.total_by_field_count,
        "total_over_field_count": s.total_over_field_count,
        "total_partition_field_count": s.total_partition_field_count,
        "bucket_allocation_failures_count": s.bucket_allocation_failures_count,
        "memory_status": s.memory_status_name(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_get_index_actions_with_their_id_and_field_arrays() {
        let record = AnomalyRecord::sample("4444", 900_000, 80.0, &[("host.name", &["web-1"])]);
        let text = results_ndjson(std::slice::from_ref(&record), &ResultSet::default());
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["index"]["_id"], json!(record.record_id));
        assert_eq!(lines[0]["index"]["_index"], json!(RESULTS_INDEX));
        assert_eq!(lines[1]["result_type"], json!("record"));
        assert_eq!(lines[1]["multi_bucket_impact"], json!(0.0));
        assert_eq!(lines[1]["destination.port"], json!(["4444"]));
        assert_eq!(lines[1]["host.name"], json!(["web-1"]));
        assert_eq!(
            lines[1]["anomaly_score_explanation"]["by_field_first_occurrence"],
            json!(true)
        );
    }
}
