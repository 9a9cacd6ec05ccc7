//! Exit codes, chosen by the type of the error a command failed with.
//!
//! A command returns a [`Failure`], which can only be made from a typed error: the library's
//! [`crate::Error`] (any module error converts into it), the command line's own [`BadFlag`],
//! [`AheadOfClock`] and settings error, or an `io::Error` of the command itself. Each conversion
//! takes the code then, the library's by one exhaustive match over its variants and theirs (no
//! catch-all arm), so an error type without a code cannot be returned with `?` and a new variant
//! without one does not compile. The context a command adds (see [`Context`]) only extends the
//! message; the code stays the one of the error it started from.

use std::fmt;

use crate::{
    evaluate, fixtures, ingest, objects, output, pipeline, report, spark, state, store, triage,
};

/// Exit status when the run succeeded.
pub const EXIT_OK: u8 = 0;
/// Exit status for an internal error.
pub const EXIT_INTERNAL: u8 = 1;
/// Exit status for a bad flag, settings file, job file or exception list.
pub const EXIT_CONFIG: u8 = 2;
/// Exit status when the execution time is earlier than a job's last execution, or ahead of the
/// clock: a scheduler or clock problem, refused before anything is read or written.
pub const EXIT_CLOCK: u8 = 3;
/// Exit status for bad input data: an unreadable or corrupt event file, a missing column, a
/// corrupt or incompatible state snapshot.
pub const EXIT_DATA: u8 = 65;
/// Exit status when the Spark Connect server cannot be reached: try again later (sysexits'
/// `EX_UNAVAILABLE`).
pub const EXIT_UNAVAILABLE: u8 = 69;
/// Exit status when the file system refused an operation: disk full, read-only, permission
/// denied, a path of the wrong type (sysexits' `EX_IOERR`).
pub const EXIT_IO: u8 = 74;
/// Exit status when another execution holds the state lock: try again later.
pub const EXIT_LOCKED: u8 = 75;
/// Exit status when an object storage bucket does not exist (sysexits' `EX_NOINPUT`).
pub const EXIT_NO_BUCKET: u8 = 66;
/// Exit status when object storage refused the credentials (sysexits' `EX_NOPERM`).
pub const EXIT_DENIED: u8 = 77;

pub(super) const EXIT_CODES_HELP: &str = "Exit codes: 0 success; 1 internal error; 2 bad flags, settings, job file or exception list; \
3 execution time before a job's last execution or ahead of the clock; \
65 bad input data (corrupt or truncated event file, missing column, corrupt or incompatible state); \
66 no such object storage bucket; \
69 the Spark Connect server or the object store is unreachable (try again later); \
74 the file system or the object store refused an operation (disk full, read-only, wrong type of path); \
75 another execution holds the state lock (try again later); \
77 the object store denied access (credentials).";

/// A flag whose value cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{flag}: {problem}")]
pub struct BadFlag {
    pub flag: &'static str,
    pub problem: String,
}

/// An execution time later than the wall clock: the buckets up to it are not in the store yet,
/// and modelling them empty would skip their events for good.
#[derive(Debug, thiserror::Error)]
#[error(
    "{flag} {time} is {ahead_s} s ahead of the clock; buckets not yet in the store would be modelled as empty (pass --allow-future if this is intended)"
)]
pub struct AheadOfClock {
    pub flag: &'static str,
    pub time: String,
    pub ahead_s: i64,
}

/// Why a command failed: the message, with the context the command added, and the exit code of
/// the typed error it started from.
#[derive(Debug)]
pub struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl Failure {
    fn new(code: u8, error: impl std::error::Error + Send + Sync + 'static) -> Failure {
        Failure {
            code,
            error: anyhow::Error::new(error),
        }
    }

    /// A failure that only a bug can cause, such as printing a value netrare built itself.
    pub(super) fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Failure {
        Failure::new(EXIT_INTERNAL, error)
    }

    fn context(self, context: impl fmt::Display + Send + Sync + 'static) -> Failure {
        Failure {
            code: self.code,
            error: self.error.context(context),
        }
    }
}

/// `{:#}` prints the whole chain, outermost context first, as anyhow does.
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<E: Into<crate::Error>> From<E> for Failure {
    fn from(error: E) -> Failure {
        let error = error.into();
        Failure::new(library_code(&error), error)
    }
}

impl From<super::settings::Error> for Failure {
    fn from(error: super::settings::Error) -> Failure {
        Failure::new(EXIT_CONFIG, error)
    }
}

impl From<BadFlag> for Failure {
    fn from(error: BadFlag) -> Failure {
        Failure::new(EXIT_CONFIG, error)
    }
}

impl From<AheadOfClock> for Failure {
    fn from(error: AheadOfClock) -> Failure {
        Failure::new(EXIT_CLOCK, error)
    }
}

/// A file or standard output the command itself could not write.
impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Failure {
        Failure::new(EXIT_IO, error)
    }
}

/// Context for the message of an error on its way out of a command, as anyhow's `Context` gives
/// it, keeping the exit code of the error.
pub(super) trait Context<T> {
    fn context(self, context: impl fmt::Display + Send + Sync + 'static) -> Result<T, Failure>;

    fn with_context<C: fmt::Display + Send + Sync + 'static>(
        self,
        context: impl FnOnce() -> C,
    ) -> Result<T, Failure>;
}

impl<T, E: Into<Failure>> Context<T> for Result<T, E> {
    fn context(self, context: impl fmt::Display + Send + Sync + 'static) -> Result<T, Failure> {
        self.map_err(|e| e.into().context(context))
    }

    fn with_context<C: fmt::Display + Send + Sync + 'static>(
        self,
        context: impl FnOnce() -> C,
    ) -> Result<T, Failure> {
        self.map_err(|e| e.into().context(context()))
    }
}

/// The exit status of a failed command.
pub fn exit_code(failure: &Failure) -> u8 {
    failure.code
}

fn library_code(e: &crate::Error) -> u8 {
    use crate::Error;
    match e {
        Error::Pipeline(e) => match e {
            pipeline::Error::State(e) => state_code(e),
            pipeline::Error::Store(e) => store_code(e),
            pipeline::Error::Output(e) => output_code(e),
            pipeline::Error::Spark(e) => spark_code(e),
        },
        Error::Spark(e) => spark_code(e),
        Error::State(e) => state_code(e),
        Error::Store(e) => store_code(e),
        Error::Output(e) => output_code(e),
        Error::Ingest(e) => match e {
            ingest::Error::Read { .. } => EXIT_IO,
            ingest::Error::LineTooLong { .. } => EXIT_DATA,
            ingest::Error::Store(e) => store_code(e),
        },
        Error::Fixtures(e) => match e {
            fixtures::Error::Store(e) => store_code(e),
            fixtures::Error::Io { .. } => EXIT_IO,
            fixtures::Error::LabelsJson { .. }
            | fixtures::Error::InvalidLabel { .. }
            | fixtures::Error::Timestamp { .. } => EXIT_DATA,
        },
        Error::Evaluate(e) => match e {
            evaluate::Error::Open { source, .. } | evaluate::Error::Scan { source, .. } => {
                store_code(source)
            }
            evaluate::Error::Schedule(_) => EXIT_CONFIG,
            evaluate::Error::Scratch(_) => EXIT_IO,
            evaluate::Error::Records { .. }
            | evaluate::Error::NoEvents { .. }
            | evaluate::Error::TimeOutOfRange { .. } => EXIT_DATA,
        },
        Error::Triage(e) => triage_code(e),
        Error::Report(e) => match e {
            report::Error::Triage(e) => triage_code(e),
            report::Error::Write { .. } => EXIT_IO,
            report::Error::Render(_) => EXIT_INTERNAL,
        },
        Error::Jobs(_) | Error::Exceptions(_) | Error::Datafeed(_) | Error::Schedule(_) => {
            EXIT_CONFIG
        }
    }
}

fn state_code(e: &state::Error) -> u8 {
    match e {
        state::Error::Io { .. } => EXIT_IO,
        state::Error::Locked { .. } => EXIT_LOCKED,
        state::Error::OwnedByOther { .. } | state::Error::BadTarget { .. } => EXIT_CONFIG,
        state::Error::BadSnapshot { .. }
        | state::Error::BadJournal { .. }
        | state::Error::MissingSnapshot { .. } => EXIT_DATA,
        state::Error::BeforeLastExecution { .. } => EXIT_CLOCK,
        state::Error::LeaseHeld { .. } | state::Error::LeaseLost { .. } => EXIT_LOCKED,
        state::Error::BadRemoteJournal { .. } => EXIT_DATA,
        state::Error::Objects(e) => objects_code(e),
    }
}

fn objects_code(e: &objects::Error) -> u8 {
    match e {
        objects::Error::BadUrl { .. } => EXIT_CONFIG,
        objects::Error::Unreachable { .. } => EXIT_UNAVAILABLE,
        objects::Error::NoBucket { .. } => EXIT_NO_BUCKET,
        objects::Error::Denied { .. } => EXIT_DENIED,
        objects::Error::Missing { .. } => EXIT_DATA,
        objects::Error::Failed { .. } => EXIT_IO,
    }
}

fn store_code(e: &store::Error) -> u8 {
    match e {
        store::Error::Io { .. } | store::Error::Write { .. } => EXIT_IO,
        store::Error::BadGlob { .. } => EXIT_CONFIG,
        store::Error::NoFiles { .. }
        | store::Error::Corrupt { .. }
        | store::Error::MissingColumn { .. }
        | store::Error::TwoForms { .. }
        | store::Error::WrongType { .. } => EXIT_DATA,
        store::Error::Objects(e) => objects_code(e),
    }
}

fn triage_code(e: &triage::Error) -> u8 {
    match e {
        triage::Error::UnknownJob(_) => EXIT_CONFIG,
        triage::Error::UnknownId { .. } | triage::Error::Output { .. } => EXIT_DATA,
        triage::Error::Io { .. } => EXIT_IO,
        triage::Error::Store(e) => store_code(e),
    }
}

fn spark_code(e: &spark::Error) -> u8 {
    match e {
        spark::Error::NotBuilt | spark::Error::NoRemote | spark::Error::BadRemote { .. } => {
            EXIT_CONFIG
        }
        spark::Error::Unreachable { .. } => EXIT_UNAVAILABLE,
        spark::Error::Query { .. } | spark::Error::Compile(_) | spark::Error::Decode(_) => {
            EXIT_DATA
        }
    }
}

fn output_code(e: &output::Error) -> u8 {
    match e {
        output::Error::Write { .. } => EXIT_IO,
        output::Error::Build { .. } => EXIT_INTERNAL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_the_code_of_the_error_it_started_from() {
        let io = std::io::Error::from(std::io::ErrorKind::StorageFull);
        let committed: Result<(), state::Error> = Err(state::Error::Io {
            path: "state".into(),
            source: io,
        });
        let failure = committed.context("committing").unwrap_err();
        assert_eq!(exit_code(&failure), EXIT_IO);
        assert!(
            format!("{failure:#}").starts_with("committing: state: "),
            "{failure:#}"
        );
        let flag = Failure::from(BadFlag {
            flag: "--interval",
            problem: "must be positive".into(),
        });
        assert_eq!(exit_code(&flag), EXIT_CONFIG);
    }

    #[test]
    fn an_event_store_evaluate_cannot_use_is_bad_input_data() {
        let empty = evaluate::Error::NoEvents {
            events: "fleet/".into(),
        };
        assert_eq!(exit_code(&Failure::from(empty)), EXIT_DATA);
        let far = evaluate::Error::TimeOutOfRange {
            events: "fleet/".into(),
            ms: i64::MAX,
        };
        assert_eq!(exit_code(&Failure::from(far)), EXIT_DATA);
    }

    #[test]
    fn a_module_error_inside_another_takes_the_code_of_its_own_variant() {
        let locked = pipeline::Error::State(state::Error::Locked {
            path: "state/.lock".into(),
        });
        assert_eq!(exit_code(&Failure::from(locked)), EXIT_LOCKED);
        let unreachable = spark::Error::Unreachable {
            remote: "sc://spark:15002".into(),
            reason: "connection refused".into(),
        };
        assert_eq!(exit_code(&Failure::from(unreachable)), EXIT_UNAVAILABLE);
    }
}
