//! Folding the selected rows of one frame into bucket summaries. Rows borrow their strings from
//! the frame while folding; only the distinct values of each bucket are copied out.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::config::BucketSpan;
use super::summary::{BucketSummary, SeriesKey, ValueSummary};
use crate::store::{Column, EventFrame, ValueRef};

/// What a job folds: its by-field, partition field and influencers, and the window of buckets
/// it still needs.
#[derive(Debug, Clone)]
pub struct FoldFields {
    pub span: BucketSpan,
    pub by_field: String,
    pub partition_field: Option<String>,
    pub influencers: Vec<String>,
    /// Events before this time (epoch ms) are ignored: their buckets are already modelled.
    pub from_ms: i64,
    /// Events at or after this time are ignored: their buckets are not complete.
    pub to_ms: i64,
}

#[derive(Default)]
struct Partial<'a> {
    event_count: u64,
    hosts: HashSet<&'a str>,
    influencers: Vec<HashSet<ValueRef<'a>>>,
}

/// Folds the `rows` of `frame` (as selected by the datafeed) into one summary per bucket.
/// Rows without a by-field value are skipped, as Elastic skips documents missing the by field.
pub fn fold_frame(frame: &EventFrame, rows: &[u32], fields: &FoldFields) -> BTreeMap<i64, BucketSummary> {
    let Some(by) = frame.columns.get(&fields.by_field) else { return BTreeMap::new() };
    let partition = fields.partition_field.as_ref().and_then(|f| frame.columns.get(f));
    let hosts = frame.columns.get("host.name");
    let influencers: Vec<Option<&Column>> = fields.influencers.iter().map(|f| frame.columns.get(f)).collect();

    let mut buckets: HashMap<i64, (u64, HashMap<(Option<ValueRef>, ValueRef), Partial>)> = HashMap::new();
    for &row in rows {
        let row = row as usize;
        let t = frame.timestamps[row];
        if t < fields.from_ms || t >= fields.to_ms {
            continue;
        }
        let Some(by_value) = by.first(row) else { continue };
        let partition_value = partition.and_then(|c| c.first(row));
        if partition.is_some() && partition_value.is_none() {
            continue;
        }
        let (count, values) = buckets.entry(fields.span.bucket_start(t)).or_default();
        *count += 1;
        let partial = values.entry((partition_value, by_value)).or_insert_with(|| Partial {
            influencers: vec![HashSet::new(); influencers.len()],
            ..Partial::default()
        });
        partial.event_count += 1;
        if let Some(ValueRef::Str(host)) = hosts.and_then(|c| c.first(row)) {
            partial.hosts.insert(host);
        }
        for (set, column) in partial.influencers.iter_mut().zip(&influencers) {
            if let Some(column) = column {
                set.extend(column.values(row));
            }
        }
    }
    buckets.into_iter().map(|(start, (count, values))| (start, summarize(start, count, values, &fields.influencers))).collect()
}

fn summarize(start_ms: i64, event_count: u64, values: HashMap<(Option<ValueRef>, ValueRef), Partial>, names: &[String]) -> BucketSummary {
    let mut summary = BucketSummary { start_ms, values: BTreeMap::new(), event_count };
    for ((partition, by), partial) in values {
        let mut value = ValueSummary {
            event_count: partial.event_count,
            hosts: partial.hosts.into_iter().map(str::to_string).collect(),
            ..ValueSummary::default()
        };
        for (name, set) in names.iter().zip(partial.influencers) {
            let mut sorted: Vec<String> = set.into_iter().map(|v| v.to_string()).collect();
            sorted.sort_unstable();
            for v in sorted {
                value.add_influencer(name, &v);
            }
        }
        summary.values.insert(SeriesKey { partition: partition.map(|p| p.to_string()), by: by.to_string() }, value);
    }
    summary
}
