//! The `[model]` table of a job file.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::new_terms::{JobFields, Terms};

/// Which model scores the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Elastic's `rare` (ml-cpp's individual analysis), reproduced exactly.
    #[default]
    Elastic,
    /// The fleet-aware rare model (`src/model/population/`): host spread, process context, port
    /// classes and schedules lower false positives on the same 0–100 scale.
    Population,
    /// Elastic's new-terms rule (`src/model/new_terms/`): a combination of field values not seen
    /// in the history window scores 100.
    NewTerms,
}

/// `[model]`: optional; the default is Elastic's model.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// `kind = "elastic"` (the default), `kind = "population"` or `kind = "new_terms"`.
    #[serde(default)]
    pub kind: ModelKind,
    /// `new_terms` only: the fields whose value combination is a term (default: the by-field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    /// `new_terms` only: how long a term must have been unseen to be new again (default 7d).
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub history_window: Option<Duration>,
    /// `new_terms` only: `fields` and `history_window` resolved against the job's fields by the
    /// job loader, which alone knows them.
    #[serde(skip)]
    pub terms: Option<Terms>,
}

impl ModelConfig {
    /// The new-terms settings resolved against `job`: `None` for other model kinds, which take
    /// none. The error is the key and what was expected, for the job loader to name its file.
    pub fn resolve_terms(&self, job: JobFields) -> Result<Option<Terms>, (&'static str, String)> {
        if self.kind == ModelKind::NewTerms {
            return Terms::resolve(self.fields.as_deref(), self.history_window, job).map(Some);
        }
        let only = || "only for kind = \"new_terms\"".to_string();
        match (&self.fields, self.history_window) {
            (Some(_), _) => Err(("model.fields", only())),
            (_, Some(_)) => Err(("model.history_window", only())),
            (None, None) => Ok(None),
        }
    }
}
