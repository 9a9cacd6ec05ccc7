//! Reading the store a chunk of time at a time and folding it into every job's buckets at once:
//! one scan serves all jobs, and units (files × row groups) are read and folded in parallel. With
//! the Spark source, a Spark cluster folds each job's chunk and sends back the summaries.

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::bucket::{BucketSummary, PartialFold, fold_frame};
use crate::datafeed::FrameTests;
use crate::jobs::Job;
use crate::spark;
use crate::store::{EventStore, FieldRequest, ScanStats, ScanUnit, TimeRange};
use crate::time::DAY_MS;

use super::error::Error;
use crate::time::EpochMs;

/// Where bucket summaries come from.
pub enum Source {
    /// netrare reads the Parquet store and folds it.
    Store(EventStore),
    /// A Spark cluster folds the events, one query per job and chunk.
    Spark(spark::Session),
}

/// A read covers as many days as give it at least this many row groups. The read of the next
/// chunk and the models of the last one meet when both end, and a row group is the smallest
/// piece of a read a thread can take: with few of them, one thread waits for the other's last.
const MIN_ROW_GROUPS_PER_READ: u64 = 12;
/// The most days one read covers, so a backfill of a sparse store holds at most this many days
/// of bucket summaries.
const MAX_DAYS_PER_READ: i64 = 7;
/// A file's row groups are read in at most this many pieces, so one big file still keeps every
/// core busy.
const PIECES_PER_FILE: usize = 4;

/// Reads the source ahead of the models, a chunk at a time, for every job at once.
pub struct Feed<'a> {
    source: &'a Source,
    /// The fields any job reads.
    fields: Vec<FieldRequest>,
    /// Everything before this time has been read.
    pub loaded_to: EpochMs,
    /// Never read at or beyond this time: the last execution's complete buckets end here.
    pub limit: EpochMs,
    /// What all reads so far found.
    pub stats: ScanStats,
    /// The days the next read covers, from the row groups per day the last read found.
    days_per_read: i64,
}

/// A job the feed reads for: its definition, and the start of the first bucket it still needs
/// (its model is past everything before).
#[derive(Debug, Clone, Copy)]
pub struct FeedJob<'a> {
    pub job: &'a Job,
    pub from_ms: EpochMs,
}

/// Each job's bucket summaries of a chunk, by job id, then by bucket start.
pub type JobBuckets = BTreeMap<String, BTreeMap<EpochMs, BucketSummary>>;

impl<'a> Feed<'a> {
    /// A feed for `jobs` that never reads past `limit`.
    pub fn new(source: &'a Source, jobs: &[FeedJob], limit: EpochMs) -> Feed<'a> {
        let from = jobs.iter().map(|j| j.from_ms).min().unwrap_or(limit);
        Feed {
            source,
            fields: fields_of(jobs.iter().map(|j| j.job)),
            loaded_to: from,
            limit,
            stats: ScanStats::default(),
            days_per_read: 1,
        }
    }

    /// Reads the next chunk needed to have everything before `until` (capped at the limit) for
    /// `jobs`, and gives each job's buckets of it; `None` once all of that is read.
    pub fn read_until(
        &mut self,
        jobs: &[FeedJob],
        until: EpochMs,
    ) -> Result<Option<JobBuckets>, Error> {
        let Some(window) = self.next_window(until) else {
            return Ok(None);
        };
        let chunk = match self.source {
            Source::Store(store) => self.ahead(store, jobs, window).read()?,
            Source::Spark(session) => self.query(session, window, jobs)?,
        };
        Ok(Some(self.accept(chunk)))
    }

    /// The next chunk to read to have everything before `until` (capped at the limit): up to
    /// a UTC midnight [`Feed::days_per_read`] days on, or further when `until` is further.
    /// `None` when all is read.
    fn next_window(&self, until: EpochMs) -> Option<TimeRange> {
        let until = until.min(self.limit).ms();
        let (loaded_to, limit) = (self.loaded_to.ms(), self.limit.ms());
        if loaded_to >= until {
            return None;
        }
        let midnight = (loaded_to.div_euclid(DAY_MS) + self.days_per_read) * DAY_MS;
        Some(TimeRange {
            start_ms: loaded_to,
            end_ms: midnight.max(until).min(limit),
        })
    }

    /// The read of the chunk after everything loaded so far, to run while the models work on
    /// what is loaded. `None` when everything up to the limit is read, or when the source is
    /// Spark (its chunks are read on demand).
    pub fn read_ahead<'f>(&'f self, jobs: &[FeedJob<'f>]) -> Option<ChunkRead<'f>> {
        let Source::Store(store) = self.source else {
            return None;
        };
        let window = self.next_window(self.loaded_to + 1)?;
        Some(self.ahead(store, jobs, window))
    }

    fn ahead<'f>(
        &'f self,
        store: &'f EventStore,
        jobs: &[FeedJob<'f>],
        window: TimeRange,
    ) -> ChunkRead<'f> {
        ChunkRead {
            store,
            fields: &self.fields,
            window,
            jobs: jobs
                .iter()
                .map(|j| Folding {
                    job: j.job,
                    window: self.still_needed(j),
                })
                .collect(),
        }
    }

    /// Takes a chunk read: everything before its end is read. Gives each job's buckets of it.
    pub fn accept(&mut self, chunk: Chunk) -> JobBuckets {
        self.days_per_read = days_per_read(
            chunk.window,
            chunk.stats.row_groups_read,
            self.days_per_read,
        );
        self.stats += chunk.stats;
        self.loaded_to = EpochMs(chunk.window.end_ms);
        chunk.buckets
    }

    /// What `job` still needs folded: the buckets from its `from_ms` up to the limit.
    fn still_needed(&self, job: &FeedJob) -> TimeRange {
        TimeRange {
            start_ms: job.from_ms.ms(),
            end_ms: self.limit.ms(),
        }
    }

    /// Asks the Spark cluster for each job's summaries of `window`.
    fn query(
        &self,
        session: &spark::Session,
        window: TimeRange,
        jobs: &[FeedJob],
    ) -> Result<Chunk, spark::Error> {
        let mut buckets = JobBuckets::new();
        for wanted in jobs {
            let job = wanted.job;
            let mut needed = self.still_needed(wanted);
            needed.start_ms = needed.start_ms.max(window.start_ms);
            needed.end_ms = needed.end_ms.min(window.end_ms);
            if needed.start_ms >= needed.end_ms {
                continue;
            }
            let started = std::time::Instant::now();
            let bytes_before = session.bytes_received();
            let summaries = session.fold(job.datafeed.query(), &job.fold, needed)?;
            tracing::info!(
                job = job.id(),
                from_ms = needed.start_ms,
                to_ms = needed.end_ms,
                rows = summaries.values().map(|b| b.values.len()).sum::<usize>(),
                bytes = session.bytes_received() - bytes_before,
                seconds = started.elapsed().as_secs_f64(),
                "spark summaries"
            );
            buckets.insert(job.id().to_string(), summaries);
        }
        Ok(Chunk {
            window,
            buckets,
            stats: ScanStats::default(),
        })
    }
}

/// One chunk of the store to read and fold for every job at once: what the read needs, so it
/// can run beside the models.
pub struct ChunkRead<'a> {
    store: &'a EventStore,
    fields: &'a [FieldRequest],
    window: TimeRange,
    jobs: Vec<Folding<'a>>,
}

/// A job a read folds for, and the window it still needs.
struct Folding<'a> {
    job: &'a Job,
    window: TimeRange,
}

/// One job's fold of the pieces a thread took.
struct JobFold<'r> {
    of: &'r Folding<'r>,
    fold: PartialFold,
}

/// A chunk read and folded: each job's bucket summaries, by job id.
pub struct Chunk {
    window: TimeRange,
    buckets: JobBuckets,
    stats: ScanStats,
}

impl ChunkRead<'_> {
    /// Reads and folds the window, each piece in parallel for every job at once.
    pub fn read(self) -> Result<Chunk, crate::store::Error> {
        let (units, mut stats) = self.store.plan(self.window)?;
        let pieces: Vec<ScanUnit> = units.iter().flat_map(split).collect();
        let empty = || {
            let folds = self.jobs.iter().map(|of| JobFold {
                of,
                fold: PartialFold::new(&of.job.fold.influencers),
            });
            (folds.collect::<Vec<_>>(), ScanStats::default())
        };
        // Each thread folds the pieces it takes into its own folds; only those are merged.
        let (folded, read_stats) = pieces
            .par_iter()
            .try_fold(empty, |(mut folds, mut stats), unit| {
                let frame = unit.read(self.fields)?;
                // Jobs share the tests their datafeeds have in common.
                let mut tests = FrameTests::new(&frame);
                for JobFold { of, fold } in &mut folds {
                    let rows = of.job.datafeed.select_with(&mut tests);
                    fold_frame(&frame, &rows, &of.job.fold, of.window, fold);
                }
                stats += frame.stats;
                Ok::<_, crate::store::Error>((folds, stats))
            })
            .try_reduce(empty, |(mut a, mut sa), (b, sb)| {
                // Both are made by `empty`: the same jobs in the same order.
                a.par_iter_mut()
                    .zip(b)
                    .for_each(|(mine, theirs)| mine.fold.merge(theirs.fold));
                sa += sb;
                Ok((a, sa))
            })?;
        stats += read_stats;
        Ok(Chunk {
            window: self.window,
            buckets: folded
                .into_par_iter()
                .map(|f| (f.of.job.id().to_string(), f.fold.summaries()))
                .collect(),
            stats,
        })
    }
}

/// The fields any of `jobs` reads; the by-field of each is required.
fn fields_of<'a>(jobs: impl Iterator<Item = &'a Job>) -> Vec<FieldRequest> {
    let mut fields: Vec<FieldRequest> = Vec::new();
    for job in jobs {
        for name in job.fields() {
            let required = name == job.fold.by_field;
            match fields.iter_mut().find(|f| f.name == name) {
                Some(f) => f.required |= required,
                None => fields.push(FieldRequest { name, required }),
            }
        }
    }
    fields
}

/// Reads, selects and folds `window` of `store` for each of `jobs` as a backfill does, without
/// the model: each job's bucket summaries, in the order of `jobs`. The benchmarks set this
/// against polars' and DuckDB's aggregations of the same files.
pub fn fold_window(
    store: &EventStore,
    jobs: &[&Job],
    window: TimeRange,
) -> Result<Vec<BTreeMap<EpochMs, BucketSummary>>, crate::store::Error> {
    let fields = fields_of(jobs.iter().copied());
    let read = ChunkRead {
        store,
        fields: &fields,
        window,
        jobs: jobs.iter().map(|&job| Folding { job, window }).collect(),
    };
    let mut buckets = read.read()?.buckets;
    Ok(jobs
        .iter()
        .map(|job| buckets.remove(job.id()).unwrap_or_default())
        .collect())
}

/// The days the next read should cover after one of `window` found `row_groups`, the last
/// covering `last` days: enough for [`MIN_ROW_GROUPS_PER_READ`] at that many per day, at most
/// [`MAX_DAYS_PER_READ`], and at most twice `last`. A read of part of a day is scaled to the
/// whole day (a short window overstates a day's row groups: it touches at least one per file).
/// A backfill's first read reaches back from its first bucket to its checkpoint, often over
/// days before the store's first event: empty, it says nothing of the days after (one day
/// next); partly filled, it understates them, and growing at most twofold per read bounds what
/// that costs before the next read corrects it.
fn days_per_read(window: TimeRange, row_groups: u64, last: i64) -> i64 {
    if row_groups == 0 {
        return 1;
    }
    let days = (window.end_ms - window.start_ms) as f64 / DAY_MS as f64;
    let per_day = row_groups as f64 / days.max(f64::MIN_POSITIVE);
    let wanted = (MIN_ROW_GROUPS_PER_READ as f64 / per_day).ceil();
    (wanted.clamp(1.0, MAX_DAYS_PER_READ as f64) as i64).min(2 * last.max(1))
}

/// One unit as up to [`PIECES_PER_FILE`] units of consecutive row groups.
fn split(unit: &ScanUnit) -> Vec<ScanUnit> {
    let size = unit.row_groups.len().div_ceil(PIECES_PER_FILE).max(1);
    unit.row_groups
        .chunks(size)
        .map(|groups| unit.with_row_groups(groups.to_vec()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EcsEvent;
    use crate::store::write::{WriteOptions, write_partitioned};

    /// A connection at `minute` after midnight of `day`, on a Linux host.
    fn connection(day: i64, minute: i64, port: i64, process: &str, host: &str) -> EcsEvent {
        EcsEvent {
            timestamp_ms: day * DAY_MS + minute * 60_000,
            event_category: vec!["network".into()],
            event_type: vec!["start".into()],
            host_name: Some(host.into()),
            host_os_type: Some("linux".into()),
            process_name: Some(process.into()),
            user_name: Some("root".into()),
            destination_ip: Some("203.0.113.7".into()),
            destination_port: Some(port),
            ..EcsEvent::default()
        }
    }

    #[test]
    fn the_feed_reads_a_store_into_each_jobs_buckets_without_a_model() {
        let day = 20_000;
        let dir = tempfile::tempdir().unwrap();
        let mut jenkins = connection(day, 4, 80, "curl", "web-1");
        jenkins.user_name = Some("jenkins".into());
        let events = [
            connection(day, 1, 22, "sshd", "web-1"),
            connection(day, 2, 22, "sshd", "web-2"),
            connection(day, 3, 4444, "nc", "web-1"),
            jenkins,
            connection(day, 61, 22, "sshd", "web-1"),
        ];
        write_partitioned(dir.path(), &events, &WriteOptions::default()).unwrap();
        let source = Source::Store(EventStore::open(dir.path().to_str().unwrap()).unwrap());
        let shipped = crate::jobs::embedded().unwrap();
        let jobs: Vec<FeedJob> = shipped
            .iter()
            .map(|job| FeedJob {
                job,
                from_ms: EpochMs(day * DAY_MS),
            })
            .collect();
        let limit = EpochMs(day * DAY_MS + 2 * 3_600_000);
        let mut feed = Feed::new(&source, &jobs, limit);
        let mut read = JobBuckets::new();
        while let Some(buckets) = feed.read_until(&jobs, limit).unwrap() {
            for (job, folded) in buckets {
                read.entry(job).or_default().extend(folded);
            }
        }
        assert_eq!(feed.loaded_to, limit);
        assert_eq!(feed.stats.rows_in_window, 5);
        // Each job's buckets by its by-field: the 15-minute buckets that held events, without
        // the datafeed's excluded user.
        let by_values = |job: &str| -> Vec<(i64, u64, Vec<String>)> {
            read[job]
                .values()
                .map(|b| {
                    let values = b.values.keys().map(|k| k.by.clone()).collect();
                    (b.start_ms.ms() - day * DAY_MS, b.event_count, values)
                })
                .collect()
        };
        assert_eq!(
            by_values("v3_linux_anomalous_network_port_activity"),
            [
                (0, 3, vec!["22".to_string(), "4444".to_string()]),
                (3_600_000, 1, vec!["22".to_string()]),
            ]
        );
        assert_eq!(
            by_values("v3_linux_anomalous_network_activity"),
            [
                (0, 3, vec!["nc".to_string(), "sshd".to_string()]),
                (3_600_000, 1, vec!["sshd".to_string()]),
            ]
        );
        let port = &read["v3_linux_anomalous_network_port_activity"][&EpochMs(day * DAY_MS)];
        let ssh = port.values.values().next().unwrap();
        assert_eq!(ssh.event_count, 2);
        assert_eq!(ssh.hosts.len(), 2);
    }

    fn days(start_day: i64, end_day: i64) -> TimeRange {
        TimeRange {
            start_ms: start_day * DAY_MS,
            end_ms: end_day * DAY_MS,
        }
    }

    #[test]
    fn a_read_covers_enough_days_for_the_threads_to_share_its_row_groups() {
        // Five row groups a day (the demo fleet's): three days make twelve or more, reached
        // after a read of two.
        assert_eq!(days_per_read(days(0, 1), 5, 1), 2);
        assert_eq!(days_per_read(days(0, 2), 10, 2), 3);
        assert_eq!(days_per_read(days(0, 3), 15, 3), 3);
        // A big fleet's day is enough alone.
        assert_eq!(days_per_read(days(0, 1), 60, 1), 1);
        assert_eq!(days_per_read(days(0, 3), 180, 3), 1);
        // A sparse store reads at most a week at a time.
        assert_eq!(days_per_read(days(0, 4), 1, 4), MAX_DAYS_PER_READ);
        // Two empty weeks before a store's first day: one day next, not a week of it.
        assert_eq!(days_per_read(days(0, 14), 0, 1), 1);
        // Two weeks holding only a big fleet's last half day: two days next, then corrected.
        assert_eq!(days_per_read(days(0, 14), 23, 1), 2);
        // A read of part of a day is scaled to the whole day: an hour touching two row groups
        // is not a sparse day.
        let hour = TimeRange {
            start_ms: DAY_MS - 3_600_000,
            end_ms: DAY_MS,
        };
        assert_eq!(days_per_read(hour, 2, 1), 1);
        let half = TimeRange {
            start_ms: DAY_MS / 2,
            end_ms: DAY_MS,
        };
        assert_eq!(days_per_read(half, 2, 1), 2);
    }
}
