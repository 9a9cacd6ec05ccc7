//! The order in which ml-cpp visits a bucket's people (by-values).
//!
//! ml-cpp gives each by-value of a partition a person id when the value is first seen (0, 1, 2,
//! … in arrival order) and builds a bucket's results by iterating the ids present in the bucket
//! through a `boost::unordered_set<std::size_t>` (`CIndividualModel::currentBucketPersonIds`),
//! filled in ascending id order. That iteration order is the order in which the leaf normaliser
//! learns the bucket's raw scores, so it decides which calls pair into a sample.
//!
//! [`iteration_order`] reproduces the set of Boost 1.86 ("fast closed addressing"), which ml-cpp
//! builds with one change: `3` added in front of the prime bucket counts (`prime_fmod.hpp`), while
//! the precomputed 32-bit inverses are left as they are. Bucket index `i` thus has `SIZES[i]`
//! buckets but reduces the hash with the inverse of the next prime, so a position is not
//! `hash % size`. `boost::hash<std::size_t>` is the identity.

/// ml-cpp's bucket counts: Boost's primes with `3` in front, those below 2^32.
const SIZES: [u64; 30] = [
    3, 13, 29, 53, 97, 193, 389, 769, 1543, 3079, 6151, 12289, 24593, 49157, 98317, 196613, 393241,
    786433, 1572869, 3145739, 6291469, 12582917, 25165843, 50331653, 100663319, 201326611,
    402653189, 805306457, 1610612741, 3221225473,
];

/// Boost's `inv_sizes32`, by bucket index: the inverses of its unpatched primes 13, 29, …
const INV_SIZES32: [u64; 29] = [
    1418980313362273202,
    636094623231363849,
    348051774975651918,
    190172619316593316,
    95578984837873325,
    47420935922132524,
    23987963684927896,
    11955116055547344,
    5991147799191151,
    2998982941588287,
    1501077717772769,
    750081082979285,
    375261795343686,
    187625172388393,
    93822606204624,
    46909513691883,
    23456218233098,
    11728086747027,
    5864041509391,
    2932024948977,
    1466014921160,
    733007198436,
    366503839517,
    183251896093,
    91625960335,
    45812983922,
    22906489714,
    11453246088,
    5726623060,
];

/// Buckets per group: a group's occupied buckets are one 64-bit mask.
const GROUP: usize = 64;

/// The order in which ml-cpp visits one partition's values present in a bucket, as positions
/// into `ids`, their distinct person ids: the ids are inserted in ascending order, then iterated.
pub fn visiting_order(ids: &[u64]) -> Vec<usize> {
    let mut ascending: Vec<(u64, usize)> = ids.iter().copied().zip(0..).collect();
    ascending.sort_unstable();
    let sorted: Vec<u64> = ascending.iter().map(|&(id, _)| id).collect();
    iteration_order(&sorted)
        .into_iter()
        .filter_map(|id| Some(ascending[sorted.binary_search(&id).ok()?].1))
        .collect()
}

/// The order in which a `boost::unordered_set<std::size_t>` built as ml-cpp builds it (Boost 1.86
/// with its bucket-count change) iterates `ids`, inserted in the order given.
pub fn iteration_order(ids: &[u64]) -> Vec<u64> {
    let mut set = BucketArray::default();
    for (count, &id) in ids.iter().enumerate() {
        if count + 1 > set.size() {
            set = set.rehashed(size_index(count + 1));
        }
        set.insert(id);
    }
    set.iter().collect()
}

/// The first bucket index with at least `n` buckets (Boost's `size_index`).
fn size_index(n: usize) -> usize {
    SIZES
        .iter()
        .position(|&size| size >= n as u64)
        .unwrap_or(SIZES.len() - 1)
}

/// The bucket of `hash` among `SIZES[index]` (Boost's `prime_fmod_size::position` on 64 bits).
fn position(hash: u64, index: usize) -> usize {
    let size = SIZES[index];
    match INV_SIZES32.get(index) {
        Some(&inverse) => {
            let folded = (hash as u32).wrapping_add((hash >> 32) as u32);
            let fractional = inverse.wrapping_mul(u64::from(folded));
            ((u128::from(fractional) * u128::from(size)) >> 64) as usize
        }
        None => (hash % size) as usize,
    }
}

/// Boost's grouped bucket array: buckets of singly linked nodes, and the groups of 64 buckets
/// that hold some node, linked most recently occupied first, the group of the end sentinel last.
#[derive(Default)]
struct BucketArray {
    index: Option<usize>,
    /// Each bucket's nodes, the head last (a node is pushed in front of the list).
    buckets: Vec<Vec<u64>>,
    /// Groups other than the sentinel's, in the order they were first occupied.
    linked: Vec<usize>,
    /// Whether each group holds a node.
    occupied: Vec<bool>,
}

impl BucketArray {
    fn size(&self) -> usize {
        self.buckets.len()
    }

    /// A new array of `SIZES[index]` buckets holding this one's nodes, moved bucket by bucket in
    /// ascending order, each bucket's list from its head (Boost's `rehash_impl`).
    fn rehashed(&self, index: usize) -> BucketArray {
        let mut array = BucketArray {
            index: Some(index),
            buckets: vec![Vec::new(); SIZES[index] as usize],
            linked: Vec::new(),
            occupied: vec![false; SIZES[index] as usize / GROUP + 1],
        };
        for bucket in &self.buckets {
            for &id in bucket.iter().rev() {
                array.insert(id);
            }
        }
        array
    }

    /// Pushes `id` in front of its bucket, linking the bucket's group after the sentinel's when
    /// it was empty.
    fn insert(&mut self, id: u64) {
        let Some(index) = self.index else { return };
        let at = position(id, index);
        let group = at / GROUP;
        if group != self.size() / GROUP && !self.occupied[group] {
            self.linked.push(group);
        }
        self.occupied[group] = true;
        self.buckets[at].push(id);
    }

    /// Boost's iteration: from the sentinel to the most recently linked group and on, each
    /// group's buckets ascending, each bucket from its head, the sentinel's group last.
    fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        let sentinel = self.size() / GROUP;
        self.linked
            .iter()
            .rev()
            .copied()
            .chain((!self.buckets.is_empty()).then_some(sentinel))
            .flat_map(move |group| {
                let end = ((group + 1) * GROUP).min(self.size());
                self.buckets[group * GROUP..end].iter()
            })
            .flat_map(|bucket| bucket.iter().rev().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The iteration orders below were printed by a program that fills a
    /// `boost::unordered_set<std::size_t>` with the ids in ascending order, compiled against
    /// Boost 1.86's headers with ml-cpp's bucket-count change (`docs/model.md`).
    fn boost(ids: std::ops::Range<u64>) -> Vec<u64> {
        iteration_order(&ids.collect::<Vec<_>>())
    }

    #[test]
    fn small_sets_iterate_as_boost_with_ml_cpps_bucket_counts() {
        assert_eq!(iteration_order(&[]), Vec::<u64>::new());
        assert_eq!(iteration_order(&[7]), [7]);
        assert_eq!(boost(0..2), [1, 0]);
        assert_eq!(boost(0..3), [2, 1, 0]);
        assert_eq!(boost(0..5), [0, 1, 2, 4, 3]);
        assert_eq!(boost(0..10), [0, 1, 2, 4, 3, 6, 5, 8, 7, 9]);
        assert_eq!(boost(0..12), [0, 1, 2, 4, 3, 6, 5, 8, 7, 11, 10, 9]);
        assert_eq!(
            boost(0..20),
            [
                1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 10, 12, 11, 14, 13, 16, 15, 18, 17, 19
            ]
        );
    }

    #[test]
    fn sparse_ids_iterate_as_boost() {
        assert_eq!(
            iteration_order(&[3, 17, 42, 100, 511, 4096]),
            [3, 4096, 100, 42, 17, 511]
        );
        assert_eq!(
            iteration_order(&[5, 9, 14, 200, 201, 202, 1000, 70000]),
            [5, 9, 1000, 14, 70000, 200, 202, 201]
        );
    }

    #[test]
    fn sets_grown_through_several_rehashes_iterate_as_boost() {
        assert_eq!(
            boost(0..40),
            [
                0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                23, 24, 25, 26, 27, 29, 28, 31, 30, 32, 34, 33, 36, 35, 38, 37, 39
            ]
        );
        // 2 0 1, then the pairs 4 3, 6 5, …, 98 97, then 99.
        let mut hundred = vec![2, 0, 1];
        for pair in (3..99).step_by(2) {
            hundred.extend([pair + 1, pair]);
        }
        hundred.push(99);
        assert_eq!(boost(0..100), hundred);
    }

    #[test]
    fn values_are_visited_in_the_iteration_order_of_their_ids() {
        // Ids 4, 0, 2, 1, 3 iterate as 0 1 2 4 3: positions 1, 3, 2, 0, 4.
        assert_eq!(visiting_order(&[4, 0, 2, 1, 3]), [1, 3, 2, 0, 4]);
        assert_eq!(visiting_order(&[]), Vec::<usize>::new());
    }

    #[test]
    fn a_position_is_not_the_remainder_of_the_prime() {
        // 3 buckets reduce with the inverse of 13: id 4 lands in bucket ⌊frac(4/13)·3⌋ = 0.
        assert_eq!(position(4, 0), 0);
        assert_eq!(4 % SIZES[0], 1);
    }
}
