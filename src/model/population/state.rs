//! What the population model remembers about each value and each process, and the port classes.
//!
//! Input: one bucket's facts about a value (its hosts, processes, time). Output: the updated
//! [`ValueState`] / [`ProcessState`] and the facts scoring needs: host novelty, spread, whether the
//! value recurs on a schedule, whether a port is usual for a process, whether it is spreading from
//! host to host. Everything is bounded: at most [`MAX_HOSTS`] hosts, [`FIRST_HOSTS`] arrivals and
//! [`MAX_EPISODES`] episode starts per value, [`MAX_PORTS`] ports per process.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bucket::SeriesKey;

/// Ports from here up are ephemeral (the osquery-defense-kit clamp) and form one class.
pub const EPHEMERAL_FROM: u16 = 32768;
/// The by-value under which every ephemeral port is learnt.
pub const EPHEMERAL_CLASS: &str = "32768-65535";
/// Host ids kept per value; beyond this the value counts as widespread.
pub const MAX_HOSTS: usize = 32;
/// Episode starts kept per value for the periodicity test.
pub const MAX_EPISODES: usize = 6;
/// Ports kept per process (the first ones it used).
pub const MAX_PORTS: usize = 16;
/// Intervals shorter than this are not schedules (a beacon every few minutes stays suspicious).
pub const MIN_PERIOD_MS: i64 = 12 * 3_600_000;
/// Arrivals kept per value: the first hosts that produced it and when. A value on more hosts is no
/// longer spreading quietly; it is either widespread or already recorded on these.
pub const FIRST_HOSTS: usize = 4;
/// A value reaching a new host this long after its first appearance is no longer spreading: 72
/// hours covers an intrusion begun on a Friday evening and resumed on Monday morning.
pub const SPREAD_WINDOW_MS: i64 = 72 * 3_600_000;
/// This many arrivals within [`GROUP_MS`] are a push to many hosts at once (a rollout's stage).
pub const GROUP_HOSTS: usize = 3;
/// See [`GROUP_HOSTS`].
pub const GROUP_MS: i64 = 3_600_000;

/// What the model holds about one value (a port class, a port or a process name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueState {
    /// Start of the first bucket it was present in, epoch ms.
    pub first_seen_ms: i64,
    /// Start of the last bucket it was present in, epoch ms.
    pub last_seen_ms: i64,
    /// Buckets it was present in.
    pub buckets: u64,
    /// Ids of the hosts that produced it, sorted, at most [`MAX_HOSTS`].
    pub hosts: Vec<u32>,
    /// True once more hosts produced it than `hosts` holds.
    pub hosts_capped: bool,
    /// Starts of its last episodes (runs of consecutive buckets), oldest first.
    pub episodes: Vec<i64>,
    /// Earlier intervals matching the interval that started the current episode; 0 if none.
    pub periodic_matches: u8,
    /// That interval, ms (0 when not periodic).
    pub period_ms: i64,
    /// Its first hosts in order of arrival, at most [`FIRST_HOSTS`]; kept only for values new to
    /// the fleet after the model's cold start, so empty for the others and for values restored from
    /// snapshots written before arrivals were kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arrivals: Vec<Arrival>,
}

/// A host producing a value for the first time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arrival {
    /// The host's id.
    pub host: u32,
    /// Start of the bucket it first produced the value in, epoch ms.
    pub at_ms: i64,
}

/// What the port job holds about one process: how often it used the network, and on which ports.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProcessState {
    /// Buckets in which it used any port.
    pub buckets: u64,
    /// Buckets per port (class), for its first [`MAX_PORTS`] ports.
    pub ports: BTreeMap<String, u64>,
}

/// The port number of `by`, when it is one (decimal digits, 0–65535).
pub fn port_of(by: &str) -> Option<u16> {
    if by.is_empty() || !by.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    by.parse().ok()
}

/// The key a value is learnt under: for a port field, ephemeral ports collapse into
/// [`EPHEMERAL_CLASS`]; other values are their own class.
pub fn class_key(key: &SeriesKey, ports: bool) -> SeriesKey {
    match port_of(&key.by).filter(|_| ports) {
        Some(port) if port >= EPHEMERAL_FROM => SeriesKey {
            partition: key.partition.clone(),
            by: EPHEMERAL_CLASS.to_string(),
        },
        _ => key.clone(),
    }
}

impl ValueState {
    /// A value first present in the bucket starting at `start_ms`, not yet counted.
    pub fn new(start_ms: i64) -> ValueState {
        ValueState {
            first_seen_ms: start_ms,
            last_seen_ms: start_ms,
            buckets: 0,
            hosts: Vec::new(),
            hosts_capped: false,
            episodes: Vec::new(),
            periodic_matches: 0,
            period_ms: 0,
            arrivals: Vec::new(),
        }
    }

    /// True if host `id` produced this value in an earlier bucket, or may have (hosts capped).
    pub fn knows_host(&self, id: u32) -> bool {
        self.hosts_capped || self.hosts.binary_search(&id).is_ok()
    }

    /// Counts the bucket starting at `start_ms` (span `span_ms`) in which `hosts` produced it;
    /// `keep_arrivals` says whether the value may note its first hosts (it is new to the fleet).
    pub fn observe(&mut self, start_ms: i64, span_ms: i64, hosts: &[u32], keep_arrivals: bool) {
        if self.buckets == 0 || self.last_seen_ms + span_ms != start_ms {
            self.start_episode(start_ms, span_ms);
        }
        self.buckets += 1;
        self.last_seen_ms = start_ms;
        for &id in hosts {
            if let Err(at) = self.hosts.binary_search(&id) {
                // Only a complete list grows: a value that had hosts before it kept arrivals never
                // starts keeping them.
                if keep_arrivals
                    && self.arrivals.len() == self.hosts.len()
                    && self.arrivals.len() < FIRST_HOSTS
                {
                    self.arrivals.push(Arrival {
                        host: id,
                        at_ms: start_ms,
                    });
                }
                if self.hosts.len() < MAX_HOSTS {
                    self.hosts.insert(at, id);
                } else {
                    self.hosts_capped = true;
                }
            }
        }
    }

    /// Records a new episode at `start_ms` and tests whether it keeps an earlier interval.
    fn start_episode(&mut self, start_ms: i64, span_ms: i64) {
        let (matches, period) = match self.episodes.last() {
            Some(&last) => (
                matching_intervals(&self.episodes, start_ms - last, span_ms),
                start_ms - last,
            ),
            None => (0, 0),
        };
        self.periodic_matches = matches;
        self.period_ms = if matches > 0 { period } else { 0 };
        if self.episodes.len() == MAX_EPISODES {
            self.episodes.remove(0);
        }
        self.episodes.push(start_ms);
    }

    /// Distinct hosts that produced it, up to [`MAX_HOSTS`].
    pub fn spread(&self) -> usize {
        self.hosts.len()
    }

    /// The earlier arrivals when the value, new to the fleet, reached one more host in the bucket
    /// starting at `start_ms` (just observed) one host at a time: every host that produced it is
    /// among its kept arrivals, an earlier host had it within [`SPREAD_WINDOW_MS`], and no
    /// [`GROUP_HOSTS`] of them arrived within [`GROUP_MS`] (a rollout pushes to many at once).
    pub fn spreading_from(&self, start_ms: i64) -> Option<&[Arrival]> {
        let first = self.arrivals.first()?;
        let complete = !self.hosts_capped && self.arrivals.len() == self.hosts.len();
        let arrived_now = self.arrivals.last().is_some_and(|a| a.at_ms == start_ms);
        let earlier = &self.arrivals[..self.arrivals.partition_point(|a| a.at_ms < start_ms)];
        let grouped = self
            .arrivals
            .windows(GROUP_HOSTS)
            .any(|w| w[GROUP_HOSTS - 1].at_ms - w[0].at_ms < GROUP_MS);
        (complete
            && arrived_now
            && !earlier.is_empty()
            && start_ms - first.at_ms <= SPREAD_WINDOW_MS
            && !grouped)
            .then_some(earlier)
    }
}

/// How many of the latest intervals between `episodes`, newest first and without a break, are
/// within tolerance of `interval` (max(2 buckets, 10%)); 0 for intervals below [`MIN_PERIOD_MS`].
fn matching_intervals(episodes: &[i64], interval: i64, span_ms: i64) -> u8 {
    if interval < MIN_PERIOD_MS {
        return 0;
    }
    let tolerance = (2 * span_ms).max(interval / 10);
    episodes
        .windows(2)
        .rev()
        .take_while(|w| (w[1] - w[0] - interval).abs() <= tolerance)
        .count() as u8
}

impl ProcessState {
    /// Counts one bucket in which the process used the ports of `classes`.
    pub fn observe<'a>(&mut self, classes: impl Iterator<Item = &'a str>) {
        self.buckets += 1;
        for class in classes {
            if let Some(count) = self.ports.get_mut(class) {
                *count += 1;
            } else if self.ports.len() < MAX_PORTS {
                self.ports.insert(class.to_string(), 1);
            }
        }
    }

    /// True if `class` is this process's usual port: used in at least 3 buckets and in at least
    /// 5% of the buckets the process used the network.
    pub fn is_usual(&self, class: &str) -> bool {
        self.ports
            .get(class)
            .is_some_and(|&n| n >= 3 && n * 20 >= self.buckets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPAN: i64 = 900_000;
    const DAY: i64 = 86_400_000;

    #[test]
    fn ports_and_classes() {
        assert_eq!(port_of("4444"), Some(4444));
        assert_eq!(port_of("65536"), None);
        assert_eq!(port_of("curl"), None);
        assert_eq!(port_of("+1"), None);
        let key = |by: &str| SeriesKey {
            partition: None,
            by: by.to_string(),
        };
        assert_eq!(class_key(&key("40001"), true).by, EPHEMERAL_CLASS);
        assert_eq!(class_key(&key("32767"), true).by, "32767");
        assert_eq!(class_key(&key("sshd"), true).by, "sshd");
        assert_eq!(
            class_key(&key("40001"), false).by,
            "40001",
            "a process named like a port is not a port"
        );
    }

    #[test]
    fn weekly_episodes_are_periodic_and_consecutive_buckets_are_one_episode() {
        let mut v = ValueState::new(0);
        v.observe(0, SPAN, &[1], false);
        v.observe(SPAN, SPAN, &[1], false);
        assert_eq!(v.episodes, vec![0]);
        v.observe(7 * DAY + SPAN, SPAN, &[1], false);
        assert_eq!(v.periodic_matches, 0);
        v.observe(14 * DAY, SPAN, &[1], false);
        assert_eq!((v.periodic_matches, v.period_ms), (1, 7 * DAY - SPAN));
        v.observe(20 * DAY + DAY / 2, SPAN, &[1], false);
        assert_eq!(
            v.periodic_matches, 2,
            "6.5 days is within 10% of both earlier intervals"
        );
        v.observe(20 * DAY + DAY / 2 + 6 * 3_600_000, SPAN, &[1], false);
        assert_eq!(v.periodic_matches, 0, "6 hours is not a schedule");
    }

    #[test]
    fn a_value_reaching_one_host_after_another_is_spreading_until_a_group_or_the_window() {
        const HOUR: i64 = 3_600_000;
        let mut v = ValueState::new(0);
        v.observe(0, SPAN, &[4], true);
        assert_eq!(v.spreading_from(0), None, "one host is not spreading");
        v.observe(SPAN, SPAN, &[4], true);
        v.observe(5 * HOUR, SPAN, &[4, 9], true);
        assert_eq!(
            v.spreading_from(5 * HOUR),
            Some(&[Arrival { host: 4, at_ms: 0 }][..])
        );
        v.observe(5 * HOUR + SPAN, SPAN, &[9], true);
        assert_eq!(v.spreading_from(5 * HOUR + SPAN), None, "no new host");
        v.observe(71 * HOUR, SPAN, &[2], true);
        assert_eq!(v.spreading_from(71 * HOUR).map(<[_]>::len), Some(2));
        v.observe(73 * HOUR, SPAN, &[7], true);
        assert_eq!(v.spreading_from(73 * HOUR), None, "outside the window");
        v.observe(74 * HOUR, SPAN, &[8], true);
        assert_eq!(v.arrivals.len(), FIRST_HOSTS, "arrivals are capped");

        let mut pushed = ValueState::new(0);
        pushed.observe(0, SPAN, &[1, 2], true);
        pushed.observe(SPAN, SPAN, &[3], true);
        assert_eq!(pushed.spreading_from(SPAN), None, "three hosts in an hour");
        pushed.observe(DAY, SPAN, &[5], true);
        assert_eq!(pushed.spreading_from(DAY), None, "a rollout's next stage");

        let mut old = ValueState::new(0);
        old.observe(0, SPAN, &[1], false);
        old.observe(HOUR, SPAN, &[2], true);
        assert!(old.arrivals.is_empty(), "a value learnt before keeps none");
        assert_eq!(old.spreading_from(HOUR), None);
    }

    #[test]
    fn hosts_are_bounded_and_usual_ports_need_history() {
        let mut v = ValueState::new(0);
        let many: Vec<u32> = (0..40).collect();
        v.observe(0, SPAN, &many, false);
        assert_eq!(v.spread(), MAX_HOSTS);
        assert!(v.hosts_capped && v.knows_host(39));
        let mut p = ProcessState::default();
        for _ in 0..2 {
            p.observe(["443"].into_iter());
        }
        assert!(!p.is_usual("443"));
        p.observe(["443"].into_iter());
        assert!(p.is_usual("443"));
        for i in 0..30 {
            p.observe([format!("{}", 1000 + i).as_str()].into_iter());
        }
        assert_eq!(p.ports.len(), MAX_PORTS);
    }
}
