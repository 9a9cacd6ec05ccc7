//! The normalisers above the records: one for the bucket (`root`), and per influencer field one
//! for its bucket influencer (`inflb`) and one for its influencer values (`infl`), as ml-cpp keeps
//! them. Each is the job's record normaliser type, used as it is.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::tree::{Node, Tree};
use crate::bucket::SeriesKey;
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
    pub values: Vec<(String, Scored)>,
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
    bucket: Normalizer,
    influencer_buckets: BTreeMap<String, Normalizer>,
    influencers: BTreeMap<String, Normalizer>,
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
            bucket: Normalizer::new(bucket_span_s),
            influencer_buckets: BTreeMap::new(),
            influencers: BTreeMap::new(),
        }
    }

    /// Advances every normaliser one bucket, learns the tree's raw scores (final buckets only),
    /// then normalises them.
    pub fn score(&mut self, tree: Tree) -> BucketScores {
        self.bucket.age();
        self.influencer_buckets
            .values_mut()
            .chain(self.influencers.values_mut())
            .for_each(Normalizer::age);
        let Some(root) = tree.root else {
            return BucketScores {
                root: None,
                pivots: Vec::new(),
            };
        };
        self.bucket.update(&blank(), raw_input(&root));
        for pivot in &tree.pivots {
            let span = self.bucket_span_s;
            let fresh = || {
                let mut n = Normalizer::new(span);
                n.age();
                n
            };
            self.influencer_buckets
                .entry(pivot.field.clone())
                .or_insert_with(fresh)
                .update(&blank(), raw_input(&pivot.root));
            let values = self
                .influencers
                .entry(pivot.field.clone())
                .or_insert_with(fresh);
            for (value, node) in &pivot.values {
                values.update(&value_key(value), raw_input(node));
            }
        }
        let score_root = |node: Node| Scored {
            score: self.bucket.scorer().normalize(&blank(), raw_input(&node)),
            node,
        };
        let root = score_root(root);
        let pivots = tree
            .pivots
            .into_iter()
            .map(|pivot| self.score_pivot(pivot))
            .collect();
        BucketScores {
            root: Some(root),
            pivots,
        }
    }

    fn score_pivot(&self, pivot: super::tree::Pivot) -> ScoredPivot {
        let bucket = self
            .influencer_buckets
            .get(&pivot.field)
            .map(Normalizer::scorer);
        let values = self.influencers.get(&pivot.field).map(Normalizer::scorer);
        let normalize = |scorer: &Option<Scorer>, key: &SeriesKey, node: &Node| {
            scorer
                .as_ref()
                .map_or(0.0, |s| s.normalize(key, raw_input(node)))
        };
        ScoredPivot {
            root: Scored {
                score: normalize(&bucket, &blank(), &pivot.root),
                node: pivot.root,
            },
            values: pivot
                .values
                .into_iter()
                .map(|(value, node)| {
                    let score = normalize(&values, &value_key(&value), &node);
                    (value, Scored { node, score })
                })
                .collect(),
            field: pivot.field,
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
            bucket: self.bucket.snapshot(),
            influencer_buckets: fields(&self.influencer_buckets),
            influencers: fields(&self.influencers),
        }
    }

    /// Rebuilds the normalisers, refusing an inconsistent or duplicated one.
    pub fn restore(bucket_span_s: i64, s: LevelsSnapshot) -> Result<Levels, String> {
        let fields = |list: Vec<FieldNormalizer>, level: &str| {
            let mut map = BTreeMap::new();
            for f in list {
                let normalizer = Normalizer::restore(bucket_span_s, f.normalizer)
                    .map_err(|e| format!("{level} normalizer of {:?}: {e}", f.field))?;
                if map.insert(f.field.clone(), normalizer).is_some() {
                    return Err(format!("{level} normalizer of {:?} appears twice", f.field));
                }
            }
            Ok(map)
        };
        Ok(Levels {
            bucket_span_s,
            bucket: Normalizer::restore(bucket_span_s, s.bucket)
                .map_err(|e| format!("bucket normalizer: {e}"))?,
            influencer_buckets: fields(s.influencer_buckets, "influencer bucket")?,
            influencers: fields(s.influencers, "influencer")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::model::hierarchy::{Leaf, build};

    fn bucket(
        values: &[(&str, f64, &str)],
    ) -> Vec<(SeriesKey, f64, BTreeMap<String, BTreeSet<String>>)> {
        values
            .iter()
            .map(|(by, p, host)| {
                let key = SeriesKey {
                    partition: None,
                    by: by.to_string(),
                };
                let influencers =
                    BTreeMap::from([("host.name".to_string(), BTreeSet::from([host.to_string()]))]);
                (key, *p, influencers)
            })
            .collect()
    }

    fn score(levels: &mut Levels, values: &[(&str, f64, &str)]) -> BucketScores {
        let owned = bucket(values);
        let leaves: Vec<Leaf> = owned
            .iter()
            .map(|(key, probability, influencers)| Leaf {
                key,
                probability: *probability,
                influencers,
            })
            .collect();
        levels.score(build(&leaves, &["host.name".to_string()]))
    }

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
            let a = score(&mut straight, &history(i));
            let b = score(&mut restored, &history(i));
            assert_eq!(a, b);
            if i % 10 == 9 {
                let snapshot = restored.snapshot();
                let text = serde_json::to_string(&snapshot).expect("json");
                let back: LevelsSnapshot = serde_json::from_str(&text).expect("parse");
                restored = Levels::restore(900, back).expect("restore");
                assert_eq!(restored, straight);
            }
        }
    }

    #[test]
    fn scores_come_from_the_level_of_each_node() {
        let mut levels = Levels::new(900);
        for i in 0..60 {
            score(&mut levels, &history(i));
        }
        let scores = score(
            &mut levels,
            &[("22", 0.6, "web-1"), ("31337", 1e-9, "web-9")],
        );
        let root = scores.root.expect("a root");
        assert!(root.score > 0.0, "{root:?}");
        let host = &scores.pivots[0];
        let web9 = host
            .values
            .iter()
            .find(|(v, _)| v == "web-9")
            .expect("web-9");
        let web1 = host
            .values
            .iter()
            .find(|(v, _)| v == "web-1")
            .expect("web-1");
        assert!(web9.1.score > 0.0 && web1.1.score == 0.0, "{host:?}");
        // An empty bucket advances the normalisers but scores nothing.
        let empty = score(&mut levels, &[]);
        assert!(empty.root.is_none() && empty.pivots.is_empty());
    }

    #[test]
    fn a_duplicated_field_normalizer_is_refused() {
        let mut levels = Levels::new(900);
        score(&mut levels, &history(3));
        let mut snapshot = levels.snapshot();
        let twice = snapshot.influencers[0].clone();
        snapshot.influencers.push(twice);
        let error = Levels::restore(900, snapshot).expect_err("refused");
        assert!(error.contains("appears twice"), "{error}");
    }
}
