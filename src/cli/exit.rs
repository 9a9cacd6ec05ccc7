//! Exit codes: every error is mapped to its code here, by its type, so a new error kind cannot
//! fall through to "internal error" unnoticed (the matches below have no catch-all arm).

use std::error::Error as StdError;

use crate::{
    evaluate, exceptions, fixtures, ingest, jobs, output, pipeline, report, spark, state, store,
    triage,
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

pub(super) const EXIT_CODES_HELP: &str = "Exit codes: 0 success; 1 internal error; 2 bad flags, settings, job file or exception list; \
3 execution time before a job's last execution or ahead of the clock; \
65 bad input data (corrupt or truncated event file, missing column, corrupt or incompatible state); \
69 the Spark Connect server is unreachable (try again later); \
74 the file system refused an operation (disk full, read-only, wrong type of path); \
75 another execution holds the state lock (try again later).";

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

/// The exit status for an error: the code of the first cause in its chain of a known type.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    err.chain().find_map(code_of).unwrap_or(EXIT_INTERNAL)
}

fn code_of(cause: &(dyn StdError + 'static)) -> Option<u8> {
    if let Some(e) = cause.downcast_ref::<pipeline::Error>() {
        return Some(match e {
            pipeline::Error::State(e) => state_code(e),
            pipeline::Error::Store(e) => store_code(e),
            pipeline::Error::Output(e) => output_code(e),
            pipeline::Error::Spark(e) => spark_code(e),
        });
    }
    if let Some(e) = cause.downcast_ref::<spark::Error>() {
        return Some(spark_code(e));
    }
    if let Some(e) = cause.downcast_ref::<state::Error>() {
        return Some(state_code(e));
    }
    if let Some(e) = cause.downcast_ref::<store::Error>() {
        return Some(store_code(e));
    }
    if let Some(e) = cause.downcast_ref::<output::Error>() {
        return Some(output_code(e));
    }
    if let Some(e) = cause.downcast_ref::<ingest::Error>() {
        return Some(match e {
            ingest::Error::Read { .. } => EXIT_IO,
            ingest::Error::LineTooLong { .. } => EXIT_DATA,
            ingest::Error::Store(e) => store_code(e),
        });
    }
    if let Some(e) = cause.downcast_ref::<fixtures::Error>() {
        return Some(match e {
            fixtures::Error::Store(e) => store_code(e),
            fixtures::Error::Io { .. } => EXIT_IO,
            fixtures::Error::LabelsJson { .. }
            | fixtures::Error::InvalidLabel { .. }
            | fixtures::Error::Timestamp { .. } => EXIT_DATA,
        });
    }
    if let Some(e) = cause.downcast_ref::<evaluate::Error>() {
        return Some(match e {
            evaluate::Error::Open { source, .. } | evaluate::Error::Scan { source, .. } => {
                store_code(source)
            }
            evaluate::Error::Schedule(_) => EXIT_CONFIG,
            evaluate::Error::Scratch(_) => EXIT_IO,
            evaluate::Error::Records { .. } => EXIT_DATA,
            evaluate::Error::NoEvents { .. } | evaluate::Error::TimeOutOfRange => EXIT_INTERNAL,
        });
    }
    if let Some(e) = cause.downcast_ref::<triage::Error>() {
        return Some(triage_code(e));
    }
    if let Some(e) = cause.downcast_ref::<report::Error>() {
        return Some(match e {
            report::Error::Triage(e) => triage_code(e),
            report::Error::Write { .. } => EXIT_IO,
            report::Error::Render(_) => EXIT_INTERNAL,
        });
    }
    if cause.is::<jobs::Error>()
        || cause.is::<exceptions::Error>()
        || cause.is::<crate::datafeed::Error>()
        || cause.is::<super::settings::Error>()
        || cause.is::<BadFlag>()
        || cause.is::<pipeline::ScheduleError>()
    {
        return Some(EXIT_CONFIG);
    }
    if cause.is::<AheadOfClock>() {
        return Some(EXIT_CLOCK);
    }
    if cause.is::<std::io::Error>() {
        return Some(EXIT_IO);
    }
    None
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
    fn an_error_of_no_known_kind_is_internal() {
        assert_eq!(exit_code(&anyhow::anyhow!("unexpected")), EXIT_INTERNAL);
    }

    #[test]
    fn the_first_known_cause_decides() {
        let io = std::io::Error::from(std::io::ErrorKind::StorageFull);
        let err = anyhow::Error::new(state::Error::Io {
            path: "state".into(),
            source: io,
        })
        .context("committing");
        assert_eq!(exit_code(&err), EXIT_IO);
        let flag = anyhow::Error::new(BadFlag {
            flag: "--interval",
            problem: "must be positive".into(),
        });
        assert_eq!(exit_code(&flag), EXIT_CONFIG);
    }
}
