//! A fold still in codes: what one or more frames folded, mergeable without making a string.
//! Strings are made once per bucket and value, when the fold of a whole read is summarised.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;

use super::summary::{BucketSummary, MAX_INFLUENCER_VALUES, SeriesKey, TextSet, ValueSummary};
use crate::store::ValueRef;
use crate::time::EpochMs;

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

    /// The values as shared texts in byte order, with each code's rank in that order: pairs
    /// then sort by rank as integers, and their sets are built from sorted input.
    fn sorted_texts(&self) -> SortedTexts {
        let texts: Vec<Arc<str>> = self.values.iter().map(Value::shared).collect();
        let mut order: Vec<u32> = (0..texts.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| texts[a as usize].cmp(&texts[b as usize]));
        let mut rank = vec![0; texts.len()];
        for (position, &code) in order.iter().enumerate() {
            rank[code as usize] = position as u32;
        }
        let in_order = order
            .iter()
            .map(|&code| texts[code as usize].clone())
            .collect();
        SortedTexts { in_order, rank }
    }

    /// The codes in `self` of `other`'s values, indexed by their code in `other`.
    fn absorb(&mut self, other: Dictionary) -> Vec<u32> {
        other.values.into_iter().map(|v| self.code(v)).collect()
    }
}

/// A dictionary's texts in byte order and the rank of each code in that order.
struct SortedTexts {
    in_order: Vec<Arc<str>>,
    rank: Vec<u32>,
}

impl SortedTexts {
    /// Per group, the texts of the codes `seen` lists for it: each once, in byte order, at most
    /// `limit` of them. The pairs are laid out by group in one counting pass, then each group's
    /// ranks sorted as integers.
    fn by_group(&self, seen: Vec<(u32, u32)>, groups: usize, limit: usize) -> Vec<Vec<Arc<str>>> {
        let mut starts = vec![0usize; groups + 1];
        for &(group, _) in &seen {
            if let Some(count) = starts.get_mut(group as usize + 1) {
                *count += 1;
            }
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut next = starts.clone();
        let mut ranks = vec![0u32; starts[groups]];
        for (group, code) in seen {
            if let (Some(at), Some(&rank)) =
                (next.get_mut(group as usize), self.rank.get(code as usize))
            {
                ranks[*at] = rank;
                *at += 1;
            }
        }
        (0..groups)
            .map(|group| {
                let mine = &mut ranks[starts[group]..next[group]];
                mine.sort_unstable();
                let mut texts = Vec::with_capacity(mine.len().min(limit));
                let mut last = None;
                for &rank in mine.iter() {
                    if last != Some(rank) && texts.len() < limit {
                        texts.push(self.in_order[rank as usize].clone());
                    }
                    last = Some(rank);
                }
                texts
            })
            .collect()
    }
}

/// Bucket start, partition code ([`NO_PARTITION`] without one) and by-value code.
type GroupKey = (EpochMs, u32, u32);

/// A group's events: how many, and the time of the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tally {
    pub events: u64,
    pub first_ms: EpochMs,
}

impl Tally {
    /// No event yet; the first [`Tally::event`] sets the time.
    pub fn none() -> Tally {
        Tally {
            events: 0,
            first_ms: EpochMs(i64::MAX),
        }
    }

    /// Counts one event at `t`.
    pub fn event(&mut self, t: EpochMs) {
        self.events += 1;
        self.first_ms = self.first_ms.min(t);
    }

    /// Adds the events of `other`.
    fn add(&mut self, other: Tally) {
        self.events += other.events;
        self.first_ms = self.first_ms.min(other.first_ms);
    }
}

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
    /// Per group: its key and events.
    groups: Vec<(GroupKey, Tally)>,
    /// Events per bucket start.
    buckets: HashMap<EpochMs, u64>,
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

    /// Adds the `events` of the group (bucket, partition, by) and returns the group.
    pub(super) fn add(
        &mut self,
        bucket: EpochMs,
        partition: Option<u32>,
        by: u32,
        events: Tally,
    ) -> u32 {
        *self.buckets.entry(bucket).or_default() += events.events;
        self.add_to_group((bucket, partition.unwrap_or(NO_PARTITION), by), events)
    }

    /// Adds `events` to the group of `key`, new or not, and returns the group.
    fn add_to_group(&mut self, key: GroupKey, events: Tally) -> u32 {
        let group = *self.index.entry(key).or_insert_with(|| {
            self.groups.push((key, Tally::none()));
            self.groups.len() as u32 - 1
        });
        self.groups[group as usize].1.add(events);
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
    pub fn summaries(self) -> BTreeMap<EpochMs, BucketSummary> {
        let groups = self.groups.len();
        let mut hosts = self
            .hosts
            .sorted_texts()
            .by_group(self.seen_hosts, groups, usize::MAX);
        // One past the cap tells the list was capped.
        let mut influencers: Vec<Vec<Vec<Arc<str>>>> = self
            .influencers
            .iter()
            .zip(self.seen_influencers)
            .map(|(dictionary, seen)| {
                let texts = dictionary.sorted_texts();
                texts.by_group(seen, groups, MAX_INFLUENCER_VALUES + 1)
            })
            .collect();
        let mut summaries: BTreeMap<EpochMs, BucketSummary> = self
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
        for (group, ((bucket, partition, by), events)) in self.groups.into_iter().enumerate() {
            let mut value = ValueSummary {
                event_count: events.events,
                first_event_ms: events.first_ms,
                hosts: TextSet::from_sorted(std::mem::take(&mut hosts[group])),
                ..ValueSummary::default()
            };
            for (name, sets) in self.names.iter().zip(&mut influencers) {
                let set = std::mem::take(&mut sets[group]);
                if !set.is_empty() {
                    value.set_influencers(name, TextSet::from_sorted(set));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sets: &[Vec<Arc<str>>]) -> Vec<Vec<&str>> {
        sets.iter()
            .map(|set| set.iter().map(|t| &**t).collect())
            .collect()
    }

    #[test]
    fn pairs_become_each_groups_texts_once_in_byte_order_up_to_the_limit() {
        let mut dictionary = Dictionary::default();
        for text in ["web-2", "db-1", "web-10", "app-3"] {
            dictionary.code(Value::Str(text.into()));
        }
        let texts_of = dictionary.sorted_texts();
        // Group 0 lists web-2 twice (two frames), group 1 nothing, group 2 all four.
        let seen = vec![(0, 0), (2, 0), (0, 1), (2, 3), (0, 0), (2, 2), (2, 1)];
        let sets = texts_of.by_group(seen, 3, 3);
        assert_eq!(
            texts(&sets),
            [
                vec!["db-1", "web-2"],
                vec![],
                vec!["app-3", "db-1", "web-10"]
            ]
        );
    }
}
