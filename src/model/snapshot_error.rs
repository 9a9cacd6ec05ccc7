//! Why a model or normaliser snapshot cannot be restored.

use super::ModelKind;
use super::elastic::normalizer::{DIGEST_K, MAX_RAW_SCORE, QUANTILE_DECAY_TIME};
use super::population::MAX_PORTS;
use crate::bucket::SeriesKey;

/// A snapshot holding state no model writes. The variants that say where the problem is
/// (`Partition`, `Digest`, `BucketNormalizer`, `PersonNormalizer`, `FieldNormalizer`) carry it as their source, so
/// the chain reads from the snapshot's outside in.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    #[error("snapshot was learnt with {snapshot_s} s buckets but the job uses {job_s} s")]
    BucketSpan { snapshot_s: i64, job_s: i64 },
    #[error("the snapshot is not of the {configured:?} model the job configures")]
    OtherKind { configured: ModelKind },

    /// A problem in one partition's categories.
    #[error("partition {partition:?}")]
    Partition {
        partition: Option<String>,
        #[source]
        problem: Box<SnapshotError>,
    },
    #[error("partition {0:?} appears twice")]
    DuplicatePartition(Option<String>),
    #[error("concentration of {value:?} is {concentration}")]
    Concentration { value: String, concentration: f64 },
    #[error("concentrations add up to {sum} but the total is {total}")]
    Total { sum: f64, total: f64 },
    #[error(
        "the person ids of the {values} values must be 0 to {values} - 1, each once; \
         id {expected} is missing or repeated (found {found})"
    )]
    PersonIds {
        values: usize,
        expected: u64,
        found: u64,
    },

    #[error("host {0:?} appears twice")]
    DuplicateHost(String),
    #[error("value {0:?} appears twice")]
    DuplicateValue(String),
    #[error("value {0:?}: no buckets, or first seen after last seen")]
    ValueBuckets(String),
    #[error("value {0:?}: host ids not sorted, unknown or too many")]
    ValueHosts(String),
    #[error("value {0:?}: episode starts missing, unsorted or too many")]
    ValueEpisodes(String),
    #[error("value {0:?}: first hosts unknown, twice, out of time order or too many")]
    ValueArrivals(String),
    #[error("process {0:?} appears twice")]
    DuplicateProcess(String),
    #[error(
        "process {process:?}: more than {MAX_PORTS} ports or port counts outside 1..={buckets}"
    )]
    ProcessPorts { process: String, buckets: u64 },

    #[error("snapshot holds terms of {snapshot:?} but the job names {job:?}")]
    TermFields {
        snapshot: Vec<String>,
        job: Vec<String>,
    },
    #[error(
        "snapshot was learnt with a {snapshot_ms} ms history window but the job says {job_ms} ms"
    )]
    HistoryWindow { snapshot_ms: i64, job_ms: i64 },
    #[error("term {0:?} does not hold one value per field")]
    TermShape(Vec<String>),
    #[error("term {0:?} appears twice")]
    DuplicateTerm(Vec<String>),
    #[error("term {term:?} was last seen at {last_seen_ms}, before the model's first bucket")]
    TermLastSeen {
        term: Vec<String>,
        last_seen_ms: i64,
    },

    #[error("{count} calls in the sample in progress reach the {per_sample} calls per sample")]
    SampleCount { count: u32, per_sample: u32 },
    #[error("sample maximum {0} is outside [0, {MAX_RAW_SCORE}]")]
    SampleMaximum(f64),
    #[error("time to quantile decay {0} is outside (0, {QUANTILE_DECAY_TIME}]")]
    QuantileDecay(f64),
    #[error(
        "maximum score {score} after {buckets_since_score} idle buckets of {key:?} is out of range"
    )]
    MaxScore {
        score: f64,
        buckets_since_score: f64,
        key: SeriesKey,
    },
    /// A problem in one of a normaliser's two digests, `"raw score"` or `"high score"`.
    #[error("{digest} digest")]
    Digest {
        digest: &'static str,
        #[source]
        problem: Box<SnapshotError>,
    },
    #[error("digests must have k = {DIGEST_K}")]
    DigestK,
    #[error("high percentile count {count} exceeds the {held} scores held")]
    HighPercentileCount { count: u64, held: u64 },

    #[error("q-digest node [{min}, {max}] is not a dyadic range")]
    NotDyadic { min: u32, max: u32 },
    #[error("q-digest has no root node")]
    NoRoot,
    #[error("q-digest root [{min}, {max}] does not start at 0 or cover every node")]
    Root { min: u32, max: u32 },
    #[error("q-digest holds {total} in {nodes} nodes but claims n = {n}, k = {k}")]
    DigestCount {
        total: u64,
        nodes: usize,
        n: u64,
        k: u64,
    },

    #[error("bucket normalizer")]
    BucketNormalizer(#[source] Box<SnapshotError>),
    #[error("person normalizer")]
    PersonNormalizer(#[source] Box<SnapshotError>),
    /// A problem in the normaliser of one influencer field at `level`, `"influencer bucket"` or
    /// `"influencer"`.
    #[error("{level} normalizer of {field:?}")]
    FieldNormalizer {
        level: &'static str,
        field: String,
        #[source]
        problem: Box<SnapshotError>,
    },
    #[error("{level} normalizer of {field:?} appears twice")]
    DuplicateNormalizer { level: &'static str, field: String },
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use super::*;

    #[test]
    fn the_chain_reads_from_where_to_what() {
        let err = SnapshotError::FieldNormalizer {
            level: "influencer",
            field: "host.name".into(),
            problem: Box::new(SnapshotError::Digest {
                digest: "raw score",
                problem: Box::new(SnapshotError::NotDyadic { min: 1, max: 2 }),
            }),
        };
        let chain: Vec<String> = std::iter::successors(Some(&err as &dyn Error), |&e| e.source())
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            chain.join(": "),
            "influencer normalizer of \"host.name\": raw score digest: q-digest node [1, 2] is not a dyadic range"
        );
    }
}
