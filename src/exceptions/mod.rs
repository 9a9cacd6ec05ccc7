//! Exception lists: known-good activity that must not alert (admin tools, internal services on
//! odd ports, scanners, test hosts, legacy applications). A list is a TOML file, usually under
//! `jobs/exceptions/`, named by the rules that use it (`exceptions = [...]` in `[rule]`), so one
//! list can serve several rules. See `docs/exceptions.md`.
//!
//! Two stages act on them: the model stage drops `skip_model_update` and `skip_result` values of
//! a bucket (the results stage's `Scorer` asks through [`ValueExceptions`]), the rule stage does
//! not alert on a matching record. Both ask through one [`Subject`], so a condition reads the
//! same fields the same way in either.

mod subject;

pub use subject::Subject;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::bucket::{BucketSummary, SeriesKey, ValueSummary};
use crate::results::{RecordContext, ValueExceptions};

/// An exception list that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    /// An entry whose condition is not usable; names the entry and the value.
    #[error("{}: entry {entry:?}: {problem}", path.display())]
    BadEntry {
        path: PathBuf,
        entry: String,
        problem: String,
    },
}

/// Where an entry acts, like Elastic's custom rule actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The record is written but never alerted (a rule exception in Kibana).
    #[default]
    SuppressAlert,
    /// The model learns from the value but writes no record for it.
    SkipResult,
    /// The value is neither learnt from nor scored.
    SkipModelUpdate,
}

/// How a condition compares a field's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    /// Equals one of `values`.
    Equals,
    /// Matches one of the glob patterns in `values` (`*`, `?`, `[..]`), e.g. `/opt/legacy/*`.
    Wildcard,
    /// An IP inside one of the CIDR ranges in `values`.
    Cidr,
    /// A port inside one of the ranges in `values`, written `"8000-8999"` or `"8443"`.
    PortRange,
}

/// One condition: `{ field = "process.name", operator = "equals", values = ["ansible"] }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionConfig {
    /// An ECS field of the record (its by-field, partition field or an influencer).
    pub field: String,
    pub operator: Operator,
    pub values: Vec<String>,
}

/// One entry: all its conditions must hold. Every entry says why it exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryConfig {
    pub id: String,
    /// Why this activity is known to be benign; required.
    pub comment: String,
    #[serde(default)]
    pub action: Action,
    pub conditions: Vec<ConditionConfig>,
}

/// An exception list file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListConfig {
    pub description: String,
    /// A disabled list is loaded and checked but matches nothing.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    #[serde(rename = "entry", default)]
    pub entries: Vec<EntryConfig>,
}

impl ListConfig {
    /// Parses the text of a list, rejecting unknown keys; `path` is only for messages.
    pub fn parse(path: &Path, text: &str) -> Result<ListConfig, Error> {
        toml::from_str(text).map_err(|e| Error::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Checks and compiles every entry, enabled or not; the result holds them only when the
    /// list is enabled. `path` names the entries' source.
    pub fn compile(&self, path: &Path) -> Result<Exceptions, Error> {
        let mut entries = Vec::with_capacity(self.entries.len());
        for entry in &self.entries {
            let compiled = compile(path, entry)?;
            if self.enabled {
                entries.push(compiled);
            }
        }
        Ok(Exceptions { entries })
    }
}

fn enabled_by_default() -> bool {
    true
}

#[derive(Debug, Clone)]
enum Test {
    Equals(Vec<String>),
    Wildcard(Vec<glob::Pattern>),
    Cidr(Vec<IpNet>),
    PortRange(Vec<(u16, u16)>),
}

/// A compiled entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: String,
    pub comment: String,
    pub action: Action,
    pub source: PathBuf,
    conditions: Vec<(String, Test)>,
}

/// The compiled, enabled entries of a rule's exception lists.
#[derive(Debug, Clone, Default)]
pub struct Exceptions {
    entries: Vec<Entry>,
}

impl Exceptions {
    /// Loads the lists at `paths` (relative to `base`), checking every entry of every list,
    /// enabled or not, so a mistake surfaces before it is switched on.
    pub fn load(base: &Path, paths: &[String]) -> Result<Exceptions, Error> {
        let mut entries = Vec::new();
        for relative in paths {
            let path = base.join(relative);
            let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            let list = ListConfig::parse(&path, &text)?;
            entries.extend(list.compile(&path)?.entries);
        }
        Ok(Exceptions { entries })
    }

    /// The first entry with `action` that matches `subject`.
    pub fn matching(&self, subject: &Subject, action: Action) -> Option<&Entry> {
        self.entries
            .iter()
            .filter(|e| e.action == action)
            .find(|e| e.matches(subject))
    }

    /// The first entry of any action that matches `subject`.
    pub fn matches(&self, subject: &Subject) -> Option<&Entry> {
        self.entries.iter().find(|e| e.matches(subject))
    }

    /// Every entry, of any action, that matches `subject`: what an analyst asks when an alert
    /// was or was not suppressed.
    pub fn all_matching<'a>(&'a self, subject: &'a Subject) -> impl Iterator<Item = &'a Entry> {
        self.entries.iter().filter(|e| e.matches(subject))
    }

    /// The number of enabled entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no entry is enabled.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// True when some entry acts at the model stage.
    pub fn acts_on_model(&self) -> bool {
        self.entries
            .iter()
            .any(|e| e.action != Action::SuppressAlert)
    }
}

/// The model stage asks the lists through the results stage's scorer.
impl ValueExceptions for Exceptions {
    fn skip_model_update(&self, job: &RecordContext, bucket: &mut BucketSummary) {
        if self.acts_on_model() {
            bucket.values.retain(|key, value| {
                let subject = Subject::BucketValue { job, key, value };
                self.matching(&subject, Action::SkipModelUpdate).is_none()
            });
        }
    }

    fn skips_result(&self, job: &RecordContext, key: &SeriesKey, value: &ValueSummary) -> bool {
        let subject = Subject::BucketValue { job, key, value };
        self.matching(&subject, Action::SkipResult).is_some()
    }
}

impl Entry {
    /// Every condition holds. A condition on a multi-valued field holds only when every value
    /// matches, so an exception for `dev-*` hosts never hides activity that also hit a
    /// production host.
    fn matches(&self, subject: &Subject) -> bool {
        self.conditions.iter().all(|(field, test)| {
            let values = subject.values_of(field);
            !values.is_empty() && values.iter().all(|v| test.matches(v))
        })
    }
}

impl Test {
    fn matches(&self, value: &str) -> bool {
        match self {
            Test::Equals(values) => values.iter().any(|v| v == value),
            Test::Wildcard(patterns) => patterns.iter().any(|p| p.matches(value)),
            Test::Cidr(nets) => value
                .parse::<IpAddr>()
                .is_ok_and(|ip| nets.iter().any(|n| n.contains(&ip))),
            Test::PortRange(ranges) => value
                .parse::<u16>()
                .is_ok_and(|p| ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&p))),
        }
    }
}

fn compile(path: &Path, entry: &EntryConfig) -> Result<Entry, Error> {
    let bad = |problem: String| Error::BadEntry {
        path: path.to_path_buf(),
        entry: entry.id.clone(),
        problem,
    };
    if entry.comment.trim().is_empty() {
        return Err(bad("comment: say why this activity is benign".into()));
    }
    if entry.conditions.is_empty() {
        return Err(bad("conditions: at least one condition is needed".into()));
    }
    let mut conditions = Vec::with_capacity(entry.conditions.len());
    for c in &entry.conditions {
        if c.values.is_empty() {
            return Err(bad(format!(
                "field {:?}: values must not be empty",
                c.field
            )));
        }
        let test = match c.operator {
            Operator::Equals => Test::Equals(c.values.clone()),
            Operator::Wildcard => Test::Wildcard(
                c.values
                    .iter()
                    .map(|v| {
                        glob::Pattern::new(v).map_err(|e| {
                            bad(format!("field {:?}: bad wildcard {v:?}: {e}", c.field))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Operator::Cidr => Test::Cidr(
                c.values
                    .iter()
                    .map(|v| {
                        v.parse::<IpNet>().map_err(|_| {
                            bad(format!("field {:?}: {v:?} is not a CIDR range", c.field))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Operator::PortRange => Test::PortRange(
                c.values
                    .iter()
                    .map(|v| {
                        port_range(v).ok_or_else(|| {
                            bad(format!(
                                "field {:?}: {v:?} is not a port range like \"8000-8999\"",
                                c.field
                            ))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
        };
        conditions.push((c.field.clone(), test));
    }
    Ok(Entry {
        id: entry.id.clone(),
        comment: entry.comment.clone(),
        action: entry.action,
        source: path.to_path_buf(),
        conditions,
    })
}

fn port_range(text: &str) -> Option<(u16, u16)> {
    let (lo, hi) = text.split_once('-').unwrap_or((text, text));
    let (lo, hi) = (lo.trim().parse().ok()?, hi.trim().parse().ok()?);
    (lo <= hi).then_some((lo, hi))
}

#[cfg(test)]
mod tests;
