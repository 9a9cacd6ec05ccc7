//! End-to-end tests of [`PopulationRare`]: fleets of buckets in, scores and explanations out.

use std::collections::BTreeMap;

use super::state::EPHEMERAL_CLASS;
use super::*;
use crate::model::{MemoryStatus, SnapshotError};
use crate::time::EpochMs;

const SPAN_MS: i64 = 900_000;
const WEEK: i64 = 7 * 96;
const HOSTS: usize = 20;

fn params(limit: u64) -> ModelParams {
    ModelParams {
        bucket_span_s: 900,
        memory_limit_bytes: limit,
        by_field_is_port: true,
    }
}

fn host(h: usize) -> String {
    format!("h{h:02}")
}

/// A bucket of (host, by-value, process) events.
fn bucket(index: i64, events: &[(String, String, &str)]) -> BucketSummary {
    let mut values: BTreeMap<SeriesKey, ValueSummary> = BTreeMap::new();
    for (host, by, process) in events {
        let v = values
            .entry(SeriesKey {
                partition: None,
                by: by.clone(),
            })
            .or_default();
        v.event_count += 1;
        v.hosts.insert(host.as_str());
        v.add_influencer("host.name", host);
        v.add_influencer("process.name", process);
    }
    BucketSummary {
        start_ms: EpochMs(index * SPAN_MS),
        event_count: events.len() as u64,
        values,
    }
}

/// Normal traffic of the port job: every host runs curl to 443, sshd on 22 and java on an ephemeral
/// port; `services` more ports each come from one host (the fleet's long tail).
fn normal(index: i64, services: usize) -> Vec<(String, String, &'static str)> {
    let mut events = Vec::new();
    for h in 0..HOSTS {
        events.push((host(h), "443".to_string(), "curl"));
        events.push((host(h), "22".to_string(), "sshd"));
        let ephemeral = 32768 + (index as usize * 7919 + h * 104_729) % 32000;
        events.push((host(h), ephemeral.to_string(), "java"));
    }
    for s in 0..services {
        events.push((host(s % HOSTS), (2000 + s).to_string(), "svcd"));
    }
    events
}

fn with(
    mut events: Vec<(String, String, &'static str)>,
    extra: &[(usize, &str, &'static str)],
) -> Vec<(String, String, &'static str)> {
    events.extend(
        extra
            .iter()
            .map(|(h, by, p)| (host(*h), by.to_string(), *p)),
    );
    events
}

/// A model after `n` buckets of normal traffic.
fn learnt(n: i64, services: usize) -> PopulationRare {
    let mut model = PopulationRare::new(&params(32 << 20));
    for i in 0..n {
        let scores = model.update(&bucket(i, &normal(i, services)));
        assert!(
            scores.is_empty(),
            "normal traffic is never anomalous: {scores:?}"
        );
    }
    model
}

fn score_of<'a>(scores: &'a [Score], by: &str) -> Option<&'a Score> {
    scores.iter().find(|s| s.key.by == by)
}

#[test]
fn cold_start_yields_no_records() {
    let mut model = PopulationRare::new(&params(32 << 20));
    for i in 0..COLD_START_BUCKETS as i64 - 1 {
        assert!(model.update(&bucket(i, &normal(i, 200))).is_empty());
    }
    let last = COLD_START_BUCKETS as i64 - 1;
    assert!(
        model
            .update(&bucket(
                last,
                &with(normal(last, 200), &[(1, "4444", "nc")])
            ))
            .is_empty()
    );
    let scores = model.update(&bucket(
        last + 1,
        &with(normal(last + 1, 200), &[(1, "4445", "nc")]),
    ));
    assert!(
        score_of(&scores, "4445").is_some_and(|s| s.record_score >= 50.0),
        "{scores:?}"
    );
}

#[test]
fn a_new_port_on_one_host_scores_high_and_names_the_host_count() {
    let mut model = learnt(100, 10);
    let scores = model.update(&bucket(
        100,
        &with(normal(100, 10), &[(2, "4444", "kworker_upd")]),
    ));
    assert_eq!(scores.len(), 1, "{scores:?}");
    let s = &scores[0];
    assert_eq!(s.key.by, "4444");
    assert!(s.record_score >= 50.0, "{s:?}");
    assert_eq!(s.first_seen_ms, 100 * SPAN_MS);
    let text = s.explanation.as_deref().unwrap_or_default();
    assert!(text.starts_with("port 4444: first time in the fleet; 1 of 20 hosts; new on h02; kworker_upd never used the network before"), "{text}");
}

#[test]
fn a_new_process_on_one_host_scores_high_in_the_process_job() {
    let mut model = PopulationRare::new(&ModelParams {
        by_field_is_port: false,
        ..params(32 << 20)
    });
    const COMMON: [&str; 10] = [
        "curl",
        "sshd",
        "chronyd",
        "dnf",
        "java",
        "nginx",
        "node",
        "python3",
        "rsyslogd",
        "systemd-resolved",
    ];
    let normal = |i: i64| -> Vec<(String, String, &str)> {
        let common = (0..HOSTS).flat_map(|h| COMMON.map(|p| (host(h), p.to_string(), p)));
        common
            .chain([(host((i % 20) as usize), format!("tool{}", i % 5), "tool")])
            .collect()
    };
    for i in 0..100 {
        model.update(&bucket(i, &normal(i)));
    }
    let scores = model.update(&bucket(
        100,
        &with(normal(100), &[(3, "kworker_upd", "kworker_upd")]),
    ));
    let s = score_of(&scores, "kworker_upd").expect("the new process has a record");
    assert!(s.record_score >= 50.0, "{s:?}");
    assert!(
        s.explanation
            .as_deref()
            .unwrap_or_default()
            .starts_with("process kworker_upd: first time in the fleet; 1 of 20 hosts"),
        "{s:?}"
    );
}

#[test]
fn a_rollout_to_most_hosts_within_two_buckets_stays_below_50() {
    let mut model = learnt(100, 10);
    let first: Vec<(usize, &str, &str)> = (0..3).map(|h| (h, "8888", "falcon-sensor")).collect();
    let scores = model.update(&bucket(100, &with(normal(100, 10), &first)));
    assert!(scores.iter().all(|s| s.record_score < 50.0), "{scores:?}");
    let rest: Vec<(usize, &str, &str)> = (3..HOSTS).map(|h| (h, "8888", "falcon-sensor")).collect();
    let scores = model.update(&bucket(101, &with(normal(101, 10), &rest)));
    assert!(scores.iter().all(|s| s.record_score < 50.0), "{scores:?}");
    // The same value on one host only would have alerted.
    let mut alone = learnt(100, 10);
    let scores = alone.update(&bucket(100, &with(normal(100, 10), &first[..1])));
    assert!(
        score_of(&scores, "8888").is_some_and(|s| s.record_score >= 50.0),
        "{scores:?}"
    );
}

#[test]
fn a_weekly_job_stops_alerting_by_its_third_occurrence() {
    let mut model = PopulationRare::new(&params(32 << 20));
    let mut seen = Vec::new();
    for i in 0..3 * WEEK + 10 {
        let events = if i % WEEK == 40 && i > 0 {
            with(normal(i, 200), &[(5, "9102", "bacula-fd")])
        } else {
            normal(i, 200)
        };
        let scores = model.update(&bucket(i, &events));
        if i % WEEK == 40 && i > 0 {
            seen.push(score_of(&scores, "9102").cloned());
        }
    }
    assert!(
        seen[0].as_ref().is_some_and(|s| s.record_score >= 50.0),
        "first occurrence alerts: {:?}",
        seen[0]
    );
    let third = seen[2]
        .as_ref()
        .expect("a schedule seen once is still recorded, below 50");
    assert!(third.record_score < 50.0, "{third:?}");
    assert!(
        third
            .explanation
            .as_deref()
            .unwrap_or_default()
            .contains("recurs every 7.0 days"),
        "{third:?}"
    );
    let fourth = model.update(&bucket(
        3 * WEEK + 40,
        &with(normal(3 * WEEK + 40, 200), &[(5, "9102", "bacula-fd")]),
    ));
    assert!(
        score_of(&fourth, "9102").is_none(),
        "a schedule seen twice is explained: {fourth:?}"
    );
}

#[test]
fn a_known_process_on_its_usual_port_has_no_record() {
    let mut model = learnt(20, 200);
    // pgdump uses the network rarely, at irregular times, always to 5433 from h05.
    let times = [30, 47, 80, 95, 130];
    let mut last = Vec::new();
    for i in 20..=130 {
        let events = if times.contains(&i) {
            with(normal(i, 200), &[(5, "5433", "pgdump")])
        } else {
            normal(i, 200)
        };
        last = model.update(&bucket(i, &events));
    }
    assert!(score_of(&last, "5433").is_none(), "{last:?}");
    // Without its process history the same value would have been recorded: another process.
    let mut other = learnt(20, 200);
    for i in 20..=130 {
        let process = if i == 130 { "nc" } else { "pgdump" };
        let events = if times.contains(&i) {
            with(normal(i, 200), &[(5, "5433", process)])
        } else {
            normal(i, 200)
        };
        last = other.update(&bucket(i, &events));
    }
    assert!(score_of(&last, "5433").is_some(), "{last:?}");
}

#[test]
fn curl_to_a_never_seen_port_on_one_host_scores_high() {
    let mut model = learnt(100, 10);
    let scores = model.update(&bucket(100, &with(normal(100, 10), &[(7, "8443", "curl")])));
    let s = score_of(&scores, "8443").expect("a record");
    assert!(s.record_score >= 50.0, "{s:?}");
    assert!(
        s.explanation
            .as_deref()
            .unwrap_or_default()
            .contains("curl never used this port before"),
        "{s:?}"
    );
}

#[test]
fn ephemeral_ports_of_many_hosts_do_not_produce_records() {
    let mut model = learnt(COLD_START_BUCKETS as i64, 0);
    for i in COLD_START_BUCKETS as i64..200 {
        let scores = model.update(&bucket(i, &normal(i, 0)));
        assert!(scores.is_empty(), "{scores:?}");
    }
    assert!(
        model.values.len() <= 3,
        "one ephemeral class, not a value per port: {}",
        model.values.len()
    );
}

#[test]
fn hard_limit_refuses_new_values_but_keeps_learning_known_ones() {
    let hosts: u64 = (0..HOSTS).map(|h| memory::host_cost(&host(h))).sum();
    let processes: u64 = ["curl", "sshd", "java", "svcd"]
        .iter()
        .map(|p| memory::process_cost(p, None))
        .sum();
    let values = memory::value_cost("443", None)
        + memory::value_cost("22", None)
        + memory::value_cost(EPHEMERAL_CLASS, None);
    let limit = memory::FIXED_BYTES
        + hosts
        + processes
        + values
        + memory::partition_cost(None)
        + 5 * memory::value_cost("2000", None);
    let mut model = PopulationRare::new(&params(limit));
    for i in 0..50 {
        model.update(&bucket(i, &normal(i, (i as usize).min(12))));
        assert!(model.memory().bytes <= limit);
    }
    let report = model.memory();
    assert_eq!(report.status, MemoryStatus::HardLimit);
    assert!(report.refused_values > 0);
    assert_eq!(model.values.len(), 8);
    let key = SeriesKey {
        partition: None,
        by: "2000".into(),
    };
    assert_eq!(model.values[&key].buckets, 49);
}

/// Normal traffic plus new, repeated, weekly and rolled-out values.
fn stream(buckets: i64) -> Vec<BucketSummary> {
    (0..buckets)
        .map(|i| {
            if i % 37 == 11 {
                return BucketSummary::empty(EpochMs(i * SPAN_MS));
            }
            let mut extra: Vec<(usize, String, &str)> = Vec::new();
            if i % 23 == 3 {
                extra.push(((i % 20) as usize, format!("{}", 6000 + i % 70), "nc"));
            }
            if i % 96 == 50 {
                extra.push((4, "9102".into(), "bacula-fd"));
            }
            if (150..152).contains(&i) {
                extra.extend(
                    (0..12).map(|h| (h + (i as usize - 150) * 8, "8888".to_string(), "falcon")),
                );
            }
            let mut events = normal(i, 40);
            events.extend(extra.into_iter().map(|(h, by, p)| (host(h % HOSTS), by, p)));
            bucket(i, &events)
        })
        .collect()
}

#[test]
fn snapshot_restore_continues_bit_identically() {
    let buckets = stream(320);
    let mut straight = PopulationRare::new(&params(32 << 20));
    let expected: Vec<Vec<Score>> = buckets.iter().map(|b| straight.update(b)).collect();
    assert!(
        expected.iter().flatten().count() > 3,
        "the stream must produce scores"
    );
    let mut model = PopulationRare::new(&params(32 << 20));
    let mut got = Vec::new();
    for (i, b) in buckets.iter().enumerate() {
        if [1, 19, 21, 150, 151, 319].contains(&i) {
            let json = serde_json::to_string(&model.snapshot()).unwrap();
            model =
                PopulationRare::restore(&params(32 << 20), serde_json::from_str(&json).unwrap())
                    .unwrap();
        }
        got.push(model.update(b));
    }
    assert_eq!(got, expected);
    assert_eq!(model, straight);
    assert_eq!(model.memory(), straight.memory());
}

#[test]
fn restore_refuses_bad_snapshots() {
    let mut model = PopulationRare::new(&params(32 << 20));
    for b in stream(30) {
        model.update(&b);
    }
    let err = PopulationRare::restore(
        &ModelParams {
            bucket_span_s: 3600,
            ..params(32 << 20)
        },
        model.snapshot(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("900 s buckets"), "{err}");
    let mut bad = model.snapshot();
    bad.values[0].state.hosts.push(999);
    assert!(matches!(
        PopulationRare::restore(&params(32 << 20), bad),
        Err(SnapshotError::ValueHosts(_))
    ));
    let mut bad = model.snapshot();
    bad.hosts.push(bad.hosts[0].clone());
    assert!(matches!(
        PopulationRare::restore(&params(32 << 20), bad),
        Err(SnapshotError::DuplicateHost(_))
    ));
}

const FLEET: usize = 60;

/// Normal traffic plus a long tail: each bucket one of 40 more hosts uses one of 40 ports, so the
/// fleet has 60 hosts and a value seen in a few dozen buckets is no longer rare.
fn tail(index: i64) -> Vec<(String, String, &'static str)> {
    let mut events = normal(index, 10);
    let k = index.rem_euclid(40);
    events.push((host(HOSTS + k as usize), (5000 + k).to_string(), "tail"));
    events
}

/// A model after `n` buckets of [`tail`] traffic.
fn learnt_with_tail(n: i64) -> PopulationRare {
    let mut model = PopulationRare::new(&params(32 << 20));
    for i in 0..n {
        model.update(&bucket(i, &tail(i)));
    }
    assert_eq!(model.hosts.len(), FLEET);
    model
}

/// Feeds `model` buckets `from..to`, `value` from `process` on `hosts` in each; returns the
/// scores of `value`.
fn run_value(
    model: &mut PopulationRare,
    (from, to): (i64, i64),
    (value, process): (&str, &'static str),
    hosts: &[usize],
) -> Vec<Score> {
    (from..to)
        .filter_map(|i| {
            let extra: Vec<(usize, &str, &str)> =
                hosts.iter().map(|&h| (h, value, process)).collect();
            let scores = model.update(&bucket(i, &with(tail(i), &extra)));
            score_of(&scores, value).cloned()
        })
        .collect()
}

#[test]
fn a_new_value_reaching_a_second_host_hours_later_scores_high_and_names_the_first() {
    let mut model = learnt_with_tail(200);
    let first = run_value(&mut model, (200, 240), ("4444", "kworker_upd"), &[3]);
    assert!(first[0].record_score >= 50.0, "{first:?}");
    let second = run_value(&mut model, (260, 261), ("4444", "kworker_upd"), &[7]);
    let s = second.first().expect("a record on the second host");
    assert!(s.record_score >= 50.0, "{s:?}");
    let text = s.explanation.as_deref().unwrap_or_default();
    assert!(
        text.contains("2 of 60 hosts; first seen on h03 1970-01-03 02:00 UTC, now new on h07;"),
        "{text}"
    );
    // Known on both hosts now: learnt, as before.
    let again = run_value(&mut model, (261, 262), ("4444", "kworker_upd"), &[3, 7]);
    assert!(again.is_empty(), "{again:?}");
}

#[test]
fn a_new_value_reaching_a_second_host_after_the_window_is_learnt_as_before() {
    let mut model = learnt_with_tail(200);
    run_value(&mut model, (200, 240), ("4444", "kworker_upd"), &[3]);
    let late = 200 + 4 * 96;
    let second = run_value(&mut model, (late, late + 1), ("4444", "kworker_upd"), &[7]);
    assert!(second.is_empty(), "{second:?}");
}

#[test]
fn a_staged_rollout_is_not_spreading_but_one_host_then_another_is() {
    let stage_2 = 200 + 2 * 96;
    // The canary stage reaches three hosts at once; the agent then checks in every bucket.
    let mut staged = learnt_with_tail(200);
    run_value(
        &mut staged,
        (200, stage_2),
        ("8889", "fluent-bit"),
        &[30, 31, 32],
    );
    let first = run_value(
        &mut staged,
        (stage_2, stage_2 + 1),
        ("8889", "fluent-bit"),
        &[30, 31, 32, 33],
    );
    let rest: Vec<usize> = (30..46).collect();
    let next = run_value(
        &mut staged,
        (stage_2 + 1, stage_2 + 3),
        ("8889", "fluent-bit"),
        &rest,
    );
    assert!(first.is_empty() && next.is_empty(), "{first:?} {next:?}");
    // The same second stage after a single canary host is one host then another: recorded.
    let mut single = learnt_with_tail(200);
    run_value(&mut single, (200, stage_2), ("8889", "fluent-bit"), &[30]);
    let first = run_value(
        &mut single,
        (stage_2, stage_2 + 1),
        ("8889", "fluent-bit"),
        &[30, 33],
    );
    assert!(
        first.first().is_some_and(|s| s
            .explanation
            .as_deref()
            .unwrap_or_default()
            .contains("first seen on h30")),
        "{first:?}"
    );
}

#[test]
fn snapshots_without_arrivals_load_and_bad_arrivals_are_refused() {
    let mut model = PopulationRare::new(&params(32 << 20));
    for b in stream(200) {
        model.update(&b);
    }
    let snapshot = model.snapshot();
    let kept = snapshot
        .values
        .iter()
        .position(|v| !v.state.arrivals.is_empty())
        .expect("a value new after the cold start keeps its arrivals");
    // Snapshots written before arrivals were kept have no such key: their values never spread.
    let mut older = serde_json::to_value(&snapshot).unwrap();
    for value in older["values"].as_array_mut().unwrap() {
        value["state"].as_object_mut().unwrap().remove("arrivals");
    }
    let restored =
        PopulationRare::restore(&params(32 << 20), serde_json::from_value(older).unwrap()).unwrap();
    assert!(restored.values.values().all(|v| v.arrivals.is_empty()));
    let mut bad = snapshot.clone();
    bad.values[kept].state.arrivals[0].host = 999;
    assert!(matches!(
        PopulationRare::restore(&params(32 << 20), bad),
        Err(SnapshotError::ValueArrivals(_))
    ));
    let mut bad = snapshot;
    bad.values[kept].state.arrivals[0].at_ms = -1;
    assert!(matches!(
        PopulationRare::restore(&params(32 << 20), bad),
        Err(SnapshotError::ValueArrivals(_))
    ));
}
