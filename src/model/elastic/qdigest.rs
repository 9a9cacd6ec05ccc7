//! A decaying q-digest of discretised raw scores, with the query semantics of ml-cpp's `CQDigest`.
//!
//! Input: `u32` values (raw score × 1000). Output: c.d.f. bounds, a density estimate, quantiles and
//! the cumulative summary the normaliser needs. The tree is kept implicitly: every node is a dyadic
//! range `[min, max]` stored in a map ordered by `(max, span)`, which is the post-order of the tree;
//! a node's parent in the tree is the smallest stored range that contains it. The root always starts
//! at 0 and doubles when a larger value arrives. Nodes are merged into their parent range whenever
//! the counts of a node, its sibling and their parent fall below `floor(n / k)`.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use serde::{Deserialize, Serialize};

use crate::model::SnapshotError;

/// A dyadic range, ordered by `(max, span)`: the post-order of the digest's tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Range {
    max: u32,
    span: u32,
}

impl Range {
    fn start(self) -> u32 {
        self.max + 1 - self.span
    }

    fn parent(self) -> Range {
        let span = self.span * 2;
        let min = self.start() - self.start() % span;
        Range {
            max: min + span - 1,
            span,
        }
    }

    fn sibling(self) -> Range {
        if (self.start() / self.span).is_multiple_of(2) {
            Range {
                max: self.max + self.span,
                span: self.span,
            }
        } else {
            Range {
                max: self.max - self.span,
                span: self.span,
            }
        }
    }
}

/// The q-digest. `k` bounds the size (at most `3k` nodes); `decay_rate` is applied per unit of time.
#[derive(Debug, Clone, PartialEq)]
pub struct QDigest {
    k: u64,
    n: u64,
    decay_rate: f64,
    root: Range,
    nodes: BTreeMap<Range, u64>,
}

/// A q-digest as stored: its nodes as `(min, max, count)` in post-order, the root last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QDigestSnapshot {
    pub k: u64,
    pub n: u64,
    pub nodes: Vec<(u32, u32, u64)>,
}

/// The largest root range accepted on restore; discretised scores never exceed 100,000.
const MAX_ROOT_SPAN: u32 = 1 << 30;

impl QDigest {
    /// An empty digest over `[0, 1]`.
    pub fn new(k: u64, decay_rate: f64) -> QDigest {
        let root = Range { max: 1, span: 2 };
        QDigest {
            k,
            n: 0,
            decay_rate,
            root,
            nodes: BTreeMap::from([(root, 0)]),
        }
    }

    /// Total count.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// The size parameter.
    pub fn k(&self) -> u64 {
        self.k
    }

    /// Adds `count` occurrences of `value`.
    pub fn add(&mut self, value: u32, count: u64) {
        self.n += count;
        let expanded = self.expand(value);
        let leaf = Range {
            max: value,
            span: 1,
        };
        let slot = self.nodes.entry(leaf).or_insert(0);
        *slot += count;
        let is_new = *slot == count;
        if expanded || self.n / self.k != (self.n - count) / self.k {
            self.compress_all();
        } else if is_new {
            self.compress(vec![leaf]);
        }
    }

    /// Ages every count by `exp(-decay_rate · time)` (rounded, never below 1), then recompresses.
    pub fn propagate_forwards_by_time(&mut self, time: f64) {
        let alpha = (-self.decay_rate * time).exp();
        let mut n = 0;
        for count in self.nodes.values_mut() {
            if *count > 0 {
                *count = (*count as f64 * alpha + 0.5).max(1.0) as u64;
            }
            n += *count;
        }
        self.n = n;
        self.compress_all();
    }

    /// Bounds on the fraction of the mass at or below `x`: nodes ending at or below `x` for the
    /// lower bound, nodes starting at or below `x` for the upper bound.
    pub fn cdf(&self, x: u32) -> (f64, f64) {
        if self.n == 0 {
            return (0.0, 0.0);
        }
        let (mut lower, mut upper) = (0u64, 0u64);
        for (range, count) in &self.nodes {
            if range.max <= x {
                lower += count;
            }
            if range.start() <= x {
                upper += count;
            }
        }
        (lower as f64 / self.n as f64, upper as f64 / self.n as f64)
    }

    /// Bounds on the density at `x`: the c.d.f. difference between the nearest node end below `x`
    /// and the first end above it among the root's children, per unit of value.
    pub fn pdf(&self, x: u32) -> (f64, f64) {
        if self.n == 0 {
            return (0.0, 0.0);
        }
        let infimum = self.infimum_below(x);
        let supremum = self.supremum_above(x);
        let (inf_lower, inf_upper) = self.cdf(infimum);
        let (sup_lower, sup_upper) = self.cdf(supremum);
        let width = (supremum.wrapping_sub(infimum) as f64).max(1.0);
        (
            (sup_lower - inf_upper).max(0.0) / width,
            (sup_upper - inf_lower).max(0.0) / width,
        )
    }

    /// The value at quantile `q`: the end of the first node, in post-order, at which the
    /// cumulative count reaches `round(q · n)`.
    pub fn quantile(&self, q: f64) -> u32 {
        let target = (q * self.n as f64 + 0.5) as u64;
        let mut cumulative = 0;
        for (range, count) in &self.nodes {
            cumulative += count;
            if cumulative >= target {
                return range.max;
            }
        }
        self.root.max
    }

    /// `(value, cumulative count)` at each distinct node end, in increasing order.
    pub fn summary(&self) -> Vec<(u32, u64)> {
        let mut result: Vec<(u32, u64)> = Vec::new();
        if self.n == 0 {
            return result;
        }
        let mut iter = self.nodes.iter();
        let Some((first, first_count)) = iter.next() else {
            return result;
        };
        let (mut last, mut cumulative) = (first.max, *first_count);
        for (range, count) in iter {
            if range.max != last {
                result.push((last, cumulative));
                last = range.max;
            }
            cumulative += count;
        }
        if result.last().is_none_or(|&(_, c)| c < cumulative) {
            result.push((self.root.max, cumulative));
        }
        result
    }

    /// The state as stored.
    pub fn snapshot(&self) -> QDigestSnapshot {
        let nodes = self
            .nodes
            .iter()
            .map(|(r, c)| (r.start(), r.max, *c))
            .collect();
        QDigestSnapshot {
            k: self.k,
            n: self.n,
            nodes,
        }
    }

    /// Rebuilds a digest, checking that the nodes form a valid dyadic tree holding `n`.
    pub fn restore(s: QDigestSnapshot, decay_rate: f64) -> Result<QDigest, SnapshotError> {
        let mut nodes = BTreeMap::new();
        for &(min, max, count) in &s.nodes {
            let span = max
                .checked_sub(min)
                .and_then(|d| d.checked_add(1))
                .filter(|s| s.is_power_of_two() && *s <= MAX_ROOT_SPAN);
            let Some(span) = span.filter(|span| min % span == 0) else {
                return Err(SnapshotError::NotDyadic { min, max });
            };
            nodes.insert(Range { max, span }, count);
        }
        let Some((&root, _)) = nodes.iter().next_back() else {
            return Err(SnapshotError::NoRoot);
        };
        if root.start() != 0 || root.span < 2 || nodes.keys().any(|r| r.max > root.max) {
            return Err(SnapshotError::Root {
                min: root.start(),
                max: root.max,
            });
        }
        let total: u64 = nodes.values().sum();
        if total != s.n || s.k == 0 || nodes.len() != s.nodes.len() {
            return Err(SnapshotError::DigestCount {
                total,
                nodes: nodes.len(),
                n: s.n,
                k: s.k,
            });
        }
        Ok(QDigest {
            k: s.k,
            n: s.n,
            decay_rate,
            root,
            nodes,
        })
    }

    /// Grows the root range until it covers `value`; true if it had to.
    fn expand(&mut self, value: u32) -> bool {
        if self.root.max >= value {
            return false;
        }
        let (mut max, mut level) = (self.root.max, self.root.span);
        loop {
            max += level;
            level <<= 1;
            if max >= value {
                break;
            }
        }
        if self.nodes.get(&self.root) == Some(&0) {
            self.nodes.remove(&self.root);
        }
        self.root = Range { max, span: max + 1 };
        self.nodes.insert(self.root, 0);
        true
    }

    /// The smallest stored range strictly containing `range`.
    fn ancestor(&self, range: Range) -> Range {
        let mut candidate = range.parent();
        while candidate.span < self.root.span && !self.nodes.contains_key(&candidate) {
            candidate = candidate.parent();
        }
        candidate
    }

    /// Largest node end below `x` (0 if none).
    fn infimum_below(&self, x: u32) -> u32 {
        self.nodes
            .iter()
            .filter(|(r, c)| r.max < x && **c > 0)
            .map(|(r, _)| r.max)
            .max()
            .unwrap_or(0)
    }

    /// Smallest end above `x` among the root's children and the root itself (when it holds mass).
    fn supremum_above(&self, x: u32) -> u32 {
        let mut result = u32::MAX;
        if self.root.max > x && self.nodes.get(&self.root).is_some_and(|c| *c > 0) {
            result = self.root.max;
        }
        let mut boundary = u64::MAX;
        for range in self.nodes.keys().rev().filter(|r| **r != self.root) {
            if u64::from(range.max) < boundary {
                boundary = u64::from(range.start());
                if range.max > x {
                    result = result.min(range.max);
                }
            }
        }
        result
    }

    /// Merges nodes bottom-up (smallest span, then smallest end, first) starting from `pending`;
    /// true if anything merged.
    fn compress(&mut self, pending: Vec<Range>) -> bool {
        let factor = self.n / self.k;
        let mut heap: BinaryHeap<Reverse<(u32, u32)>> = pending
            .into_iter()
            .map(|r| Reverse((r.span, r.max)))
            .collect();
        let mut compressed = false;
        while let Some(Reverse((span, max))) = heap.pop() {
            if let Some(merged) = self.merge_into_parent(Range { max, span }, factor) {
                compressed = true;
                heap.push(Reverse((merged.span, merged.max)));
            }
        }
        compressed
    }

    /// Repeats full passes until one merges nothing (at most `3k + 2` passes).
    fn compress_all(&mut self) {
        for _ in 0..(3 * self.k + 2) {
            let all: Vec<Range> = self.nodes.keys().copied().collect();
            if !self.compress(all) {
                return;
            }
        }
    }

    /// Folds `range` and its sibling into their parent range if the three hold fewer than
    /// `factor`; returns the node that received the mass.
    fn merge_into_parent(&mut self, range: Range, factor: u64) -> Option<Range> {
        if range == self.root {
            return None;
        }
        let own = *self.nodes.get(&range)?;
        let ancestor = self.ancestor(range);
        let is_parent = ancestor.span == 2 * range.span;
        let sibling = range.sibling();
        let sibling_count = self.nodes.get(&sibling).copied().unwrap_or(0);
        let parent_count = if is_parent {
            self.nodes.get(&ancestor).copied().unwrap_or(0)
        } else {
            0
        };
        let count = parent_count + own + sibling_count;
        if count >= factor {
            return None;
        }
        self.nodes.remove(&range);
        self.nodes.remove(&sibling);
        let target = if is_parent { ancestor } else { range.parent() };
        self.nodes.insert(target, count);
        Some(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_while_small() {
        let mut d = QDigest::new(201, 0.0);
        for v in [0, 0, 0, 500, 1000] {
            d.add(v, 1);
        }
        assert_eq!(d.n(), 5);
        // 3 zeros of 5 at or below 0; 4 of 5 at or below 999.
        assert_eq!(d.cdf(0), (0.6, 0.6));
        assert_eq!(d.cdf(999), (0.8, 0.8));
        assert_eq!(d.quantile(0.5), 0);
        assert_eq!(d.quantile(1.0), 1000);
        assert_eq!(d.summary(), vec![(0, 3), (500, 4), (1000, 5)]);
    }

    #[test]
    fn stays_bounded_and_conserves_mass() {
        let mut d = QDigest::new(201, 0.0);
        for i in 0..20_000u32 {
            d.add((i * 7919) % 100_000, 1);
        }
        assert_eq!(d.n(), 20_000);
        assert!(d.nodes.len() <= 3 * 201 + 1, "size {}", d.nodes.len());
        let (lower, upper) = d.cdf(50_000);
        assert!(
            lower <= 0.5 + 0.01 && upper >= 0.5 - 0.01,
            "{lower} {upper}"
        );
        assert_eq!(d.summary().last().map(|s| s.1), Some(20_000));
    }

    #[test]
    fn ageing_shrinks_counts_but_never_below_one() {
        let mut d = QDigest::new(201, 0.5);
        d.add(3, 100);
        d.add(9, 1);
        // 100 · e^-0.5 = 60.65 -> 61; 1 · e^-0.5 = 0.61 -> 1.
        d.propagate_forwards_by_time(1.0);
        assert_eq!(d.n(), 62);
    }

    #[test]
    fn snapshot_round_trip_and_validation() {
        let mut d = QDigest::new(5, 0.1);
        for v in 0..40 {
            d.add(v * 3, 1);
        }
        let restored = QDigest::restore(d.snapshot(), 0.1).unwrap();
        assert_eq!(restored, d);
        let mut bad = d.snapshot();
        bad.n += 1;
        assert!(QDigest::restore(bad, 0.1).is_err());
        let mut bad = d.snapshot();
        bad.nodes[0] = (1, 2, 1);
        assert!(matches!(
            QDigest::restore(bad, 0.1),
            Err(SnapshotError::NotDyadic { min: 1, max: 2 })
        ));
    }
}
