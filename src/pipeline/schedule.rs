//! The execution times of a range, as cron would have made them.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Executions per commit in a backfill: one day of 15-minute executions.
pub const COMMIT_EVERY: usize = 96;

/// A range that has no executions.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    #[error("--interval must be positive")]
    NotPositive,
    #[error("--to ({to}) is before --from ({from})")]
    Reversed {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
}

/// The execution times from `from` to `to` inclusive, every `interval`, in epoch ms.
pub fn schedule(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    interval: Duration,
) -> Result<Vec<i64>, ScheduleError> {
    let step = interval.as_millis() as i64;
    if step <= 0 {
        return Err(ScheduleError::NotPositive);
    }
    if to < from {
        return Err(ScheduleError::Reversed { from, to });
    }
    let (from, to) = (from.timestamp_millis(), to.timestamp_millis());
    Ok((0..)
        .map(|k| from + k * step)
        .take_while(|&t| t <= to)
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
        let first = at("2026-01-01T00:00:00Z").timestamp_millis();
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
    }
}
