//! From what the fleet tells about a value to a probability, a 0–100 score and an explanation.
//!
//! Input: an [`Evidence`] per value and bucket. Output: the probability of the value being this
//! unremarkable by chance, the score on Elastic's scale (50 = alert-worthy) and the reasons in
//! words. Rarity sets the base (for a value spreading to one more host, the rarity of a value new
//! in this bucket); host spread, host history, process history and schedules move it.

use crate::time::EpochMs;

/// Records are written only below this probability (score above about 10.5), as Elastic does.
pub const MAX_RECORD_PROBABILITY: f64 = 0.035;
/// A value explained away (rollout, usual port, schedule seen twice) is held at least this likely.
pub const EXPLAINED: f64 = 0.05;
/// A value on a schedule seen once is held at least this likely: a record below 50 (score 29.6).
pub const ONCE_PERIODIC: f64 = 0.01;
/// A value this host has produced before is this many times more likely.
pub const KNOWN_HOST_FACTOR: f64 = 10.0;
/// A port used by a process that never used the network before is this many times less likely.
pub const SILENT_PROCESS_FACTOR: f64 = 0.2;
/// From this many values new on one host in one bucket, they are one event (a scan, an install):
/// each is as many times more likely as there were new values.
pub const BURST_VALUES: usize = 5;

/// What a process in the bucket tells about a port.
#[derive(Debug, Clone, PartialEq)]
pub enum ProcessFact {
    /// The process never used any port before this bucket.
    NeverNetworked(String),
    /// It used the network, but not this port (or the model keeps too few of its ports to say).
    NewPort(String),
    /// It used this port before, but rarely.
    Known(String),
    /// This port is one it usually uses.
    Usual(String),
}

/// Everything the model knows about one value in one bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// `"port"` or `"process"`.
    pub noun: &'static str,
    /// The value as it appears in the bucket.
    pub by: String,
    /// The class it was learnt under, when not the value itself (ephemeral ports).
    pub class: Option<String>,
    /// Buckets it was present in before this one.
    pub seen_before: u64,
    /// Share of presences held by values at least as rare (after this bucket).
    pub rarity: f64,
    /// Hosts that ever produced it, this bucket included (at most the per-value cap).
    pub spread: usize,
    /// True when more hosts produced it than the model keeps.
    pub spread_capped: bool,
    /// Hosts in the fleet.
    pub fleet: usize,
    /// Hosts that produced it in this bucket for the first time, sorted.
    pub new_hosts: Vec<String>,
    /// What its processes tell (port values only), sorted by process name.
    pub processes: Vec<ProcessFact>,
    /// Earlier intervals matching the one that started its current episode, and that interval.
    pub periodic: (u8, i64),
    /// Values new on the same host in this bucket, this one included (1 when alone).
    pub burst: usize,
    /// Set when the value, new to the fleet, reached this bucket's new host one host at a time.
    pub spreading: Option<Spreading>,
}

/// A value new to the fleet reaching one more host, within days of its first.
#[derive(Debug, Clone, PartialEq)]
pub struct Spreading {
    /// The hosts that produced it earlier, with the bucket each first did, oldest first.
    pub earlier: Vec<(String, EpochMs)>,
    /// The rarity of a value new in this bucket (its own presence plus the values seen in one
    /// bucket): on its new host it was never seen.
    pub rarity: f64,
}

/// The judgement of one value.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub probability: f64,
    pub score: f64,
    pub explanation: String,
}

/// Hosts needed for a value to count as widespread: a tenth of the fleet, at least 3, at most `cap`.
pub fn widespread_hosts(fleet: usize, cap: usize) -> usize {
    fleet.div_ceil(10).max(3).min(cap)
}

/// Judges `e`; `cap` is the number of hosts the model keeps per value.
pub fn judge(e: &Evidence, cap: usize) -> Judgement {
    // A value reaching one host at a time is not a rollout, even where a few hosts are a tenth of
    // the fleet.
    let spreading = e.spreading.as_ref();
    let widespread =
        spreading.is_none() && (e.spread_capped || e.spread >= widespread_hosts(e.fleet, cap));
    // A spreading value is scored as new on its new host: more hosts reached one at a time make it
    // no less surprising.
    let mut p = match spreading {
        Some(s) => s.rarity.min(e.rarity),
        None if widespread => e.rarity,
        None => e.rarity * (e.spread * e.spread) as f64,
    };
    if e.seen_before > 0 && e.new_hosts.is_empty() {
        p *= KNOWN_HOST_FACTOR;
    }
    if e.processes
        .iter()
        .any(|f| matches!(f, ProcessFact::NeverNetworked(_)))
    {
        p *= SILENT_PROCESS_FACTOR;
    }
    if e.burst >= BURST_VALUES {
        p *= e.burst as f64;
    }
    // A spreading value's processes learnt its port on its earlier hosts only.
    let usual = spreading.is_none()
        && !e.processes.is_empty()
        && e.processes
            .iter()
            .all(|f| matches!(f, ProcessFact::Usual(_)));
    if widespread || usual || e.periodic.0 >= 2 {
        p = p.max(EXPLAINED);
    } else if e.periodic.0 == 1 {
        p = p.max(ONCE_PERIODIC);
    }
    let probability = p.clamp(f64::MIN_POSITIVE, 1.0);
    Judgement {
        probability,
        score: score_of(probability),
        explanation: explain(e, widespread, spreading, probability),
    }
}

/// Elastic's probability-to-score curve: `100 · (0.05 + 0.95 · ln(0.05 / p) / ln 500)`, 0 for
/// p ≥ 0.05, capped at 100. 50 needs p ≤ 2.63e-3, 100 needs p ≤ 1e-4.
pub fn score_of(probability: f64) -> f64 {
    if probability >= EXPLAINED {
        return 0.0;
    }
    (100.0 * (0.05 + 0.95 * (EXPLAINED / probability).ln() / 500f64.ln())).min(100.0)
}

fn explain(
    e: &Evidence,
    widespread: bool,
    spreading: Option<&Spreading>,
    probability: f64,
) -> String {
    let mut parts = Vec::new();
    let name = match &e.class {
        Some(class) => format!("{} {} (ephemeral class {class})", e.noun, e.by),
        None => format!("{} {}", e.noun, e.by),
    };
    parts.push(if e.seen_before == 0 {
        "first time in the fleet".to_string()
    } else {
        format!("seen in {} earlier bucket(s)", e.seen_before)
    });
    let more = if e.spread_capped { "more than " } else { "" };
    let hosts = format!("{more}{} of {} hosts", e.spread, e.fleet);
    parts.push(if widespread {
        format!("widespread: {hosts}")
    } else {
        hosts
    });
    let now_on = match e.new_hosts.as_slice() {
        [] if e.seen_before > 0 => "known on its host(s)".to_string(),
        [] => "no host named".to_string(),
        [one] => format!("new on {one}"),
        many => format!("new on {} hosts ({}, ...)", many.len(), many[0]),
    };
    parts.push(match spreading {
        Some(s) => spread_path(s, &now_on),
        None => now_on,
    });
    for fact in &e.processes {
        parts.push(match fact {
            ProcessFact::NeverNetworked(p) => format!("{p} never used the network before"),
            ProcessFact::NewPort(p) => format!("{p} never used this port before"),
            ProcessFact::Known(p) => format!("{p} used this port before, rarely"),
            ProcessFact::Usual(p) => format!("usual port for {p}"),
        });
    }
    if e.burst >= BURST_VALUES {
        parts.push(format!(
            "one of {} values new on one host in this bucket (a scan or an install)",
            e.burst
        ));
    }
    if e.periodic.0 > 0 {
        parts.push(format!(
            "recurs every {:.1} days ({} earlier interval(s) alike)",
            e.periodic.1 as f64 / 86_400_000.0,
            e.periodic.0
        ));
    }
    parts.push(format!("probability {probability:.2e}"));
    format!("{name}: {}", parts.join("; "))
}

/// `first seen on web-09 2026-01-05 18:00 UTC, then on db-02 2026-01-05 21:15 UTC, now new on
/// app-15`: the path of a spreading value, from its first host to `now_on`.
fn spread_path(s: &Spreading, now_on: &str) -> String {
    let hops: Vec<String> = s
        .earlier
        .iter()
        .map(|(host, at)| format!("{host} {}", at.minute_utc()))
        .collect();
    format!("first seen on {}, now {now_on}", hops.join(", then on "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence() -> Evidence {
        Evidence {
            noun: "port",
            by: "4444".into(),
            class: None,
            seen_before: 0,
            rarity: 1e-4,
            spread: 1,
            spread_capped: false,
            fleet: 312,
            new_hosts: vec!["web-01".into()],
            processes: vec![ProcessFact::NeverNetworked("kworker_upd".into())],
            periodic: (0, 0),
            burst: 1,
            spreading: None,
        }
    }

    #[test]
    fn a_new_port_of_a_silent_process_on_one_host_is_top_and_explained() {
        let j = judge(&evidence(), 32);
        assert!((j.probability - 2e-5).abs() < 1e-12);
        assert_eq!(j.score, 100.0);
        assert_eq!(
            j.explanation,
            "port 4444: first time in the fleet; 1 of 312 hosts; new on web-01; kworker_upd never used the network before; probability 2.00e-5"
        );
    }

    #[test]
    fn spread_usual_ports_and_schedules_lower_the_score() {
        let mut e = evidence();
        e.processes = vec![ProcessFact::Known("curl".into())];
        e.spread = 2;
        assert!((judge(&e, 32).probability - 4e-4).abs() < 1e-12);
        e.spread = 32;
        assert_eq!(judge(&e, 32).score, 0.0);
        let mut e = evidence();
        e.processes = vec![ProcessFact::Usual("sshd".into())];
        assert_eq!(judge(&e, 32).score, 0.0);
        let mut e = evidence();
        e.periodic = (1, 7 * 86_400_000);
        let j = judge(&e, 32);
        assert!(j.score > 10.5 && j.score < 50.0, "{j:?}");
        assert!(
            j.explanation.contains("recurs every 7.0 days"),
            "{}",
            j.explanation
        );
    }

    #[test]
    fn many_values_new_on_one_host_at_once_count_as_one_event() {
        let mut e = evidence();
        e.processes = vec![ProcessFact::NewPort("nmap".into())];
        e.rarity = 5e-4;
        let alone = judge(&e, 32);
        assert!(alone.score >= 50.0, "{alone:?}");
        e.burst = 14;
        let scan = judge(&e, 32);
        // 5e-4 · 14 = 7e-3: above 2.63e-3, so below the alert threshold.
        assert!((scan.probability - 7e-3).abs() < 1e-12);
        assert!(
            scan.score < 50.0
                && scan
                    .explanation
                    .contains("one of 14 values new on one host"),
            "{scan:?}"
        );
        e.burst = BURST_VALUES - 1;
        assert_eq!(
            judge(&e, 32).probability,
            alone.probability,
            "small bursts are not scans"
        );
    }

    #[test]
    fn a_spreading_value_scores_as_new_on_its_host_and_names_where_it_came_from() {
        let mut e = evidence();
        e.processes = vec![ProcessFact::Known("xmrig".into())];
        e.seen_before = 12;
        e.rarity = 0.03;
        e.spread = 2;
        e.new_hosts = vec!["app-15".into()];
        assert_eq!(judge(&e, 32).score, 0.0, "learnt on its first host");
        e.spreading = Some(Spreading {
            earlier: vec![("web-09".into(), EpochMs(1_767_636_000_000))],
            rarity: 1e-4,
        });
        let j = judge(&e, 32);
        assert!((j.probability - 1e-4).abs() < 1e-12, "{j:?}");
        assert!(
            j.explanation.contains(
                "2 of 312 hosts; first seen on web-09 2026-01-05 18:00 UTC, now new on app-15; "
            ),
            "{}",
            j.explanation
        );
        e.fleet = 20;
        e.spread = 3;
        let third = judge(&e, 32);
        assert_eq!(third.probability, j.probability, "{third:?}");
        assert!(
            third.explanation.contains("; 3 of 20 hosts; first seen on"),
            "three hosts of twenty, one at a time, are not widespread: {}",
            third.explanation
        );
    }

    #[test]
    fn the_score_curve_matches_elastics_threshold() {
        assert_eq!(score_of(0.05), 0.0);
        assert!((score_of(2.63e-3) - 50.0).abs() < 0.1);
        assert_eq!(score_of(1e-5), 100.0);
        assert!(score_of(MAX_RECORD_PROBABILITY) > 10.0);
        assert_eq!(widespread_hosts(20, 32), 3);
        assert_eq!(widespread_hosts(312, 32), 32);
    }
}
