//! `result_type: model_size_stats`: the model's memory use, one per execution and job.

use serde::{Deserialize, Serialize};

use crate::model::{FieldCounts, MemoryReport, MemoryStatus};
use crate::time::EpochMs;

/// The model's size after an execution, with Elastic's field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSizeStats {
    pub job_id: String,
    /// Start of the last bucket modelled.
    pub timestamp_ms: EpochMs,
    /// The execution's `now` (netrare's clock, so reruns give the same rows).
    pub log_time_ms: EpochMs,
    pub model_bytes: u64,
    /// Equal to `model_bytes`: values are never pruned, so the model only grows.
    pub peak_model_bytes: u64,
    /// Bytes over the limit (0: new values are refused at the limit instead).
    pub model_bytes_exceeded: u64,
    pub model_bytes_memory_limit: u64,
    /// By-field values the model holds.
    pub total_by_field_count: u64,
    pub total_over_field_count: u64,
    /// Partition-field values the model holds.
    pub total_partition_field_count: u64,
    /// Buckets in which new values were refused at the memory limit, since the job started.
    pub bucket_allocation_failures_count: u64,
    pub memory_status: MemoryStatus,
}

impl ModelSizeStats {
    /// `assignment_memory_basis`: what Elasticsearch sizes the job's node assignment by. ml-cpp
    /// starts a job at `model_memory_limit` and moves to `current_model_bytes` once memory has
    /// been stable for 20 buckets; netrare always writes the first (see `docs/outputs.md`).
    pub const ASSIGNMENT_MEMORY_BASIS: &'static str = "model_memory_limit";

    /// The statistics of `memory` and `counts` after the execution at `now_ms`.
    pub fn new(
        job_id: &str,
        timestamp_ms: EpochMs,
        now_ms: EpochMs,
        memory: &MemoryReport,
        counts: FieldCounts,
        bucket_allocation_failures: u64,
    ) -> ModelSizeStats {
        ModelSizeStats {
            job_id: job_id.to_string(),
            timestamp_ms,
            log_time_ms: now_ms,
            model_bytes: memory.bytes,
            peak_model_bytes: memory.bytes,
            model_bytes_exceeded: memory.bytes.saturating_sub(memory.limit_bytes),
            model_bytes_memory_limit: memory.limit_bytes,
            total_by_field_count: counts.by_values,
            total_over_field_count: 0,
            total_partition_field_count: counts.partitions,
            bucket_allocation_failures_count: bucket_allocation_failures,
            memory_status: memory.status,
        }
    }

    /// `<job_id>_model_size_stats_<log_time ms>`.
    pub fn id(&self) -> String {
        format!("{}_model_size_stats_{}", self.job_id, self.log_time_ms.ms())
    }

    /// `ok`, `soft_limit` or `hard_limit`.
    pub fn memory_status_name(&self) -> &'static str {
        match self.memory_status {
            MemoryStatus::Ok => "ok",
            MemoryStatus::SoftLimit => "soft_limit",
            MemoryStatus::HardLimit => "hard_limit",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_and_status_follow_elastic() {
        let memory = MemoryReport::of(90, 100, 2);
        let stats = ModelSizeStats::new(
            "j",
            EpochMs(0),
            EpochMs(1_700_000_000_000),
            &memory,
            FieldCounts::default(),
            1,
        );
        assert_eq!(stats.id(), "j_model_size_stats_1700000000000");
        assert_eq!(stats.memory_status_name(), "hard_limit");
        assert_eq!(stats.model_bytes_exceeded, 0);
    }
}
