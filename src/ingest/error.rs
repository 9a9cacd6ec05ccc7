//! Errors that stop an ingest. Bad lines never do: they are counted in the report instead.

/// Why an ingest could not finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input could not be read.
    #[error("{input}: cannot read")]
    Read {
        input: String,
        source: std::io::Error,
    },
    /// The event store could not be written.
    #[error("cannot write the event store")]
    Store(#[from] crate::store::Error),
}
