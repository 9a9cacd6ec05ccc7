//! Fleet-wide rarity: the share of all value-bucket presences held by values at least as rare.
//!
//! Input: each value's bucket count as it grows by one. Output: for a count c, the mass of values
//! with count ≤ c divided by the total — the same "at least as rare" idea as Elastic's category
//! probability, over plain counts. A histogram of counts keeps updates at O(log n).

use std::collections::BTreeMap;

/// Above this share the sum stops: no evidence can bring such a value down to a record.
pub const STOP_SHARE: f64 = 0.2;

/// The count histogram of one partition.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rarity {
    /// Number of values per bucket count.
    histogram: BTreeMap<u64, u64>,
    /// Sum of all counts.
    total: u64,
}

impl Rarity {
    /// A value's count went from `old` to `old + 1` (`old = 0` for a new value).
    pub fn increment(&mut self, old: u64) {
        if old > 0 {
            self.remove(old);
        }
        *self.histogram.entry(old + 1).or_insert(0) += 1;
        self.total += 1;
    }

    /// Adds a restored value of count `count`.
    pub fn insert(&mut self, count: u64) {
        *self.histogram.entry(count).or_insert(0) += 1;
        self.total += count;
    }

    fn remove(&mut self, count: u64) {
        if let Some(n) = self.histogram.get_mut(&count) {
            *n -= 1;
            if *n == 0 {
                self.histogram.remove(&count);
            }
        }
    }

    /// Sum of all counts.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Share of the total held by values with count ≤ `count`; once the running share passes
    /// [`STOP_SHARE`] the partial share is returned (it is then only a lower bound). Visits at most
    /// about √(0.4 · total) distinct counts.
    pub fn at_least_as_rare(&self, count: u64) -> f64 {
        if self.total == 0 {
            return 1.0;
        }
        let stop = STOP_SHARE * self.total as f64;
        let mut mass = 0.0;
        for (&c, &n) in self.histogram.range(..=count) {
            mass += (c * n) as f64;
            if mass > stop {
                break;
            }
        }
        mass / self.total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_of_values_at_least_as_rare() {
        let mut r = Rarity::default();
        for _ in 0..10 {
            r.increment(0);
        }
        for old in 1..100 {
            r.increment(old);
        }
        // Nine values with count 1 and one with 100: total 109.
        assert_eq!(r.total(), 109);
        assert!((r.at_least_as_rare(1) - 9.0 / 109.0).abs() < 1e-12);
        assert!(r.at_least_as_rare(100) > STOP_SHARE);
        r.increment(1);
        assert!((r.at_least_as_rare(1) - 8.0 / 110.0).abs() < 1e-12);
        assert!((r.at_least_as_rare(2) - 10.0 / 110.0).abs() < 1e-12);
    }
}
