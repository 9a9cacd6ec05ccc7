//! Errors that stop an ingest. Bad lines never do: they are counted in the report instead, except
//! an NDJSON line too long to hold that is not a search response, which cannot be skipped unread.

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
    /// An NDJSON line longer than the limit that is not a search response or an array, whose
    /// hits or elements could be read one at a time.
    #[error(
        "{input}:{line}: line longer than {limit} bytes and not a search response (split the export into one document per line)"
    )]
    LineTooLong {
        input: String,
        line: u64,
        limit: usize,
    },
    /// The event store could not be written.
    #[error("cannot write the event store")]
    Store(#[from] crate::store::Error),
}

impl Error {
    /// A failed read of `input`.
    pub(crate) fn read(input: &str, source: std::io::Error) -> Self {
        Error::Read {
            input: input.to_string(),
            source,
        }
    }
}
