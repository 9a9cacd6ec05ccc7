//! The population model's complete state as stored, and its checked restore.
//!
//! Input: a [`PopulationSnapshot`] (serde; JSON with `float_roundtrip`). Output: a model that
//! continues bit-identically, or a message naming what is inconsistent. The rarity histograms and
//! the memory estimate are rebuilt from the values.

use serde::{Deserialize, Serialize};

use super::state::{FIRST_HOSTS, MAX_EPISODES, MAX_HOSTS, MAX_PORTS, ProcessState, ValueState};
use super::{PopulationRare, memory};
use crate::bucket::SeriesKey;
use crate::model::{ModelParams, SnapshotError};

/// One value and what the model holds about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueEntry {
    pub key: SeriesKey,
    pub state: ValueState,
}

/// One process's network history (port job).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessEntry {
    pub key: SeriesKey,
    pub state: ProcessState,
}

/// The model's complete state: restoring it and continuing gives bit-identical scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PopulationSnapshot {
    /// Bucket span the state was learnt with, seconds.
    pub bucket_span_s: i64,
    /// Buckets with data learnt so far.
    pub buckets_learned: u64,
    /// Host names, in id order.
    pub hosts: Vec<String>,
    pub values: Vec<ValueEntry>,
    pub processes: Vec<ProcessEntry>,
    /// New values and processes refused at the memory limit so far.
    pub refused_values: u64,
}

impl PopulationRare {
    /// The complete state.
    pub fn snapshot(&self) -> PopulationSnapshot {
        let mut hosts: Vec<(&u32, &String)> =
            self.hosts.iter().map(|(name, id)| (id, name)).collect();
        hosts.sort();
        PopulationSnapshot {
            bucket_span_s: self.bucket_span_s,
            buckets_learned: self.buckets_learned,
            hosts: hosts.into_iter().map(|(_, name)| name.clone()).collect(),
            values: self
                .values
                .iter()
                .map(|(key, state)| ValueEntry {
                    key: key.clone(),
                    state: state.clone(),
                })
                .collect(),
            processes: self
                .processes
                .iter()
                .map(|(key, state)| ProcessEntry {
                    key: key.clone(),
                    state: state.clone(),
                })
                .collect(),
            refused_values: self.refused_values,
        }
    }

    /// Rebuilds a model from `s`, refusing a snapshot of another bucket span or with inconsistent
    /// state.
    pub fn restore(params: &ModelParams, s: PopulationSnapshot) -> Result<Self, SnapshotError> {
        if s.bucket_span_s != params.bucket_span_s {
            return Err(SnapshotError::BucketSpan {
                snapshot_s: s.bucket_span_s,
                job_s: params.bucket_span_s,
            });
        }
        let mut model = PopulationRare::new(params);
        model.buckets_learned = s.buckets_learned;
        model.refused_values = s.refused_values;
        for (id, name) in s.hosts.into_iter().enumerate() {
            model.bytes += memory::host_cost(&name);
            if model.hosts.insert(name.clone(), id as u32).is_some() {
                return Err(SnapshotError::DuplicateHost(name));
            }
        }
        for ValueEntry { key, state } in s.values {
            check_value(&key, &state, model.hosts.len())?;
            if !model.rarity.contains_key(&key.partition) {
                model.bytes += memory::partition_cost(key.partition.as_deref());
            }
            model
                .rarity
                .entry(key.partition.clone())
                .or_default()
                .insert(state.buckets);
            model.bytes += memory::value_cost(&key.by, key.partition.as_deref());
            if model.values.insert(key.clone(), state).is_some() {
                return Err(SnapshotError::DuplicateValue(key.by));
            }
        }
        for ProcessEntry { key, state } in s.processes {
            if state.ports.len() > MAX_PORTS
                || state.ports.values().any(|&n| n == 0 || n > state.buckets)
            {
                return Err(SnapshotError::ProcessPorts {
                    process: key.by,
                    buckets: state.buckets,
                });
            }
            model.bytes += memory::process_cost(&key.by, key.partition.as_deref());
            if model.processes.insert(key.clone(), state).is_some() {
                return Err(SnapshotError::DuplicateProcess(key.by));
            }
        }
        Ok(model)
    }
}

/// Refuses a value state that the model could not have produced.
fn check_value(key: &SeriesKey, state: &ValueState, hosts: usize) -> Result<(), SnapshotError> {
    let value = || key.by.clone();
    if state.buckets == 0 || state.first_seen_ms > state.last_seen_ms {
        return Err(SnapshotError::ValueBuckets(value()));
    }
    if state.hosts.len() > MAX_HOSTS
        || !state.hosts.windows(2).all(|w| w[0] < w[1])
        || state.hosts.iter().any(|&id| id as usize >= hosts)
    {
        return Err(SnapshotError::ValueHosts(value()));
    }
    if state.episodes.is_empty()
        || state.episodes.len() > MAX_EPISODES
        || !state.episodes.windows(2).all(|w| w[0] < w[1])
    {
        return Err(SnapshotError::ValueEpisodes(value()));
    }
    let arrivals = &state.arrivals;
    if arrivals.len() > FIRST_HOSTS.min(state.hosts.len())
        || arrivals.iter().any(|a| {
            state.hosts.binary_search(&a.host).is_err()
                || a.at_ms < state.first_seen_ms
                || a.at_ms > state.last_seen_ms
        })
        || !arrivals.windows(2).all(|w| w[0].at_ms <= w[1].at_ms)
        || arrivals
            .iter()
            .enumerate()
            .any(|(i, a)| arrivals[..i].iter().any(|b| b.host == a.host))
    {
        return Err(SnapshotError::ValueArrivals(value()));
    }
    Ok(())
}
