//! The memory estimate that holds the population model to `model_memory_limit`.
//!
//! Input: the strings of each value, process and host the model keeps. Output: bytes charged once,
//! when the entry is accepted, for the most it can ever hold (its host, episode and port lists are
//! bounded), so the estimate cannot grow behind the limit's back. Entries are never pruned.

use super::state::{FIRST_HOSTS, MAX_EPISODES, MAX_HOSTS, MAX_PORTS};

/// Value entry: `SeriesKey` (48) + fixed fields (48) + four list headers (96) + map slack (32),
/// plus its full host list (4 bytes an id), its episode list (8 bytes a start), its arrivals (16
/// bytes a host and time) and its histogram share (16).
const VALUE_ENTRY: u64 = 48
    + 48
    + 96
    + 32
    + 16
    + 4 * MAX_HOSTS as u64
    + 8 * MAX_EPISODES as u64
    + 16 * FIRST_HOSTS as u64;
/// Process entry: `SeriesKey` (48) + count and map (32) + slack (32), plus its full port map:
/// per port a `String` (24) + count (8) + slack (24) + up to 5 digits, rounded to 64.
const PROCESS_ENTRY: u64 = 48 + 32 + 32 + 64 * MAX_PORTS as u64;
/// Host entry: the name `String` (24) + its id (8) + slack (24).
const HOST_ENTRY: u64 = 56;
/// A partition's rarity histogram: key (24) + map and total (32) + slack (24).
const PARTITION_ENTRY: u64 = 80;
/// The model's fixed fields.
pub const FIXED_BYTES: u64 = 1024;

/// Bytes charged for a value (port, port class or process name) in `partition`.
pub fn value_cost(by: &str, partition: Option<&str>) -> u64 {
    VALUE_ENTRY + by.len() as u64 + partition.map_or(0, |p| p.len() as u64)
}

/// Bytes charged for a process's network history (port job).
pub fn process_cost(name: &str, partition: Option<&str>) -> u64 {
    PROCESS_ENTRY + name.len() as u64 + partition.map_or(0, |p| p.len() as u64)
}

/// Bytes charged for a fleet host.
pub fn host_cost(name: &str) -> u64 {
    HOST_ENTRY + name.len() as u64
}

/// Bytes charged for a new partition.
pub fn partition_cost(partition: Option<&str>) -> u64 {
    PARTITION_ENTRY + partition.map_or(0, |p| p.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs() {
        // 240 + 128 + 48 + 64 = 480, plus "4444".
        assert_eq!(value_cost("4444", None), 484);
        assert_eq!(value_cost("4444", Some("web")), 487);
        // 112 + 1024 = 1136, plus "curl".
        assert_eq!(process_cost("curl", None), 1140);
        assert_eq!(host_cost("web-01"), 62);
        assert_eq!(partition_cost(None), 80);
    }
}
