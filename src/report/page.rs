//! What the report shows, computed from the outputs as plain serialisable data: the template
//! only lays it out.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::time::{DAY_MS, EpochMs};
use crate::triage::{self, Investigation, NEARBY_MS, Outputs, StoredAlert, text};

/// Kibana's anomaly severity colours, by the lower bound of their score band (Anomaly Explorer).
const SEVERITY: [(f64, &str, &str); 4] = [
    (75.0, "critical", "#fe5050"),
    (50.0, "major", "#fba740"),
    (25.0, "minor", "#fdec25"),
    (0.0, "warning", "#8bc8fb"),
];

/// At most this many columns per swimlane: the interval grows in Kibana's steps to fit.
const MAX_COLUMNS: i64 = 96;
/// Swimlane intervals, in minutes.
const INTERVALS_MIN: [i64; 8] = [15, 30, 60, 180, 360, 720, 1440, 10080];
/// Hosts per job swimlane, the highest scores first (Kibana's default is 10).
const LANE_HOSTS: usize = 10;
/// Geometry of a swimlane cell, in SVG user units.
const CELL_W: f64 = 12.0;
const CELL_H: f64 = 18.0;
const LABEL_W: f64 = 290.0;

/// The time range the report covers, epoch ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    pub from_ms: i64,
    pub to_ms: i64,
}

/// The whole page.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub title: String,
    pub from: String,
    pub to: String,
    pub jobs: Vec<JobLine>,
    pub days: Vec<DayRow>,
    pub chart: BarChart,
    pub swimlanes: Vec<Swimlane>,
    pub influencers: Vec<InfluencerTable>,
    pub hosts: Vec<HostRank>,
    pub alerts: Vec<AlertRow>,
    pub health: Vec<HealthRow>,
    pub investigations: Vec<InvestigationSection>,
    /// Alerts past the number investigated (the highest scores are).
    pub not_investigated: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobLine {
    pub id: String,
    pub rule: String,
    pub records: usize,
    pub alerts: usize,
}

/// One day of the overview.
#[derive(Debug, Clone, Serialize)]
pub struct DayRow {
    pub day: String,
    pub job: String,
    pub executions: usize,
    pub events: i64,
    pub records: usize,
    pub alerts: usize,
}

/// Records per day as bars, alerts as marks on them.
#[derive(Debug, Clone, Serialize)]
pub struct BarChart {
    pub width: f64,
    pub height: f64,
    pub bars: Vec<Bar>,
    pub max: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub title: String,
    pub alert: bool,
}

/// A swimlane: rows of cells over time.
#[derive(Debug, Clone, Serialize)]
pub struct Swimlane {
    pub title: String,
    /// `overall` or the job id: what the lane's rows are.
    pub kind: String,
    pub interval: String,
    /// The first column's start and a column's length, epoch ms, for scripts that check the page.
    pub from_ms: i64,
    pub interval_ms: i64,
    pub width: f64,
    pub height: f64,
    pub labels: Vec<Label>,
    pub cells: Vec<Cell>,
    pub ticks: Vec<Label>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Label {
    pub x: f64,
    pub y: f64,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub colour: &'static str,
    pub title: String,
}

/// The top values of one influencer field.
#[derive(Debug, Clone, Serialize)]
pub struct InfluencerTable {
    pub field: String,
    pub rows: Vec<InfluencerRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InfluencerRow {
    pub value: String,
    pub max: String,
    pub sum: String,
    pub severity: &'static str,
    pub jobs: String,
}

/// A host with alerts, ranked: alerts of both jobs, or several close together, first.
#[derive(Debug, Clone, Serialize)]
pub struct HostRank {
    pub host: String,
    pub alerts: usize,
    pub jobs: usize,
    pub clustered: bool,
    pub max_score: String,
    pub why: String,
}

/// A row of the alerts table.
#[derive(Debug, Clone, Serialize)]
pub struct AlertRow {
    pub anchor: String,
    pub time: String,
    pub rule: String,
    pub score: String,
    pub severity: &'static str,
    pub value: String,
    pub host: String,
    pub process: String,
    pub user: String,
    pub explanation: String,
}

/// The model of a job on a day.
#[derive(Debug, Clone, Serialize)]
pub struct HealthRow {
    pub day: String,
    pub job: String,
    pub memory_status: String,
    pub model_bytes: i64,
    pub by_field_count: i64,
    pub allocation_failures: i64,
    pub renormalised_records: usize,
}

/// One alert's investigation, as `netrare investigate` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct InvestigationSection {
    pub anchor: String,
    pub heading: String,
    pub verdict: String,
    pub text: String,
}

/// The severity band of a score: its name and colour.
fn severity(score: f64) -> (&'static str, &'static str) {
    SEVERITY
        .iter()
        .find(|(low, _, _)| score >= *low)
        .map_or(("warning", "#8bc8fb"), |&(_, name, colour)| (name, colour))
}

fn anchor(uuid: &str) -> String {
    format!("alert-{uuid}")
}

fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS) * DAY_MS
}

impl Page {
    /// The page of `outputs` (already restricted to the report's jobs) over `window`, with the
    /// investigations of its alerts (highest score first).
    pub fn build(
        sources: &triage::Sources,
        outputs: &Outputs,
        window: Window,
        investigations: &[Investigation],
    ) -> Page {
        let inside = |ms: i64| ms >= window.from_ms && ms < window.to_ms;
        let alerts: Vec<&StoredAlert> = outputs
            .alerts
            .iter()
            .filter(|a| inside(a.original_time_ms))
            .collect();
        let explanations: BTreeMap<&str, &str> = outputs
            .records
            .iter()
            .map(|s| (s.record.record_id.as_str(), s.record.explanation.as_str()))
            .collect();
        let jobs = sources
            .jobs
            .iter()
            .map(|j| JobLine {
                id: j.id().to_string(),
                rule: j.rule.config.name.clone(),
                records: outputs
                    .records
                    .iter()
                    .filter(|s| s.record.job_id == j.id() && inside(s.record.timestamp_ms.ms()))
                    .count(),
                alerts: alerts.iter().filter(|a| a.job_id == j.id()).count(),
            })
            .collect();
        let days = day_rows(sources, outputs, window, &alerts);
        Page {
            title: "netrare report".into(),
            from: EpochMs(window.from_ms).minute_utc(),
            to: EpochMs(window.to_ms).minute_utc(),
            jobs,
            chart: bar_chart(&days),
            days,
            swimlanes: swimlanes(sources, outputs, window),
            influencers: influencer_tables(outputs, window),
            hosts: host_ranks(&alerts),
            alerts: alerts
                .iter()
                .map(|a| {
                    let (sev, _) = severity(a.record_score);
                    let first = |v: &[String]| v.first().cloned().unwrap_or_else(|| "-".into());
                    AlertRow {
                        anchor: anchor(&a.uuid),
                        time: EpochMs(a.original_time_ms).minute_utc(),
                        rule: a.rule_name.clone(),
                        score: format!("{:.0}", a.record_score),
                        severity: sev,
                        value: format!("{}={}", a.by_field_name, a.by_field_value),
                        host: first(&a.hosts),
                        process: first(&a.processes),
                        user: first(&a.users),
                        explanation: explanations
                            .get(a.record_id.as_str())
                            .map(|e| e.to_string())
                            .unwrap_or_default(),
                    }
                })
                .collect(),
            health: health_rows(outputs, window),
            investigations: investigations
                .iter()
                .filter_map(|inv| {
                    let alert = inv.anomaly.alerts.first()?;
                    Some(InvestigationSection {
                        anchor: anchor(&alert.uuid),
                        heading: format!(
                            "{} {}={} on {} at {}",
                            alert.rule_name,
                            inv.anomaly.by_field_name,
                            inv.anomaly.by_field_value,
                            inv.anomaly.host.as_deref().unwrap_or("-"),
                            EpochMs(inv.anomaly.bucket_start_ms).minute_utc()
                        ),
                        verdict: text::alerting_words(&inv.alerting),
                        text: text::layout(inv),
                    })
                })
                .collect(),
            not_investigated: alerts.len().saturating_sub(investigations.len()),
        }
    }
}

fn day_rows(
    sources: &triage::Sources,
    outputs: &Outputs,
    window: Window,
    alerts: &[&StoredAlert],
) -> Vec<DayRow> {
    let mut rows = Vec::new();
    let mut day = day_of(window.from_ms);
    while day < window.to_ms {
        let today = |ms: i64| day_of(ms) == day;
        for job in &sources.jobs {
            let id = job.id();
            rows.push(DayRow {
                day: EpochMs(day).day(),
                job: id.to_string(),
                executions: outputs
                    .model_stats
                    .iter()
                    .filter(|s| s.job_id == id && today(s.log_time_ms))
                    .count(),
                events: outputs
                    .buckets
                    .iter()
                    .filter(|b| b.job_id == id && today(b.timestamp_ms))
                    .map(|b| b.event_count)
                    .sum(),
                records: outputs
                    .records
                    .iter()
                    .filter(|s| s.record.job_id == id && today(s.record.timestamp_ms.ms()))
                    .count(),
                alerts: alerts
                    .iter()
                    .filter(|a| a.job_id == id && today(a.original_time_ms))
                    .count(),
            });
        }
        day += DAY_MS;
    }
    rows
}

/// Records per day and job as bars, a gap between days; a bar whose day has alerts is marked.
fn bar_chart(days: &[DayRow]) -> BarChart {
    const HEIGHT: f64 = 120.0;
    const BAR_W: f64 = 10.0;
    const DAY_GAP: f64 = 6.0;
    let max = days.iter().map(|d| d.records).max().unwrap_or(0).max(1);
    let mut x = 0.0;
    let mut bars = Vec::with_capacity(days.len());
    for (i, d) in days.iter().enumerate() {
        if i > 0 && days[i - 1].day != d.day {
            x += DAY_GAP;
        }
        let h = HEIGHT * d.records as f64 / max as f64;
        bars.push(Bar {
            x,
            y: HEIGHT - h,
            w: BAR_W,
            h,
            title: format!(
                "{} {}: {} records, {} alerts, {} events",
                d.day, d.job, d.records, d.alerts, d.events
            ),
            alert: d.alerts > 0,
        });
        x += BAR_W + 1.0;
    }
    BarChart {
        width: x.max(BAR_W),
        height: HEIGHT,
        bars,
        max,
    }
}

/// The swimlane interval: the smallest of Kibana's steps that fits `MAX_COLUMNS` columns.
fn interval_ms(window: Window) -> i64 {
    let span = (window.to_ms - window.from_ms).max(1);
    INTERVALS_MIN
        .iter()
        .map(|m| m * 60_000)
        .find(|i| (span + i - 1) / i <= MAX_COLUMNS)
        .unwrap_or(INTERVALS_MIN[INTERVALS_MIN.len() - 1] * 60_000)
}

/// One lane: rows named by `labels`, each a map from column to the highest score.
fn lane(
    title: String,
    kind: String,
    window: Window,
    interval: i64,
    rows: Vec<(String, BTreeMap<i64, f64>)>,
) -> Swimlane {
    let columns = ((window.to_ms - window.from_ms + interval - 1) / interval).max(1);
    let mut cells = Vec::new();
    let mut labels = Vec::new();
    for (r, (label, scores)) in rows.iter().enumerate() {
        let y = r as f64 * CELL_H;
        labels.push(Label {
            x: LABEL_W - 6.0,
            y: y + CELL_H * 0.7,
            text: label.clone(),
        });
        for (&column, &score) in scores {
            let (name, colour) = severity(score);
            cells.push(Cell {
                x: LABEL_W + column as f64 * CELL_W,
                y,
                w: CELL_W - 1.0,
                h: CELL_H - 1.0,
                colour,
                title: format!(
                    "{label} {}: max score {score:.0} ({name})",
                    EpochMs(window.from_ms + column * interval).minute_utc()
                ),
            });
        }
    }
    // A tick label is about 60 units wide: one every 7 columns at least.
    let tick_every = (columns / 6).max(7);
    let ticks = (0..columns)
        .step_by(tick_every as usize)
        .map(|c| Label {
            x: LABEL_W + c as f64 * CELL_W,
            y: rows.len() as f64 * CELL_H + 12.0,
            text: EpochMs(window.from_ms + c * interval).short(),
        })
        .collect();
    let minutes = interval / 60_000;
    Swimlane {
        title,
        kind,
        from_ms: window.from_ms,
        interval_ms: interval,
        interval: if minutes % 1440 == 0 {
            format!("{} day(s)", minutes / 1440)
        } else if minutes % 60 == 0 {
            format!("{} hour(s)", minutes / 60)
        } else {
            format!("{minutes} minutes")
        },
        width: LABEL_W + columns as f64 * CELL_W + 60.0,
        height: rows.len() as f64 * CELL_H + 18.0,
        labels,
        cells,
        ticks,
    }
}

/// The overall lane (bucket `anomaly_score`, all jobs, then each job) and, per job, its top
/// hosts by `host.name` influencer score, as Kibana's Anomaly Explorer draws them.
fn swimlanes(sources: &triage::Sources, outputs: &Outputs, window: Window) -> Vec<Swimlane> {
    let interval = interval_ms(window);
    let column = |ms: i64| (ms - window.from_ms).div_euclid(interval);
    let inside = |ms: i64| ms >= window.from_ms && ms < window.to_ms;
    let keep_max = |row: &mut BTreeMap<i64, f64>, ms: i64, score: f64| {
        if score > 0.0 && inside(ms) {
            let cell = row.entry(column(ms)).or_insert(score);
            *cell = cell.max(score);
        }
    };
    let mut overall = BTreeMap::new();
    let mut per_job = Vec::new();
    for job in &sources.jobs {
        let mut row = BTreeMap::new();
        for b in outputs.buckets.iter().filter(|b| b.job_id == job.id()) {
            keep_max(&mut overall, b.timestamp_ms, b.anomaly_score);
            keep_max(&mut row, b.timestamp_ms, b.anomaly_score);
        }
        per_job.push((job.id().to_string(), row));
    }
    let mut lanes = vec![lane(
        "Overall (bucket anomaly score)".into(),
        "overall".into(),
        window,
        interval,
        std::iter::once(("overall".to_string(), overall))
            .chain(per_job)
            .collect(),
    )];
    for job in &sources.jobs {
        let mut hosts: BTreeMap<&str, BTreeMap<i64, f64>> = BTreeMap::new();
        for i in outputs
            .influencers
            .iter()
            .filter(|i| i.job_id == job.id() && i.field == "host.name")
        {
            keep_max(hosts.entry(&i.value).or_default(), i.timestamp_ms, i.score);
        }
        let mut ranked: Vec<(String, BTreeMap<i64, f64>)> = hosts
            .into_iter()
            .filter(|(_, row)| !row.is_empty())
            .map(|(h, row)| (h.to_string(), row))
            .collect();
        let best = |row: &BTreeMap<i64, f64>| row.values().copied().fold(0.0, f64::max);
        ranked.sort_by(|a, b| best(&b.1).total_cmp(&best(&a.1)).then(a.0.cmp(&b.0)));
        ranked.truncate(LANE_HOSTS);
        lanes.push(lane(
            format!("{}: host.name (influencer score)", job.id()),
            job.id().to_string(),
            window,
            interval,
            ranked,
        ));
    }
    lanes
}

/// One influencer value's scores over the report.
#[derive(Default)]
struct ValueScores<'a> {
    max: f64,
    sum: f64,
    jobs: BTreeSet<&'a str>,
}

/// Per influencer field, the values by their highest score, with the sum beside it.
fn influencer_tables(outputs: &Outputs, window: Window) -> Vec<InfluencerTable> {
    let mut fields: BTreeMap<&str, BTreeMap<&str, ValueScores>> = BTreeMap::new();
    for i in outputs
        .influencers
        .iter()
        .filter(|i| i.timestamp_ms >= window.from_ms && i.timestamp_ms < window.to_ms)
    {
        let entry = fields
            .entry(&i.field)
            .or_default()
            .entry(&i.value)
            .or_default();
        entry.max = entry.max.max(i.score);
        entry.sum += i.score;
        entry.jobs.insert(&i.job_id);
    }
    fields
        .into_iter()
        .map(|(field, values)| {
            let mut rows: Vec<_> = values.into_iter().collect();
            rows.sort_by(|a, b| {
                b.1.max
                    .total_cmp(&a.1.max)
                    .then(b.1.sum.total_cmp(&a.1.sum))
            });
            rows.truncate(10);
            InfluencerTable {
                field: field.to_string(),
                rows: rows
                    .into_iter()
                    .map(|(value, scores)| InfluencerRow {
                        value: value.to_string(),
                        max: format!("{:.0}", scores.max),
                        sum: format!("{:.0}", scores.sum),
                        severity: severity(scores.max).0,
                        jobs: scores.jobs.into_iter().collect::<Vec<_>>().join(", "),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Hosts with alerts, those with alerts of both jobs or several within two hours first (the
/// pattern of Elastic's rule for several ML alerts sharing an influencer).
fn host_ranks(alerts: &[&StoredAlert]) -> Vec<HostRank> {
    let mut by_host: BTreeMap<&str, Vec<&StoredAlert>> = BTreeMap::new();
    for a in alerts {
        for h in &a.hosts {
            by_host.entry(h).or_default().push(a);
        }
    }
    let mut ranks: Vec<(bool, HostRank, f64)> = by_host
        .into_iter()
        .map(|(host, mut list)| {
            list.sort_by_key(|a| a.original_time_ms);
            let jobs: BTreeSet<&str> = list.iter().map(|a| a.job_id.as_str()).collect();
            let clustered = list
                .windows(2)
                .any(|w| w[1].original_time_ms - w[0].original_time_ms <= NEARBY_MS);
            let max = list.iter().map(|a| a.record_score).fold(0.0, f64::max);
            let mut why = Vec::new();
            if jobs.len() > 1 {
                why.push("alerts of both jobs".to_string());
            }
            if clustered {
                why.push("alerts within 2 hours of each other".to_string());
            }
            let flagged = !why.is_empty();
            (
                flagged,
                HostRank {
                    host: host.to_string(),
                    alerts: list.len(),
                    jobs: jobs.len(),
                    clustered,
                    max_score: format!("{max:.0}"),
                    why: if flagged {
                        why.join("; ")
                    } else {
                        "one alert".into()
                    },
                },
                max,
            )
        })
        .collect();
    ranks.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(b.1.alerts.cmp(&a.1.alerts))
            .then(b.2.total_cmp(&a.2))
            .then(a.1.host.cmp(&b.1.host))
    });
    ranks.into_iter().map(|(_, rank, _)| rank).collect()
}

/// Per job and day: the model's last size statistics and the records renormalisation rewrote.
fn health_rows(outputs: &Outputs, window: Window) -> Vec<HealthRow> {
    let mut rows: BTreeMap<(i64, &str), HealthRow> = BTreeMap::new();
    let inside = |ms: i64| ms >= window.from_ms && ms < window.to_ms;
    let mut stats: Vec<_> = outputs
        .model_stats
        .iter()
        .filter(|s| inside(s.log_time_ms))
        .collect();
    stats.sort_by_key(|s| s.log_time_ms);
    for s in stats {
        let day = day_of(s.log_time_ms);
        let row = rows.entry((day, &s.job_id)).or_insert_with(|| HealthRow {
            day: EpochMs(day).day(),
            job: s.job_id.clone(),
            memory_status: String::new(),
            model_bytes: 0,
            by_field_count: 0,
            allocation_failures: 0,
            renormalised_records: 0,
        });
        row.memory_status = s.memory_status.clone();
        row.model_bytes = s.model_bytes;
        row.by_field_count = s.total_by_field_count;
        row.allocation_failures = s.bucket_allocation_failures_count;
    }
    for stored in &outputs.records {
        for v in stored.versions.iter().filter(|v| v.result_version > 1) {
            let day = day_of(v.written_by_ms);
            if let Some(row) = rows.get_mut(&(day, stored.record.job_id.as_str())) {
                row.renormalised_records += 1;
            }
        }
    }
    rows.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_take_kibanas_severity_bands() {
        assert_eq!(severity(0.5).0, "warning");
        assert_eq!(severity(25.0).0, "minor");
        assert_eq!(severity(74.9).0, "major");
        assert_eq!(severity(75.0), ("critical", "#fe5050"));
    }

    #[test]
    fn the_interval_grows_until_the_columns_fit() {
        let hours = |h: i64| Window {
            from_ms: 0,
            to_ms: h * 3_600_000,
        };
        assert_eq!(interval_ms(hours(24)), 15 * 60_000);
        assert_eq!(interval_ms(hours(30 * 24)), 720 * 60_000);
        assert_eq!(interval_ms(hours(3 * 24)), 60 * 60_000);
    }
}
