//! The plain data a bucket hands to the model: which by-values were present, and with what.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::time::EpochMs;

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
    /// Time of the value's first event in the bucket: the model gives a new value its id in
    /// the order events arrive, as ml-cpp gives a new by-value its person id.
    pub first_event_ms: EpochMs,
    /// Distinct `host.name`s that produced them (not capped: hosts are few).
    pub hosts: TextSet,
    /// Co-occurring influencer values, by influencer field, capped at [`MAX_INFLUENCER_VALUES`].
    pub influencers: BTreeMap<String, TextSet>,
    /// True when some influencer field had more values than were kept.
    pub influencers_capped: bool,
}

/// One bucket of one job: every by-value present, with its summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSummary {
    /// Bucket start, a multiple of the bucket span.
    pub start_ms: EpochMs,
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
        values.insert(value);
        self.influencers_capped |= values.cap(MAX_INFLUENCER_VALUES);
    }

    /// Sets the values of one influencer field, keeping the cap.
    pub fn set_influencers(&mut self, field: &str, mut values: TextSet) {
        self.influencers_capped |= values.cap(MAX_INFLUENCER_VALUES);
        self.influencers.insert(field.to_string(), values);
    }

    /// Merges another summary of the same value and bucket into this one.
    pub fn merge(&mut self, other: ValueSummary) {
        self.event_count += other.event_count;
        self.first_event_ms = self.first_event_ms.min(other.first_event_ms);
        self.hosts.union(other.hosts);
        self.influencers_capped |= other.influencers_capped;
        for (field, values) in other.influencers {
            let mine = self.influencers.entry(field).or_default();
            mine.union(values);
            self.influencers_capped |= mine.cap(MAX_INFLUENCER_VALUES);
        }
    }
}

/// Distinct shared texts in byte order: a value's hosts, or its values of one influencer field.
/// A sorted list rather than a tree: sets are built once from sorted codes, read in order, and
/// dropped, thousands of them per bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextSet(Vec<Arc<str>>);

impl TextSet {
    /// The set of `texts`, which must be distinct and in byte order.
    pub(crate) fn from_sorted(texts: Vec<Arc<str>>) -> TextSet {
        debug_assert!(texts.windows(2).all(|w| w[0] < w[1]));
        TextSet(texts)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Arc<str>> {
        self.0.iter()
    }

    pub fn contains(&self, text: &str) -> bool {
        self.0.binary_search_by(|t| (**t).cmp(text)).is_ok()
    }

    /// Adds `text` unless present.
    pub fn insert(&mut self, text: &str) {
        if let Err(at) = self.0.binary_search_by(|t| (**t).cmp(text)) {
            self.0.insert(at, text.into());
        }
    }

    /// Adds the texts of `other`.
    pub fn union(&mut self, other: TextSet) {
        if !other.is_empty() {
            self.0.extend(other.0);
            self.0.sort_unstable();
            self.0.dedup();
        }
    }

    /// Keeps the `limit` smallest texts; true when some were dropped.
    pub fn cap(&mut self, limit: usize) -> bool {
        let over = self.0.len() > limit;
        self.0.truncate(limit);
        over
    }
}

impl FromIterator<Arc<str>> for TextSet {
    fn from_iter<I: IntoIterator<Item = Arc<str>>>(texts: I) -> TextSet {
        let mut texts: Vec<Arc<str>> = texts.into_iter().collect();
        texts.sort_unstable();
        texts.dedup();
        TextSet(texts)
    }
}

impl<'a> IntoIterator for &'a TextSet {
    type Item = &'a Arc<str>;
    type IntoIter = std::slice::Iter<'a, Arc<str>>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl BucketSummary {
    /// An empty bucket starting at `start_ms`.
    pub fn empty(start_ms: EpochMs) -> BucketSummary {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(set: &TextSet) -> Vec<&str> {
        set.iter().map(|t| &**t).collect()
    }

    #[test]
    fn a_text_set_keeps_each_text_once_in_byte_order() {
        let mut set: TextSet = ["web-2", "web-10", "web-2", "Web-1"]
            .map(Into::into)
            .into_iter()
            .collect();
        assert_eq!(texts(&set), ["Web-1", "web-10", "web-2"]);
        set.insert("web-1");
        set.insert("web-10");
        assert_eq!(texts(&set), ["Web-1", "web-1", "web-10", "web-2"]);
        assert!(set.contains("web-1") && !set.contains("web-3"));
        set.union(["web-3", "web-1"].map(Into::into).into_iter().collect());
        assert_eq!(texts(&set), ["Web-1", "web-1", "web-10", "web-2", "web-3"]);
    }

    #[test]
    fn a_capped_set_keeps_its_smallest_texts_and_says_so() {
        let mut set: TextSet = ["c", "a", "b"].map(Into::into).into_iter().collect();
        assert!(!set.cap(3));
        assert!(set.cap(2));
        assert_eq!(texts(&set), ["a", "b"]);
    }

    #[test]
    fn merged_summaries_keep_the_influencer_cap() {
        let mut a = ValueSummary::default();
        let mut b = ValueSummary::default();
        for i in 0..MAX_INFLUENCER_VALUES {
            a.add_influencer("destination.ip", &format!("10.0.0.{i:03}"));
            b.add_influencer("destination.ip", &format!("10.0.1.{i:03}"));
        }
        assert!(!a.influencers_capped);
        a.merge(b);
        let ips = &a.influencers["destination.ip"];
        assert!(a.influencers_capped);
        assert_eq!(ips.len(), MAX_INFLUENCER_VALUES);
        assert_eq!(ips.iter().last().map(|t| &**t), Some("10.0.0.099"));
    }
}
