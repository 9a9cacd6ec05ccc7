//! Flags shared by several subcommands: their value parsers and the overrides of `run` and
//! `backfill`.

use chrono::{DateTime, Utc};

use super::exit::AheadOfClock;

/// Parses an RFC 3339 time.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{text:?} is not an RFC 3339 time ({e}), e.g. 2026-11-22T13:15:00Z"))
}

/// Parses a value by its serde name (`elastic`, `full`), so every variant of the enum is
/// accepted as soon as it exists.
pub fn parse_name<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|e| format!("{text:?}: {e}"))
}

/// Explicit permissions for what is otherwise refused as a likely mistake.
#[derive(Debug, clap::Args)]
pub struct Overrides {
    /// Allow an execution time ahead of the clock: buckets up to it are modelled even if their
    /// events are not in the store yet.
    #[arg(long)]
    pub allow_future: bool,
    /// Start a job that has no state but already has outputs from scratch (its records and
    /// alerts are written again).
    #[arg(long)]
    pub relearn: bool,
}

/// How far an execution time may be ahead of the clock without `--allow-future`.
const CLOCK_TOLERANCE_MS: i64 = 5 * 60 * 1000;

impl Overrides {
    /// Refuses `time` (given by `flag`) if it is ahead of the clock, unless allowed.
    pub fn check_time(&self, flag: &'static str, time: DateTime<Utc>) -> Result<(), AheadOfClock> {
        let ahead_ms = time.timestamp_millis() - Utc::now().timestamp_millis();
        if self.allow_future || ahead_ms <= CLOCK_TOLERANCE_MS {
            return Ok(());
        }
        Err(AheadOfClock {
            flag,
            time: time.to_rfc3339(),
            ahead_s: ahead_ms / 1000,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::Scenarios;
    use crate::model::ModelKind;

    #[test]
    fn names_parse_from_their_serde_names() {
        assert_eq!(parse_name::<ModelKind>("elastic"), Ok(ModelKind::Elastic));
        assert!(
            parse_name::<ModelKind>("nope")
                .unwrap_err()
                .contains("nope")
        );
        assert_eq!(parse_name::<Scenarios>("full"), Ok(Scenarios::Full));
    }
}
