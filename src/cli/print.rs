//! Summaries and alert tables on stdout: a table for people, or one JSON object for scripts.

use serde_json::json;

use crate::pipeline::Report;
use crate::rule::Alert;
use crate::time::EpochMs;
use crate::triage::text::printable;

/// How the summary of an execution is printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SummaryFormat {
    /// One aligned line per job, and notes under it.
    #[default]
    Text,
    /// One JSON object on one line: what a cron wrapper or monitoring check reads.
    Json,
}

/// The summary of `report` in `format`.
pub fn report(report: &Report, format: SummaryFormat) {
    match format {
        SummaryFormat::Text => summary(report),
        SummaryFormat::Json => outln!("{}", summary_json(report)),
    }
}

/// The summary as one JSON object: per job the counts of the table, the memory status, the
/// missed-execution gap in minutes (null when none) and the suppressed and refused counts.
fn summary_json(report: &Report) -> serde_json::Value {
    let jobs: Vec<serde_json::Value> = report
        .jobs
        .iter()
        .map(|job| {
            json!({
                "job_id": job.job_id,
                "buckets": job.buckets,
                "events": job.events,
                "records": job.records,
                "alerts": job.alerts,
                "pending": job.pending,
                "excepted": job.excepted,
                "gap_minutes": job.gap_ms.map(|gap| gap / 60_000),
                "memory_status": job.memory.status,
                "refused_values": job.memory.refused_values,
                "seconds": job.duration.as_secs_f64(),
            })
        })
        .collect();
    json!({
        "recovered": report.recovered,
        "jobs": jobs,
        "invalid_values": report.scan.invalid.values().sum::<u64>(),
    })
}

/// One line per job: buckets, events, records, alerts, pending, memory, duration.
fn summary(report: &Report) {
    if report.recovered {
        outln!("finished the commit of an interrupted earlier execution");
    }
    if report.skipped_executions > 0 {
        outln!(
            "resumed: skipped {} execution(s) at or before the jobs' last execution",
            report.skipped_executions
        );
    }
    outln!(
        "{:<45} {:>8} {:>10} {:>8} {:>7} {:>8} {:>10} {:>9}",
        "job",
        "buckets",
        "events",
        "records",
        "alerts",
        "pending",
        "memory",
        "seconds"
    );
    for job in &report.jobs {
        let memory = serde_json::to_value(job.memory.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        outln!(
            "{:<45} {:>8} {:>10} {:>8} {:>7} {:>8} {:>10} {:>9.2}",
            job.job_id,
            job.buckets,
            job.events,
            job.records,
            job.alerts,
            job.pending,
            memory,
            job.duration.as_secs_f64()
        );
        if let Some(gap) = job.gap_ms {
            outln!(
                "  {}: executions were missed; the rule window reached back {} more minutes so no record was skipped",
                job.job_id,
                gap / 60_000
            );
        }
        if job.excepted > 0 {
            outln!(
                "  {}: {} qualifying record(s) suppressed by exceptions",
                job.job_id,
                job.excepted
            );
        }
        if job.memory.refused_values > 0 {
            outln!(
                "  {}: model at its memory limit; {} new value(s) refused",
                job.job_id,
                job.memory.refused_values
            );
        }
    }
    let invalid: u64 = report.scan.invalid.values().sum();
    if invalid > 0 {
        outln!("skipped {invalid} invalid value(s) in the store (see warnings)");
    }
}

/// The alerts, highest score first, the earlier bucket first among equal scores.
pub fn by_score(alerts: &[Alert]) -> Vec<&Alert> {
    let mut sorted: Vec<&Alert> = alerts.iter().collect();
    sorted.sort_by(|a, b| {
        b.record
            .record_score
            .total_cmp(&a.record.record_score)
            .then(a.original_time_ms.cmp(&b.original_time_ms))
    });
    sorted
}

/// The alerts as a table, highest score first. Event values are printed with control
/// characters escaped: a host or process name cannot rewrite the terminal.
pub fn alerts(alerts: &[Alert]) {
    let sorted = by_score(alerts);
    outln!(
        "{:<16} {:<36} {:>5}  {:<16} {:<14} {:<16}",
        "bucket (UTC)",
        "rule",
        "score",
        "rare value",
        "host",
        "process"
    );
    for alert in sorted {
        let first = |i: usize| {
            alert.field_values[i]
                .first()
                .map_or_else(|| "-".into(), |v| printable(v))
        };
        outln!(
            "{:<16} {:<36} {:>5.0}  {:<16} {:<14} {:<16}",
            EpochMs(alert.original_time_ms).minute(),
            alert.rule_name,
            alert.record.record_score,
            format!(
                "{}={}",
                short(&alert.record.by_field_name),
                printable(&alert.record.by_field_value)
            ),
            first(0),
            first(1)
        );
    }
}

fn short(field: &str) -> &str {
    field.rsplit('.').next().unwrap_or(field)
}
