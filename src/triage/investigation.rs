//! One alert's or record's investigation: each step of the rules' investigation guides answered
//! from the outputs and the store (docs/investigate.md). The result is plain data, laid out as
//! text by [`super::text`], as JSON by serde and as HTML by `report`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use super::address::AddressClass;
use super::history::{self, Connection, History, Query, Value, Watch};
use super::outputs::{Outputs, StoredAlert, StoredRecord};
use super::{Error, Sources};
use crate::exceptions::{Action, ConditionConfig, EntryConfig, Operator, Subject};
use crate::jobs::Job;
use crate::results::AnomalyRecord;
use crate::store::TimeRange;
use crate::time::{DAY_MS, EpochMs};

/// Records and alerts of the same host this close to the anomaly are shown beside it.
pub const NEARBY_MS: i64 = 2 * 3_600_000;

/// What to investigate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An alert's `kibana.alert.uuid` or a record's `record_id`, and the host to follow (default:
    /// the alert's or record's first).
    Id { id: String, host: Option<String> },
    /// A by-value of a job in the bucket holding `at_ms`, on `host`, with or without a record.
    Value {
        job_id: String,
        value: String,
        host: Option<String>,
        at_ms: i64,
    },
}

/// The answers, section by section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Investigation {
    pub anomaly: Anomaly,
    pub nearby: Vec<Nearby>,
    pub history: ValueHistory,
    pub connections: Vec<ConnectionView>,
    pub processes: Vec<ProcessView>,
    pub users: Vec<UserView>,
    pub exceptions: ExceptionView,
    pub alerting: Alerting,
    /// What the store could not show (history shorter than asked, no events in the bucket).
    pub notes: Vec<String>,
}

/// The anomaly itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Anomaly {
    pub job_id: String,
    pub rule_name: String,
    pub rule_id: String,
    pub by_field_name: String,
    pub by_field_value: String,
    pub bucket_start_ms: i64,
    pub bucket_end_ms: i64,
    /// The host the investigation follows: the alert's (or the record's) first host, or the one
    /// asked for.
    pub host: Option<String>,
    /// `None` for a by-value that has no record in that bucket.
    pub record: Option<RecordView>,
    pub alerts: Vec<StoredAlert>,
}

/// The record's scores and words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordView {
    pub record_id: String,
    pub record_score: f64,
    pub initial_record_score: f64,
    pub result_version: u64,
    pub probability: f64,
    pub explanation: String,
    pub influencers: BTreeMap<String, Vec<String>>,
    pub event_count: u64,
    pub host_count: u64,
    pub first_occurrence_ms: i64,
}

/// Another record of the same host close in time, of either job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Nearby {
    pub job_id: String,
    pub record_id: String,
    pub timestamp_ms: i64,
    pub by_field_name: String,
    pub by_field_value: String,
    pub record_score: f64,
    /// The alert made from it, if any.
    pub alert_uuid: Option<String>,
}

/// The rare value's history before its bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValueHistory {
    pub from_ms: i64,
    pub to_ms: i64,
    /// The first and last event the job selected in the window.
    pub data_from_ms: Option<i64>,
    pub data_to_ms: Option<i64>,
    pub first_seen_ms: Option<i64>,
    pub last_seen_ms: Option<i64>,
    pub events: u64,
    pub host_count: usize,
    /// The hosts with the most events, at most ten.
    pub top_hosts: Vec<(String, u64)>,
    /// Events of the value on the investigated host before the bucket.
    pub on_this_host: u64,
    /// Events per day, every day of the window (zero included), oldest first.
    pub days: Vec<(i64, u64)>,
    pub fleet_buckets: u64,
    pub value_buckets: u64,
}

/// One connection of the bucket, with its addresses classified.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionView {
    #[serde(flatten)]
    pub connection: Connection,
    pub destination_class: Option<AddressClass>,
    /// Fleet hosts that talked to the destination in the history window.
    pub destination_hosts: Option<usize>,
    pub source_class: Option<AddressClass>,
    /// For an inbound connection: fleet hosts the source reached in the history window.
    pub source_hosts: Option<usize>,
}

/// A process behind the bucket's connections, and its history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessView {
    pub name: String,
    pub executables: Vec<String>,
    pub command_lines: Vec<String>,
    pub titles: Vec<String>,
    pub working_directories: Vec<String>,
    /// Network events in the history window, fleet-wide.
    pub events_before: u64,
    pub hosts_before: usize,
    pub on_this_host_before: bool,
    pub first_seen_ms: Option<i64>,
    /// Destination ports it used before, fleet-wide and on this host, most used first (ten).
    pub ports_before: Vec<(String, u64)>,
    pub ports_on_host_before: Vec<(String, u64)>,
    /// Destinations (`ip:port`) it used before, most used first (ten).
    pub destinations_before: Vec<(String, u64)>,
    /// Users it ran as before.
    pub users_before: Vec<(String, u64)>,
    /// Days it used the network on, and what that looks like.
    pub active_days: Vec<i64>,
    pub cadence: String,
}

/// A user of the bucket's connections.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserView {
    pub name: String,
    /// Events of the rare value by this user before the bucket.
    pub used_value_before: u64,
    /// Network events of each of the bucket's processes run by this user before.
    pub ran_processes_before: Vec<(String, u64)>,
}

/// Which exception entries match the record, and one that would.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExceptionView {
    pub lists: Vec<String>,
    pub entries_checked: usize,
    pub matching: Vec<MatchingEntry>,
    /// A `[[entry]]` to paste into a list to except this value for this host and process.
    pub suggested_entry: String,
}

/// An entry that matches.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchingEntry {
    pub id: String,
    pub comment: String,
    pub action: String,
    pub list: String,
}

/// Whether the rule alerted, and if not, why.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Alerting {
    /// Alerted; `delay_ms` is how long after the bucket's end the alert was made.
    Alerted {
        uuid: String,
        at_ms: i64,
        delay_ms: i64,
        held_by_cap: bool,
    },
    /// No record: the value was not scored in that bucket.
    NoRecord,
    /// An exception entry hid it from the rule.
    Excepted { entry: String, list: String },
    /// No version ever reached the threshold.
    UnderThreshold {
        initial: f64,
        highest: f64,
        threshold: f64,
    },
    /// Renormalisation raised it over the threshold only after its lookback had passed.
    QualifiedTooLate {
        result_version: u64,
        score: f64,
        written_by_ms: i64,
        lookback_end_ms: i64,
    },
    /// The rule has not run past its bucket yet, or still holds it (cap): a later execution
    /// will decide.
    Pending { last_execution_ms: Option<i64> },
}

/// Everything an investigation reads.
pub struct Inputs<'a> {
    pub sources: &'a Sources,
    pub outputs: &'a Outputs,
    pub history: Duration,
}

/// Answers the guide for `target`.
pub fn investigate(inputs: &Inputs, target: &Target) -> Result<Investigation, Error> {
    let mut answers = investigate_all(inputs, std::slice::from_ref(target))?;
    answers
        .pop()
        .ok_or_else(|| Error::UnknownJob(String::new()))
}

/// What is known of a target before its history is read.
struct Prepared<'a> {
    job: &'a Job,
    stored: Option<&'a StoredRecord>,
    host: Option<String>,
    bucket: TimeRange,
    value: String,
    connections: Vec<Connection>,
    window: TimeRange,
}

/// Answers the guide for every target, reading each job's history once for all of them.
pub fn investigate_all(inputs: &Inputs, targets: &[Target]) -> Result<Vec<Investigation>, Error> {
    let store = &inputs.sources.store;
    let history_ms = i64::try_from(inputs.history.as_millis()).unwrap_or(i64::MAX / 2);
    let mut prepared = Vec::with_capacity(targets.len());
    for target in targets {
        let Resolved {
            job,
            stored,
            host,
            bucket_start_ms,
        } = resolve(inputs, target)?;
        let bucket = TimeRange {
            start_ms: bucket_start_ms,
            end_ms: bucket_start_ms + job.span().secs() * 1000,
        };
        let value = match (stored, target) {
            (Some(s), _) => s.record.by_field_value.clone(),
            (None, Target::Value { value, .. }) => value.clone(),
            (None, Target::Id { id, .. }) => id.clone(),
        };
        prepared.push(Prepared {
            job,
            stored,
            host,
            bucket,
            value,
            connections: Vec::new(),
            window: TimeRange {
                start_ms: bucket_start_ms.saturating_sub(history_ms),
                end_ms: bucket_start_ms,
            },
        });
    }
    let asks: Vec<(Value, TimeRange)> = prepared
        .iter()
        .map(|p| {
            (
                Value {
                    job: p.job,
                    field: &p.job.fold.by_field,
                    value: &p.value,
                },
                p.bucket,
            )
        })
        .collect();
    let found = history::bucket_connections(store, &asks)?;
    for (p, connections) in prepared.iter_mut().zip(found) {
        p.connections = connections;
    }
    let mut histories: Vec<Option<History>> = vec![None; prepared.len()];
    for job in &inputs.sources.jobs {
        let mine: Vec<usize> = (0..prepared.len())
            .filter(|&i| prepared[i].job.id() == job.id())
            .collect();
        let queries: Vec<Query> = mine.iter().map(|&i| query(&prepared[i])).collect();
        for (i, answer) in mine
            .into_iter()
            .zip(history::histories(store, job, &queries)?)
        {
            histories[i] = Some(answer);
        }
    }
    Ok(prepared
        .iter()
        .zip(histories)
        .map(|(p, seen)| answer(inputs, p, &seen.unwrap_or_default()))
        .collect())
}

/// The history question of a prepared target.
fn query<'a>(p: &'a Prepared) -> Query<'a> {
    let mut watch = Watch {
        host: p.host.clone(),
        ..Watch::default()
    };
    for c in &p.connections {
        watch.processes.extend(c.process_name.clone());
        watch.destination_ips.extend(c.destination_ip.clone());
        if is_inbound(c) {
            watch.source_ips.extend(c.source_ip.clone());
        }
    }
    Query {
        value: Value {
            job: p.job,
            field: &p.job.fold.by_field,
            value: &p.value,
        },
        window: p.window,
        watch,
    }
}

fn answer(inputs: &Inputs, p: &Prepared, seen: &History) -> Investigation {
    let (job, stored, host) = (p.job, p.stored, &p.host);
    let field = job.model.by_field_name.as_str();
    let span_ms = job.span().secs() * 1000;
    let alerts: Vec<StoredAlert> = stored
        .map(|s| {
            inputs
                .outputs
                .alerts_of(&s.record.record_id)
                .into_iter()
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let exceptions = exception_view(inputs, job, stored, &p.value, host, &p.connections);
    let alerting = alerting(inputs, job, stored, &alerts, &exceptions);
    let mut notes = Vec::new();
    if p.connections.is_empty() {
        notes.push(format!(
            "the store holds no event of the job with {field} {} in this bucket",
            p.value
        ));
    }
    match seen.data_from_ms {
        None => notes.push("the store holds no event of the job in the history window".into()),
        Some(from) if from - p.window.start_ms > span_ms => notes.push(format!(
            "history asked from {}, the store's events start {}: nothing before that was seen",
            EpochMs(p.window.start_ms).minute_utc(),
            EpochMs(from).minute_utc()
        )),
        Some(_) => {}
    }
    Investigation {
        anomaly: Anomaly {
            job_id: job.id().to_string(),
            rule_name: job.rule.config.name.clone(),
            rule_id: job.rule.config.rule_id.clone(),
            by_field_name: field.to_string(),
            by_field_value: p.value.clone(),
            bucket_start_ms: p.bucket.start_ms,
            bucket_end_ms: p.bucket.end_ms,
            host: host.clone(),
            record: stored.map(|s| record_view(&s.record)),
            alerts,
        },
        nearby: nearby(inputs.outputs, stored, host.as_deref(), p.bucket.start_ms),
        history: value_history(seen, host.as_deref()),
        connections: p
            .connections
            .iter()
            .map(|c| connection_view(c, seen))
            .collect(),
        processes: process_views(seen, &p.connections, host.as_deref()),
        users: user_views(seen, &p.connections),
        exceptions,
        alerting,
        notes,
    }
}

/// Whose and which bucket a target is.
struct Resolved<'a> {
    job: &'a Job,
    stored: Option<&'a StoredRecord>,
    host: Option<String>,
    bucket_start_ms: i64,
}

/// The job, the stored record (if any), the followed host and the bucket of `target`; an unknown
/// id names where it looked.
fn resolve<'a>(inputs: &'a Inputs, target: &Target) -> Result<Resolved<'a>, Error> {
    let job_of = |id: &str| {
        inputs
            .sources
            .jobs
            .iter()
            .find(|j| j.id() == id)
            .ok_or_else(|| Error::UnknownJob(id.to_string()))
    };
    match target {
        Target::Id { id, host } => {
            let (record_id, alert_host) = match inputs.outputs.alert(id) {
                Some(alert) => (alert.record_id.as_str(), alert.hosts.first().cloned()),
                None => (id.as_str(), None),
            };
            let host = host.clone().or(alert_host);
            let stored = inputs
                .outputs
                .record(record_id)
                .ok_or_else(|| Error::UnknownId {
                    id: id.clone(),
                    out: inputs.sources.out.clone(),
                    jobs: inputs
                        .sources
                        .jobs
                        .iter()
                        .map(|j| j.id().to_string())
                        .collect(),
                })?;
            let host = host.or_else(|| stored.record.field_values("host.name").first().cloned());
            Ok(Resolved {
                job: job_of(&stored.record.job_id)?,
                stored: Some(stored),
                host,
                bucket_start_ms: stored.record.timestamp_ms.ms(),
            })
        }
        Target::Value {
            job_id,
            value,
            host,
            at_ms,
        } => {
            let job = job_of(job_id)?;
            let span_ms = job.span().secs() * 1000;
            let bucket = at_ms.div_euclid(span_ms) * span_ms;
            let stored = inputs.outputs.records.iter().find(|s| {
                s.record.job_id == *job_id
                    && s.record.timestamp_ms.ms() == bucket
                    && s.record.by_field_value == *value
            });
            Ok(Resolved {
                job,
                stored,
                host: host.clone(),
                bucket_start_ms: bucket,
            })
        }
    }
}

fn is_inbound(c: &Connection) -> bool {
    matches!(
        c.direction.as_deref(),
        Some("ingress" | "inbound" | "incoming")
    )
}

fn record_view(r: &AnomalyRecord) -> RecordView {
    RecordView {
        record_id: r.record_id.clone(),
        record_score: r.record_score,
        initial_record_score: r.initial_record_score,
        result_version: r.result_version,
        probability: r.probability,
        explanation: r.explanation.clone(),
        influencers: r
            .influencers
            .iter()
            .map(|i| {
                (
                    i.influencer_field_name.clone(),
                    i.influencer_field_values.clone(),
                )
            })
            .collect(),
        event_count: r.event_count,
        host_count: r.host_count,
        first_occurrence_ms: r.by_field_first_occurrence_ms,
    }
}

/// Other records (either job) of `host` within ±2 hours of the bucket.
fn nearby(
    outputs: &Outputs,
    this: Option<&StoredRecord>,
    host: Option<&str>,
    bucket_start_ms: i64,
) -> Vec<Nearby> {
    let Some(host) = host else {
        return Vec::new();
    };
    let mut found: Vec<Nearby> = outputs
        .records
        .iter()
        .filter(|s| this.is_none_or(|t| t.record.record_id != s.record.record_id))
        .filter(|s| (s.record.timestamp_ms.ms() - bucket_start_ms).abs() <= NEARBY_MS)
        .filter(|s| s.record.field_values("host.name").iter().any(|h| h == host))
        .map(|s| Nearby {
            job_id: s.record.job_id.clone(),
            record_id: s.record.record_id.clone(),
            timestamp_ms: s.record.timestamp_ms.ms(),
            by_field_name: s.record.by_field_name.clone(),
            by_field_value: s.record.by_field_value.clone(),
            record_score: s.record.record_score,
            alert_uuid: outputs
                .alerts_of(&s.record.record_id)
                .first()
                .map(|a| a.uuid.clone()),
        })
        .collect();
    found.sort_by(|a, b| {
        a.timestamp_ms
            .cmp(&b.timestamp_ms)
            .then(b.record_score.total_cmp(&a.record_score))
    });
    found
}

/// `counts` most frequent first, at most `n`.
fn top<K: Clone + Ord>(counts: &BTreeMap<K, u64>, n: usize) -> Vec<(K, u64)> {
    let mut sorted: Vec<(K, u64)> = counts.iter().map(|(k, v)| (k.clone(), *v)).collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    sorted.truncate(n);
    sorted
}

fn value_history(seen: &History, host: Option<&str>) -> ValueHistory {
    let first_day = seen.from_ms.div_euclid(DAY_MS) * DAY_MS;
    let days = (0..)
        .map(|i| first_day + i * DAY_MS)
        .take_while(|&d| d < seen.to_ms)
        .map(|d| (d, seen.value.days.get(&d).copied().unwrap_or(0)))
        .collect();
    ValueHistory {
        from_ms: seen.from_ms,
        to_ms: seen.to_ms,
        data_from_ms: seen.data_from_ms,
        data_to_ms: seen.data_to_ms,
        first_seen_ms: seen.value.first_ms,
        last_seen_ms: seen.value.last_ms,
        events: seen.value.events,
        host_count: seen.value.hosts.len(),
        top_hosts: top(&seen.value.hosts, 10),
        on_this_host: host
            .and_then(|h| seen.value.hosts.get(h).copied())
            .unwrap_or(0),
        days,
        fleet_buckets: seen.fleet_buckets,
        value_buckets: seen.value_buckets,
    }
}

fn connection_view(c: &Connection, seen: &History) -> ConnectionView {
    let inbound = is_inbound(c);
    ConnectionView {
        connection: c.clone(),
        destination_class: c.destination_ip.as_deref().map(AddressClass::of),
        destination_hosts: c
            .destination_ip
            .as_ref()
            .map(|ip| seen.destination_hosts.get(ip).map_or(0, BTreeSet::len)),
        source_class: c.source_ip.as_deref().map(AddressClass::of),
        source_hosts: c
            .source_ip
            .as_ref()
            .filter(|_| inbound)
            .map(|ip| seen.source_hosts.get(ip).map_or(0, BTreeSet::len)),
    }
}

fn distinct(values: impl Iterator<Item = String>) -> Vec<String> {
    values
        .filter(|v| !v.is_empty())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn process_views(
    seen: &History,
    connections: &[Connection],
    host: Option<&str>,
) -> Vec<ProcessView> {
    let names: BTreeSet<&String> = connections
        .iter()
        .filter_map(|c| c.process_name.as_ref())
        .collect();
    names
        .into_iter()
        .map(|name| {
            let own = || {
                connections
                    .iter()
                    .filter(move |c| c.process_name.as_ref() == Some(name))
            };
            let before = seen.processes.get(name).cloned().unwrap_or_default();
            let active_days: Vec<i64> = before.seen.days.keys().copied().collect();
            ProcessView {
                name: name.clone(),
                executables: distinct(own().filter_map(|c| c.process_executable.clone())),
                command_lines: distinct(own().map(|c| c.process_args.join(" "))),
                titles: distinct(own().filter_map(|c| c.process_title.clone())),
                working_directories: distinct(
                    own().filter_map(|c| c.process_working_directory.clone()),
                ),
                events_before: before.seen.events,
                hosts_before: before.seen.hosts.len(),
                on_this_host_before: host.is_some_and(|h| before.seen.hosts.contains_key(h)),
                first_seen_ms: before.seen.first_ms,
                ports_before: top(&before.ports, 10),
                ports_on_host_before: top(&before.ports_on_host, 10),
                destinations_before: top(&before.destinations, 10),
                users_before: top(&before.seen.users, 10),
                cadence: cadence(&active_days, seen.from_ms, seen.to_ms),
                active_days,
            }
        })
        .collect()
}

/// The rhythm of the days a process was active on in `[from, to)`, in words: the process rule's
/// guide asks whether it is new or runs on a cadence.
pub fn cadence(days: &[i64], from_ms: i64, to_ms: i64) -> String {
    let window_days = ((to_ms - from_ms) as f64 / DAY_MS as f64).round() as i64;
    match days {
        [] => format!("never seen in the {window_days} days before: new"),
        [only] => format!(
            "seen on one day only, {} ({} days before)",
            EpochMs(*only).day(),
            (to_ms - only) / DAY_MS
        ),
        _ => {
            let gaps: Vec<i64> = days.windows(2).map(|w| (w[1] - w[0]) / DAY_MS).collect();
            let min = gaps.iter().copied().min().unwrap_or(0);
            let max = gaps.iter().copied().max().unwrap_or(0);
            let rhythm = match (min, max) {
                (1, 1) => "every day".to_string(),
                (a, b) if a == b => format!("every {a} days"),
                (a, b) if b - a <= 1 && a >= 6 => "about weekly".to_string(),
                (a, b) if b - a <= 3 && a >= 27 => "about monthly".to_string(),
                (a, b) => format!("irregular, {a} to {b} days apart"),
            };
            format!(
                "active on {} of {window_days} days, {rhythm}; first {}",
                days.len(),
                EpochMs(days[0]).day()
            )
        }
    }
}

fn user_views(seen: &History, connections: &[Connection]) -> Vec<UserView> {
    let users: BTreeSet<&String> = connections.iter().filter_map(|c| c.user.as_ref()).collect();
    let processes: BTreeSet<&String> = connections
        .iter()
        .filter_map(|c| c.process_name.as_ref())
        .collect();
    users
        .into_iter()
        .map(|user| UserView {
            name: user.clone(),
            used_value_before: seen.value.users.get(user).copied().unwrap_or(0),
            ran_processes_before: processes
                .iter()
                .map(|&p| {
                    let before = seen
                        .processes
                        .get(p)
                        .and_then(|u| u.seen.users.get(user).copied());
                    (p.clone(), before.unwrap_or(0))
                })
                .collect(),
        })
        .collect()
}

fn exception_view(
    inputs: &Inputs,
    job: &Job,
    stored: Option<&StoredRecord>,
    value: &str,
    host: &Option<String>,
    connections: &[Connection],
) -> ExceptionView {
    let exceptions = inputs.sources.exceptions_of(job.id());
    let matching = stored
        .map(|s| {
            exceptions
                .all_matching(&Subject::Record(&s.record))
                .map(|e| MatchingEntry {
                    id: e.id.clone(),
                    comment: e.comment.clone(),
                    action: action_name(e.action).to_string(),
                    list: e.source.display().to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    let process = connections
        .iter()
        .filter(|c| host.is_none() || c.host == *host)
        .find_map(|c| c.process_name.clone());
    ExceptionView {
        lists: job.rule.config.exceptions.clone(),
        entries_checked: exceptions.len(),
        matching,
        suggested_entry: suggested_entry(job, value, host.as_deref(), process.as_deref()),
    }
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::SuppressAlert => "suppress_alert",
        Action::SkipResult => "skip_result",
        Action::SkipModelUpdate => "skip_model_update",
    }
}

/// A list entry that excepts `value` of the job's by-field on `host` for `process`, written by
/// the TOML serialiser so event text can never break out of its string.
pub fn suggested_entry(
    job: &Job,
    value: &str,
    host: Option<&str>,
    process: Option<&str>,
) -> String {
    /// `[[entry]]` alone, to paste into an existing list.
    #[derive(Serialize)]
    struct Paste {
        entry: [EntryConfig; 1],
    }
    let by_field = job.model.by_field_name.as_str();
    let equals = |field: &str, v: &str| ConditionConfig {
        field: field.to_string(),
        operator: Operator::Equals,
        values: vec![v.to_string()],
    };
    let mut conditions = vec![equals(by_field, value)];
    conditions.extend(host.map(|h| equals("host.name", h)));
    if by_field != "process.name" {
        conditions.extend(process.map(|p| equals("process.name", p)));
    }
    let slug: String = value
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect();
    let paste = Paste {
        entry: [EntryConfig {
            id: format!("expected-{slug}"),
            comment: format!("Expected: {by_field} {value} (say why before enabling)"),
            action: Action::SuppressAlert,
            conditions,
        }],
    };
    toml::to_string(&paste).unwrap_or_default()
}

fn alerting(
    inputs: &Inputs,
    job: &Job,
    stored: Option<&StoredRecord>,
    alerts: &[StoredAlert],
    exceptions: &ExceptionView,
) -> Alerting {
    let Some(stored) = stored else {
        return Alerting::NoRecord;
    };
    let record = &stored.record;
    let span_ms = record.bucket_span * 1000;
    let lookback_ms = i64::try_from(job.rule.lookback.as_millis()).unwrap_or(i64::MAX / 2);
    if let Some(alert) = alerts.first() {
        let delay_ms = alert.timestamp_ms - (record.timestamp_ms.ms() + span_ms);
        return Alerting::Alerted {
            uuid: alert.uuid.clone(),
            at_ms: alert.timestamp_ms,
            delay_ms,
            held_by_cap: alert.timestamp_ms > record.timestamp_ms.ms() + lookback_ms,
        };
    }
    if let Some(entry) = exceptions
        .matching
        .iter()
        .find(|e| e.action == action_name(Action::SuppressAlert))
    {
        return Alerting::Excepted {
            entry: entry.id.clone(),
            list: entry.list.clone(),
        };
    }
    let threshold = job.rule.config.anomaly_threshold;
    let qualifying = stored.versions.iter().find(|v| v.record_score >= threshold);
    let lookback_end_ms = record.timestamp_ms.ms() + lookback_ms;
    match qualifying {
        None => Alerting::UnderThreshold {
            initial: record.initial_record_score,
            highest: stored
                .versions
                .iter()
                .map(|v| v.record_score)
                .fold(record.initial_record_score, f64::max),
            threshold,
        },
        Some(v) if v.result_version > 1 && v.written_by_ms > lookback_end_ms => {
            Alerting::QualifiedTooLate {
                result_version: v.result_version,
                score: v.record_score,
                written_by_ms: v.written_by_ms,
                lookback_end_ms,
            }
        }
        Some(_) => Alerting::Pending {
            last_execution_ms: inputs.outputs.last_execution_ms(job.id()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exceptions::ListConfig;

    #[test]
    fn the_suggested_entry_parses_back_to_the_values_whatever_they_hold() {
        let job = &crate::jobs::embedded().expect("built-in jobs")[0];
        let value = "4444\"\n[[entry]]\nid = 'x'";
        let host = "web-01\"; rm -rf /";
        let entry = suggested_entry(job, value, Some(host), Some("nc"));
        let list: ListConfig =
            toml::from_str(&format!("description = \"d\"\n{entry}")).expect("valid TOML");
        assert_eq!(list.entries.len(), 1, "{entry}");
        let conditions = &list.entries[0].conditions;
        assert_eq!(conditions[0].field, job.model.by_field_name);
        assert_eq!(conditions[0].values, [value]);
        assert_eq!(conditions[1].values, [host]);
        assert_eq!(conditions[2].values, ["nc"]);
        assert_eq!(list.entries[0].action, Action::SuppressAlert);
    }

    #[test]
    fn cadence_tells_new_daily_weekly_and_irregular_apart() {
        let day = |d: i64| d * DAY_MS;
        let (from, to) = (day(0), day(30));
        assert!(cadence(&[], from, to).contains("new"));
        let daily: Vec<i64> = (20..30).map(day).collect();
        assert!(cadence(&daily, from, to).contains("every day"));
        assert!(cadence(&[day(1), day(8), day(15), day(22)], from, to).contains("every 7 days"));
        assert!(cadence(&[day(1), day(8), day(16), day(23)], from, to).contains("about weekly"));
        assert!(cadence(&[day(2), day(3), day(19)], from, to).contains("irregular, 1 to 16"));
        assert!(cadence(&[day(12)], from, to).contains("one day only"));
    }
}
