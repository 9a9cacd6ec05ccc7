//! Elastic's `rare` model (placeholder until implemented).

use serde::{Deserialize, Serialize};

use super::{MemoryReport, ModelParams, Score};
use crate::bucket::BucketSummary;

#[derive(Debug, Clone, PartialEq)]
pub struct ElasticRare {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElasticSnapshot {}

impl ElasticRare {
    pub fn new(_params: &ModelParams) -> Self {
        todo!()
    }
    pub fn update(&mut self, _bucket: &BucketSummary) -> Vec<Score> {
        todo!()
    }
    pub fn memory(&self) -> MemoryReport {
        todo!()
    }
    pub fn snapshot(&self) -> ElasticSnapshot {
        todo!()
    }
    pub fn restore(_params: &ModelParams, _s: ElasticSnapshot) -> Result<Self, String> {
        todo!()
    }
}
