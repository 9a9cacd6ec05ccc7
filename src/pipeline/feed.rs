//! Reading the store a chunk of time at a time and folding it into every job's buckets at once:
//! one scan serves all jobs, and units (files × row groups) are read and folded in parallel. With
//! the Spark source, a Spark cluster folds each job's chunk and sends back the summaries.

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::bucket::{BucketSummary, FoldFields, fold_frame};
use crate::jobs::Job;
use crate::spark;
use crate::store::{EventStore, FieldRequest, ScanStats, ScanUnit, TimeRange};

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

/// Per-job bucket summaries, read ahead of the model.
pub struct Feed<'a> {
    source: &'a Source,
    fields: Vec<FieldRequest>,
    fold: Vec<FoldFields>,
    jobs: Vec<&'a Job>,
    /// For each job, the first job with the same datafeed query: its selection is shared.
    same_query: Vec<usize>,
    /// Everything before this time has been read, epoch ms.
    pub loaded_to: i64,
    /// Never read at or beyond this time: the last execution's complete buckets end here.
    pub limit: i64,
    /// Folded buckets not yet taken by the model, per job.
    pub buckets: Vec<BTreeMap<i64, BucketSummary>>,
    /// What all reads so far found.
    pub stats: ScanStats,
}

impl<'a> Feed<'a> {
    /// A feed for `jobs`, each needing the buckets from its checkpoint on, that never reads past
    /// `limit`.
    pub fn new(
        source: &'a Source,
        jobs: Vec<&'a Job>,
        checkpoints: &[i64],
        limit: i64,
    ) -> Feed<'a> {
        let from = checkpoints.iter().copied().min().unwrap_or(limit);
        let mut fields: Vec<FieldRequest> = Vec::new();
        for job in &jobs {
            for name in job.fields() {
                let required = name == job.file.job.by_field_name;
                match fields.iter_mut().find(|f| f.name == name) {
                    Some(f) => f.required |= required,
                    None => fields.push(FieldRequest { name, required }),
                }
            }
        }
        let fold = jobs
            .iter()
            .zip(checkpoints)
            .map(|(job, &checkpoint)| job.fold_fields(checkpoint, limit))
            .collect();
        let same_query = jobs
            .iter()
            .map(|job| {
                jobs.iter()
                    .position(|j| j.file.datafeed.query == job.file.datafeed.query)
                    .unwrap_or(0)
            })
            .collect();
        Feed {
            source,
            fields,
            fold,
            buckets: vec![BTreeMap::new(); jobs.len()],
            jobs,
            same_query,
            loaded_to: from,
            limit,
            stats: ScanStats::default(),
        }
    }

    /// Reads until everything before `until` (capped at the limit) is folded.
    pub fn ensure(&mut self, until: i64) -> Result<(), super::Error> {
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
                Source::Store(store) => self.read(store, window)?,
                Source::Spark(session) => self.query(session, window)?,
            }
            self.loaded_to = end;
        }
        Ok(())
    }

    /// Asks the Spark cluster for each job's summaries of `window`.
    fn query(&mut self, session: &spark::Session, window: TimeRange) -> Result<(), spark::Error> {
        for ((job, fold), buckets) in self.jobs.iter().zip(&self.fold).zip(&mut self.buckets) {
            let mut fold = fold.clone();
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
            merge_into(std::slice::from_mut(buckets), vec![summaries]);
        }
        Ok(())
    }

    fn read(&mut self, store: &EventStore, window: TimeRange) -> Result<(), crate::store::Error> {
        let (units, plan_stats) = store.plan(window)?;
        self.stats += plan_stats;
        let pieces: Vec<ScanUnit> = units.iter().flat_map(split).collect();
        let (fields, fold, jobs, same_query) =
            (&self.fields, &self.fold, &self.jobs, &self.same_query);
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
                merge_into(&mut a, b);
                sa += sb;
                Ok((a, sa))
            })?;
        self.stats += stats;
        merge_into(&mut self.buckets, folded);
        Ok(())
    }

    /// Takes job `job`'s summary of the bucket starting at `start` (empty when it had no events).
    pub fn take(buckets: &mut BTreeMap<i64, BucketSummary>, start: i64) -> BucketSummary {
        buckets
            .remove(&start)
            .unwrap_or_else(|| BucketSummary::empty(start))
    }
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

fn merge_into(into: &mut [BTreeMap<i64, BucketSummary>], from: Vec<BTreeMap<i64, BucketSummary>>) {
    for (mine, theirs) in into.iter_mut().zip(from) {
        for (start, summary) in theirs {
            match mine.get_mut(&start) {
                Some(existing) => existing.merge(summary),
                None => {
                    mine.insert(start, summary);
                }
            }
        }
    }
}
