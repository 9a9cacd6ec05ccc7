//! The population model: `rare` judged with what the whole fleet tells, not only bucket counts.
//!
//! Input: every bucket's [`BucketSummary`], in time order, empty ones included. Output: a [`Score`]
//! with an explanation for each present value whose probability is below 0.035, on Elastic's 0–100
//! scale. A value's fleet-wide rarity ([`rarity`]) is raised by how many hosts produce it (a rollout
//! is not an intrusion), by whether its host produced it before, by its process's usual ports and by
//! a recurring schedule ([`state`]), and lowered when a process that never used the network starts
//! to, or when a value new to the fleet spreads to one more host within days; [`score`] turns that
//! into a probability, a score and words. Ephemeral ports form one class.
//! See "The population model" in `docs/model.md`.

mod memory;
mod rarity;
mod score;
mod snapshot;
mod state;

use std::collections::{BTreeMap, BTreeSet};

use super::{FieldCounts, MemoryReport, ModelParams, Score};
use crate::bucket::{BucketSummary, SeriesKey, ValueSummary};
use crate::time::EpochMs;
use rarity::Rarity;
use score::{Evidence, MAX_RECORD_PROBABILITY, ProcessFact, Spreading};
pub use snapshot::{PopulationSnapshot, ProcessEntry, ValueEntry};
pub(in crate::model) use state::MAX_PORTS;
use state::{MAX_HOSTS, ProcessState, ValueState, class_key};

/// Buckets with data the model only learns from: none of them yields a record.
pub const COLD_START_BUCKETS: u64 = 20;
/// The influencer naming the processes of a port.
const PROCESS_FIELD: &str = "process.name";

/// The model of one job.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationRare {
    bucket_span_s: i64,
    memory_limit_bytes: u64,
    /// Buckets with data learnt so far.
    buckets_learned: u64,
    /// Every host seen, with its id (ids count up from 0 in order of first appearance).
    hosts: BTreeMap<String, u32>,
    values: BTreeMap<SeriesKey, ValueState>,
    /// Network history per process (port values only), keyed by partition and process name.
    processes: BTreeMap<SeriesKey, ProcessState>,
    rarity: BTreeMap<Option<String>, Rarity>,
    bytes: u64,
    refused_values: u64,
    /// The by-field holds ports: high ports are classed and processes give context.
    ports: bool,
}

/// A value class learnt in this bucket, waiting to be judged.
struct Learnt<'a> {
    class: SeriesKey,
    members: Vec<&'a SeriesKey>,
    seen_before: u64,
    new_hosts: Vec<String>,
    processes: Vec<ProcessFact>,
}

impl PopulationRare {
    /// A model that has seen nothing.
    pub fn new(params: &ModelParams) -> Self {
        PopulationRare {
            bucket_span_s: params.bucket_span_s,
            memory_limit_bytes: params.memory_limit_bytes,
            buckets_learned: 0,
            hosts: BTreeMap::new(),
            values: BTreeMap::new(),
            processes: BTreeMap::new(),
            rarity: BTreeMap::new(),
            bytes: memory::FIXED_BYTES,
            refused_values: 0,
            ports: params.by_field_is_port,
        }
    }

    /// By-values and partitions held.
    pub fn field_counts(&self) -> FieldCounts {
        let partitions: BTreeSet<&str> = self
            .values
            .keys()
            .filter_map(|k| k.partition.as_deref())
            .collect();
        FieldCounts {
            by_values: self.values.len() as u64,
            partitions: partitions.len() as u64,
        }
    }

    /// Learns from one bucket, then judges its present values; returns those with p < 0.035.
    pub fn update(&mut self, bucket: &BucketSummary) -> Vec<Score> {
        if bucket.values.is_empty() {
            return Vec::new();
        }
        self.buckets_learned += 1;
        self.learn_hosts(bucket);
        let mut classes: BTreeMap<SeriesKey, Vec<&SeriesKey>> = BTreeMap::new();
        for key in bucket.values.keys() {
            classes
                .entry(class_key(key, self.ports))
                .or_default()
                .push(key);
        }
        let mut used: BTreeMap<SeriesKey, BTreeSet<String>> = BTreeMap::new();
        let mut learnt = Vec::with_capacity(classes.len());
        for (class, members) in classes {
            if let Some(l) = self.learn_class(class, members, bucket, &mut used) {
                learnt.push(l);
            }
        }
        self.learn_processes(used);
        if self.buckets_learned <= COLD_START_BUCKETS {
            return Vec::new();
        }
        let mut new_per_host: BTreeMap<&str, usize> = BTreeMap::new();
        for host in learnt.iter().flat_map(|l| l.new_hosts.iter()) {
            *new_per_host.entry(host).or_default() += 1;
        }
        learnt
            .iter()
            .flat_map(|l| {
                let burst = l
                    .new_hosts
                    .iter()
                    .map(|h| new_per_host.get(h.as_str()).copied().unwrap_or(1))
                    .max()
                    .unwrap_or(1);
                self.judge(l, burst)
            })
            .collect()
    }

    /// The estimated state size against the limit.
    pub fn memory(&self) -> MemoryReport {
        MemoryReport::of(self.bytes, self.memory_limit_bytes, self.refused_values)
    }

    /// Adds the bucket's new hosts to the fleet (always admitted: hosts are few).
    fn learn_hosts(&mut self, bucket: &BucketSummary) {
        for host in bucket.values.values().flat_map(|v| v.hosts.iter()) {
            if !self.hosts.contains_key(&**host) {
                let id = self.hosts.len() as u32;
                self.bytes += memory::host_cost(host);
                self.hosts.insert(host.to_string(), id);
            }
        }
    }

    /// Counts one class in this bucket, noting what was new; None when refused at the limit.
    fn learn_class<'a>(
        &mut self,
        class: SeriesKey,
        members: Vec<&'a SeriesKey>,
        bucket: &'a BucketSummary,
        used: &mut BTreeMap<SeriesKey, BTreeSet<String>>,
    ) -> Option<Learnt<'a>> {
        if !self.admit_value(&class) {
            return None;
        }
        let summaries: Vec<&ValueSummary> = members
            .iter()
            .filter_map(|k| bucket.values.get(*k))
            .collect();
        let names: BTreeSet<&str> = summaries
            .iter()
            .flat_map(|s| s.hosts.iter().map(|h| &**h))
            .collect();
        let ids: Vec<u32> = names
            .iter()
            .filter_map(|n| self.hosts.get(*n).copied())
            .collect();
        let processes = self.process_facts(&class, &summaries, used);
        let state = self
            .values
            .entry(class.clone())
            .or_insert_with(|| ValueState::new(bucket.start_ms.ms()));
        let seen_before = state.buckets;
        let new_hosts = names
            .iter()
            .filter(|n| self.hosts.get(**n).is_some_and(|id| !state.knows_host(*id)))
            .map(|n| n.to_string())
            .collect();
        state.observe(
            bucket.start_ms.ms(),
            self.bucket_span_s * 1000,
            &ids,
            self.buckets_learned > COLD_START_BUCKETS,
        );
        self.rarity
            .entry(class.partition.clone())
            .or_default()
            .increment(seen_before);
        Some(Learnt {
            class,
            members,
            seen_before,
            new_hosts,
            processes,
        })
    }

    /// The name of host `id` (a scan of the fleet: only spreading values ask).
    fn host_name(&self, id: u32) -> String {
        self.hosts
            .iter()
            .find(|&(_, &known)| known == id)
            .map(|(name, _)| name.clone())
            .unwrap_or_default()
    }

    /// True if `class` is known or fits in the memory limit (and is then charged).
    fn admit_value(&mut self, class: &SeriesKey) -> bool {
        if self.values.contains_key(class) {
            return true;
        }
        let mut cost = memory::value_cost(&class.by, class.partition.as_deref());
        if !self.rarity.contains_key(&class.partition) {
            cost += memory::partition_cost(class.partition.as_deref());
        }
        self.charge(cost)
    }

    /// Charges `cost` if it fits, else counts a refusal.
    fn charge(&mut self, cost: u64) -> bool {
        if self.bytes + cost > self.memory_limit_bytes {
            self.refused_values += 1;
            return false;
        }
        self.bytes += cost;
        true
    }

    /// What the processes of a port class tell, before this bucket; records their use in `used`.
    /// Nothing for non-port values or when the process influencer was capped.
    fn process_facts(
        &self,
        class: &SeriesKey,
        summaries: &[&ValueSummary],
        used: &mut BTreeMap<SeriesKey, BTreeSet<String>>,
    ) -> Vec<ProcessFact> {
        if !self.ports {
            return Vec::new();
        }
        let names: BTreeSet<&str> = summaries
            .iter()
            .filter_map(|s| s.influencers.get(PROCESS_FIELD))
            .flatten()
            .map(|name| &**name)
            .collect();
        for name in &names {
            used.entry(SeriesKey {
                partition: class.partition.clone(),
                by: name.to_string(),
            })
            .or_default()
            .insert(class.by.clone());
        }
        if summaries.iter().any(|s| s.influencers_capped) {
            return Vec::new();
        }
        names
            .into_iter()
            .map(|name| {
                let key = SeriesKey {
                    partition: class.partition.clone(),
                    by: name.to_string(),
                };
                match self.processes.get(&key) {
                    None => ProcessFact::NeverNetworked(name.to_string()),
                    Some(p) if p.is_usual(&class.by) => ProcessFact::Usual(name.to_string()),
                    Some(p) if p.ports.contains_key(&class.by) => {
                        ProcessFact::Known(name.to_string())
                    }
                    Some(_) => ProcessFact::NewPort(name.to_string()),
                }
            })
            .collect()
    }

    /// Counts this bucket's network use per process, admitting new processes within the limit.
    fn learn_processes(&mut self, used: BTreeMap<SeriesKey, BTreeSet<String>>) {
        for (key, ports) in used {
            if !self.processes.contains_key(&key)
                && !self.charge(memory::process_cost(&key.by, key.partition.as_deref()))
            {
                continue;
            }
            self.processes
                .entry(key)
                .or_default()
                .observe(ports.iter().map(String::as_str));
        }
    }

    /// The scores of a learnt class's member values that deserve a record; `burst` is how many
    /// values were new on the same host in this bucket.
    fn judge(&self, l: &Learnt, burst: usize) -> Vec<Score> {
        let (Some(state), Some(rarity)) = (
            self.values.get(&l.class),
            self.rarity.get(&l.class.partition),
        ) else {
            return Vec::new();
        };
        let total = rarity.total().max(1) as f64;
        let noun = if self.ports { "port" } else { "process" };
        let mut evidence = Evidence {
            noun,
            by: String::new(),
            class: None,
            seen_before: l.seen_before,
            rarity: rarity.at_least_as_rare(state.buckets),
            spread: state.spread(),
            spread_capped: state.hosts_capped,
            fleet: self.hosts.len(),
            new_hosts: l.new_hosts.clone(),
            processes: l.processes.clone(),
            periodic: (state.periodic_matches, state.period_ms),
            burst,
            spreading: state
                .spreading_from(state.last_seen_ms)
                .map(|earlier| Spreading {
                    earlier: earlier
                        .iter()
                        .map(|a| (self.host_name(a.host), EpochMs(a.at_ms)))
                        .collect(),
                    rarity: rarity.at_least_as_rare(1) + 1.0 / total,
                }),
        };
        let mut scores = Vec::new();
        for key in &l.members {
            evidence.by = key.by.clone();
            evidence.class = (key.by != l.class.by).then(|| l.class.by.clone());
            let j = score::judge(&evidence, MAX_HOSTS);
            if j.probability >= MAX_RECORD_PROBABILITY {
                continue;
            }
            scores.push(Score {
                key: (*key).clone(),
                probability: j.probability,
                raw_score: j.score,
                record_score: j.score,
                typical: state.buckets as f64 / total,
                first_seen_ms: state.first_seen_ms,
                relative_rarity: self.buckets_learned as f64 / state.buckets as f64,
                explanation: Some(j.explanation),
            });
        }
        scores
    }
}

#[cfg(test)]
mod tests;
