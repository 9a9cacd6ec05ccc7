//! The plain data a bucket hands to the model: which by-values were present, and with what.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Influencer values kept per field and per record. Past this, the smallest values (in byte order)
/// are kept and [`ValueSummary::influencers_capped`] is set, so the result is the same whatever
/// order the events were folded in.
pub const MAX_INFLUENCER_VALUES: usize = 100;

/// The series a value belongs to: the by-field value, within its partition when the job has one.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct SeriesKey {
    /// The partition-field value, for jobs with a `partition_field_name`.
    pub partition: Option<String>,
    /// The by-field value (`"4444"`, `"nc"`).
    pub by: String,
}

/// What one by-value did in one bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValueSummary {
    /// Events with this value.
    pub event_count: u64,
    /// Distinct `host.name`s that produced them (not capped: hosts are few).
    pub hosts: BTreeSet<Arc<str>>,
    /// Co-occurring influencer values, by influencer field, capped at [`MAX_INFLUENCER_VALUES`].
    pub influencers: BTreeMap<String, BTreeSet<Arc<str>>>,
    /// True when some influencer field had more values than were kept.
    pub influencers_capped: bool,
}

/// One bucket of one job: every by-value present, with its summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSummary {
    /// Bucket start, epoch milliseconds UTC, a multiple of the bucket span.
    pub start_ms: i64,
    /// Present values, in key order.
    pub values: BTreeMap<SeriesKey, ValueSummary>,
    /// Events folded into the bucket.
    pub event_count: u64,
}

impl ValueSummary {
    /// Adds one influencer value, keeping the cap.
    pub fn add_influencer(&mut self, field: &str, value: &str) {
        let values = match self.influencers.get_mut(field) {
            Some(values) => values,
            None => self.influencers.entry(field.to_string()).or_default(),
        };
        if values.contains(value) {
            return;
        }
        values.insert(value.into());
        if values.len() > MAX_INFLUENCER_VALUES {
            values.pop_last();
            self.influencers_capped = true;
        }
    }

    /// Sets the values of one influencer field from an unordered list, keeping the cap: the
    /// same values as adding them one by one, built at once.
    pub fn set_influencers(&mut self, field: &str, values: Vec<Arc<str>>) {
        let mut values: BTreeSet<Arc<str>> = values.into_iter().collect();
        while values.len() > MAX_INFLUENCER_VALUES {
            values.pop_last();
            self.influencers_capped = true;
        }
        self.influencers.insert(field.to_string(), values);
    }

    /// Merges another summary of the same value and bucket into this one.
    pub fn merge(&mut self, other: ValueSummary) {
        self.event_count += other.event_count;
        self.hosts.extend(other.hosts);
        self.influencers_capped |= other.influencers_capped;
        for (field, mut values) in other.influencers {
            let mine = self.influencers.entry(field).or_default();
            mine.append(&mut values);
            while mine.len() > MAX_INFLUENCER_VALUES {
                mine.pop_last();
                self.influencers_capped = true;
            }
        }
    }
}

impl BucketSummary {
    /// An empty bucket starting at `start_ms`.
    pub fn empty(start_ms: i64) -> BucketSummary {
        BucketSummary {
            start_ms,
            values: BTreeMap::new(),
            event_count: 0,
        }
    }

    /// Merges another summary of the same bucket into this one. Associative and commutative, so
    /// a parallel fold gives the same result on any number of threads.
    pub fn merge(&mut self, other: BucketSummary) {
        self.event_count += other.event_count;
        for (key, summary) in other.values {
            match self.values.get_mut(&key) {
                Some(mine) => mine.merge(summary),
                None => {
                    self.values.insert(key, summary);
                }
            }
        }
    }
}
