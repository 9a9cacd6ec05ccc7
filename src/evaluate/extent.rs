//! What the store covers: its first and last event and its distinct hosts, from one scan of
//! `@timestamp` and `host.name`.
//!
//! Input: an [`EventStore`]. Output: a [`StoreExtent`], which gives the default evaluation range
//! and the host count of the false-alert rate.

use std::collections::BTreeSet;

use rayon::prelude::*;

use crate::store::{Error, EventStore, FieldRequest, TimeRange};

/// The time span and hosts of a store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreExtent {
    /// Earliest and latest `@timestamp`, epoch ms; `None` for a store without events.
    pub bounds: Option<(i64, i64)>,
    /// Distinct `host.name` values.
    pub hosts: BTreeSet<String>,
}

impl StoreExtent {
    fn merge(mut self, other: StoreExtent) -> StoreExtent {
        self.bounds = match (self.bounds, other.bounds) {
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
            (a, b) => a.or(b),
        };
        self.hosts.extend(other.hosts);
        self
    }
}

/// Scans every file of `store` for its time bounds and distinct hosts.
pub fn store_extent(store: &EventStore) -> Result<StoreExtent, Error> {
    let (units, _) = store.plan(TimeRange {
        start_ms: i64::MIN,
        end_ms: i64::MAX,
    })?;
    let fields = [FieldRequest {
        name: "host.name".into(),
        required: false,
    }];
    let extents = units
        .par_iter()
        .map(|unit| {
            let frame = unit.read(&fields)?;
            let bounds = frame
                .timestamps
                .iter()
                .min()
                .zip(frame.timestamps.iter().max())
                .map(|(a, b)| (*a, *b));
            let hosts = frame
                .columns
                .get("host.name")
                .map(|c| {
                    (0..c.len())
                        .filter_map(|row| c.first(row))
                        .map(|v| v.to_string())
                        .collect()
                })
                .unwrap_or_default();
            Ok(StoreExtent { bounds, hosts })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(extents
        .into_iter()
        .fold(StoreExtent::default(), StoreExtent::merge))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::FleetOptions;

    #[test]
    fn fleet_small_spans_its_three_days_and_twelve_hosts() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fleet-small");
        let extent = store_extent(&EventStore::open(&dir.to_string_lossy()).unwrap()).unwrap();
        let first_day = FleetOptions::default().start.timestamp_millis();
        let (first, last) = extent.bounds.unwrap();
        assert!(
            (first_day..first_day + 900_000).contains(&first),
            "first event at {first}"
        );
        assert!(
            (first_day + 3 * 86_400_000 - 900_000..first_day + 3 * 86_400_000).contains(&last),
            "last event at {last}"
        );
        assert_eq!(extent.hosts.len(), 12);
        assert!(extent.hosts.contains("web-01") && extent.hosts.contains("mac-01"));
    }
}
