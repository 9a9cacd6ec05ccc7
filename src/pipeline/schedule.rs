//! The execution times of a range, as cron would have made them.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::time::EpochMs;

/// Executions per commit in a backfill: one day of 15-minute executions.
pub const COMMIT_EVERY: usize = 96;

/// The most executions one schedule makes: ten years of 15-minute executions. More is a
/// mistaken interval or range, and their list alone would exhaust memory.
const MAX_EXECUTIONS: i64 = 10 * 366 * 96;

/// A range and interval that make no usable schedule, named by the flags that set them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    #[error("--interval: must be positive")]
    NotPositive,
    #[error("--to: {to} is before --from {from}")]
    Reversed {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
    #[error(
        "--interval: {count} executions from --from to --to; at most {MAX_EXECUTIONS} (split the range or lengthen the interval)"
    )]
    TooMany { count: i64 },
}

/// The execution times from `from` to `to` inclusive, every `interval`.
pub fn schedule(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    interval: Duration,
) -> Result<Vec<EpochMs>, ScheduleError> {
    let step = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
    if step <= 0 {
        return Err(ScheduleError::NotPositive);
    }
    if to < from {
        return Err(ScheduleError::Reversed { from, to });
    }
    let (from, to) = (from.timestamp_millis(), to.timestamp_millis());
    let count = (to - from) / step + 1;
    if count > MAX_EXECUTIONS {
        return Err(ScheduleError::TooMany { count });
    }
    Ok((0..)
        .map(|k| from + k * step)
        .take_while(|&t| t <= to)
        .map(EpochMs)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("an RFC 3339 time")
    }

    #[test]
    fn executions_run_from_the_first_time_to_the_last_inclusive() {
        let hour = Duration::from_secs(3600);
        let times = schedule(at("2026-01-01T00:00:00Z"), at("2026-01-01T02:00:00Z"), hour)
            .expect("a valid range");
        let first = EpochMs(at("2026-01-01T00:00:00Z").timestamp_millis());
        assert_eq!(times, [first, first + 3_600_000, first + 7_200_000]);
        assert!(matches!(
            schedule(at("2026-01-02T00:00:00Z"), at("2026-01-01T00:00:00Z"), hour),
            Err(ScheduleError::Reversed { .. })
        ));
        assert!(matches!(
            schedule(
                at("2026-01-01T00:00:00Z"),
                at("2026-01-01T00:00:00Z"),
                Duration::ZERO
            ),
            Err(ScheduleError::NotPositive)
        ));
        assert!(matches!(
            schedule(
                at("2000-01-01T00:00:00Z"),
                at("2026-01-01T00:00:00Z"),
                hour / 4
            ),
            Err(ScheduleError::TooMany { .. })
        ));
    }
}
