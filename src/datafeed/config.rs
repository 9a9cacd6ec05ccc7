//! The `[datafeed]` table of a job file: which events the job sees.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[datafeed]`: a declarative query over ECS fields, applied while scanning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatafeedConfig {
    /// How long after a bucket ends before it is considered complete (events arrive late).
    #[serde(with = "humantime_serde", default = "default_query_delay")]
    pub query_delay: Duration,
    /// The query; a bool query at the top level.
    pub query: BoolQuery,
}

/// The longest `query_delay` a job may have: a bucket later than that is late data, not a delay.
pub const MAX_QUERY_DELAY: Duration = Duration::from_secs(24 * 3600);

fn default_query_delay() -> Duration {
    Duration::from_secs(120)
}

/// Elasticsearch's bool query: every `filter` and `must` clause matches, at least one `should`
/// clause matches (when there are any), and no `must_not` clause matches.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoolQuery {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter: Vec<Clause>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub must: Vec<Clause>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub should: Vec<Clause>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub must_not: Vec<Clause>,
}

/// One query clause, written as a one-key table: `{ term = { "user.name" = "jenkins" } }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clause {
    /// The field (or one element of a list field) equals the value.
    Term(BTreeMap<String, TermValue>),
    /// The field equals one of the values.
    Terms(BTreeMap<String, Vec<TermValue>>),
    /// The field has a value: `{ exists = { field = "destination.ip" } }`.
    Exists { field: String },
    /// The IP field lies in one of the CIDR ranges: `{ cidr = { "destination.ip" = ["10.0.0.0/8"] } }`.
    Cidr(BTreeMap<String, Vec<String>>),
    /// A nested bool query.
    Bool(BoolQuery),
}

/// A term: a string, or an integer for numeric fields such as ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TermValue {
    Int(i64),
    Str(String),
}
