//! Hive-style partition directories (`date=2026-11-22/hour=13/`) read from a file's path, so the
//! planner can skip whole files outside a window without opening them.
//!
//! Input: a file path. Output: the time span its partition directories promise its events lie in.
//! `date=`, `dt=` and `day=` take a `YYYY-MM-DD` UTC day; `hour=` (0..=23) narrows it to one hour.
//! Anything else (or an unparseable value) is ignored, so such files are always opened.

use std::path::Path;

use chrono::{NaiveDate, NaiveTime};

use super::frame::TimeRange;

const MS_PER_HOUR: i64 = 3_600_000;
const MS_PER_DAY: i64 = 24 * MS_PER_HOUR;

/// The half-open span `path`'s partition directories cover, or `None` when the path names no day.
pub fn partition_range(path: &Path) -> Option<TimeRange> {
    let mut day_start = None;
    let mut hour = None;
    for component in path.components() {
        let Some((key, value)) = component
            .as_os_str()
            .to_str()
            .and_then(|c| c.split_once('='))
        else {
            continue;
        };
        match key {
            "date" | "dt" | "day" => day_start = parse_day(value).or(day_start),
            "hour" => {
                hour = value
                    .parse::<i64>()
                    .ok()
                    .filter(|h| (0..24).contains(h))
                    .or(hour)
            }
            _ => {}
        }
    }
    let start = day_start?;
    Some(match hour {
        Some(h) => TimeRange {
            start_ms: start + h * MS_PER_HOUR,
            end_ms: start + (h + 1) * MS_PER_HOUR,
        },
        None => TimeRange {
            start_ms: start,
            end_ms: start + MS_PER_DAY,
        },
    })
}

/// True unless `path`'s partition lies wholly outside `window`, with a grace of one partition
/// length on each side: writers put an event in the partition of when it was written, so one
/// stamped just across midnight lands in the previous day's file. Elasticsearch selects by
/// `@timestamp` alone, so such files are opened and their row-group statistics decide.
pub fn may_overlap(path: &Path, window: TimeRange) -> bool {
    partition_range(path).is_none_or(|span| {
        let grace = span.end_ms - span.start_ms;
        window.overlaps(span.start_ms - grace, span.end_ms + grace - 1)
    })
}

fn parse_day(value: &str) -> Option<i64> {
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
    Some(date.and_time(NaiveTime::MIN).and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_22: i64 = 1_795_305_600_000; // 2026-11-22T00:00:00Z

    #[test]
    fn date_partition_covers_the_day() {
        let span = partition_range(Path::new("/s/date=2026-11-22/events.parquet"));
        assert_eq!(
            span,
            Some(TimeRange {
                start_ms: DAY_22,
                end_ms: DAY_22 + MS_PER_DAY
            })
        );
        assert_eq!(partition_range(Path::new("dt=2026-11-22/a.parquet")), span);
        assert_eq!(partition_range(Path::new("day=2026-11-22/a.parquet")), span);
    }

    #[test]
    fn hour_narrows_the_day() {
        let span = partition_range(Path::new("/s/date=2026-11-22/hour=13/events.parquet"));
        let start = DAY_22 + 13 * MS_PER_HOUR;
        assert_eq!(
            span,
            Some(TimeRange {
                start_ms: start,
                end_ms: start + MS_PER_HOUR
            })
        );
    }

    #[test]
    fn unknown_or_bad_partitions_promise_nothing() {
        assert_eq!(partition_range(Path::new("/s/events.parquet")), None);
        assert_eq!(
            partition_range(Path::new("/s/date=yesterday/e.parquet")),
            None
        );
        assert_eq!(partition_range(Path::new("/s/hour=13/e.parquet")), None);
        let bad_hour = partition_range(Path::new("/s/date=2026-11-22/hour=24/e.parquet"));
        assert_eq!(bad_hour.map(|s| s.end_ms - s.start_ms), Some(MS_PER_DAY));
    }

    #[test]
    fn overlap_spans_the_partition_and_one_length_of_grace_on_each_side() {
        let path = Path::new("date=2026-11-22/e.parquet");
        let day = |offset: i64| TimeRange {
            start_ms: DAY_22 + offset * MS_PER_DAY,
            end_ms: DAY_22 + (offset + 1) * MS_PER_DAY,
        };
        assert!(may_overlap(path, day(0)));
        assert!(may_overlap(path, day(1)), "events just past midnight");
        assert!(may_overlap(path, day(-1)));
        assert!(!may_overlap(path, day(2)));
        assert!(!may_overlap(path, day(-2)));
        let hour = Path::new("date=2026-11-22/hour=13/e.parquet");
        let at = |h: i64| TimeRange {
            start_ms: DAY_22 + h * MS_PER_HOUR,
            end_ms: DAY_22 + (h + 1) * MS_PER_HOUR,
        };
        assert!(may_overlap(hour, at(14)) && may_overlap(hour, at(12)));
        assert!(!may_overlap(hour, at(15)) && !may_overlap(hour, at(11)));
        assert!(may_overlap(Path::new("plain/e.parquet"), day(5)));
    }
}
