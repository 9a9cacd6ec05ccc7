//! The investigation as a person reads it in a terminal, top to bottom, one section per step of
//! the guide. Event values (hosts, processes, users, paths, arguments) are attacker-controlled:
//! [`printable`] escapes the control and bidirectional characters that could rewrite the
//! terminal or disguise a name.

use std::fmt::Write;

use super::investigation::{Alerting, Investigation};
use crate::time::{DAY_MS, EpochMs};

/// `text` with control characters (ESC, newlines, …) and bidirectional overrides written as
/// `\u{..}` escapes, so an event value shows as what it is and cannot move the cursor, recolour
/// the terminal or reorder the line.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let bidi = matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

fn opt(value: &Option<String>) -> String {
    value.as_deref().map_or_else(|| "-".to_string(), printable)
}

fn counts(items: &[(String, u64)]) -> String {
    if items.is_empty() {
        return "none".into();
    }
    items
        .iter()
        .map(|(k, n)| format!("{} ({n})", printable(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One character per day: `·` for none, then eight heights scaled to the busiest day.
pub fn sparkline(days: &[(i64, u64)]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = days.iter().map(|d| d.1).max().unwrap_or(0);
    days.iter()
        .map(|&(_, n)| match n {
            0 => '·',
            n => BARS[((n - 1) * 8 / max.max(1)).min(7) as usize],
        })
        .collect()
}

/// The whole investigation as text.
pub fn layout(inv: &Investigation) -> String {
    let mut out = String::new();
    let a = &inv.anomaly;
    let field_value = format!("{} {}", a.by_field_name, printable(&a.by_field_value));
    let host = opt(&a.host);
    let _ = writeln!(out, "ANOMALY");
    let _ = writeln!(out, "  rule         {} ({})", a.rule_name, a.job_id);
    let _ = writeln!(
        out,
        "  bucket       {} to {}",
        EpochMs(a.bucket_start_ms).minute_utc(),
        EpochMs(a.bucket_end_ms).minute_utc()
    );
    let _ = writeln!(out, "  rare value   {field_value}");
    let _ = writeln!(out, "  host         {host}");
    match &a.record {
        Some(r) => {
            let _ = writeln!(out, "  record       {}", printable(&r.record_id));
            let _ = writeln!(
                out,
                "  score        {:.1} (initial {:.1}, version {}); probability {:.3e}",
                r.record_score, r.initial_record_score, r.result_version, r.probability
            );
            let _ = writeln!(out, "  why          {}", printable(&r.explanation));
            let _ = writeln!(
                out,
                "  in bucket    {} event(s) on {} host(s); value first seen {}",
                r.event_count,
                r.host_count,
                EpochMs(r.first_occurrence_ms).minute_utc()
            );
            for (field, values) in &r.influencers {
                let values: Vec<String> = values.iter().map(|v| printable(v)).collect();
                let _ = writeln!(out, "  influencer   {field}: {}", values.join(", "));
            }
        }
        None => {
            let _ = writeln!(
                out,
                "  record       none: the value was not scored as anomalous in this bucket"
            );
        }
    }
    for alert in &a.alerts {
        let _ = writeln!(
            out,
            "  alert        {} made {} (severity {})",
            alert.uuid,
            EpochMs(alert.timestamp_ms).minute_utc(),
            alert.severity
        );
    }
    let _ = writeln!(
        out,
        "  nearby       records of {host} within ±2 hours, both jobs:"
    );
    if inv.nearby.is_empty() {
        let _ = writeln!(out, "               none");
    }
    for n in &inv.nearby {
        let _ = writeln!(
            out,
            "               {}  {:<44} {}={} score {:.0}{}",
            EpochMs(n.timestamp_ms).minute_utc(),
            n.job_id,
            n.by_field_name,
            printable(&n.by_field_value),
            n.record_score,
            n.alert_uuid
                .as_ref()
                .map(|u| format!(", alert {u}"))
                .unwrap_or_default()
        );
    }

    let h = &inv.history;
    let days = (h.to_ms - h.from_ms + DAY_MS / 2) / DAY_MS;
    let _ = writeln!(
        out,
        "\nHISTORY OF {field_value} ({days} days before the bucket)"
    );
    match h.first_seen_ms {
        None => {
            let _ = writeln!(
                out,
                "  seen before  never: no event of the job carried it in {days} days"
            );
        }
        Some(first) => {
            let _ = writeln!(
                out,
                "  seen before  {} event(s), first {}, last {}",
                h.events,
                EpochMs(first).minute_utc(),
                EpochMs(h.last_seen_ms.unwrap_or(first)).minute_utc()
            );
            let _ = writeln!(
                out,
                "  hosts        {}: {}",
                h.host_count,
                counts(&h.top_hosts)
            );
        }
    }
    let _ = writeln!(
        out,
        "  on {host:<9} {}",
        match h.on_this_host {
            0 => "never before".to_string(),
            n => format!("{n} event(s) before"),
        }
    );
    let share = if h.fleet_buckets == 0 {
        0.0
    } else {
        100.0 * h.value_buckets as f64 / h.fleet_buckets as f64
    };
    let _ = writeln!(
        out,
        "  buckets      in {} of {} fleet buckets ({share:.2}%)",
        h.value_buckets, h.fleet_buckets
    );
    if let (Some(first), Some(last)) = (h.days.first(), h.days.last()) {
        let _ = writeln!(
            out,
            "  per day      {} {} {}",
            EpochMs(first.0).day(),
            sparkline(&h.days),
            EpochMs(last.0).day()
        );
    }

    let _ = writeln!(
        out,
        "\nCONNECTIONS WITH {field_value} IN THE BUCKET ({})",
        inv.connections.len()
    );
    for c in &inv.connections {
        let k = &c.connection;
        let _ = writeln!(
            out,
            "  {}  {}  {}:{} -> {}:{}  {} {} {}",
            EpochMs(k.timestamp_ms).minute_utc(),
            opt(&k.host),
            opt(&k.source_ip),
            opt(&k.source_port),
            opt(&k.destination_ip),
            opt(&k.destination_port),
            opt(&k.transport),
            opt(&k.direction),
            opt(&k.action)
        );
        let _ = writeln!(
            out,
            "      process {} pid {} parent pid {} user {}",
            opt(&k.process_name),
            opt(&k.process_pid),
            opt(&k.process_parent_pid),
            opt(&k.user)
        );
        if let (Some(ip), Some(class)) = (&k.destination_ip, c.destination_class) {
            let _ = writeln!(
                out,
                "      destination {} is {}; {} fleet host(s) talked to it in the history window",
                printable(ip),
                class.describe(),
                c.destination_hosts.unwrap_or(0)
            );
        }
        if let (Some(ip), Some(class), Some(hosts)) = (&k.source_ip, c.source_class, c.source_hosts)
        {
            let _ = writeln!(
                out,
                "      source {} is {}; it reached {hosts} fleet host(s) in the history window",
                printable(ip),
                class.describe()
            );
        }
    }

    for p in &inv.processes {
        let _ = writeln!(out, "\nPROCESS {}", printable(&p.name));
        let list = |values: &[String]| {
            if values.is_empty() {
                "-".to_string()
            } else {
                values
                    .iter()
                    .map(|v| printable(v))
                    .collect::<Vec<_>>()
                    .join(" | ")
            }
        };
        let _ = writeln!(out, "  executable   {}", list(&p.executables));
        let _ = writeln!(out, "  arguments    {}", list(&p.command_lines));
        let _ = writeln!(out, "  title        {}", list(&p.titles));
        let _ = writeln!(out, "  working dir  {}", list(&p.working_directories));
        match p.first_seen_ms {
            None => {
                let _ = writeln!(out, "  network use  none before in the history window");
            }
            Some(first) => {
                let _ = writeln!(
                    out,
                    "  network use  {} event(s) on {} host(s) since {}; on {host}: {}",
                    p.events_before,
                    p.hosts_before,
                    EpochMs(first).minute_utc(),
                    if p.on_this_host_before {
                        "yes"
                    } else {
                        "never"
                    }
                );
            }
        }
        let _ = writeln!(out, "  ports before {}", counts(&p.ports_before));
        let _ = writeln!(out, "  on {host:<9} {}", counts(&p.ports_on_host_before));
        let _ = writeln!(out, "  destinations {}", counts(&p.destinations_before));
        let _ = writeln!(out, "  users before {}", counts(&p.users_before));
        let _ = writeln!(out, "  cadence      {}", p.cadence);
    }

    let _ = writeln!(out, "\nUSERS");
    if inv.users.is_empty() {
        let _ = writeln!(out, "  none: the bucket's events carry no user.name");
    }
    for u in &inv.users {
        let ran: Vec<String> = u
            .ran_processes_before
            .iter()
            .map(|(p, n)| {
                format!(
                    "{} {}",
                    printable(p),
                    if *n == 0 {
                        "never".into()
                    } else {
                        format!("{n} event(s)")
                    }
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "  {}  {field_value} before: {}; ran before: {}",
            printable(&u.name),
            match u.used_value_before {
                0 => "never".to_string(),
                n => format!("{n} event(s)"),
            },
            if ran.is_empty() {
                "-".into()
            } else {
                ran.join(", ")
            }
        );
    }

    let e = &inv.exceptions;
    let _ = writeln!(out, "\nEXCEPTIONS");
    let _ = writeln!(
        out,
        "  lists        {} ({} enabled entries checked)",
        if e.lists.is_empty() {
            "none".to_string()
        } else {
            e.lists.join(", ")
        },
        e.entries_checked
    );
    if e.matching.is_empty() {
        let _ = writeln!(
            out,
            "  matching     none: no entry covers every value of this record"
        );
    }
    for m in &e.matching {
        let _ = writeln!(
            out,
            "  matching     {} ({}, {}): {}",
            m.id, m.action, m.list, m.comment
        );
    }
    let _ = writeln!(
        out,
        "  to except it for this host and process, add to a list:"
    );
    for line in e.suggested_entry.lines() {
        let _ = writeln!(out, "    {line}");
    }

    let _ = writeln!(out, "\nALERT");
    let _ = writeln!(out, "  {}", alerting_words(&inv.alerting));
    if !inv.notes.is_empty() {
        let _ = writeln!(out, "\nNOT SEEN");
        for note in &inv.notes {
            let _ = writeln!(out, "  {}", printable(note));
        }
    }
    out
}

/// Whether and why the rule alerted, in one sentence.
pub fn alerting_words(alerting: &Alerting) -> String {
    match alerting {
        Alerting::Alerted {
            uuid,
            at_ms,
            delay_ms,
            held_by_cap,
        } => format!(
            "alerted: {uuid}, made {} ({} min after the bucket ended){}",
            EpochMs(*at_ms).minute_utc(),
            delay_ms / 60_000,
            if *held_by_cap {
                "; held back by the cap of alerts per execution and written by a later one"
            } else {
                ""
            }
        ),
        Alerting::NoRecord => {
            "no alert: no anomaly record for this value in this bucket".to_string()
        }
        Alerting::Excepted { entry, list } => {
            format!("no alert: exception entry {entry} ({list}) suppressed it")
        }
        Alerting::UnderThreshold {
            initial,
            highest,
            threshold,
        } => format!(
            "no alert: under the threshold {threshold:.0} (initial score {initial:.1}, highest after renormalisation {highest:.1})"
        ),
        Alerting::QualifiedTooLate {
            result_version,
            score,
            written_by_ms,
            lookback_end_ms,
        } => format!(
            "no alert: renormalisation raised it to {score:.1} (version {result_version}, commit up to {}) after its lookback ended {}",
            EpochMs(*written_by_ms).minute_utc(),
            EpochMs(*lookback_end_ms).minute_utc()
        ),
        Alerting::Pending { last_execution_ms } => format!(
            "no alert yet: it qualifies; the rule last ran {}, and a later execution alerts on it (still in its lookback, or held by the cap)",
            last_execution_ms.map_or_else(|| "never".to_string(), |t| EpochMs(t).minute_utc())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_escaped() {
        assert_eq!(printable("web-01"), "web-01");
        assert_eq!(printable("a\u{1b}[31mred"), "a\\u{1b}[31mred");
        assert_eq!(printable("x\ny"), "x\\u{a}y");
        assert_eq!(printable("evil\u{202e}gpj.exe"), "evil\\u{202e}gpj.exe");
    }

    #[test]
    fn a_sparkline_marks_empty_days_and_scales_to_the_busiest() {
        let days = [(0, 0), (1, 1), (2, 8), (3, 4)];
        assert_eq!(sparkline(&days), "·▁█▄");
    }
}
