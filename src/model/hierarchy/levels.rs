//! The normalisers above the records: one for the person level (`per`), one for the bucket
//! (`root`), and per influencer field one for its bucket influencer (`inflb`) and one for its
//! influencer values (`infl`), as ml-cpp keeps them. Each is the job's record normaliser type,
//! used as it is. The person level scores nothing a `rare by X` job writes; its big changes
//! renormalise as the others' do.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::tree::{Node, Tree};
use crate::bucket::SeriesKey;
use crate::model::SnapshotError;
use crate::model::elastic::normalizer::Scorer;
use crate::model::elastic::{Normalizer, NormalizerSnapshot, raw_score};

/// A node with its normalised score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub node: Node,
    /// Normalised score 0–100.
    pub score: f64,
}

/// One influencer field's bucket influencer and influencer values, normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredPivot {
    pub field: String,
    pub root: Scored,
    pub values: Vec<(Arc<str>, Scored)>,
}

/// A bucket's aggregated, normalised tree.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketScores {
    /// The `bucket_time` bucket influencer; `None` for a bucket without values.
    pub root: Option<Scored>,
    pub pivots: Vec<ScoredPivot>,
}

/// The normalisers of the three levels.
#[derive(Debug, Clone, PartialEq)]
pub struct Levels {
    bucket_span_s: i64,
    /// `per`: created with the first bucket that has values, as ml-cpp creates it.
    people: Option<Normalizer>,
    bucket: Normalizer,
    influencer_buckets: BTreeMap<String, Normalizer>,
    influencers: BTreeMap<String, Normalizer>,
    /// Whether the last [`Levels::score`] was a big change at some level; not stored, as it is
    /// read right after scoring.
    big_change: bool,
}

/// Scorers of every level's current state: how a bucket scores its nodes, and how
/// renormalisation re-scores stored results from their probability.
pub struct LevelScorers<'a> {
    bucket: Scorer<'a>,
    influencer_buckets: BTreeMap<&'a str, Scorer<'a>>,
    influencers: BTreeMap<&'a str, Scorer<'a>>,
}

/// One influencer field's normaliser, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldNormalizer {
    pub field: String,
    pub normalizer: NormalizerSnapshot,
}

/// The normalisers' complete state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelsSnapshot {
    /// `per`: the person level; none before the first bucket with values, and in a state
    /// written before it was kept (it then starts empty).
    #[serde(default)]
    pub people: Option<NormalizerSnapshot>,
    /// `root`: the `bucket_time` scores.
    pub bucket: NormalizerSnapshot,
    /// `inflb`: bucket influencer scores, per influencer field.
    pub influencer_buckets: Vec<FieldNormalizer>,
    /// `infl`: influencer scores, per influencer field.
    pub influencers: Vec<FieldNormalizer>,
}

/// The normaliser input of a node: its raw score, 0 when not anomalous.
fn raw_input(node: &Node) -> f64 {
    raw_score(node.probability)
}

/// The bucket and pivot roots have no by-value: one scope each.
fn blank() -> SeriesKey {
    SeriesKey {
        partition: None,
        by: String::new(),
    }
}

fn value_key(value: &str) -> SeriesKey {
    SeriesKey {
        partition: None,
        by: value.to_string(),
    }
}

impl Levels {
    /// Empty normalisers for buckets of `bucket_span_s` seconds.
    pub fn new(bucket_span_s: i64) -> Levels {
        Levels {
            bucket_span_s,
            people: None,
            bucket: Normalizer::new(bucket_span_s),
            influencer_buckets: BTreeMap::new(),
            influencers: BTreeMap::new(),
            big_change: false,
        }
    }

    /// Advances every normaliser one bucket, learns the tree's raw scores (final buckets only),
    /// then normalises them.
    pub fn score(&mut self, tree: Tree) -> BucketScores {
        self.big_change = false;
        self.bucket.age();
        self.people
            .iter_mut()
            .chain(self.influencer_buckets.values_mut())
            .chain(self.influencers.values_mut())
            .for_each(Normalizer::age);
        let Some(root) = tree.root else {
            return BucketScores {
                root: None,
                pivots: Vec::new(),
            };
        };
        let span = self.bucket_span_s;
        // A normaliser created by a bucket's visit has aged with the others before it learns.
        let fresh = || {
            let mut n = Normalizer::new(span);
            n.age();
            n
        };
        let people = self.people.get_or_insert_with(fresh);
        for person in &tree.people {
            self.big_change |= people.update(&person.scope, raw_score(person.probability));
        }
        self.big_change |= self.bucket.update(&blank(), raw_input(&root));
        // One key, refilled per value: a bucket has hundreds of influencer values.
        let mut scope = blank();
        for pivot in &tree.pivots {
            self.big_change |= self
                .influencer_buckets
                .entry(pivot.field.clone())
                .or_insert_with(fresh)
                .update(&blank(), raw_input(&pivot.root));
            let values = self
                .influencers
                .entry(pivot.field.clone())
                .or_insert_with(fresh);
            for (value, node) in &pivot.values {
                scope.by.clear();
                scope.by.push_str(value);
                self.big_change |= values.update(&scope, raw_input(node));
            }
        }
        let scorers = self.scorers();
        let root = Scored {
            score: scorers.bucket_score(root.probability),
            node: root,
        };
        let pivots = tree
            .pivots
            .into_iter()
            .map(|pivot| scorers.score_pivot(pivot))
            .collect();
        BucketScores {
            root: Some(root),
            pivots,
        }
    }

    /// True when the last [`Levels::score`] raised some scope's maximum score by more than 10% at
    /// the person, bucket or an influencer level: earlier results are then renormalised.
    pub fn big_change(&self) -> bool {
        self.big_change
    }

    /// Scorers of the current state of every level.
    pub fn scorers(&self) -> LevelScorers<'_> {
        fn scorers(map: &BTreeMap<String, Normalizer>) -> BTreeMap<&str, Scorer<'_>> {
            map.iter()
                .map(|(field, n)| (field.as_str(), n.scorer()))
                .collect()
        }
        LevelScorers {
            bucket: self.bucket.scorer(),
            influencer_buckets: scorers(&self.influencer_buckets),
            influencers: scorers(&self.influencers),
        }
    }

    /// The state as stored.
    pub fn snapshot(&self) -> LevelsSnapshot {
        let fields = |map: &BTreeMap<String, Normalizer>| {
            map.iter()
                .map(|(field, n)| FieldNormalizer {
                    field: field.clone(),
                    normalizer: n.snapshot(),
                })
                .collect()
        };
        LevelsSnapshot {
            people: self.people.as_ref().map(Normalizer::snapshot),
            bucket: self.bucket.snapshot(),
            influencer_buckets: fields(&self.influencer_buckets),
            influencers: fields(&self.influencers),
        }
    }

    /// Rebuilds the normalisers, refusing an inconsistent or duplicated one.
    pub fn restore(bucket_span_s: i64, s: LevelsSnapshot) -> Result<Levels, SnapshotError> {
        let fields = |list: Vec<FieldNormalizer>, level: &'static str| {
            let mut map = BTreeMap::new();
            for f in list {
                let normalizer =
                    Normalizer::restore(bucket_span_s, f.normalizer).map_err(|problem| {
                        SnapshotError::FieldNormalizer {
                            level,
                            field: f.field.clone(),
                            problem: Box::new(problem),
                        }
                    })?;
                if map.insert(f.field.clone(), normalizer).is_some() {
                    return Err(SnapshotError::DuplicateNormalizer {
                        level,
                        field: f.field,
                    });
                }
            }
            Ok(map)
        };
        let people = s
            .people
            .map(|n| Normalizer::restore(bucket_span_s, n))
            .transpose()
            .map_err(|problem| SnapshotError::PersonNormalizer(Box::new(problem)))?;
        Ok(Levels {
            bucket_span_s,
            people,
            bucket: Normalizer::restore(bucket_span_s, s.bucket)
                .map_err(|problem| SnapshotError::BucketNormalizer(Box::new(problem)))?,
            influencer_buckets: fields(s.influencer_buckets, "influencer bucket")?,
            influencers: fields(s.influencers, "influencer")?,
            big_change: false,
        })
    }
}

impl LevelScorers<'_> {
    /// The `bucket_time` score of a bucket whose root has `probability` (the `root` level).
    pub fn bucket_score(&self, probability: f64) -> f64 {
        self.bucket.normalize_probability(&blank(), probability)
    }

    /// The bucket influencer score of `field` at `probability` (its `inflb` level); `None` for
    /// a field never seen.
    pub fn influencer_bucket_score(&self, field: &str, probability: f64) -> Option<f64> {
        let scorer = self.influencer_buckets.get(field)?;
        Some(scorer.normalize_probability(&blank(), probability))
    }

    /// The influencer score of `value` of `field` at `probability` (its `infl` level, each
    /// value its own scope); `None` for a field never seen.
    pub fn influencer_score(&self, field: &str, value: &str, probability: f64) -> Option<f64> {
        let scorer = self.influencers.get(field)?;
        Some(value_score(scorer, value, probability))
    }

    fn score_pivot(&self, pivot: super::tree::Pivot) -> ScoredPivot {
        let field = pivot.field;
        let root = Scored {
            score: self
                .influencer_bucket_score(&field, pivot.root.probability)
                .unwrap_or(0.0),
            node: pivot.root,
        };
        let scorer = self.influencers.get(field.as_str());
        let values = pivot
            .values
            .into_iter()
            .map(|(value, node)| {
                let score = scorer.map_or(0.0, |s| value_score(s, &value, node.probability));
                (value, Scored { node, score })
            })
            .collect();
        ScoredPivot {
            field,
            root,
            values,
        }
    }
}

/// The influencer score of `value` at `probability` against its field's scorer.
fn value_score(scorer: &Scorer, value: &str, probability: f64) -> f64 {
    // Most values are not anomalous: they score 0 without a scope to look up.
    let raw = raw_score(probability);
    if raw == 0.0 {
        return 0.0;
    }
    scorer.normalize(&value_key(value), raw)
}

#[cfg(test)]
impl Levels {
    /// Scores a bucket of `(by-value, probability, host.name)` leaves, `host.name` the one
    /// influencer field.
    pub(crate) fn score_values(&mut self, values: &[(&str, f64, &str)]) -> BucketScores {
        let owned: Vec<_> = values
            .iter()
            .map(|(by, p, host)| {
                let influencers = BTreeMap::from([(
                    "host.name".to_string(),
                    crate::bucket::TextSet::from_iter([(*host).into()]),
                )]);
                (value_key(by), *p, influencers)
            })
            .collect();
        let leaves: Vec<super::Leaf> = owned
            .iter()
            .map(|(key, probability, influencers)| super::Leaf {
                key,
                probability: *probability,
                influencers,
            })
            .collect();
        self.score(super::build(&leaves, &["host.name".to_string()]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A day of ordinary buckets, with a rare value every 7th.
    fn history(i: usize) -> Vec<(&'static str, f64, &'static str)> {
        let mut values = vec![("22", 0.6, "web-1"), ("443", 0.9, "web-2")];
        if i % 7 == 3 {
            values.push(("4444", 1e-4, "web-3"));
        }
        values
    }

    #[test]
    fn a_restored_snapshot_continues_bit_identically() {
        let mut straight = Levels::new(900);
        let mut restored = Levels::new(900);
        for i in 0..60 {
            let a = straight.score_values(&history(i));
            let b = restored.score_values(&history(i));
            assert_eq!(a, b);
            if i % 10 == 9 {
                let snapshot = restored.snapshot();
                let text = serde_json::to_string(&snapshot).expect("json");
                let back: LevelsSnapshot = serde_json::from_str(&text).expect("parse");
                restored = Levels::restore(900, back).expect("restore");
                assert_eq!(restored.snapshot(), straight.snapshot());
            }
        }
    }

    #[test]
    fn scores_come_from_the_level_of_each_node() {
        let mut levels = Levels::new(900);
        for i in 0..60 {
            levels.score_values(&history(i));
        }
        let scores = levels.score_values(&[("22", 0.6, "web-1"), ("31337", 1e-9, "web-9")]);
        let root = scores.root.expect("a root");
        assert!(root.score > 0.0, "{root:?}");
        let host = &scores.pivots[0];
        let web9 = host
            .values
            .iter()
            .find(|(v, _)| &**v == "web-9")
            .expect("web-9");
        let web1 = host
            .values
            .iter()
            .find(|(v, _)| &**v == "web-1")
            .expect("web-1");
        assert!(web9.1.score > 0.0 && web1.1.score == 0.0, "{host:?}");
        // An empty bucket advances the normalisers but scores nothing.
        let empty = levels.score_values(&[]);
        assert!(empty.root.is_none() && empty.pivots.is_empty());
    }

    #[test]
    fn a_first_positive_score_at_any_level_is_a_big_change() {
        let mut levels = Levels::new(900);
        levels.score_values(&[("22", 0.6, "web-1")]);
        assert!(!levels.big_change(), "raw scores of 0 move no maximum");
        levels.score_values(&[("22", 0.6, "web-1"), ("4444", 1e-4, "web-3")]);
        assert!(
            levels.big_change(),
            "web-3 and the bucket score for the first time"
        );
        levels.score_values(&[("22", 0.6, "web-1"), ("4444", 1e-4, "web-3")]);
        assert!(
            !levels.big_change(),
            "the same scores again stay below 1.1 × the maxima"
        );
        levels.score_values(&[("22", 0.6, "web-1"), ("4444", 1e-4, "web-4")]);
        assert!(
            levels.big_change(),
            "web-4 is a new scope of the influencer level"
        );
        // A restored state reports no change until it scores.
        let restored = Levels::restore(900, levels.snapshot()).expect("restore");
        assert!(!restored.big_change());
    }

    /// A bucket whose root is not anomalous and whose person level has `people`.
    fn person_level_only(people: &[(&str, f64)]) -> Tree {
        Tree {
            root: Some(Node {
                probability: 0.5,
                raw_score: 0.0,
                smallest_descendant: 0.5,
            }),
            pivots: Vec::new(),
            people: people
                .iter()
                .map(|&(by, probability)| super::super::tree::PersonNode {
                    scope: value_key(by),
                    probability,
                })
                .collect(),
        }
    }

    #[test]
    fn a_big_change_at_the_person_level_alone_renormalises() {
        let mut levels = Levels::new(900);
        levels.score(person_level_only(&[("", 0.5)]));
        assert!(!levels.big_change());
        levels.score(person_level_only(&[("", 1e-4)]));
        assert!(
            levels.big_change(),
            "the person node scores for the first time"
        );
        levels.score(person_level_only(&[("", 1e-4)]));
        assert!(!levels.big_change());
        levels.score(person_level_only(&[("nc", 1e-4)]));
        assert!(levels.big_change(), "a lone leaf is a scope of its own");
        let stored = levels.snapshot().people.expect("the person level is kept");
        assert_eq!(stored.max_scores.len(), 2);
    }

    #[test]
    fn a_state_without_a_person_level_starts_one_at_its_next_bucket() {
        let mut levels = Levels::new(900);
        levels.score_values(&history(3));
        let mut json = serde_json::to_value(levels.snapshot()).expect("json");
        json.as_object_mut().expect("object").remove("people");
        let older: LevelsSnapshot = serde_json::from_value(json).expect("an older state parses");
        let mut restored = Levels::restore(900, older).expect("restore");
        assert!(restored.snapshot().people.is_none());
        restored.score_values(&history(4));
        assert!(restored.snapshot().people.is_some());
    }

    #[test]
    fn a_duplicated_field_normalizer_is_refused() {
        let mut levels = Levels::new(900);
        levels.score_values(&history(3));
        let mut snapshot = levels.snapshot();
        let twice = snapshot.influencers[0].clone();
        snapshot.influencers.push(twice);
        let error = Levels::restore(900, snapshot).expect_err("refused");
        assert!(
            matches!(
                error,
                SnapshotError::DuplicateNormalizer {
                    level: "influencer",
                    ..
                }
            ),
            "{error}"
        );
    }
}
