//! The library's one error type: each module's error as a variant. A caller that must treat every
//! kind apart (the command line, for its exit codes) matches them all, so a new module error that
//! reaches it is a variant it has to handle, not a type it can miss.

use crate::{
    datafeed, evaluate, exceptions, fixtures, ingest, jobs, output, pipeline, report, spark, state,
    store, triage,
};

/// Any error the library's entry points return, by the module it comes from.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Datafeed(#[from] datafeed::Error),
    #[error(transparent)]
    Evaluate(#[from] evaluate::Error),
    #[error(transparent)]
    Exceptions(#[from] exceptions::Error),
    #[error(transparent)]
    Fixtures(#[from] fixtures::Error),
    #[error(transparent)]
    Ingest(#[from] ingest::Error),
    #[error(transparent)]
    Jobs(#[from] jobs::Error),
    #[error(transparent)]
    Output(#[from] output::Error),
    #[error(transparent)]
    Pipeline(#[from] pipeline::Error),
    #[error(transparent)]
    Schedule(#[from] pipeline::ScheduleError),
    #[error(transparent)]
    Report(#[from] report::Error),
    #[error(transparent)]
    Spark(#[from] spark::Error),
    #[error(transparent)]
    State(#[from] state::Error),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Triage(#[from] triage::Error),
}
