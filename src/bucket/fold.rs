//! Folding the selected rows of one frame into bucket summaries. Rows borrow their strings from
//! the frame while folding; only the distinct values of each bucket are copied out.

use std::collections::BTreeMap;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

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

/// A by-value's partial summary while folding, keyed by (partition, by-value).
type Partials<'a> = HashMap<(Option<ValueRef<'a>>, ValueRef<'a>), Partial<'a>>;

#[derive(Default)]
struct Partial<'a> {
    event_count: u64,
    hosts: HashSet<&'a str>,
    influencers: Vec<HashSet<ValueRef<'a>>>,
}

/// Folds the `rows` of `frame` (as selected by the datafeed) into one summary per bucket.
/// Rows without a by-field value are skipped, as Elastic skips documents missing the by field.
pub fn fold_frame(
    frame: &EventFrame,
    rows: &[u32],
    fields: &FoldFields,
) -> BTreeMap<i64, BucketSummary> {
    let Some(by) = frame.columns.get(&fields.by_field) else {
        return BTreeMap::new();
    };
    let partition = fields
        .partition_field
        .as_ref()
        .and_then(|f| frame.columns.get(f));
    let hosts = frame.columns.get("host.name");
    let influencers: Vec<Option<&Column>> = fields
        .influencers
        .iter()
        .map(|f| frame.columns.get(f))
        .collect();

    let mut buckets: HashMap<i64, (u64, Partials)> = HashMap::default();
    for &row in rows {
        let row = row as usize;
        let t = frame.timestamps[row];
        if t < fields.from_ms || t >= fields.to_ms {
            continue;
        }
        let Some(by_value) = by.first(row) else {
            continue;
        };
        let partition_value = partition.and_then(|c| c.first(row));
        if partition.is_some() && partition_value.is_none() {
            continue;
        }
        let (count, values) = buckets.entry(fields.span.bucket_start(t)).or_default();
        *count += 1;
        let partial = values
            .entry((partition_value, by_value))
            .or_insert_with(|| Partial {
                influencers: vec![HashSet::default(); influencers.len()],
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
    buckets
        .into_iter()
        .map(|(start, (count, values))| {
            (start, summarize(start, count, values, &fields.influencers))
        })
        .collect()
}

fn summarize(start_ms: i64, event_count: u64, values: Partials, names: &[String]) -> BucketSummary {
    let mut summary = BucketSummary {
        start_ms,
        values: BTreeMap::new(),
        event_count,
    };
    for ((partition, by), partial) in values {
        let mut value = ValueSummary {
            event_count: partial.event_count,
            hosts: partial.hosts.into_iter().map(str::to_string).collect(),
            ..ValueSummary::default()
        };
        for (name, set) in names.iter().zip(partial.influencers) {
            if !set.is_empty() {
                value.set_influencers(name, set.into_iter().map(|v| v.to_string()).collect());
            }
        }
        summary.values.insert(
            SeriesKey {
                partition: partition.map(|p| p.to_string()),
                by: by.to_string(),
            },
            value,
        );
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ScanStats;
    use arrow::array::{Int64Array, StringArray};
    use std::time::Duration;

    fn frame(rows: &[(i64, i64, &str, &str)]) -> EventFrame {
        let mut columns = std::collections::HashMap::new();
        columns.insert(
            "destination.port".into(),
            Column::Integer(rows.iter().map(|r| Some(r.1)).collect::<Int64Array>()),
        );
        columns.insert(
            "host.name".into(),
            Column::Keyword(rows.iter().map(|r| Some(r.2)).collect::<StringArray>()),
        );
        columns.insert(
            "process.name".into(),
            Column::Keyword(rows.iter().map(|r| Some(r.3)).collect::<StringArray>()),
        );
        EventFrame {
            path: "t".into(),
            timestamps: rows.iter().map(|r| r.0).collect(),
            columns,
            stats: ScanStats::default(),
        }
    }

    fn fields() -> FoldFields {
        FoldFields {
            span: BucketSpan(Duration::from_secs(900)),
            by_field: "destination.port".into(),
            partition_field: None,
            influencers: vec!["host.name".into(), "process.name".into()],
            from_ms: 0,
            to_ms: i64::MAX,
        }
    }

    #[test]
    fn folds_presence_counts_hosts_and_influencers_per_epoch_aligned_bucket() {
        let rows = [
            (0, 22, "a", "ssh"),
            (899_999, 22, "b", "ssh"),
            (900_000, 22, "a", "ssh"),
            (10, 4444, "a", "nc"),
        ];
        let all: Vec<u32> = (0..rows.len() as u32).collect();
        let buckets = fold_frame(&frame(&rows), &all, &fields());
        assert_eq!(buckets.keys().copied().collect::<Vec<_>>(), [0, 900_000]);
        let first = &buckets[&0];
        let ssh = &first.values[&SeriesKey {
            partition: None,
            by: "22".into(),
        }];
        assert_eq!((ssh.event_count, ssh.hosts.len()), (2, 2));
        assert_eq!(
            first.values[&SeriesKey {
                partition: None,
                by: "4444".into()
            }]
                .influencers["process.name"]
                .iter()
                .collect::<Vec<_>>(),
            ["nc"]
        );
        assert_eq!(first.event_count, 3);
    }

    #[test]
    fn merging_parts_equals_folding_the_whole_in_any_split() {
        let rows: Vec<(i64, i64, String, String)> = (0..300)
            .map(|i| {
                (
                    i * 7_919 % 3_600_000,
                    i % 5,
                    format!("h{}", i % 13),
                    format!("p{}", i % 3),
                )
            })
            .collect();
        let borrowed: Vec<(i64, i64, &str, &str)> = rows
            .iter()
            .map(|r| (r.0, r.1, r.2.as_str(), r.3.as_str()))
            .collect();
        let whole_frame = frame(&borrowed);
        let all: Vec<u32> = (0..rows.len() as u32).collect();
        let whole = fold_frame(&whole_frame, &all, &fields());
        for split in [1, 77, 150, 299] {
            let (a, b) = all.split_at(split);
            let mut left = fold_frame(&whole_frame, a, &fields());
            for (start, summary) in fold_frame(&whole_frame, b, &fields()) {
                left.entry(start)
                    .or_insert_with(|| BucketSummary::empty(start))
                    .merge(summary);
            }
            assert_eq!(left, whole, "split at {split}");
        }
    }

    #[test]
    fn influencer_values_are_capped_deterministically() {
        let hosts: Vec<String> = (0..150).map(|i| format!("host-{i:03}")).collect();
        let rows: Vec<(i64, i64, &str, &str)> =
            hosts.iter().map(|h| (0, 22, h.as_str(), "ssh")).collect();
        let all: Vec<u32> = (0..rows.len() as u32).rev().collect();
        let buckets = fold_frame(&frame(&rows), &all, &fields());
        let value = &buckets[&0].values[&SeriesKey {
            partition: None,
            by: "22".into(),
        }];
        assert!(value.influencers_capped);
        assert_eq!(
            value.influencers["host.name"].len(),
            super::super::MAX_INFLUENCER_VALUES
        );
        assert_eq!(
            value.influencers["host.name"].first().map(String::as_str),
            Some("host-000")
        );
        assert_eq!(value.hosts.len(), 150, "host_count is never capped");
    }
}
