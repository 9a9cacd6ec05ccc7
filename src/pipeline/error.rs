//! Why an execution failed: its own file, so that the pipeline's files all use it without using
//! the module that wires them.

use crate::{output, state};

/// Why an execution failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    State(#[from] state::Error),
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    #[error(transparent)]
    Output(#[from] output::Error),
    #[error(transparent)]
    Spark(#[from] crate::spark::Error),
}
