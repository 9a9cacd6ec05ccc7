//! Tests of [`NewTermsRare`]: buckets of (host, port, process) in, new terms out.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::bucket::{SeriesKey, ValueSummary};
use crate::model::{MemoryStatus, SnapshotError};

const SPAN_MS: i64 = 900_000;
/// Buckets in a day.
const DAY: i64 = 96;

fn params(limit: u64) -> ModelParams {
    ModelParams {
        bucket_span_s: 900,
        memory_limit_bytes: limit,
        by_field_is_port: true,
    }
}

/// The port job's terms of `fields` over `window`.
fn terms(fields: &[&str], window: Duration) -> Terms {
    let names: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    Terms::resolve(Some(&names), Some(window), port_job()).expect("valid fields")
}

fn port_job() -> JobFields<'static> {
    static INFLUENCERS: [String; 0] = [];
    JobFields {
        by: "destination.port",
        partition: None,
        influencers: &INFLUENCERS,
        bucket_span: Duration::from_secs(900),
    }
}

fn model(fields: &[&str], window_days: u64) -> NewTermsRare {
    let window = Duration::from_secs(window_days * 86_400);
    NewTermsRare::new(terms(fields, window), &params(1 << 20))
}

/// Bucket `index` of (host, port, process) events.
fn bucket(index: i64, events: &[(&str, &str, &str)]) -> BucketSummary {
    let mut values: BTreeMap<SeriesKey, ValueSummary> = BTreeMap::new();
    for (host, port, process) in events {
        let v = values
            .entry(SeriesKey {
                partition: None,
                by: port.to_string(),
            })
            .or_default();
        v.event_count += 1;
        v.hosts.insert(host);
        v.add_influencer("process.name", process);
    }
    BucketSummary {
        start_ms: EpochMs(index * SPAN_MS),
        event_count: events.len() as u64,
        values,
    }
}

/// Feeds buckets `from..to`, each holding `events`, and returns every score.
fn feed(m: &mut NewTermsRare, from: i64, to: i64, events: &[(&str, &str, &str)]) -> Vec<Score> {
    (from..to)
        .flat_map(|i| m.update(&bucket(i, events)))
        .collect()
}

const NORMAL: [(&str, &str, &str); 3] = [
    ("web-01", "443", "curl"),
    ("web-02", "443", "curl"),
    ("db-01", "22", "sshd"),
];

#[test]
fn a_term_unseen_in_the_history_is_new_with_the_top_score() {
    let mut m = model(&["destination.port"], 7);
    assert!(feed(&mut m, 0, 2 * DAY, &NORMAL).is_empty());
    let mut events = NORMAL.to_vec();
    events.push(("web-01", "4444", "nc"));
    let scores = m.update(&bucket(2 * DAY, &events));
    assert_eq!(scores.len(), 1, "{scores:?}");
    let s = &scores[0];
    assert_eq!(s.key.by, "4444");
    assert_eq!(s.record_score, 100.0);
    assert_eq!(s.probability, f64::MIN_POSITIVE);
    assert_eq!(s.first_seen_ms, 2 * DAY * SPAN_MS);
    assert_eq!(
        s.explanation.as_deref(),
        Some(
            "1 new term of destination.port unseen in the 7days history window: 4444 (never seen)"
        )
    );
    assert!(
        m.update(&bucket(2 * DAY + 1, &events)).is_empty(),
        "seen a bucket ago"
    );
}

/// Port 8080 on web-01 through day 0, then normal traffic until bucket `back`, where 8080 comes
/// back: the model and what that bucket scored.
fn port_8080_back_at(back: i64) -> (NewTermsRare, Vec<Score>) {
    let mut m = model(&["destination.port"], 7);
    let mut events = NORMAL.to_vec();
    events.push(("web-01", "8080", "java"));
    feed(&mut m, 0, DAY + 1, &events);
    assert!(feed(&mut m, DAY + 1, back, &NORMAL).is_empty());
    let scores = m.update(&bucket(back, &events));
    (m, scores)
}

/// The explanation of the only score of `scores`, which must be 8080's.
fn only_8080(scores: &[Score]) -> &str {
    assert_eq!(scores.len(), 1, "{scores:?}");
    assert_eq!(scores[0].key.by, "8080");
    scores[0].explanation.as_deref().unwrap_or_default()
}

#[test]
fn a_term_seen_within_the_history_window_is_not_new() {
    // Last seen at bucket DAY, exactly 7 days before bucket 8 * DAY: still inside the window.
    let (_, scores) = port_8080_back_at(8 * DAY);
    assert!(scores.is_empty(), "{scores:?}");
}

#[test]
fn a_term_last_seen_before_the_window_is_new_again() {
    let (_, scores) = port_8080_back_at(8 * DAY + 1);
    let explanation = only_8080(&scores);
    assert!(
        explanation.ends_with(": 8080 (last seen 1970-01-02 00:00 UTC)"),
        "{explanation}"
    );
}

#[test]
fn a_forgotten_term_is_named_as_not_seen_since_the_cutoff() {
    // The midnight bucket of day 9 forgets the terms last seen before day 2.
    let (m, scores) = port_8080_back_at(9 * DAY + 1);
    let explanation = only_8080(&scores);
    assert!(
        explanation.ends_with(": 8080 (not seen since before 1970-01-03 00:00 UTC)"),
        "{explanation}"
    );
    assert_eq!(m.field_counts().by_values, 3, "443, 22 and 8080 again");
}

#[test]
fn the_first_day_only_learns() {
    let mut m = model(&["destination.port"], 7);
    let mut day0 = NORMAL.to_vec();
    day0.push(("web-01", "9000", "svc"));
    assert!(feed(&mut m, 0, 1, &day0).is_empty());
    let mut late = NORMAL.to_vec();
    late.push(("web-01", "9001", "svc"));
    assert!(
        m.update(&bucket(DAY - 1, &late)).is_empty(),
        "still learning"
    );
    late.push(("web-01", "9002", "svc"));
    let scores = m.update(&bucket(DAY, &late));
    assert_eq!(
        scores.iter().map(|s| s.key.by.as_str()).collect::<Vec<_>>(),
        ["9002"]
    );
}

#[test]
fn the_learning_period_counts_from_the_first_bucket_with_data() {
    let mut m = model(&["destination.port"], 7);
    feed(&mut m, 0, 3 * DAY, &[]);
    assert!(feed(&mut m, 3 * DAY, 3 * DAY + 1, &NORMAL).is_empty());
    let mut events = NORMAL.to_vec();
    events.push(("web-01", "4444", "nc"));
    assert!(m.update(&bucket(3 * DAY + 2, &events)).is_empty());
}

#[test]
fn a_combination_is_new_when_its_values_were_only_seen_apart() {
    let mut m = model(&["host.name", "destination.port"], 7);
    feed(&mut m, 0, 2 * DAY, &NORMAL);
    // 443 is known fleet-wide and db-01 is known, but never together.
    let mut events = NORMAL.to_vec();
    events.push(("db-01", "443", "curl"));
    let scores = m.update(&bucket(2 * DAY, &events));
    assert_eq!(scores.len(), 1, "{scores:?}");
    assert_eq!(scores[0].key.by, "443");
    assert_eq!(
        scores[0].explanation.as_deref(),
        Some(
            "1 new term of host.name, destination.port unseen in the 7days history window: db-01, 443 (never seen)"
        )
    );
}

#[test]
fn a_combination_with_an_influencer_reads_its_values() {
    let job = JobFields {
        influencers: &["process.name".to_string()],
        ..port_job()
    };
    let names = ["process.name".to_string(), "destination.port".to_string()];
    let terms = Terms::resolve(Some(&names), None, job).expect("valid");
    let mut m = NewTermsRare::new(terms, &params(1 << 20));
    feed(&mut m, 0, 2 * DAY, &NORMAL);
    let mut events = NORMAL.to_vec();
    events.push(("web-02", "443", "curl"));
    events.push(("web-02", "443", "python3"));
    let scores = m.update(&bucket(2 * DAY, &events));
    assert_eq!(scores.len(), 1, "{scores:?}");
    assert!(
        scores[0]
            .explanation
            .as_deref()
            .is_some_and(|e| e.ends_with(": python3, 443 (never seen)")),
        "{:?}",
        scores[0].explanation
    );
}

#[test]
fn a_value_missing_a_field_has_no_term() {
    let v = ValueSummary::default();
    let key = SeriesKey {
        partition: None,
        by: "443".into(),
    };
    let t = terms(&["host.name", "destination.port"], DEFAULT_HISTORY_WINDOW);
    assert!(t.of(&key, &v).is_empty());
}

#[test]
fn fields_are_checked_against_the_job() {
    let job = JobFields {
        partition: Some("host.name"),
        influencers: &["process.name".to_string(), "user.name".to_string()],
        ..port_job()
    };
    let resolve = |fields: &[&str], window: Option<Duration>| {
        let names: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        Terms::resolve(Some(&names), window, job)
    };
    let ok = resolve(&["destination.port", "host.name", "user.name"], None).expect("valid");
    let sources: Vec<Source> = ok.fields.iter().map(|f| f.source).collect();
    assert_eq!(sources, [Source::By, Source::Partition, Source::Influencer]);
    assert_eq!(ok.history_window_ms, 7 * 86_400_000);
    for (fields, window, key, message) in [
        (
            &["user.id"][..],
            None,
            "model.fields",
            "\"user.id\" is neither the by-field (destination.port), host.name, the partition field nor an influencer of the job",
        ),
        (
            &[][..],
            None,
            "model.fields",
            "expected 1 to 3 fields, found 0",
        ),
        (
            &["host.name", "user.name", "process.name", "destination.port"][..],
            None,
            "model.fields",
            "expected 1 to 3 fields, found 4",
        ),
        (
            &["user.name", "user.name"][..],
            None,
            "model.fields",
            "\"user.name\" is named twice",
        ),
        (
            &["user.name"][..],
            Some(Duration::from_secs(60)),
            "model.history_window",
            "expected at least the bucket span (15m) and at most 366d, found 1m",
        ),
    ] {
        assert_eq!(
            resolve(fields, window),
            Err((key, message.to_string())),
            "{fields:?}"
        );
    }
}

#[test]
fn a_new_term_on_several_values_scores_each_and_lists_at_most_five() {
    let mut m = model(&["host.name"], 7);
    feed(&mut m, 0, 2 * DAY, &NORMAL);
    let hosts: Vec<String> = (0..7).map(|h| format!("new-{h}")).collect();
    let mut events: Vec<(&str, &str, &str)> = NORMAL.to_vec();
    events.extend(hosts.iter().map(|h| (h.as_str(), "443", "curl")));
    events.push(("new-0", "22", "sshd"));
    let scores = m.update(&bucket(2 * DAY, &events));
    let by: Vec<&str> = scores.iter().map(|s| s.key.by.as_str()).collect();
    assert_eq!(by, ["22", "443"], "new-0 is new on both of its values");
    assert!(
        scores[1].explanation.as_deref().is_some_and(
            |e| e.starts_with("7 new terms of host.name") && e.ends_with("; and 2 more")
        ),
        "{:?}",
        scores[1].explanation
    );
}

#[test]
fn a_term_refused_at_the_memory_limit_is_neither_learnt_nor_scored() {
    let window = Duration::from_secs(7 * 86_400);
    let mut m = NewTermsRare::new(
        terms(&["destination.port"], window),
        &params(memory::FIXED_BYTES + 2 * 100),
    );
    feed(&mut m, 0, 2 * DAY, &NORMAL);
    let mut events = NORMAL.to_vec();
    events.push(("web-01", "4444", "nc"));
    for i in 0..3 {
        assert!(m.update(&bucket(2 * DAY + i, &events)).is_empty());
    }
    let memory = m.memory();
    assert_eq!(memory.refused_values, 3);
    assert_eq!(memory.status, MemoryStatus::HardLimit);
}

#[test]
fn a_snapshot_restores_the_same_model_and_refuses_other_terms() {
    let mut m = model(&["host.name", "destination.port"], 7);
    let mut events = NORMAL.to_vec();
    events.push(("web-01", "8080", "java"));
    feed(&mut m, 0, DAY + 1, &events);
    feed(&mut m, DAY + 1, 9 * DAY + 1, &NORMAL);
    let snapshot = m.snapshot();
    assert!(snapshot.forgotten_before_ms.is_some());
    let json = serde_json::to_string(&snapshot).expect("serialises");
    let back: NewTermsSnapshot = serde_json::from_str(&json).expect("parses");
    let t = terms(
        &["host.name", "destination.port"],
        Duration::from_secs(7 * 86_400),
    );
    let mut restored = NewTermsRare::restore(t.clone(), &params(1 << 20), back).expect("restores");
    assert_eq!(restored, m);
    events.push(("db-01", "443", "curl"));
    let next = bucket(9 * DAY + 3, &events);
    assert_eq!(restored.update(&next), m.update(&next));
    assert_eq!(restored, m);

    let other = terms(&["destination.port"], Duration::from_secs(7 * 86_400));
    assert!(matches!(
        NewTermsRare::restore(other, &params(1 << 20), snapshot.clone()),
        Err(SnapshotError::TermFields { .. })
    ));
    let longer = terms(
        &["host.name", "destination.port"],
        Duration::from_secs(14 * 86_400),
    );
    assert!(matches!(
        NewTermsRare::restore(longer, &params(1 << 20), snapshot.clone()),
        Err(SnapshotError::HistoryWindow { .. })
    ));
    let mut twice = snapshot.clone();
    twice.terms.push(twice.terms[0].clone());
    assert!(matches!(
        NewTermsRare::restore(t.clone(), &params(1 << 20), twice),
        Err(SnapshotError::DuplicateTerm(_))
    ));
    let mut short = snapshot;
    short.terms[0].values.pop();
    assert!(matches!(
        NewTermsRare::restore(t, &params(1 << 20), short),
        Err(SnapshotError::TermShape(_))
    ));
}
