//! The `[model]` table of a job file.

use serde::{Deserialize, Serialize};

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
}

/// `[model]`: optional; the default is Elastic's model.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// `kind = "elastic"` (the default) or `kind = "population"`.
    #[serde(default)]
    pub kind: ModelKind,
}
