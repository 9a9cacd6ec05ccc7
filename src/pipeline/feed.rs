//! Reading the store a chunk of time at a time and folding it into every job's buckets at once:
//! one scan serves all jobs, and units (files × row groups) are read and folded in parallel. With
//! the Spark source, a Spark cluster folds each job's chunk and sends back the summaries.

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::bucket::{BucketSummary, FoldFields, fold_frame};
use crate::jobs::Job;
use crate::spark;
use crate::store::{EventStore, FieldRequest, ScanStats, ScanUnit, TimeRange};

use super::job::JobRun;

/// Where bucket summaries come from.
pub enum Source {
    /// netrare reads the Parquet store and folds it.
    Store(EventStore),
    /// A Spark cluster folds the events, one query per job and chunk.
    Spark(spark::Session),
}

/// How much time one read covers: big enough to amortise file footers, small enough that a
/// month-long backfill never holds more than a day of bucket summaries. Reads end on UTC
/// midnight, so a day-partitioned file is decoded once.
pub const CHUNK_MS: i64 = 24 * 3600 * 1000;
/// A file's row groups are read in at most this many pieces, so one big file still keeps every
/// core busy.
const PIECES_PER_FILE: usize = 8;

/// Reads the source ahead of the models: each job's folded buckets go to its own
/// [`PendingBuckets`].
pub struct Feed<'a> {
    source: &'a Source,
    /// The fields any job reads.
    fields: Vec<FieldRequest>,
    /// Everything before this time has been read, epoch ms.
    pub loaded_to: i64,
    /// Never read at or beyond this time: the last execution's complete buckets end here.
    pub limit: i64,
    /// What all reads so far found.
    pub stats: ScanStats,
}

/// A job's folded buckets that its model has not taken yet, by start time.
#[derive(Debug, Default)]
pub struct PendingBuckets(BTreeMap<i64, BucketSummary>);

impl PendingBuckets {
    /// Takes the summary of the bucket starting at `start` (empty when it had no events).
    pub fn take(&mut self, start: i64) -> BucketSummary {
        self.0
            .remove(&start)
            .unwrap_or_else(|| BucketSummary::empty(start))
    }

    /// Drops the buckets before `start`, which the model has passed.
    pub fn drop_before(&mut self, start: i64) {
        self.0.retain(|&bucket, _| bucket >= start);
    }

    /// Adds a read's buckets, merging those already pending.
    fn merge(&mut self, folded: BTreeMap<i64, BucketSummary>) {
        merge(&mut self.0, folded);
    }
}

impl<'a> Feed<'a> {
    /// A feed for the jobs of `runs`, each needing the buckets from its checkpoint on, that
    /// never reads past `limit`.
    pub fn new(source: &'a Source, runs: &[JobRun], limit: i64) -> Feed<'a> {
        let from = runs
            .iter()
            .map(|r| r.runner.checkpoint_ms)
            .min()
            .unwrap_or(limit);
        let mut fields: Vec<FieldRequest> = Vec::new();
        for job in runs.iter().map(|r| r.job) {
            for name in job.fields() {
                let required = name == job.file.job.by_field_name;
                match fields.iter_mut().find(|f| f.name == name) {
                    Some(f) => f.required |= required,
                    None => fields.push(FieldRequest { name, required }),
                }
            }
        }
        Feed {
            source,
            fields,
            loaded_to: from,
            limit,
            stats: ScanStats::default(),
        }
    }

    /// Reads until everything before `until` (capped at the limit) is folded into the pending
    /// buckets of every job of `runs`.
    pub fn ensure(&mut self, runs: &mut [JobRun], until: i64) -> Result<(), super::Error> {
        let until = until.min(self.limit);
        while self.loaded_to < until {
            let next_midnight = (self.loaded_to.div_euclid(CHUNK_MS) + 1) * CHUNK_MS;
            let end = next_midnight.max(until).min(self.limit);
            let window = TimeRange {
                start_ms: self.loaded_to,
                end_ms: end,
            };
            let source = self.source;
            match source {
                Source::Store(store) => self.read(store, window, runs)?,
                Source::Spark(session) => self.query(session, window, runs)?,
            }
            self.loaded_to = end;
        }
        Ok(())
    }

    /// What `run`'s job still needs folded: the buckets from its checkpoint (its model is past
    /// everything before) up to the limit.
    fn fold_fields(&self, run: &JobRun) -> FoldFields {
        run.job.fold_fields(run.runner.checkpoint_ms, self.limit)
    }

    /// Asks the Spark cluster for each job's summaries of `window`.
    fn query(
        &mut self,
        session: &spark::Session,
        window: TimeRange,
        runs: &mut [JobRun],
    ) -> Result<(), spark::Error> {
        for run in runs {
            let job = run.job;
            let mut fold = self.fold_fields(run);
            fold.from_ms = fold.from_ms.max(window.start_ms);
            fold.to_ms = fold.to_ms.min(window.end_ms);
            if fold.from_ms >= fold.to_ms {
                continue;
            }
            let started = std::time::Instant::now();
            let bytes_before = session.bytes_received();
            let summaries = session.fold(&job.file.datafeed.query, &fold)?;
            tracing::info!(
                job = job.id(),
                from_ms = fold.from_ms,
                to_ms = fold.to_ms,
                rows = summaries.values().map(|b| b.values.len()).sum::<usize>(),
                bytes = session.bytes_received() - bytes_before,
                seconds = started.elapsed().as_secs_f64(),
                "spark summaries"
            );
            run.pending.merge(summaries);
        }
        Ok(())
    }

    /// Reads and folds `window` from the store, each piece in parallel for every job at once.
    fn read(
        &mut self,
        store: &EventStore,
        window: TimeRange,
        runs: &mut [JobRun],
    ) -> Result<(), crate::store::Error> {
        let (units, plan_stats) = store.plan(window)?;
        self.stats += plan_stats;
        let pieces: Vec<ScanUnit> = units.iter().flat_map(split).collect();
        // Each piece folds into one map per job, in the order of `runs`.
        let jobs: Vec<&Job> = runs.iter().map(|r| r.job).collect();
        let fold: Vec<FoldFields> = runs.iter().map(|r| self.fold_fields(r)).collect();
        let same_query = first_with_same_query(&jobs);
        let fields = &self.fields;
        let empty = || (vec![BTreeMap::new(); jobs.len()], ScanStats::default());
        let (folded, stats) = pieces
            .par_iter()
            .map(|unit| {
                let frame = unit.read(fields)?;
                let mut selections: Vec<Option<Vec<u32>>> = vec![None; jobs.len()];
                let per_job = (0..jobs.len())
                    .map(|i| {
                        let shared = same_query[i];
                        let rows = selections[shared]
                            .get_or_insert_with(|| jobs[shared].datafeed.select(&frame));
                        fold_frame(&frame, rows, &fold[i])
                    })
                    .collect();
                Ok((per_job, frame.stats))
            })
            .try_reduce(empty, |(mut a, mut sa), (b, sb)| {
                for (mine, theirs) in a.iter_mut().zip(b) {
                    merge(mine, theirs);
                }
                sa += sb;
                Ok((a, sa))
            })?;
        self.stats += stats;
        for (run, buckets) in runs.iter_mut().zip(folded) {
            run.pending.merge(buckets);
        }
        Ok(())
    }
}

/// For each job, the first job with the same datafeed query: its selection is shared.
fn first_with_same_query(jobs: &[&Job]) -> Vec<usize> {
    jobs.iter()
        .map(|job| {
            jobs.iter()
                .position(|j| j.file.datafeed.query == job.file.datafeed.query)
                .unwrap_or(0)
        })
        .collect()
}

/// One unit as up to [`PIECES_PER_FILE`] units of consecutive row groups.
fn split(unit: &ScanUnit) -> Vec<ScanUnit> {
    let size = unit.row_groups.len().div_ceil(PIECES_PER_FILE).max(1);
    unit.row_groups
        .chunks(size)
        .map(|groups| ScanUnit {
            path: unit.path.clone(),
            row_groups: groups.to_vec(),
            window: unit.window,
        })
        .collect()
}

/// Adds the buckets of `from` to `into`, merging those both have.
fn merge(into: &mut BTreeMap<i64, BucketSummary>, from: BTreeMap<i64, BucketSummary>) {
    for (start, summary) in from {
        match into.get_mut(&start) {
            Some(existing) => existing.merge(summary),
            None => {
                into.insert(start, summary);
            }
        }
    }
}
