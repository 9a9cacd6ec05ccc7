//! What the store says about an anomaly: the connections of its bucket, and the history of its
//! value, hosts, processes, addresses and users before it, as the job's datafeed sees them.
//!
//! Both are time-pruned, column-pruned reads through `store` (hive partitions and row groups
//! outside the window are never decoded, only the columns asked for are), and rows are compared
//! by their dictionary codes, each distinct string once per frame: the history of a month of a
//! big fleet is one pass over a handful of columns, the units read in parallel.

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use rayon::prelude::*;
use serde::Serialize;

use super::Error;
use crate::datafeed::FrameTests;
use crate::jobs::Job;
use crate::store::{
    Column, EventFrame, EventStore, FieldRequest, Keywords, ScanStats, ScanUnit, TimeRange,
};
use crate::time::DAY_MS;

/// Row groups read into one frame by a history's scan.
const ROW_GROUPS_PER_PIECE: usize = 4;

/// The columns a connection is described by, beside the job's own.
const CONNECTION_FIELDS: [&str; 16] = [
    "host.name",
    "source.ip",
    "source.port",
    "destination.ip",
    "destination.port",
    "network.direction",
    "network.transport",
    "event.action",
    "process.name",
    "process.executable",
    "process.pid",
    "process.parent.pid",
    "process.args",
    "process.title",
    "process.working_directory",
    "user.name",
];

/// The columns the history needs beside the job's own.
const HISTORY_FIELDS: [&str; 6] = [
    "host.name",
    "process.name",
    "destination.ip",
    "destination.port",
    "source.ip",
    "user.name",
];

/// One event of the anomaly's bucket that carries the rare value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Connection {
    pub timestamp_ms: i64,
    pub host: Option<String>,
    pub source_ip: Option<String>,
    pub source_port: Option<String>,
    pub destination_ip: Option<String>,
    pub destination_port: Option<String>,
    pub direction: Option<String>,
    pub transport: Option<String>,
    pub action: Option<String>,
    pub process_name: Option<String>,
    pub process_executable: Option<String>,
    pub process_pid: Option<String>,
    pub process_parent_pid: Option<String>,
    pub process_args: Vec<String>,
    pub process_title: Option<String>,
    pub process_working_directory: Option<String>,
    pub user: Option<String>,
}

/// A value of `field` to find in the events of `job`.
#[derive(Debug, Clone, Copy)]
pub struct Value<'a> {
    pub job: &'a Job,
    pub field: &'a str,
    pub value: &'a str,
}

/// Reads the frames of `window` with `fields` and hands each, with the rows the job's datafeed
/// selects, to `tally`; the per-unit results are merged with `merge`. Also returns what was read.
fn scan<T: Send + Default>(
    store: &EventStore,
    window: TimeRange,
    job: &Job,
    extra: &[&str],
    tally: impl Fn(&EventFrame, &[u32]) -> T + Sync,
    merge: impl Fn(T, T) -> T + Sync + Send,
) -> Result<(T, ScanStats), Error> {
    let mut fields: Vec<FieldRequest> = job
        .fields()
        .into_iter()
        .map(|name| FieldRequest {
            name,
            required: false,
        })
        .collect();
    for name in extra {
        if !fields.iter().any(|f| f.name == *name) {
            fields.push(FieldRequest {
                name: (*name).to_string(),
                required: false,
            });
        }
    }
    let (units, planned) = store.plan(window)?;
    // A day of a big fleet is one file of dozens of row groups: read whole, its frame is
    // hundreds of megabytes, allocated afresh for every file (the page faults then cost as much
    // as the decoding, and the two threads wait on each other's). Pieces of a few row groups
    // stay small, and share the threads evenly.
    let pieces: Vec<ScanUnit> = units
        .iter()
        .flat_map(|unit| {
            unit.row_groups
                .chunks(ROW_GROUPS_PER_PIECE)
                .map(|groups| unit.with_row_groups(groups.to_vec()))
        })
        .collect();
    let (result, stats) = pieces
        .par_iter()
        .map(|unit| {
            let frame = unit.read(&fields)?;
            let rows = job.datafeed.select(&frame);
            let result = tally(&frame, &rows);
            Ok((result, frame.stats))
        })
        .try_reduce(
            || (T::default(), ScanStats::default()),
            |(a, mut sa), (b, sb)| {
                sa += sb;
                Ok((merge(a, b), sa))
            },
        )
        .map_err(Error::Store)?;
    let mut total = planned;
    total += stats;
    Ok((result, total))
}

/// For each `(value, bucket)`, the events of the bucket where `value.field` is `value.value`,
/// oldest first. The store is read once per day for all the buckets that start in it: a report
/// asks for one bucket per alert, alerts cluster, and a bucket's read decodes whole row groups.
pub fn bucket_connections(
    store: &EventStore,
    asks: &[(Value, TimeRange)],
) -> Result<Vec<Vec<Connection>>, Error> {
    let mut days: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, (_, bucket)) in asks.iter().enumerate() {
        days.entry(bucket.start_ms.div_euclid(DAY_MS))
            .or_default()
            .push(i);
    }
    let mut answers: Vec<Vec<Connection>> = vec![Vec::new(); asks.len()];
    for group in days.values() {
        let Some(window) = group.iter().map(|&i| asks[i].1).reduce(|a, b| TimeRange {
            start_ms: a.start_ms.min(b.start_ms),
            end_ms: a.end_ms.max(b.end_ms),
        }) else {
            continue;
        };
        let mut names: Vec<String> = Vec::new();
        for &i in group {
            for name in asks[i].0.job.fields() {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        for name in CONNECTION_FIELDS {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
        let fields: Vec<FieldRequest> = names
            .into_iter()
            .map(|name| FieldRequest {
                name,
                required: false,
            })
            .collect();
        let (units, _) = store.plan(window)?;
        let per_unit = units
            .par_iter()
            .map(|unit| {
                let frame = unit.read(&fields)?;
                let mut tests = FrameTests::new(&frame);
                let mut selected: Vec<(&str, Vec<u32>)> = Vec::new();
                let mut found = Vec::with_capacity(group.len());
                for &i in group {
                    let (value, bucket) = asks[i];
                    let rows = match selected.iter().position(|(id, _)| *id == value.job.id()) {
                        Some(at) => &selected[at].1,
                        None => {
                            let rows = value.job.datafeed.select_with(&mut tests);
                            selected.push((value.job.id(), rows));
                            &selected[selected.len() - 1].1
                        }
                    };
                    found.push(connections_in(&frame, rows, value, bucket));
                }
                Ok(found)
            })
            .collect::<Result<Vec<Vec<Vec<Connection>>>, crate::store::Error>>()
            .map_err(Error::Store)?;
        for found in per_unit {
            for (&i, connections) in group.iter().zip(found) {
                answers[i].extend(connections);
            }
        }
    }
    for connections in &mut answers {
        connections.sort_by(|a, b| {
            a.timestamp_ms
                .cmp(&b.timestamp_ms)
                .then_with(|| a.host.cmp(&b.host))
                .then_with(|| a.destination_ip.cmp(&b.destination_ip))
        });
    }
    Ok(answers)
}

/// The connections of `frame` among the selected `rows` that are inside `bucket` and carry the
/// value, in frame order.
fn connections_in(
    frame: &EventFrame,
    rows: &[u32],
    value: Value,
    bucket: TimeRange,
) -> Vec<Connection> {
    let field = Field::of(frame, value.field);
    let Some(wanted) = field.find(value.value) else {
        return Vec::new();
    };
    let text = |name: &str, row: usize| {
        frame
            .columns
            .get(name)
            .and_then(|c| c.first(row))
            .map(|v| v.to_string())
    };
    rows.iter()
        .map(|&row| row as usize)
        .filter(|&row| bucket.contains(frame.timestamps[row]) && field.key(row) == Some(wanted))
        .map(|row| Connection {
            timestamp_ms: frame.timestamps[row],
            host: text("host.name", row),
            source_ip: text("source.ip", row),
            source_port: text("source.port", row),
            destination_ip: text("destination.ip", row),
            destination_port: text("destination.port", row),
            direction: text("network.direction", row),
            transport: text("network.transport", row),
            action: text("event.action", row),
            process_name: text("process.name", row),
            process_executable: text("process.executable", row),
            process_pid: text("process.pid", row),
            process_parent_pid: text("process.parent.pid", row),
            process_args: frame
                .columns
                .get("process.args")
                .map(|c| c.values(row).map(|v| v.to_string()).collect())
                .unwrap_or_default(),
            process_title: text("process.title", row),
            process_working_directory: text("process.working_directory", row),
            user: text("user.name", row),
        })
        .collect()
}

/// What the history is asked about: the rare value and what its bucket's connections named.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    /// The host the anomaly is about (the alert's first host).
    pub host: Option<String>,
    pub processes: BTreeSet<String>,
    pub destination_ips: BTreeSet<String>,
    pub source_ips: BTreeSet<String>,
}

/// When and where a value (or a process) was seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Sightings {
    pub events: u64,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    /// Events per host.
    pub hosts: BTreeMap<String, u64>,
    /// Events per day (UTC midnight, epoch ms).
    pub days: BTreeMap<i64, u64>,
    /// Events per user.
    pub users: BTreeMap<String, u64>,
}

impl Sightings {
    fn add(&mut self, at: i64, host: Option<String>, user: Option<String>) {
        self.events += 1;
        self.first_ms = Some(self.first_ms.map_or(at, |f| f.min(at)));
        self.last_ms = Some(self.last_ms.map_or(at, |l| l.max(at)));
        *self.days.entry(at.div_euclid(DAY_MS) * DAY_MS).or_default() += 1;
        if let Some(host) = host {
            *self.hosts.entry(host).or_default() += 1;
        }
        if let Some(user) = user {
            *self.users.entry(user).or_default() += 1;
        }
    }

    fn merge(&mut self, other: Sightings) {
        self.events += other.events;
        self.first_ms = match (self.first_ms, other.first_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_ms = match (self.last_ms, other.last_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        add_counts(&mut self.hosts, other.hosts);
        add_counts(&mut self.days, other.days);
        add_counts(&mut self.users, other.users);
    }
}

fn add_counts<K: Ord>(into: &mut BTreeMap<K, u64>, from: BTreeMap<K, u64>) {
    for (k, n) in from {
        *into.entry(k).or_default() += n;
    }
}

/// A watched process's network use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProcessUse {
    pub seen: Sightings,
    /// Events per destination port, fleet-wide.
    pub ports: BTreeMap<String, u64>,
    /// Events per destination port on the watched host.
    pub ports_on_host: BTreeMap<String, u64>,
    /// Events per destination `ip:port`.
    pub destinations: BTreeMap<String, u64>,
}

/// The history of one anomaly, before its bucket.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct History {
    /// The window asked for, epoch ms.
    pub from_ms: i64,
    pub to_ms: i64,
    /// The first and last event the job selected in the window: where the store's data starts
    /// and ends, to say what could not be seen.
    pub data_from_ms: Option<i64>,
    pub data_to_ms: Option<i64>,
    /// Buckets of the window holding at least one selected event.
    pub fleet_buckets: u64,
    /// Buckets of the window in which the value was seen.
    pub value_buckets: u64,
    pub value: Sightings,
    pub processes: BTreeMap<String, ProcessUse>,
    /// Hosts that talked to each watched destination address.
    pub destination_hosts: BTreeMap<String, BTreeSet<String>>,
    /// Hosts that received connections from each watched source address.
    pub source_hosts: BTreeMap<String, BTreeSet<String>>,
    /// Rows decoded.
    pub rows_read: u64,
}

/// A per-frame reading of one column: its codes or integers as one key type, so rows compare by
/// integers and strings are made once per distinct key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key(i64);

/// One column of a frame, looked up by name once per frame: each row's key is then an index into
/// it, not a lookup of the column by its name.
#[derive(Clone, Copy)]
struct Field<'a>(Option<&'a Column>);

impl<'a> Field<'a> {
    fn of(frame: &'a EventFrame, name: &str) -> Field<'a> {
        Field(frame.columns.get(name))
    }

    #[inline]
    fn key(self, row: usize) -> Option<Key> {
        match self.0? {
            Column::Keyword(k) => {
                let code = *k.codes().get(row)?;
                (code != Keywords::ABSENT).then_some(Key(i64::from(code)))
            }
            Column::Integer(a) => {
                use arrow::array::Array;
                a.is_valid(row).then(|| Key(a.value(row)))
            }
            Column::KeywordList(_) => None,
        }
    }

    /// The key of `value` in this column, if any row can have it.
    fn find(self, value: &str) -> Option<Key> {
        match self.0? {
            Column::Keyword(k) => k
                .values()
                .iter()
                .position(|v| &**v == value)
                .map(|i| Key(i as i64)),
            Column::Integer(_) => value.parse().ok().map(Key),
            Column::KeywordList(_) => None,
        }
    }

    /// The keys of the `wanted` values this column has, each with its value: one pass over the
    /// column's distinct values, not one per wanted value (a bucket's connections can name
    /// hundreds of addresses, a month of a fleet's frame tens of thousands).
    fn find_all(self, wanted: &BTreeSet<String>) -> HashMap<Key, String> {
        match self.0 {
            Some(Column::Keyword(k)) if wanted.len() > 1 => k
                .values()
                .iter()
                .enumerate()
                .filter_map(|(i, v)| wanted.get(&**v).map(|w| (Key(i as i64), w.clone())))
                .collect(),
            _ => wanted
                .iter()
                .filter_map(|w| self.find(w).map(|k| (k, w.clone())))
                .collect(),
        }
    }

    fn text(self, key: Option<Key>) -> Option<String> {
        let key = key?;
        match self.0? {
            Column::Keyword(k) => k.values().get(key.0 as usize).map(|v| v.to_string()),
            Column::Integer(_) => Some(key.0.to_string()),
            Column::KeywordList(_) => None,
        }
    }
}

/// Per-frame counts keyed by codes, turned into strings once per frame.
#[derive(Default)]
struct FrameProcess {
    events: Vec<(i64, Option<Key>, Option<Key>)>,
    ports: HashMap<Option<Key>, (u64, u64)>,
    destinations: HashMap<(Option<Key>, Option<Key>), u64>,
}

/// A history question: `value` over `window` (the days before the anomaly's bucket), and what
/// `watch` names.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    pub value: Value<'a>,
    pub window: TimeRange,
    pub watch: Watch,
}

/// The answers to `queries`, all of `job`, in one pass over the union of their windows: a report
/// asks one question per alert, and each unit of the store is decoded once for all of them.
pub fn histories(store: &EventStore, job: &Job, queries: &[Query]) -> Result<Vec<History>, Error> {
    let Some(union) = queries.iter().map(|q| q.window).reduce(|a, b| TimeRange {
        start_ms: a.start_ms.min(b.start_ms),
        end_ms: a.end_ms.max(b.end_ms),
    }) else {
        return Ok(Vec::new());
    };
    let span_ms = job.span().secs() * 1000;
    // `source.ip` is only asked about for inbound connections; its many distinct values make it
    // one of the costliest columns to decode.
    let fields: Vec<&str> = HISTORY_FIELDS
        .into_iter()
        .filter(|&f| f != "source.ip" || queries.iter().any(|q| !q.watch.source_ips.is_empty()))
        .collect();
    let (partials, stats) = scan(
        store,
        union,
        job,
        &fields,
        |frame, rows| {
            queries
                .iter()
                .map(|q| {
                    let inside: Vec<u32> = rows
                        .iter()
                        .copied()
                        .filter(|&r| q.window.contains(frame.timestamps[r as usize]))
                        .collect();
                    tally_frame(frame, &inside, q, span_ms)
                })
                .collect::<Vec<Partial>>()
        },
        |a, b| {
            if a.is_empty() {
                return b;
            }
            if b.is_empty() {
                return a;
            }
            a.into_iter()
                .zip(b)
                .map(|(x, y)| merge_partial(x, y))
                .collect()
        },
    )?;
    let mut partials = partials;
    partials.resize_with(queries.len(), Partial::default);
    Ok(queries
        .iter()
        .zip(partials)
        .map(|(q, partial)| History {
            from_ms: q.window.start_ms,
            to_ms: q.window.end_ms,
            data_from_ms: partial.data_from_ms,
            data_to_ms: partial.data_to_ms,
            fleet_buckets: partial.fleet_buckets.iter().filter(|&&b| b).count() as u64,
            value_buckets: partial.value_buckets.iter().filter(|&&b| b).count() as u64,
            value: partial.value,
            processes: partial.processes,
            destination_hosts: partial.destination_hosts,
            source_hosts: partial.source_hosts,
            rows_read: stats.rows_read,
        })
        .collect())
}

/// The history of one unit of the store.
#[derive(Default)]
struct Partial {
    data_from_ms: Option<i64>,
    data_to_ms: Option<i64>,
    fleet_buckets: Vec<bool>,
    value_buckets: Vec<bool>,
    value: Sightings,
    processes: BTreeMap<String, ProcessUse>,
    destination_hosts: BTreeMap<String, BTreeSet<String>>,
    source_hosts: BTreeMap<String, BTreeSet<String>>,
}

fn merge_partial(mut a: Partial, b: Partial) -> Partial {
    let or = |x: &mut Vec<bool>, y: Vec<bool>| {
        if x.len() < y.len() {
            x.resize(y.len(), false);
        }
        for (i, seen) in y.into_iter().enumerate() {
            x[i] |= seen;
        }
    };
    a.data_from_ms = [a.data_from_ms, b.data_from_ms].into_iter().flatten().min();
    a.data_to_ms = [a.data_to_ms, b.data_to_ms].into_iter().flatten().max();
    or(&mut a.fleet_buckets, b.fleet_buckets);
    or(&mut a.value_buckets, b.value_buckets);
    a.value.merge(b.value);
    for (name, process) in b.processes {
        let into = a.processes.entry(name).or_default();
        into.seen.merge(process.seen);
        add_counts(&mut into.ports, process.ports);
        add_counts(&mut into.ports_on_host, process.ports_on_host);
        add_counts(&mut into.destinations, process.destinations);
    }
    for (ip, hosts) in b.destination_hosts {
        a.destination_hosts.entry(ip).or_default().extend(hosts);
    }
    for (ip, hosts) in b.source_hosts {
        a.source_hosts.entry(ip).or_default().extend(hosts);
    }
    a
}

fn tally_frame(frame: &EventFrame, rows: &[u32], query: &Query, span_ms: i64) -> Partial {
    let (value, window, watch) = (query.value, query.window, &query.watch);
    let bucket_count =
        usize::try_from((window.end_ms - window.start_ms).div_euclid(span_ms)).unwrap_or(0) + 1;
    if rows.is_empty() {
        return Partial::default();
    }
    let mut partial = Partial {
        fleet_buckets: vec![false; bucket_count],
        value_buckets: vec![false; bucket_count],
        ..Partial::default()
    };
    let value_field = Field::of(frame, value.field);
    let host_field = Field::of(frame, "host.name");
    let user_field = Field::of(frame, "user.name");
    let process_field = Field::of(frame, "process.name");
    let port_field = Field::of(frame, "destination.port");
    let destination_field = Field::of(frame, "destination.ip");
    let source_field = Field::of(frame, "source.ip");
    let value_key = value_field.find(value.value);
    let host_key = watch.host.as_deref().and_then(|h| host_field.find(h));
    let processes = process_field.find_all(&watch.processes);
    let destinations = destination_field.find_all(&watch.destination_ips);
    let sources = source_field.find_all(&watch.source_ips);

    let mut value_rows: Vec<(i64, Option<Key>, Option<Key>)> = Vec::new();
    let mut per_process: HashMap<Key, FrameProcess> = HashMap::default();
    let mut destination_hosts: HashSet<(Key, Option<Key>)> = HashSet::default();
    let mut source_hosts: HashSet<(Key, Option<Key>)> = HashSet::default();
    for &row in rows {
        let row = row as usize;
        let at = frame.timestamps[row];
        let bucket = usize::try_from((at - window.start_ms).div_euclid(span_ms)).unwrap_or(0);
        if let Some(seen) = partial.fleet_buckets.get_mut(bucket) {
            *seen = true;
        }
        partial.data_from_ms = Some(partial.data_from_ms.map_or(at, |f| f.min(at)));
        partial.data_to_ms = Some(partial.data_to_ms.map_or(at, |l| l.max(at)));
        let host = host_field.key(row);
        if value_key.is_some() && value_field.key(row) == value_key {
            if let Some(seen) = partial.value_buckets.get_mut(bucket) {
                *seen = true;
            }
            value_rows.push((at, host, user_field.key(row)));
        }
        if !processes.is_empty()
            && let Some(process) = process_field.key(row)
            && processes.contains_key(&process)
        {
            let tally = per_process.entry(process).or_default();
            let port = port_field.key(row);
            let ip = destination_field.key(row);
            tally.events.push((at, host, user_field.key(row)));
            let counts = tally.ports.entry(port).or_default();
            counts.0 += 1;
            if host_key.is_some() && host == host_key {
                counts.1 += 1;
            }
            *tally.destinations.entry((ip, port)).or_default() += 1;
        }
        if !destinations.is_empty()
            && let Some(ip) = destination_field.key(row)
            && destinations.contains_key(&ip)
        {
            destination_hosts.insert((ip, host));
        }
        if !sources.is_empty()
            && let Some(ip) = source_field.key(row)
            && sources.contains_key(&ip)
        {
            source_hosts.insert((ip, host));
        }
    }

    for (at, host, user) in value_rows {
        partial
            .value
            .add(at, host_field.text(host), user_field.text(user));
    }
    for (key, tally) in per_process {
        let name = processes[&key].clone();
        let into = partial.processes.entry(name).or_default();
        for (at, host, user) in tally.events {
            into.seen
                .add(at, host_field.text(host), user_field.text(user));
        }
        for (port, (fleet, on_host)) in tally.ports {
            let port = port_field.text(port).unwrap_or_else(|| "-".into());
            *into.ports.entry(port.clone()).or_default() += fleet;
            if on_host > 0 {
                *into.ports_on_host.entry(port).or_default() += on_host;
            }
        }
        for ((ip, port), n) in tally.destinations {
            let ip = destination_field.text(ip).unwrap_or_else(|| "-".into());
            let port = port_field.text(port).unwrap_or_else(|| "-".into());
            *into.destinations.entry(format!("{ip}:{port}")).or_default() += n;
        }
    }
    for (ip, host) in destination_hosts {
        let entry = partial
            .destination_hosts
            .entry(destinations[&ip].clone())
            .or_default();
        entry.extend(host_field.text(host));
    }
    for (ip, host) in source_hosts {
        let entry = partial
            .source_hosts
            .entry(sources[&ip].clone())
            .or_default();
        entry.extend(host_field.text(host));
    }
    partial
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sightings_merge_keeps_the_earliest_first_and_the_latest_last() {
        let mut a = Sightings::default();
        a.add(5 * DAY_MS + 10, Some("web-01".into()), None);
        let mut b = Sightings::default();
        b.add(2 * DAY_MS, Some("web-02".into()), Some("root".into()));
        b.add(9 * DAY_MS, Some("web-01".into()), None);
        a.merge(b);
        assert_eq!(a.events, 3);
        assert_eq!(a.first_ms, Some(2 * DAY_MS));
        assert_eq!(a.last_ms, Some(9 * DAY_MS));
        assert_eq!(a.hosts["web-01"], 2);
        assert_eq!(
            a.days.keys().copied().collect::<Vec<_>>(),
            [2 * DAY_MS, 5 * DAY_MS, 9 * DAY_MS]
        );
        assert_eq!(a.users["root"], 1);
    }
}
