//! One bucket's result tree for a single `rare by X` detector, as ml-cpp builds and aggregates it.
//!
//! Leaves are the by-values present. Within a partition, two or more leaves hang under a person
//! node (combined as attributes); partitions, when there are several, meet under a partition-name
//! node (combined as people); the root sits on top. Each influencer field has a pivot root over one
//! pivot node per value, whose children are the leaves listing that value. Every aggregate passes
//! through the detectors step, whose raw score then sets the node's final probability.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;

use super::aggregate::{ATTRIBUTES, Combined, DETECTORS, PEOPLE, Style, combine};
use crate::bucket::{SeriesKey, TextSet};

/// A present by-value: its probability and the influencer values it co-occurred with.
#[derive(Debug, Clone, Copy)]
pub struct Leaf<'a> {
    pub key: &'a SeriesKey,
    pub probability: f64,
    pub influencers: &'a BTreeMap<String, TextSet>,
}

/// An aggregated node after finalisation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Node {
    /// `s⁻¹(raw score)` when the raw score is positive, else the combined probability.
    pub probability: f64,
    /// The detectors step's raw score (ml-cpp's `raw_anomaly_score`).
    pub raw_score: f64,
    /// The smallest probability below the node (children included).
    pub smallest_descendant: f64,
}

/// One influencer field's pivot root and pivot nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct Pivot {
    pub field: String,
    pub root: Node,
    /// Per influencer value, in value order.
    pub values: Vec<(Arc<str>, Node)>,
}

/// A node ml-cpp's person normaliser learns: per partition, the person node over its leaves, or
/// its only leaf. With a partition field the partition normaliser learns the same nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonNode {
    /// The node's maximum-score scope: the partition, and the by-value of a lone leaf (an empty
    /// by-value for a person node, which ml-cpp's scope leaves without a person value).
    pub scope: SeriesKey,
    /// The finalised probability of a person node, the model's of a lone leaf.
    pub probability: f64,
}

/// The aggregated tree of one bucket; `None` root when no value was present.
#[derive(Debug, Clone, PartialEq)]
pub struct Tree {
    pub root: Option<Node>,
    pub pivots: Vec<Pivot>,
    /// The person level, in the order ml-cpp's node list has it: lone leaves (as leaves, in
    /// leaf order), then person nodes (created after the leaves, by partition value).
    pub people: Vec<PersonNode>,
}

/// A node before finalisation: the probability its parent aggregates.
#[derive(Debug, Clone, Copy)]
struct Raw {
    combined: Combined,
    smallest_descendant: f64,
}

impl Raw {
    fn finalize(self) -> Node {
        let probability = if self.combined.raw_score > 0.0 {
            crate::model::elastic::score::inverse_anomaly_score(self.combined.raw_score)
        } else {
            self.combined.probability
        };
        Node {
            probability,
            raw_score: self.combined.raw_score,
            smallest_descendant: self.smallest_descendant,
        }
    }
}

fn clamp(p: f64) -> f64 {
    if p.is_finite() {
        p.clamp(f64::MIN_POSITIVE, 1.0)
    } else {
        1.0
    }
}

/// Builds and aggregates the tree of the leaves, with a pivot for each of `influencer_fields`.
pub fn build(leaves: &[Leaf], influencer_fields: &[String]) -> Tree {
    if leaves.is_empty() {
        return Tree {
            root: None,
            pivots: Vec::new(),
            people: Vec::new(),
        };
    }
    let mut memo = Memo::default();
    let root = main_root(leaves, &mut memo).finalize();
    let people = person_level(leaves, &mut memo);
    let partitioned = leaves.iter().any(|leaf| leaf.key.partition.is_some());
    let pivots = influencer_fields
        .iter()
        .map(|field| pivot(field, leaves, partitioned, &mut memo))
        .collect();
    Tree {
        root: Some(root),
        pivots,
        people,
    }
}

/// The person level of the tree (see [`Tree::people`]).
fn person_level(leaves: &[Leaf], memo: &mut Memo) -> Vec<PersonNode> {
    let mut partitions: BTreeMap<Option<&str>, Vec<&Leaf>> = BTreeMap::new();
    for leaf in leaves {
        partitions
            .entry(leaf.key.partition.as_deref())
            .or_default()
            .push(leaf);
    }
    let mut lone = Vec::new();
    let mut people = Vec::new();
    for (partition, members) in partitions {
        match members.as_slice() {
            [only] => lone.push(PersonNode {
                scope: only.key.clone(),
                probability: clamp(only.probability),
            }),
            _ => {
                let ps: Vec<f64> = members.iter().map(|l| clamp(l.probability)).collect();
                let p = subset(ATTRIBUTES, &ps, memo);
                people.push(PersonNode {
                    scope: SeriesKey {
                        partition: partition.map(str::to_string),
                        by: String::new(),
                    },
                    probability: detectors(p, smallest(ps.into_iter()), memo)
                        .finalize()
                        .probability,
                });
            }
        }
    }
    lone.extend(people);
    lone
}

/// Leaves by partition value (in partition order), each group's probabilities in leaf order.
fn by_partition<'a>(leaves: impl Iterator<Item = &'a Leaf<'a>> + Clone) -> Vec<Vec<f64>> {
    if leaves.clone().all(|leaf| leaf.key.partition.is_none()) {
        return vec![leaves.map(|leaf| clamp(leaf.probability)).collect()];
    }
    let mut keyed: Vec<(Option<&str>, f64)> = leaves
        .map(|leaf| (leaf.key.partition.as_deref(), clamp(leaf.probability)))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed
        .chunk_by(|a, b| a.0 == b.0)
        .map(|group| group.iter().map(|(_, p)| *p).collect())
        .collect()
}

fn smallest(ps: impl Iterator<Item = f64>) -> f64 {
    clamp(ps.fold(1.0, f64::min))
}

/// [`combine`] with its answers kept for one tree: many pivot nodes combine the same
/// probabilities (hosts that used the same ports, say), and each combination costs logarithms
/// and special functions.
#[derive(Default)]
struct Memo {
    answers: HashMap<Box<[u64]>, Combined>,
    key: Vec<u64>,
    /// The detectors step of one probability, which every node takes: keyed by its bits.
    detectors: HashMap<u64, Combined>,
}

impl Memo {
    /// `combine(style, ps)`, computed once per style and multiset of probabilities (the
    /// combination sorts them, so their order never matters).
    fn combine(&mut self, style: Style, ps: &[f64]) -> Combined {
        self.key.clear();
        self.key.extend([
            style.joint_weight.to_bits(),
            style.extreme_weight.to_bits(),
            style.min_extreme as u64,
            style.max_extreme as u64,
        ]);
        let start = self.key.len();
        self.key.extend(ps.iter().map(|p| p.to_bits()));
        self.key[start..].sort_unstable();
        if let Some(&answer) = self.answers.get(self.key.as_slice()) {
            return answer;
        }
        let answer = combine(style, ps);
        self.answers.insert(self.key.as_slice().into(), answer);
        answer
    }
}

/// The detectors step over one detector's probability.
fn detectors(p: f64, smallest_descendant: f64, memo: &mut Memo) -> Raw {
    let combined = match memo.detectors.get(&p.to_bits()) {
        Some(&combined) => combined,
        None => {
            let combined = combine(DETECTORS, &[p]);
            memo.detectors.insert(p.to_bits(), combined);
            combined
        }
    };
    Raw {
        combined,
        smallest_descendant,
    }
}

/// One subset's probability: itself when alone, else combined in `style`. Large sets (a pivot
/// root's nodes) are combined directly: they seldom repeat, and their key would cost a sort.
fn subset(style: Style, ps: &[f64], memo: &mut Memo) -> f64 {
    match ps {
        [only] => *only,
        _ if ps.len() > MAX_REMEMBERED => combine(style, ps).probability,
        _ => memo.combine(style, ps).probability,
    }
}

/// The largest set of probabilities whose combination [`Memo`] keeps.
const MAX_REMEMBERED: usize = 32;

/// Root of the main tree: person nodes per partition, a partition-name node over several.
fn main_root(leaves: &[Leaf], memo: &mut Memo) -> Raw {
    let groups = by_partition(leaves.iter());
    let min_leaf = smallest(leaves.iter().map(|l| l.probability));
    let partition_nodes: Vec<f64> = groups
        .iter()
        .map(|ps| match ps.as_slice() {
            [only] => *only,
            _ => {
                let p = subset(ATTRIBUTES, ps, memo);
                detectors(p, min_leaf, memo).combined.probability
            }
        })
        .collect();
    let top = match partition_nodes.as_slice() {
        [only] => *only,
        _ => {
            let p = subset(PEOPLE, &partition_nodes, memo);
            detectors(p, min_leaf, memo).combined.probability
        }
    };
    detectors(top, min_leaf, memo)
}

/// The leaves listing each distinct value of one influencer field.
struct ValueLeaves<'a> {
    /// The distinct values by allocation, in the order first met.
    values: Vec<&'a Arc<str>>,
    /// The leaves listing `values[v]` are `leaves[starts[v]..starts[v + 1]]`, in leaf order.
    starts: Vec<usize>,
    leaves: Vec<u32>,
}

impl<'a> ValueLeaves<'a> {
    /// Groups every (value, leaf) pair of `field` by the value's allocation: values are shared
    /// strings, so most equal values are one allocation and the grouping hashes addresses only.
    fn new(field: &str, leaves: &'a [Leaf<'a>]) -> ValueLeaves<'a> {
        let sets = || leaves.iter().filter_map(|leaf| leaf.influencers.get(field));
        let pairs = sets().map(TextSet::len).sum();
        let most_values = sets().map(TextSet::len).max().unwrap_or(0);
        let mut slots: HashMap<*const u8, u32> = HashMap::default();
        slots.reserve(most_values);
        let mut values = Vec::with_capacity(most_values);
        let mut counts: Vec<usize> = Vec::with_capacity(most_values);
        let mut listed: Vec<(u32, u32)> = Vec::with_capacity(pairs);
        for (leaf, i) in leaves.iter().zip(0u32..) {
            for value in leaf.influencers.get(field).into_iter().flatten() {
                let slot = *slots
                    .entry(Arc::as_ptr(value).cast::<u8>())
                    .or_insert_with(|| {
                        values.push(value);
                        counts.push(0);
                        values.len() as u32 - 1
                    });
                counts[slot as usize] += 1;
                listed.push((slot, i));
            }
        }
        let mut starts = Vec::with_capacity(values.len() + 1);
        starts.push(0);
        for count in &counts {
            starts.push(starts[starts.len() - 1] + count);
        }
        let mut next = starts.clone();
        let mut by_value = vec![0; listed.len()];
        for (slot, leaf) in listed {
            by_value[next[slot as usize]] = leaf;
            next[slot as usize] += 1;
        }
        ValueLeaves {
            values,
            starts,
            leaves: by_value,
        }
    }

    /// The distinct values in byte order, equal texts held in separate allocations side by side.
    fn in_text_order(&self) -> Vec<(u64, u32)> {
        let mut order: Vec<(u64, u32)> = self
            .values
            .iter()
            .zip(0u32..)
            .map(|(value, slot)| (text_prefix(value), slot))
            .collect();
        order.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| self.values[a.1 as usize].cmp(self.values[b.1 as usize]))
        });
        order
    }

    /// The indexes of the leaves listing the value in `slot`.
    fn of(&self, slot: u32) -> &[u32] {
        &self.leaves[self.starts[slot as usize]..self.starts[slot as usize + 1]]
    }
}

/// The pivot of `field`: a node per value over the leaves listing it, a root over those nodes.
fn pivot(field: &str, leaves: &[Leaf], partitioned: bool, memo: &mut Memo) -> Pivot {
    let grouped = ValueLeaves::new(field, leaves);
    let order = grouped.in_text_order();
    let mut probabilities = Vec::new();
    let nodes: Vec<(Arc<str>, Raw)> = order
        .chunk_by(|a, b| a.0 == b.0 && grouped.values[a.1 as usize] == grouped.values[b.1 as usize])
        .map(|same_text| {
            let children = same_text
                .iter()
                .flat_map(|&(_, slot)| grouped.of(slot))
                .map(|&i| &leaves[i as usize]);
            let p = if partitioned {
                let per_partition: Vec<f64> = by_partition(children.clone())
                    .iter()
                    .map(|ps| subset(ATTRIBUTES, ps, memo))
                    .collect();
                subset(PEOPLE, &per_partition, memo)
            } else {
                probabilities.clear();
                probabilities.extend(children.clone().map(|leaf| clamp(leaf.probability)));
                subset(ATTRIBUTES, &probabilities, memo)
            };
            let min_child = smallest(children.map(|leaf| leaf.probability));
            let value = grouped.values[same_text[0].1 as usize];
            (value.clone(), detectors(p, min_child, memo))
        })
        .collect();
    let root = if nodes.is_empty() {
        Node {
            probability: 1.0,
            raw_score: 0.0,
            smallest_descendant: 1.0,
        }
    } else {
        let ps: Vec<f64> = nodes.iter().map(|(_, n)| n.combined.probability).collect();
        let below = smallest(
            nodes
                .iter()
                .flat_map(|(_, n)| [n.combined.probability, n.smallest_descendant]),
        );
        let p = subset(PEOPLE, &ps, memo);
        detectors(p, below, memo).finalize()
    };
    Pivot {
        field: field.to_string(),
        root,
        values: nodes
            .into_iter()
            .map(|(value, raw)| (value, raw.finalize()))
            .collect(),
    }
}

/// The first 8 bytes of `text`, zero-padded, as a big-endian number: ordering by it, then by
/// the whole text, is the texts' byte order, and most comparisons end at the number.
fn text_prefix(text: &str) -> u64 {
    let mut prefix = [0; 8];
    let bytes = text.as_bytes();
    let len = bytes.len().min(8);
    prefix[..len].copy_from_slice(&bytes[..len]);
    u64::from_be_bytes(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::elastic::score::{anomaly_score, inverse_anomaly_score};

    fn key(by: &str) -> SeriesKey {
        SeriesKey {
            partition: None,
            by: by.into(),
        }
    }

    fn influencers(pairs: &[(&str, &str)]) -> BTreeMap<String, TextSet> {
        let mut map: BTreeMap<String, TextSet> = BTreeMap::new();
        for (f, v) in pairs {
            map.entry(f.to_string()).or_default().insert(v);
        }
        map
    }

    #[test]
    fn one_anomalous_value_gives_the_root_and_its_pivots_0_8_of_its_raw_score() {
        let (k, infl) = (key("4444"), influencers(&[("host.name", "web-1")]));
        let leaves = [Leaf {
            key: &k,
            probability: 1e-6,
            influencers: &infl,
        }];
        let tree = build(&leaves, &["host.name".into(), "user.name".into()]);
        let root = tree.root.expect("a root");
        // Root: detectors over [1e-6] → raw 0.8 · s(1e-6); final p = s⁻¹(raw) > 1e-6.
        let raw = 0.8 * anomaly_score(1e-6);
        assert!((root.raw_score - raw).abs() < 1e-9, "{root:?}");
        assert!((root.probability - inverse_anomaly_score(raw)).abs() < 1e-15);
        assert!(root.probability > 1e-6);
        assert_eq!(root.smallest_descendant, 1e-6);
        let host = &tree.pivots[0];
        assert_eq!(host.values.len(), 1);
        // The pivot node and its root see the same single probability.
        assert!((host.values[0].1.raw_score - raw).abs() < 1e-9);
        assert!((host.root.raw_score - raw).abs() < 1e-9);
        // A field with no value has an empty pivot: probability 1, nothing below.
        assert_eq!(tree.pivots[1].root.probability, 1.0);
        assert!(tree.pivots[1].values.is_empty());
    }

    #[test]
    fn pivot_root_is_the_chance_the_smallest_value_is_that_small() {
        // Two hosts, each with one leaf of p = 0.01: the pivot root is People over the two pivot
        // nodes: 1 - 0.99² = 0.0199.
        let (a, b) = (key("a"), key("b"));
        let (ia, ib) = (
            influencers(&[("host.name", "h1")]),
            influencers(&[("host.name", "h2")]),
        );
        let leaves = [
            Leaf {
                key: &a,
                probability: 0.01,
                influencers: &ia,
            },
            Leaf {
                key: &b,
                probability: 0.01,
                influencers: &ib,
            },
        ];
        let tree = build(&leaves, &["host.name".into()]);
        let root = tree.pivots[0].root;
        let expected = inverse_anomaly_score(0.8 * anomaly_score(1.0 - 0.99f64.powi(2)));
        assert!((root.probability - expected).abs() < 1e-9, "{root:?}");
    }

    #[test]
    fn partitions_meet_as_people_under_the_root() {
        // One leaf of p = 0.01 in each of two partitions: 1 - 0.99² = 0.0199 at the partition
        // node, then the root's detectors step.
        let (a, b) = (
            SeriesKey {
                partition: Some("web-1".into()),
                by: "22".into(),
            },
            SeriesKey {
                partition: Some("web-2".into()),
                by: "22".into(),
            },
        );
        let none = BTreeMap::new();
        let leaves = [
            Leaf {
                key: &a,
                probability: 0.01,
                influencers: &none,
            },
            Leaf {
                key: &b,
                probability: 0.01,
                influencers: &none,
            },
        ];
        let root = build(&leaves, &[]).root.expect("a root");
        let expected = inverse_anomaly_score(0.8 * anomaly_score(1.0 - 0.99f64.powi(2)));
        assert!((root.probability - expected).abs() < 1e-9, "{root:?}");
        assert_eq!(root.smallest_descendant, 0.01);
    }

    #[test]
    fn the_person_level_is_a_lone_leaf_or_the_person_node_lone_leaves_first() {
        let in_partition = |partition: &str, by: &str| SeriesKey {
            partition: Some(partition.into()),
            by: by.into(),
        };
        let keys = [
            in_partition("a", "22"),
            in_partition("a", "443"),
            in_partition("b", "22"),
        ];
        let none = BTreeMap::new();
        let leaves: Vec<Leaf> = keys
            .iter()
            .zip([0.01, 0.02, 0.03])
            .map(|(key, probability)| Leaf {
                key,
                probability,
                influencers: &none,
            })
            .collect();
        let people = build(&leaves, &[]).people;
        let attributes = combine(ATTRIBUTES, &[0.01, 0.02]).probability;
        let person = inverse_anomaly_score(combine(DETECTORS, &[attributes]).raw_score);
        assert_eq!(
            people,
            [
                PersonNode {
                    scope: in_partition("b", "22"),
                    probability: 0.03,
                },
                PersonNode {
                    scope: in_partition("a", ""),
                    probability: person,
                },
            ]
        );
    }

    #[test]
    fn equal_values_in_separate_allocations_make_one_pivot_node() {
        // Each leaf's influencer sets are built on their own, so "web-1" is two allocations.
        let (a, b, c) = (key("22"), key("443"), key("4444"));
        let (ia, ib, ic) = (
            influencers(&[("host.name", "web-1")]),
            influencers(&[("host.name", "web-2")]),
            influencers(&[("host.name", "web-1")]),
        );
        let leaf = |key, probability, influencers| Leaf {
            key,
            probability,
            influencers,
        };
        let leaves = [leaf(&a, 0.5, &ia), leaf(&b, 0.5, &ib), leaf(&c, 1e-6, &ic)];
        let tree = build(&leaves, &["host.name".into()]);
        let values: Vec<&str> = tree.pivots[0].values.iter().map(|(v, _)| &**v).collect();
        assert_eq!(values, ["web-1", "web-2"]);
        let web_1 = tree.pivots[0].values[0].1;
        assert_eq!(
            web_1.smallest_descendant, 1e-6,
            "both leaves of web-1 are its children"
        );
        let alone = build(&leaves[2..], &["host.name".into()]).pivots[0].values[0].1;
        assert!(web_1.probability > alone.probability, "{web_1:?} {alone:?}");
    }

    #[test]
    fn text_prefixes_order_as_the_texts() {
        let mut texts = [
            "host-0123",
            "host-012",
            "10.0.0.10",
            "10.0.0.9",
            "",
            "a",
            "a\0",
            "host-0124",
            "é",
        ];
        let mut by_prefix = texts;
        texts.sort_unstable();
        by_prefix.sort_unstable_by(|a, b| text_prefix(a).cmp(&text_prefix(b)).then(a.cmp(b)));
        assert_eq!(by_prefix, texts);
    }

    #[test]
    fn no_leaves_no_root() {
        let tree = build(&[], &["host.name".into()]);
        assert!(tree.root.is_none() && tree.pivots.is_empty());
    }

    /// Ports ml-cpp `lib/model/unittest/CHierarchicalResultsTest.cc`, `testAggregator`, case
    /// "by": three values of one by-field with probabilities 0.22, 0.03 and 0.02; the root's raw
    /// score and probability (after aggregation, before the probability finaliser) equal
    /// `CAnomalyScore::compute(0.5, 0.5, 1, 5, 0.035, probabilities)` within 1e-12.
    #[test]
    fn ml_cpp_aggregator_by() {
        let keys = [key("p11"), key("p12"), key("p13")];
        let none = BTreeMap::new();
        let leaves: Vec<Leaf> = keys
            .iter()
            .zip([0.22, 0.03, 0.02])
            .map(|(key, probability)| Leaf {
                key,
                probability,
                influencers: &none,
            })
            .collect();
        let expected = combine(ATTRIBUTES, &[0.22, 0.03, 0.02]);
        let root = main_root(&leaves, &mut Memo::default()).combined;
        assert!(
            (root.raw_score - expected.raw_score).abs() <= 1e-12,
            "{root:?} vs {expected:?}"
        );
        assert!(
            (root.probability - expected.probability).abs() <= 1e-12,
            "{root:?} vs {expected:?}"
        );
        let finalized = build(&leaves, &[]).root.expect("a root");
        assert!((finalized.raw_score - expected.raw_score).abs() <= 1e-12);
    }

    /// Ports ml-cpp `lib/model/unittest/CHierarchicalResultsTest.cc`, `testInfluence`, case
    /// "by": values p11 (0.22), p12 (0.003) and p13 (0.01) of one by-field, an influencer field
    /// I with i1 on all three and i2 on p12. ml-cpp prints each node's probability and raw score
    /// after aggregation at 7 significant digits; the expected strings are its.
    ///
    /// Ported: the leaves' raw scores, the person node (p 0.000885378, raw 0.08893476) and the
    /// pivot node i2 (raw 0.0251169; p 0.003 before finalisation, and `s⁻¹(raw)` after, which is
    /// what [`Node`] holds). Not driven: the pivot node i1 and the pivot root I, because ml-cpp's
    /// case gives i1 influence weights 0.6 (p11) and 0.9 (p12), and a [`Leaf`] lists influencer
    /// values without weights (a `rare` detector's are always 1).
    #[test]
    fn ml_cpp_influence_by() {
        use crate::model::ml_cpp::pretty;
        let keys = [key("p11"), key("p12"), key("p13")];
        let sets = [
            influencers(&[("I", "i1")]),
            influencers(&[("I", "i1"), ("I", "i2")]),
            influencers(&[("I", "i1")]),
        ];
        let leaves: Vec<Leaf> = keys
            .iter()
            .zip(&sets)
            .zip([0.22, 0.003, 0.01])
            .map(|((key, influencers), probability)| Leaf {
                key,
                probability,
                influencers,
            })
            .collect();
        for (p, raw) in [(0.01, "0.008016032"), (0.003, "0.03139613"), (0.22, "0")] {
            assert_eq!(pretty(anomaly_score(p)), raw, "leaf {p}");
        }
        let person = main_root(&leaves, &mut Memo::default()).combined;
        assert_eq!(
            (pretty(person.probability), pretty(person.raw_score)),
            ("0.000885378".to_string(), "0.08893476".to_string()),
            "{person:?}"
        );
        let tree = build(&leaves, &["I".into()]);
        let pivot = &tree.pivots[0];
        let (value, i2) = &pivot.values[1];
        assert_eq!(&**value, "i2");
        assert_eq!(pretty(i2.raw_score), "0.0251169", "{i2:?}");
        assert_eq!(
            pretty(inverse_anomaly_score(i2.raw_score / 0.8)),
            "0.003",
            "before finalisation"
        );
        assert_eq!(i2.probability, inverse_anomaly_score(i2.raw_score));
    }
}
