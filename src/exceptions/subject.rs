//! What a condition tests: a by-value in a bucket (model stage) or an anomaly record (rule
//! stage). Both name the same fields, resolved by [`Subject::values_of`] alone.

use crate::bucket::{SeriesKey, ValueSummary};
use crate::results::{AnomalyRecord, RecordContext};

/// The thing an exception entry is asked about.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A by-value of a bucket of `job`, before the model learns or scores it; `job` names the
    /// fields of the record it would become.
    BucketValue {
        job: &'a RecordContext<'a>,
        key: &'a SeriesKey,
        value: &'a ValueSummary,
    },
    /// An anomaly record, before the rule alerts on it.
    Record(&'a AnomalyRecord),
}

/// The job and series a subject belongs to.
struct Series<'a> {
    job_id: &'a str,
    by_field_name: &'a str,
    by_field_value: &'a str,
    partition_field_name: Option<&'a str>,
    partition_field_value: Option<&'a str>,
}

impl Subject<'_> {
    /// The values of `field`, empty when the subject has none:
    /// - `job_id`, `by_field_value` and `partition_field_value` as Elastic's result fields;
    /// - the job's by and partition fields give the series' values;
    /// - any other field its co-occurring influencer values, and `host.name`, when it is not an
    ///   influencer, the hosts a bucket value was seen on (a record keeps no host list).
    pub fn values_of(&self, field: &str) -> Vec<String> {
        let series = self.series();
        match field {
            "job_id" => return vec![series.job_id.to_string()],
            "by_field_value" => return vec![series.by_field_value.to_string()],
            "partition_field_value" => {
                return series
                    .partition_field_value
                    .map(str::to_string)
                    .into_iter()
                    .collect();
            }
            _ => {}
        }
        let mut values = self.influencer_values(field);
        if field == "host.name" && values.is_empty() {
            values = self.hosts();
        }
        if field == series.by_field_name {
            values.push(series.by_field_value.to_string());
        }
        if series.partition_field_name == Some(field) {
            values.extend(series.partition_field_value.map(str::to_string));
        }
        values
    }

    fn series(&self) -> Series<'_> {
        match *self {
            Subject::BucketValue { job, key, .. } => Series {
                job_id: job.job_id,
                by_field_name: job.by_field_name,
                by_field_value: &key.by,
                partition_field_name: job.partition_field_name,
                partition_field_value: key.partition.as_deref(),
            },
            Subject::Record(record) => Series {
                job_id: &record.job_id,
                by_field_name: &record.by_field_name,
                by_field_value: &record.by_field_value,
                partition_field_name: record.partition_field_name.as_deref(),
                partition_field_value: record.partition_field_value.as_deref(),
            },
        }
    }

    fn influencer_values(&self, field: &str) -> Vec<String> {
        match *self {
            Subject::BucketValue { value, .. } => value
                .influencers
                .get(field)
                .map(|v| v.iter().map(|v| v.to_string()).collect())
                .unwrap_or_default(),
            Subject::Record(record) => record
                .influencers
                .iter()
                .filter(|i| i.influencer_field_name == field)
                .flat_map(|i| i.influencer_field_values.iter().cloned())
                .collect(),
        }
    }

    fn hosts(&self) -> Vec<String> {
        match *self {
            Subject::BucketValue { value, .. } => {
                value.hosts.iter().map(|h| h.to_string()).collect()
            }
            Subject::Record(_) => Vec::new(),
        }
    }
}
