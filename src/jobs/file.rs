//! One job file: parsing, checking, and the resolved [`Job`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::bucket::{BucketSpan, FoldFields};
use crate::datafeed::{Datafeed, DatafeedConfig, MAX_QUERY_DELAY};
use crate::model::new_terms::{JobFields, Terms};
use crate::model::{ModelConfig, ModelKind, ModelParams};
use crate::output::AlertRule;
use crate::results::JobModel;
use crate::rule::{KibanaRuleConfig, Rule, RuleConfig};

/// A job file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// TOML syntax, a wrong type, a missing or unknown key: the message names the key.
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    /// A value of the right type but not allowed.
    #[error("{}: {key}: {expected}", path.display())]
    Invalid {
        path: PathBuf,
        key: String,
        expected: String,
    },
    #[error("job id {id:?} is defined twice: {} and {}", first.display(), second.display())]
    DuplicateId {
        id: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("no job files (*.toml) in {}", dir.display())]
    NoJobs { dir: PathBuf },
    #[error("no job {id:?}; known jobs: {}", known.join(", "))]
    UnknownJob { id: String, known: Vec<String> },
}

/// A job file as written: `[job]`, `[model]`, `[datafeed]`, `[rule]`, `[kibana_rule]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobFile {
    pub job: JobConfig,
    #[serde(default)]
    pub model: ModelConfig,
    pub datafeed: DatafeedConfig,
    pub rule: RuleConfig,
    #[serde(default)]
    pub kibana_rule: KibanaRuleConfig,
}

/// `[job]`: the anomaly detection job, with Elastic's names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobConfig {
    /// Job id; also names its state and output folders.
    pub id: String,
    /// What the job looks for.
    pub description: String,
    /// The detector function; only `rare` is supported.
    pub function: Function,
    /// The field whose rare values are detected, e.g. `destination.port`.
    pub by_field_name: String,
    /// Optional: model each value of this field separately, e.g. `host.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_field_name: Option<String>,
    /// Bucket length, e.g. `"15m"`.
    pub bucket_span: BucketSpan,
    /// Fields whose co-occurring values are listed in each record.
    pub influencers: Vec<String>,
    /// Memory the model may use, Elastic style: `"32mb"` (binary units: b, kb, mb, gb).
    pub model_memory_limit: MemoryLimit,
}

/// A detector function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Function {
    /// Values that occur in few buckets.
    Rare,
}

impl Function {
    /// The name, as in Elastic's records.
    pub fn as_str(&self) -> &'static str {
        match self {
            Function::Rare => "rare",
        }
    }
}

/// A memory size written as Elasticsearch writes one (`32mb` = 32 MiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MemoryLimit(pub u64);

/// A `model_memory_limit` that is not a size netrare can hold; each variant keeps the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemoryLimitError {
    #[error("{0:?}: expected a size such as \"32mb\" (units b, kb, mb, gb)")]
    Unit(String),
    #[error("{0:?}: expected a size such as \"32mb\"")]
    Number(String),
    #[error("{0:?}: the limit must be above zero")]
    Zero(String),
    #[error("{0:?}: too large")]
    TooLarge(String),
}

impl FromStr for MemoryLimit {
    type Err = MemoryLimitError;

    fn from_str(s: &str) -> Result<Self, MemoryLimitError> {
        let lower = s.trim().to_ascii_lowercase();
        let digits = lower.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let unit = &lower[digits.len()..];
        let scale: u64 = match unit {
            "" | "b" => 1,
            "kb" | "k" => 1 << 10,
            "mb" | "m" => 1 << 20,
            "gb" | "g" => 1 << 30,
            _ => return Err(MemoryLimitError::Unit(s.to_string())),
        };
        let n: u64 = digits
            .trim()
            .parse()
            .map_err(|_| MemoryLimitError::Number(s.to_string()))?;
        match n.checked_mul(scale) {
            Some(0) => Err(MemoryLimitError::Zero(s.to_string())),
            Some(bytes) => Ok(MemoryLimit(bytes)),
            None => Err(MemoryLimitError::TooLarge(s.to_string())),
        }
    }
}

impl TryFrom<String> for MemoryLimit {
    type Error = MemoryLimitError;
    fn try_from(s: String) -> Result<Self, MemoryLimitError> {
        s.parse()
    }
}

impl From<MemoryLimit> for String {
    fn from(m: MemoryLimit) -> String {
        m.to_string()
    }
}

impl fmt::Display for MemoryLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            n if n % (1 << 30) == 0 && n > 0 => write!(f, "{}gb", n >> 30),
            n if n % (1 << 20) == 0 && n > 0 => write!(f, "{}mb", n >> 20),
            n if n % (1 << 10) == 0 && n > 0 => write!(f, "{}kb", n >> 10),
            n => write!(f, "{n}b"),
        }
    }
}

/// The fields of `fold` a new term may read.
fn job_fields(fold: &FoldFields) -> JobFields<'_> {
    JobFields {
        by: &fold.by_field,
        partition: fold.partition_field.as_deref(),
        influencers: &fold.influencers,
        bucket_span: fold.span.0,
    }
}

/// The longest bucket span, in days: every time a job computes from it stays far from overflow.
const MAX_SPAN_DAYS: u64 = 7;

/// Elastic's rule for `bucket_span`: buckets tile the day, so a span under a day divides it and
/// a longer one is whole days. The upper bound is netrare's.
fn span_is_allowed(secs: i64) -> bool {
    const DAY: i64 = 86_400;
    match secs {
        s if s < 60 => false,
        s if s < DAY => DAY % s == 0,
        s => s % DAY == 0 && s <= MAX_SPAN_DAYS as i64 * DAY,
    }
}

/// A checked job, ready to run: each stage's part of the job file, made once at load.
#[derive(Debug, Clone)]
pub struct Job {
    /// The file it came from.
    pub path: PathBuf,
    /// Read through [`Job::id`]: the parts carry copies of it.
    id: String,
    /// The compiled query, and the delay before a bucket is complete.
    pub datafeed: Datafeed,
    /// What the bucket stage folds by.
    pub fold: FoldFields,
    /// What the model and its results take.
    pub model: JobModel,
    /// The rule and its lookback.
    pub rule: Rule,
    /// What the job's alert documents copy.
    pub alert: AlertRule,
    /// What the file says, kept only to be shown.
    file: JobFile,
}

impl Job {
    /// Reads and checks one job file.
    pub fn load(path: &Path) -> Result<Job, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Job::parse(path, &text)
    }

    /// Parses and checks the text of a job file; `path` is only for messages.
    pub fn parse(path: &Path, text: &str) -> Result<Job, Error> {
        let file: JobFile = toml::from_str(text).map_err(|e| Error::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let invalid = |key: &str, expected: String| Error::Invalid {
            path: path.to_path_buf(),
            key: key.to_string(),
            expected,
        };
        let job = &file.job;
        if job.id.is_empty()
            || !job
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(invalid(
                "job.id",
                format!("expected letters, digits, '_' or '-', found {:?}", job.id),
            ));
        }
        if job.bucket_span.0.subsec_nanos() != 0 || !span_is_allowed(job.bucket_span.secs()) {
            return Err(invalid(
                "job.bucket_span",
                format!(
                    "expected whole seconds from 1m that divide a day, or 1 to {MAX_SPAN_DAYS} whole days, found {}",
                    humantime::format_duration(job.bucket_span.0)
                ),
            ));
        }
        if file.datafeed.query_delay > MAX_QUERY_DELAY {
            return Err(invalid(
                "datafeed.query_delay",
                "expected at most 1d".into(),
            ));
        }
        if job.by_field_name.is_empty() {
            return Err(invalid(
                "job.by_field_name",
                "expected an ECS field name".into(),
            ));
        }
        let rule =
            Rule::new(file.rule.clone()).map_err(|(key, expected)| invalid(key, expected))?;
        let datafeed =
            Datafeed::new(&file.datafeed).map_err(|e| invalid("datafeed.query", e.to_string()))?;
        let fold = FoldFields {
            span: job.bucket_span,
            by_field: job.by_field_name.clone(),
            partition_field: job.partition_field_name.clone(),
            influencers: job.influencers.clone(),
        };
        let terms = file
            .model
            .resolve_terms(job_fields(&fold))
            .map_err(|(key, expected)| invalid(key, expected))?;
        let model = JobModel {
            job_id: job.id.clone(),
            config: ModelConfig {
                terms,
                ..file.model.clone()
            },
            params: ModelParams {
                bucket_span_s: job.bucket_span.secs(),
                memory_limit_bytes: job.model_memory_limit.0,
                by_field_is_port: job.by_field_name.ends_with(".port"),
            },
            function: job.function.as_str(),
            by_field_name: job.by_field_name.clone(),
            partition_field_name: job.partition_field_name.clone(),
            influencers: job.influencers.clone(),
        };
        let alert = AlertRule::new(
            &job.id,
            &job.description,
            &file.rule,
            file.kibana_rule.clone(),
        );
        Ok(Job {
            path: path.to_path_buf(),
            id: job.id.clone(),
            datafeed,
            fold,
            model,
            rule,
            alert,
            file,
        })
    }

    /// The job id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The bucket span.
    pub fn span(&self) -> BucketSpan {
        self.fold.span
    }

    /// The same job with the model `kind`, so that one job's models can be compared. A job
    /// switched to the new-terms model keeps its own terms, or takes its by-field's; one switched
    /// away from it drops them.
    pub fn with_model(mut self, kind: ModelKind) -> Job {
        if kind == ModelKind::NewTerms {
            let by = &self.fold.by_field;
            let terms = self.model.config.terms.take();
            self.model.config.terms = Some(terms.unwrap_or_else(|| Terms::of_by_field(by)));
        } else {
            self.model.config = ModelConfig::default();
            self.file.model = ModelConfig::default();
        }
        self.model.config.kind = kind;
        self.file.model.kind = kind;
        self
    }

    /// The job file as TOML, as `netrare jobs show` prints it.
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string_pretty(&self.file)
    }

    /// Every field the job reads: datafeed fields, by, partition and influencer fields.
    pub fn fields(&self) -> Vec<String> {
        let fold = &self.fold;
        let mut fields: Vec<String> = self.datafeed.fields().to_vec();
        let extra = std::iter::once(&fold.by_field)
            .chain(fold.partition_field.iter())
            .chain(fold.influencers.iter());
        for field in extra.chain(std::iter::once(&"host.name".to_string())) {
            if !fields.contains(field) {
                fields.push(field.clone());
            }
        }
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../jobs/v3_linux_anomalous_network_port_activity.toml");

    #[test]
    fn a_bucket_span_must_tile_the_day_and_stay_bounded() {
        for (span, ok) in [
            ("15m", true),
            ("1h", true),
            ("1d", true),
            ("7d", true),
            ("59s", false),
            ("7m", false),
            ("25h", false),
            ("8d", false),
            ("300000000y", false),
        ] {
            let text = SHIPPED.replace(
                "bucket_span = \"15m\"",
                &format!("bucket_span = \"{span}\""),
            );
            assert!(
                SHIPPED.contains("bucket_span = \"15m\""),
                "the shipped span"
            );
            let parsed = Job::parse(Path::new("job.toml"), &text);
            assert_eq!(parsed.is_ok(), ok, "{span}: {:?}", parsed.err());
        }
    }

    #[test]
    fn memory_limits_use_elastic_binary_units() {
        assert_eq!("32mb".parse::<MemoryLimit>(), Ok(MemoryLimit(32 << 20)));
        assert_eq!("1gb".parse::<MemoryLimit>(), Ok(MemoryLimit(1 << 30)));
        assert!("32 parsecs".parse::<MemoryLimit>().is_err());
        assert_eq!(MemoryLimit(64 << 20).to_string(), "64mb");
    }

    #[test]
    fn a_zero_or_overflowing_memory_limit_is_refused() {
        let err = "0mb".parse::<MemoryLimit>().expect_err("zero");
        assert!(err.to_string().contains("above zero"), "{err}");
        assert!("0".parse::<MemoryLimit>().is_err());
        assert!("99999999999gb".parse::<MemoryLimit>().is_err());
        let text = SHIPPED.replace(
            "model_memory_limit = \"32mb\"",
            "model_memory_limit = \"0mb\"",
        );
        let err = Job::parse(Path::new("j.toml"), &text).expect_err("0mb");
        assert!(err.to_string().contains("above zero"), "{err}");
    }

    #[test]
    fn a_query_delay_over_a_day_is_refused() {
        let text = SHIPPED.replace("query_delay = \"2m\"", "query_delay = \"2d\"");
        let err = Job::parse(Path::new("j.toml"), &text).expect_err("delay");
        assert!(err.to_string().contains("datafeed.query_delay"), "{err}");
    }

    #[test]
    fn unknown_key_is_named() {
        let text = SHIPPED.replace("bucket_span = \"15m\"", "bukcet_span = \"15m\"");
        let err = Job::parse(Path::new("jobs/x.toml"), &text).expect_err("typo");
        let message = err.to_string();
        assert!(
            message.contains("jobs/x.toml") && message.contains("bukcet_span"),
            "{message}"
        );
    }

    #[test]
    fn out_of_range_values_name_the_key() {
        let text = SHIPPED.replace("anomaly_threshold = 50", "anomaly_threshold = 150");
        let err = Job::parse(Path::new("j.toml"), &text).expect_err("threshold");
        assert!(err.to_string().contains("rule.anomaly_threshold"), "{err}");
        let text = SHIPPED.replace("from = \"now-45m\"", "from = \"yesterday\"");
        assert!(
            Job::parse(Path::new("j.toml"), &text)
                .expect_err("from")
                .to_string()
                .contains("rule.from")
        );
    }

    #[test]
    fn job_reads_its_query_by_and_influencer_fields() {
        let job = Job::parse(Path::new("j.toml"), SHIPPED).expect("shipped job parses");
        let fields = job.fields();
        for f in [
            "event.category",
            "event.type",
            "host.os.type",
            "destination.ip",
            "destination.port",
            "user.name",
            "process.name",
            "host.name",
        ] {
            assert!(fields.iter().any(|x| x == f), "{f} missing from {fields:?}");
        }
        assert_eq!(job.rule.lookback, std::time::Duration::from_secs(45 * 60));
    }
}
