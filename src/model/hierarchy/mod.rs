//! ml-cpp's hierarchical results above the records: the bucket's result tree, its probability
//! aggregation and the normalisers of the bucket and influencer levels.
//!
//! Input: each bucket's present by-values as [`Leaf`]s (probability and influencer values).
//! Output: [`BucketScores`], the `bucket_time` and per influencer field scores that `results`
//! turns into bucket, bucket influencer and influencer results. State: [`Levels`], persisted with
//! the job. See "Buckets and influencers" in `docs/model.md`.

mod aggregate;
mod extreme;
mod levels;
mod numeric;
mod tree;

pub use levels::{
    BucketScores, FieldNormalizer, LevelScorers, Levels, LevelsSnapshot, Scored, ScoredPivot,
};
pub use tree::{Leaf, Node, Tree, build};
