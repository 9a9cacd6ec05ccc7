//! What a term is: the job file's `fields` resolved against the job, and the terms of one
//! by-value's summary.
//!
//! Input: `[model] fields` and `history_window`, and the job's by-field, partition field and
//! influencers. Output: [`Terms`], which reads each field where the bucket summary holds it: the
//! by-value, the partition value, the value's hosts or one of its influencers.

use std::time::Duration;

use crate::bucket::{SeriesKey, ValueSummary};

/// Kibana's default history window, `now-7d`.
pub const DEFAULT_HISTORY_WINDOW: Duration = Duration::from_secs(7 * 86_400);
/// The longest history window: the terms held grow with it.
pub const MAX_HISTORY_WINDOW: Duration = Duration::from_secs(366 * 86_400);
/// At most this many fields make a term, as Kibana allows.
pub const MAX_FIELDS: usize = 3;
/// Terms taken from one by-value in one bucket, the smallest first: a product of influencer sets
/// (each up to 100 values) could otherwise reach a million.
pub const MAX_TERMS_PER_VALUE: usize = 10_000;
/// The field whose values the bucket summary keeps per by-value, uncapped.
const HOST_FIELD: &str = "host.name";

/// Where a term field's values are found in a by-value's summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The by-value itself.
    By,
    /// The partition value.
    Partition,
    /// The value's `host.name`s.
    Host,
    /// The value's co-occurring values of this influencer.
    Influencer,
}

/// One field of a term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermField {
    pub name: String,
    pub source: Source,
}

/// The fields whose value combination is a term, and how long a term must be unseen to be new.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Terms {
    /// In the order the job file names them.
    pub fields: Vec<TermField>,
    pub history_window_ms: i64,
}

/// The job's fields a term may read.
#[derive(Debug, Clone, Copy)]
pub struct JobFields<'a> {
    pub by: &'a str,
    pub partition: Option<&'a str>,
    pub influencers: &'a [String],
    pub bucket_span: Duration,
}

impl Terms {
    /// `[model] fields` and `history_window` resolved against `job`, with their defaults. The
    /// error is the key and what was expected, for the job loader to name its file.
    pub fn resolve(
        fields: Option<&[String]>,
        history_window: Option<Duration>,
        job: JobFields,
    ) -> Result<Terms, (&'static str, String)> {
        let window = history_window.unwrap_or(DEFAULT_HISTORY_WINDOW);
        if window < job.bucket_span || window > MAX_HISTORY_WINDOW {
            return Err((
                "model.history_window",
                format!(
                    "expected at least the bucket span ({}) and at most 366d, found {}",
                    humantime::format_duration(job.bucket_span),
                    humantime::format_duration(window)
                ),
            ));
        }
        let names = fields.map_or_else(|| vec![job.by.to_string()], <[String]>::to_vec);
        if names.is_empty() || names.len() > MAX_FIELDS {
            return Err((
                "model.fields",
                format!("expected 1 to {MAX_FIELDS} fields, found {}", names.len()),
            ));
        }
        let mut fields: Vec<TermField> = Vec::with_capacity(names.len());
        for name in names {
            if fields.iter().any(|f| f.name == name) {
                return Err(("model.fields", format!("{name:?} is named twice")));
            }
            let source = job.source(&name).ok_or_else(|| {
                (
                    "model.fields",
                    format!(
                        "{name:?} is neither the by-field ({}), host.name, the partition field nor an influencer of the job",
                        job.by
                    ),
                )
            })?;
            fields.push(TermField { name, source });
        }
        Ok(Terms {
            fields,
            history_window_ms: window.as_millis() as i64,
        })
    }

    /// The default terms of a job switched to the new-terms model: its by-field `by`, over 7
    /// days, as [`Terms::resolve`] gives them for a `[model]` table without settings.
    pub fn of_by_field(by: &str) -> Terms {
        Terms {
            fields: vec![TermField {
                name: by.to_string(),
                source: Source::By,
            }],
            history_window_ms: DEFAULT_HISTORY_WINDOW.as_millis() as i64,
        }
    }

    /// The field names, in order.
    pub fn names(&self) -> Vec<String> {
        self.fields.iter().map(|f| f.name.clone()).collect()
    }

    /// The distinct terms of `key` in a bucket where it had `value`, in order, at most
    /// [`MAX_TERMS_PER_VALUE`]: every combination of the fields' values. None when a field has no
    /// value (as Kibana skips a document missing one of the fields).
    pub fn of(&self, key: &SeriesKey, value: &ValueSummary) -> Vec<Vec<String>> {
        let mut terms: Vec<Vec<String>> = vec![Vec::new()];
        for field in &self.fields {
            let values: Vec<&str> = match field.source {
                Source::By => vec![key.by.as_str()],
                Source::Partition => key.partition.as_deref().into_iter().collect(),
                Source::Host => value.hosts.iter().map(|h| &**h).collect(),
                Source::Influencer => value
                    .influencers
                    .get(&field.name)
                    .into_iter()
                    .flatten()
                    .map(|v| &**v)
                    .collect(),
            };
            let mut longer =
                Vec::with_capacity((terms.len() * values.len()).min(MAX_TERMS_PER_VALUE));
            for term in &terms {
                for value in &values {
                    if longer.len() == MAX_TERMS_PER_VALUE {
                        break;
                    }
                    let mut next = term.clone();
                    next.push(value.to_string());
                    longer.push(next);
                }
            }
            terms = longer;
        }
        terms
    }
}

impl JobFields<'_> {
    /// Where `field` is read, if the job's summaries hold it.
    fn source(&self, field: &str) -> Option<Source> {
        if field == self.by {
            Some(Source::By)
        } else if Some(field) == self.partition {
            Some(Source::Partition)
        } else if field == HOST_FIELD {
            Some(Source::Host)
        } else if self.influencers.iter().any(|i| i == field) {
            Some(Source::Influencer)
        } else {
            None
        }
    }
}
