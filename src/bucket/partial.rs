//! A fold still in codes: what one or more frames folded, mergeable without making a string.
//! Strings are made once per bucket and value, when the fold of a whole read is summarised.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;

use super::summary::{BucketSummary, MAX_INFLUENCER_VALUES, SeriesKey, TextSet, ValueSummary};
use crate::store::ValueRef;

/// A distinct value of a folded field, owned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Value {
    Str(Arc<str>),
    Int(i64),
}

impl Value {
    fn text(&self) -> String {
        match self {
            Value::Str(s) => s.to_string(),
            Value::Int(i) => i.to_string(),
        }
    }

    /// The value as shared text: a host named in many buckets is one allocation.
    fn shared(&self) -> Arc<str> {
        match self {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string().into(),
        }
    }
}

impl From<ValueRef<'_>> for Value {
    fn from(value: ValueRef<'_>) -> Value {
        match value {
            ValueRef::Str(s) => Value::Str(s.into()),
            ValueRef::Int(i) => Value::Int(i),
        }
    }
}

/// The distinct values of one field, each with a code.
#[derive(Debug, Default)]
struct Dictionary {
    index: HashMap<Value, u32>,
    values: Vec<Value>,
}

impl Dictionary {
    fn code(&mut self, value: Value) -> u32 {
        if let Some(&code) = self.index.get(&value) {
            return code;
        }
        let code = self.values.len() as u32;
        self.values.push(value.clone());
        self.index.insert(value, code);
        code
    }

    /// The values as shared texts, with each code's rank in the texts' byte order: groups then
    /// sort their codes as integers, and their sets are built from sorted input.
    fn sorted_texts(&self) -> SortedTexts {
        let texts: Vec<Arc<str>> = self.values.iter().map(Value::shared).collect();
        let mut order: Vec<u32> = (0..texts.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| texts[a as usize].cmp(&texts[b as usize]));
        let mut rank = vec![0; texts.len()];
        for (position, &code) in order.iter().enumerate() {
            rank[code as usize] = position as u32;
        }
        SortedTexts { texts, rank }
    }

    /// The codes in `self` of `other`'s values, indexed by their code in `other`.
    fn absorb(&mut self, other: Dictionary) -> Vec<u32> {
        other.values.into_iter().map(|v| self.code(v)).collect()
    }
}

/// A dictionary's texts and the rank of each code in their byte order.
struct SortedTexts {
    texts: Vec<Arc<str>>,
    rank: Vec<u32>,
}

impl SortedTexts {
    /// The texts of `codes`, each once, in byte order, at most `limit` of them.
    fn smallest(&self, mut codes: Vec<u32>, limit: usize) -> Vec<Arc<str>> {
        codes.sort_unstable_by_key(|&code| self.rank[code as usize]);
        codes.dedup();
        codes
            .into_iter()
            .take(limit)
            .map(|code| self.texts[code as usize].clone())
            .collect()
    }
}

/// Bucket start, partition code ([`NO_PARTITION`] without one) and by-value code.
type GroupKey = (i64, u32, u32);

/// The partition code of jobs without a partition field.
const NO_PARTITION: u32 = u32::MAX;

/// A job's fold of some frames: per (bucket, partition, by-value) group its event count, and
/// the hosts and influencer values it saw, all as codes into per-field dictionaries.
#[derive(Debug)]
pub struct PartialFold {
    by: Dictionary,
    partition: Dictionary,
    hosts: Dictionary,
    influencers: Vec<Dictionary>,
    /// The influencer field names, in the order of `influencers`.
    names: Vec<String>,
    index: HashMap<GroupKey, u32>,
    /// Per group: its key and event count.
    groups: Vec<(GroupKey, u64)>,
    /// Events per bucket start.
    buckets: HashMap<i64, u64>,
    /// (group, host) pairs seen. Each frame hands over its distinct pairs, so pairs are listed,
    /// not hashed: the few repeats across frames are dropped when summarised.
    seen_hosts: Vec<(u32, u32)>,
    /// Per influencer field, (group, value) pairs seen, listed as the hosts are.
    seen_influencers: Vec<Vec<(u32, u32)>>,
}

impl PartialFold {
    /// An empty fold of a job with these influencer fields.
    pub fn new(names: &[String]) -> PartialFold {
        PartialFold {
            by: Dictionary::default(),
            partition: Dictionary::default(),
            hosts: Dictionary::default(),
            influencers: names.iter().map(|_| Dictionary::default()).collect(),
            names: names.to_vec(),
            index: HashMap::default(),
            groups: Vec::new(),
            buckets: HashMap::default(),
            seen_hosts: Vec::new(),
            seen_influencers: vec![Vec::new(); names.len()],
        }
    }

    /// The code of a by-value.
    pub(super) fn by_code(&mut self, value: ValueRef) -> u32 {
        self.by.code(value.into())
    }

    /// The code of a partition value.
    pub(super) fn partition_code(&mut self, value: ValueRef) -> u32 {
        self.partition.code(value.into())
    }

    /// The code of a host.
    pub(super) fn host_code(&mut self, host: &str) -> u32 {
        self.hosts.code(Value::Str(host.into()))
    }

    /// The code of a value of influencer field `field`.
    pub(super) fn influencer_code(&mut self, field: usize, value: ValueRef) -> u32 {
        self.influencers[field].code(value.into())
    }

    /// Adds `events` events of the group (bucket, partition, by) and returns the group.
    pub(super) fn add(&mut self, bucket: i64, partition: Option<u32>, by: u32, events: u64) -> u32 {
        *self.buckets.entry(bucket).or_default() += events;
        self.add_to_group((bucket, partition.unwrap_or(NO_PARTITION), by), events)
    }

    /// Adds `events` events to the group of `key`, new or not, and returns the group.
    fn add_to_group(&mut self, key: GroupKey, events: u64) -> u32 {
        let group = *self.index.entry(key).or_insert_with(|| {
            self.groups.push((key, 0));
            self.groups.len() as u32 - 1
        });
        self.groups[group as usize].1 += events;
        group
    }

    /// Records that `group` saw `host`.
    pub(super) fn saw_host(&mut self, group: u32, host: u32) {
        self.seen_hosts.push((group, host));
    }

    /// Records that `group` saw `value` of influencer field `field`.
    pub(super) fn saw_influencer(&mut self, group: u32, field: usize, value: u32) {
        self.seen_influencers[field].push((group, value));
    }

    /// Adds another fold of the same job. Associative and commutative: the summaries are the
    /// same in any order of merging.
    pub fn merge(&mut self, mut other: PartialFold) {
        // The cost is the side merged in: merge the smaller into the larger.
        if other.size() > self.size() {
            std::mem::swap(self, &mut other);
        }
        if other.groups.is_empty() {
            return;
        }
        let by = self.by.absorb(other.by);
        let partition = self.partition.absorb(other.partition);
        let hosts = self.hosts.absorb(other.hosts);
        let influencers: Vec<Vec<u32>> = self
            .influencers
            .iter_mut()
            .zip(other.influencers)
            .map(|(mine, theirs)| mine.absorb(theirs))
            .collect();
        let groups: Vec<u32> = other
            .groups
            .into_iter()
            .map(|((bucket, p, b), events)| {
                let p = if p == NO_PARTITION {
                    NO_PARTITION
                } else {
                    partition[p as usize]
                };
                self.add_to_group((bucket, p, by[b as usize]), events)
            })
            .collect();
        for (bucket, events) in other.buckets {
            *self.buckets.entry(bucket).or_default() += events;
        }
        for (group, host) in other.seen_hosts {
            self.saw_host(groups[group as usize], hosts[host as usize]);
        }
        for (field, seen) in other.seen_influencers.into_iter().enumerate() {
            for (group, value) in seen {
                let value = influencers[field][value as usize];
                self.saw_influencer(groups[group as usize], field, value);
            }
        }
    }

    /// How much a merge of this fold into another costs: the pairs it holds.
    fn size(&self) -> usize {
        self.groups.len()
            + self.seen_hosts.len()
            + self.seen_influencers.iter().map(Vec::len).sum::<usize>()
    }

    /// One summary per bucket, with each code turned into its string once.
    pub fn summaries(self) -> BTreeMap<i64, BucketSummary> {
        let mut hosts: Vec<Vec<u32>> = vec![Vec::new(); self.groups.len()];
        for (group, host) in self.seen_hosts {
            hosts[group as usize].push(host);
        }
        let mut influencers: Vec<Vec<Vec<u32>>> =
            vec![vec![Vec::new(); self.names.len()]; self.groups.len()];
        for (field, seen) in self.seen_influencers.into_iter().enumerate() {
            for (group, value) in seen {
                influencers[group as usize][field].push(value);
            }
        }
        let mut summaries: BTreeMap<i64, BucketSummary> = self
            .buckets
            .into_iter()
            .map(|(start, events)| {
                let summary = BucketSummary {
                    event_count: events,
                    ..BucketSummary::empty(start)
                };
                (start, summary)
            })
            .collect();
        let host_texts = self.hosts.sorted_texts();
        let influencer_texts: Vec<SortedTexts> = self
            .influencers
            .iter()
            .map(Dictionary::sorted_texts)
            .collect();
        let groups = self.groups.into_iter().zip(hosts).zip(influencers);
        for ((((bucket, partition, by), events), hosts), influencers) in groups {
            let mut value = ValueSummary {
                event_count: events,
                hosts: TextSet::from_sorted(host_texts.smallest(hosts, usize::MAX)),
                ..ValueSummary::default()
            };
            let fields = self.names.iter().zip(&influencer_texts).zip(influencers);
            for ((name, texts), codes) in fields {
                if !codes.is_empty() {
                    // One past the cap tells the list was capped.
                    let smallest = texts.smallest(codes, MAX_INFLUENCER_VALUES + 1);
                    value.set_influencers(name, TextSet::from_sorted(smallest));
                }
            }
            let key = SeriesKey {
                partition: (partition != NO_PARTITION)
                    .then(|| self.partition.values[partition as usize].text()),
                by: self.by.values[by as usize].text(),
            };
            if let Some(summary) = summaries.get_mut(&bucket) {
                summary.values.insert(key, value);
            }
        }
        summaries
    }
}
