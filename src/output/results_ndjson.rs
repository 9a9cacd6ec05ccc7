//! Every result as Elasticsearch `_bulk` NDJSON for the results index (`.ml-anomalies-shared` by
//! default): `index` actions with Elasticsearch's own `_id`s, so loading the same results twice
//! overwrites instead of duplicating.

use serde_json::{Value, json};

use super::buckets::{BUCKET, BUCKET_INFLUENCER};
use super::document::document;
use super::influencers::INFLUENCER;
use super::model_size_stats::MODEL_SIZE_STATS;
use super::records::RECORD;
use crate::results::{AnomalyRecord, InfluencerResult, ResultSet};

/// Where the results' `_bulk` actions write: an index or an alias, in which `{job_id}` stands
/// for each result's job, since Elasticsearch writes a job's results through its own alias
/// `.ml-anomalies-.write-<job_id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultsTarget {
    bulk_index: String,
}

impl Default for ResultsTarget {
    /// Elasticsearch's shared results index.
    fn default() -> Self {
        ResultsTarget {
            bulk_index: ".ml-anomalies-shared".into(),
        }
    }
}

impl ResultsTarget {
    /// The placeholder replaced by the job id.
    pub const JOB_ID: &'static str = "{job_id}";

    /// A target from its setting; refused when empty or holding another `{...}` placeholder,
    /// which would otherwise reach Elasticsearch as part of an index name.
    pub fn new(bulk_index: &str) -> Result<ResultsTarget, String> {
        let rest = bulk_index.replace(Self::JOB_ID, "");
        if bulk_index.is_empty() {
            return Err("an empty results index".into());
        }
        if rest.contains(['{', '}']) {
            return Err(format!(
                "{bulk_index:?}: the only placeholder is {}",
                Self::JOB_ID
            ));
        }
        Ok(ResultsTarget {
            bulk_index: bulk_index.to_string(),
        })
    }

    /// The `_index` of the actions of `job_id`'s results.
    pub fn index(&self, job_id: &str) -> String {
        self.bulk_index.replace(Self::JOB_ID, job_id)
    }
}

/// `_bulk` text of one job's records and results, for `target`: records, influencers, each
/// bucket followed by its bucket influencers, then the model size statistics.
pub fn results_ndjson(
    target: &ResultsTarget,
    job_id: &str,
    records: &[AnomalyRecord],
    results: &ResultSet,
) -> String {
    let index = target.index(job_id);
    let mut out = String::new();
    let mut push = |id: String, doc: Value| {
        let action = json!({ "index": { "_index": index, "_id": id } });
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
        push(bucket.id(), Value::Object(document(&BUCKET, bucket)));
        for b in &bucket.bucket_influencers {
            push(b.id(), Value::Object(document(&BUCKET_INFLUENCER, b)));
        }
    }
    for stats in &results.model_size_stats {
        push(
            stats.id(),
            Value::Object(document(&MODEL_SIZE_STATS, stats)),
        );
    }
    out
}

fn record_doc(r: &AnomalyRecord) -> Value {
    let mut doc = document(&RECORD, r);
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

/// The influencer's document, with its value under the field's own name as Elasticsearch adds it.
fn influencer_doc(i: &InfluencerResult) -> Value {
    let mut doc = document(&INFLUENCER, i);
    if !doc.contains_key(&i.influencer_field_name) {
        doc.insert(
            i.influencer_field_name.clone(),
            json!(i.influencer_field_value),
        );
    }
    Value::Object(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_get_index_actions_with_their_id_and_field_arrays() {
        let record = AnomalyRecord::sample("4444", 900_000, 80.0, &[("host.name", &["web-1"])]);
        let text = results_ndjson(
            &ResultsTarget::default(),
            &record.job_id,
            std::slice::from_ref(&record),
            &ResultSet::default(),
        );
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["index"]["_id"], json!(record.record_id));
        assert_eq!(lines[0]["index"]["_index"], json!(".ml-anomalies-shared"));
        assert_eq!(lines[1]["result_type"], json!("record"));
        assert_eq!(lines[1]["multi_bucket_impact"], json!(0.0));
        assert_eq!(lines[1]["destination.port"], json!(["4444"]));
        assert_eq!(lines[1]["host.name"], json!(["web-1"]));
        assert_eq!(
            lines[1]["anomaly_score_explanation"]["by_field_first_occurrence"],
            json!(true)
        );
    }

    #[test]
    fn the_target_names_each_jobs_write_alias() {
        let target = ResultsTarget::new(".ml-anomalies-.write-{job_id}").expect("target");
        assert_eq!(target.index("port"), ".ml-anomalies-.write-port");
        let record = AnomalyRecord::sample("4444", 900_000, 80.0, &[]);
        let text = results_ndjson(
            &target,
            &record.job_id,
            std::slice::from_ref(&record),
            &ResultSet::default(),
        );
        let action: Value =
            serde_json::from_str(text.lines().next().unwrap_or_default()).expect("action line");
        let alias = format!(".ml-anomalies-.write-{}", record.job_id);
        assert_eq!(action["index"]["_index"], json!(alias));
        let shared = ResultsTarget::new(".ml-anomalies-shared-000001").expect("target");
        assert_eq!(shared.index("port"), ".ml-anomalies-shared-000001");
    }

    #[test]
    fn an_empty_target_or_an_unknown_placeholder_is_refused() {
        assert!(ResultsTarget::new("").is_err());
        assert!(ResultsTarget::new(".ml-anomalies-.write-{jobid}").is_err());
        assert!(ResultsTarget::new(".ml-anomalies-{job_id").is_err());
    }
}
