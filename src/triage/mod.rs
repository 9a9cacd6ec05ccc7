//! Triage: what an analyst asks of an alert, answered from what the pipeline wrote and from the
//! store, offline.
//!
//! Input: the output folder (records, alerts, buckets, influencers, model size statistics, read
//! back by [`outputs`]) and the event store (read by [`history`], time- and column-pruned).
//! Output: an [`Investigation`], each step of the rules' investigation guides as plain data, and
//! its text layout. Neighbours: `output` wrote what it reads; `report` lays the same answers out
//! as a page; `cli` parses and prints.

mod address;
mod history;
mod investigation;
mod outputs;
pub mod text;

pub use address::AddressClass;
pub use history::Connection;
pub use investigation::{
    Alerting, Inputs, Investigation, NEARBY_MS, Target, ValueHistory, cadence, investigate,
    investigate_all, suggested_entry,
};
pub use outputs::{
    Depth, Outputs, StoredAlert, StoredBucket, StoredInfluencer, StoredModelStats, StoredRecord,
};

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::exceptions::Exceptions;
use crate::jobs::Job;
use crate::store::EventStore;

/// Why an investigation or a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Neither an alert nor a record has this id.
    #[error(
        "no alert or record with id {id} under {} (jobs: {})",
        out.display(),
        jobs.join(", ")
    )]
    UnknownId {
        id: String,
        out: PathBuf,
        jobs: Vec<String>,
    },
    /// No job has this id.
    #[error("no job {0}")]
    UnknownJob(String),
    /// An output file is not one netrare wrote.
    #[error("{}: {reason}", path.display())]
    Output { path: PathBuf, reason: String },
    /// An output folder could not be listed.
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The event store could not be read.
    #[error(transparent)]
    Store(#[from] crate::store::Error),
}

/// Where the answers come from: the jobs with their exception lists, the output folder and the
/// event store.
pub struct Sources {
    pub jobs: Vec<Job>,
    pub exceptions: Vec<Exceptions>,
    pub out: PathBuf,
    pub store: EventStore,
}

impl Sources {
    /// The exception lists of `job_id` (none for an unknown job).
    pub fn exceptions_of(&self, job_id: &str) -> &Exceptions {
        static NONE: OnceLock<Exceptions> = OnceLock::new();
        self.jobs
            .iter()
            .position(|j| j.id() == job_id)
            .and_then(|i| self.exceptions.get(i))
            .unwrap_or_else(|| NONE.get_or_init(Exceptions::default))
    }

    /// The ids of the jobs.
    pub fn job_ids(&self) -> Vec<&str> {
        self.jobs.iter().map(Job::id).collect()
    }
}
