//! Folding the selected rows of one frame into a job's [`PartialFold`]. Rows are folded as
//! integer codes; only the distinct values of the frame are copied out.

use arrow::array::{Array, Int64Array};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::config::BucketSpan;
use super::partial::{PartialFold, Tally};
use crate::store::{Column, EventFrame, KeywordLists, Keywords, TimeRange, ValueRef};
use crate::time::EpochMs;

/// What a job folds: its bucket span, by-field, partition field and influencers. A job holds
/// it from its load; each fold gives the window of buckets it still needs beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldFields {
    pub span: BucketSpan,
    pub by_field: String,
    pub partition_field: Option<String>,
    pub influencers: Vec<String>,
}

/// Folds the `rows` of `frame` (as selected by the datafeed) into a [`PartialFold`] of the job.
/// Rows without a by-field value are skipped, as Elastic skips documents missing the by field;
/// so are rows outside `window` (their buckets are modelled already, or not complete).
///
/// Values are folded as per-frame codes (see [`Coded`]): a row costs a few integer hash
/// lookups, and each distinct value is copied out once per frame.
pub fn fold_frame(
    frame: &EventFrame,
    rows: &[u32],
    fields: &FoldFields,
    window: TimeRange,
    into: &mut PartialFold,
) {
    let Some(by) = frame.columns.get(&fields.by_field).map(Coded::new) else {
        return;
    };
    let partition = fields
        .partition_field
        .as_ref()
        .map(|f| frame.columns.get(f).map(Coded::new));
    let hosts = match frame.columns.get(HOST) {
        Some(Column::Keyword(hosts)) => Some(hosts),
        _ => None,
    };
    let influencers: Vec<Option<Coded>> = fields
        .influencers
        .iter()
        .map(|f| frame.columns.get(f).map(Coded::new))
        .collect();
    let sources: Vec<Source> = fields
        .influencers
        .iter()
        .map(|f| match (f.as_str(), &by) {
            (HOST, _) if hosts.is_some() => Source::Hosts,
            (f, Coded::Keyword(_) | Coded::Integer(_)) if *f == fields.by_field => Source::By,
            _ => Source::Rows,
        })
        .collect();

    let mut groups = Groups::new(
        hosts.map(|h| h.values().len()),
        influencers
            .iter()
            .map(|c| c.as_ref().and_then(Coded::width)),
    );
    // First each kept row's group, then each field's pairs in one tight pass over those rows.
    let mut grouped: Vec<(u32, u32)> = Vec::with_capacity(rows.len());
    for &row in rows {
        let t = frame.timestamps[row as usize];
        if !window.contains(t) {
            continue;
        }
        let Some(by_code) = by.first(row as usize) else {
            continue;
        };
        let partition_code = match &partition {
            None => None,
            Some(column) => match column.as_ref().and_then(|c| c.first(row as usize)) {
                Some(code) => Some(code),
                None => continue,
            },
        };
        let group = groups.event(
            fields.span.bucket_start(EpochMs(t)),
            partition_code,
            by_code,
            EpochMs(t),
        );
        grouped.push((row, group));
    }
    if let Some(hosts) = hosts {
        groups.hosts.insert_codes(&grouped, hosts.codes());
    }
    let per_row = groups
        .influencers
        .iter_mut()
        .zip(&influencers)
        .zip(&sources);
    for ((set, column), source) in per_row {
        match (column, source) {
            (Some(Coded::Keyword(keywords)), Source::Rows) => {
                set.insert_codes(&grouped, keywords.codes())
            }
            (Some(column), Source::Rows) => {
                for &(row, group) in &grouped {
                    column.each(row as usize, |code| set.insert(group, code));
                }
            }
            _ => {}
        }
    }
    groups.derive_influencers(&sources);
    groups.add_to(into, &by, partition.as_ref(), hosts, &influencers);
}

/// Where an influencer field's values per group come from. The shipped jobs list `host.name`,
/// and the process job its by-field, as influencers: those sets are the group's hosts and the
/// group's own by-value, so they are filled once per group instead of once per event.
enum Source {
    /// From each event's values.
    Rows,
    /// The group's hosts (the field is `host.name`).
    Hosts,
    /// The group's by-value (the field is the single-valued by-field).
    By,
}

/// The host field: its distinct values are counted per by-value, never capped.
const HOST: &str = "host.name";

/// Bucket start, partition code and by-value code.
type GroupKey = (EpochMs, Option<u64>, u64);

/// The (bucket, partition, by-value) groups of one frame and what each has seen, in the frame's
/// own codes: an event costs integer lookups only. [`PartialFold`] has the same shape in codes
/// shared across frames; [`Groups::add_to`] translates each distinct frame code into those once.
struct Groups {
    index: HashMap<GroupKey, u32>,
    /// Per group: its key and events.
    keys: Vec<(GroupKey, Tally)>,
    /// (group, host code) pairs seen.
    hosts: PairSet,
    /// Per influencer field, (group, value code) pairs seen.
    influencers: Vec<PairSet>,
}

impl Groups {
    /// Empty groups for a frame whose host column and influencer columns have codes below these
    /// widths (`None`: not dense).
    fn new(
        host_width: Option<usize>,
        influencer_widths: impl Iterator<Item = Option<usize>>,
    ) -> Groups {
        Groups {
            index: HashMap::default(),
            keys: Vec::new(),
            hosts: PairSet::new(host_width),
            influencers: influencer_widths.map(PairSet::new).collect(),
        }
    }

    /// Fills the influencer fields whose values are the group's hosts or by-value.
    fn derive_influencers(&mut self, sources: &[Source]) {
        for (set, source) in self.influencers.iter_mut().zip(sources) {
            match source {
                Source::Rows => {}
                Source::Hosts => self.hosts.for_each(|group, host| set.insert(group, host)),
                Source::By => {
                    for (group, ((_, _, by), _)) in (0u32..).zip(&self.keys) {
                        set.insert(group, *by);
                    }
                }
            }
        }
    }

    /// Counts one event at `t` of the group `(bucket, partition, by)` and returns the group.
    fn event(&mut self, bucket: EpochMs, partition: Option<u64>, by: u64, t: EpochMs) -> u32 {
        let key = (bucket, partition, by);
        let group = *self.index.entry(key).or_insert_with(|| {
            self.keys.push((key, Tally::none()));
            self.keys.len() as u32 - 1
        });
        self.keys[group as usize].1.event(t);
        group
    }

    /// Adds the groups to `fold`, each frame code translated to the fold's once.
    fn add_to(
        self,
        fold: &mut PartialFold,
        by: &Coded,
        partition: Option<&Option<Coded>>,
        hosts: Option<&Keywords>,
        influencers: &[Option<Coded>],
    ) {
        let mut by_codes: HashMap<u64, u32> = HashMap::default();
        let mut partition_codes: HashMap<u64, u32> = HashMap::default();
        let groups: Vec<u32> = self
            .keys
            .into_iter()
            .map(|((bucket, partition_code, by_code), events)| {
                let by_value = *by_codes
                    .entry(by_code)
                    .or_insert_with(|| fold.by_code(by.value(by_code)));
                let partition_value = partition_code.and_then(|code| {
                    let column = partition?.as_ref()?;
                    Some(
                        *partition_codes
                            .entry(code)
                            .or_insert_with(|| fold.partition_code(column.value(code))),
                    )
                });
                fold.add(bucket, partition_value, by_value, events)
            })
            .collect();
        if let Some(hosts) = hosts {
            let mut host_codes = vec![None; hosts.values().len()];
            self.hosts.for_each(|group, host| {
                let Some(slot) = host_codes.get_mut(host as usize) else {
                    return;
                };
                let code =
                    *slot.get_or_insert_with(|| fold.host_code(keyword(hosts.values(), host)));
                fold.saw_host(groups[group as usize], code);
            });
        }
        for (field, (seen, column)) in self.influencers.into_iter().zip(influencers).enumerate() {
            let Some(column) = column else { continue };
            // Dense codes are translated through a vector, integers through a hash map.
            let mut dense = vec![None; column.width().unwrap_or(0)];
            let mut sparse: HashMap<u64, Option<u32>> = HashMap::default();
            seen.for_each(|group, value| {
                let slot = match dense.get_mut(value as usize) {
                    Some(slot) => slot,
                    None => sparse.entry(value).or_insert(None),
                };
                let code =
                    *slot.get_or_insert_with(|| fold.influencer_code(field, column.value(value)));
                fold.saw_influencer(groups[group as usize], field, code);
            });
        }
    }
}

/// The distinct (group, code) pairs of one field in one frame. Keyword codes are dense (below
/// the frame's count of distinct values), so while the groups are few the pairs are a bitmap,
/// a row of bits per group: an event costs a bit set, not a hash lookup. Integer codes, and a
/// bitmap that would pass [`MAX_BITMAP_BITS`], are kept in a hash set.
enum PairSet {
    Bits { width: usize, words: Vec<u64> },
    Hashed(HashSet<(u32, u64)>),
}

/// A bitmap's largest size: 2 MiB per field and frame.
const MAX_BITMAP_BITS: usize = 1 << 24;

impl PairSet {
    /// An empty set of pairs whose codes are below `width` (`None`: not dense).
    fn new(width: Option<usize>) -> PairSet {
        match width {
            Some(width) => PairSet::Bits {
                width,
                words: Vec::new(),
            },
            None => PairSet::Hashed(HashSet::default()),
        }
    }

    /// Adds a pair; a bit set while it fits the bitmap.
    #[inline(always)]
    fn insert(&mut self, group: u32, code: u64) {
        if let PairSet::Bits { width, words } = self
            && code < *width as u64
        {
            // Below 2^32 groups of below 2^32 codes: the product fits in 64 bits.
            let bit = group as u64 * *width as u64 + code;
            if let Some(word) = words.get_mut((bit / 64) as usize) {
                *word |= 1 << (bit % 64);
                return;
            }
        }
        self.insert_slow(group, code);
    }

    /// Adds a pair past the bitmap's words: grows the bitmap while it stays under
    /// [`MAX_BITMAP_BITS`], else moves its pairs to the hash set.
    #[cold]
    #[inline(never)]
    fn insert_slow(&mut self, group: u32, code: u64) {
        if let PairSet::Bits { width, words } = self
            && code < *width as u64
        {
            let bit = group as u64 * *width as u64 + code;
            if bit < MAX_BITMAP_BITS as u64 {
                // Room for the groups to come, so most events find their word.
                let word = (bit / 64) as usize;
                let grown = (word + 1).max(2 * words.len()).min(MAX_BITMAP_BITS / 64);
                words.resize(grown, 0);
                words[word] |= 1 << (bit % 64);
                return;
            }
        }
        if let PairSet::Bits { .. } = self {
            let mut set = HashSet::default();
            self.for_each(|group, code| {
                set.insert((group, code));
            });
            *self = PairSet::Hashed(set);
        }
        if let PairSet::Hashed(set) = self {
            set.insert((group, code));
        }
    }

    /// Adds the pair (group, code of the row) of each (row, group), skipping rows without a
    /// value.
    fn insert_codes(&mut self, grouped: &[(u32, u32)], codes: &[u32]) {
        for &(row, group) in grouped {
            match codes.get(row as usize) {
                Some(&code) if code != Keywords::ABSENT => self.insert(group, u64::from(code)),
                _ => {}
            }
        }
    }

    /// Calls `f` with each pair once.
    fn for_each(&self, mut f: impl FnMut(u32, u64)) {
        match self {
            PairSet::Bits { width, words } => {
                for (index, &word) in words.iter().enumerate() {
                    let mut rest = word;
                    while rest != 0 {
                        let bit = index * 64 + rest.trailing_zeros() as usize;
                        f((bit / width) as u32, (bit % width) as u64);
                        rest &= rest - 1;
                    }
                }
            }
            PairSet::Hashed(set) => set.iter().for_each(|&(group, code)| f(group, code)),
        }
    }
}

/// A column's values as `u64` codes within one frame: keyword codes, integers as their bits,
/// list elements coded on first use. Equal codes are equal values.
enum Coded<'a> {
    Keyword(&'a Keywords),
    Integer(&'a Int64Array),
    List(&'a KeywordLists),
}

impl<'a> Coded<'a> {
    fn new(column: &'a Column) -> Coded<'a> {
        match column {
            Column::Keyword(keywords) => Coded::Keyword(keywords),
            Column::Integer(ints) => Coded::Integer(ints),
            Column::KeywordList(lists) => Coded::List(lists),
        }
    }

    /// The bound of the codes, for columns whose codes are dense: the count of distinct values.
    fn width(&self) -> Option<usize> {
        match self {
            Coded::Keyword(keywords) => Some(keywords.values().len()),
            Coded::List(lists) => Some(lists.values().len()),
            Coded::Integer(_) => None,
        }
    }

    /// The code of the row's first value, if any.
    fn first(&self, row: usize) -> Option<u64> {
        let mut first = None;
        self.each(row, |code| {
            first.get_or_insert(code);
        });
        first
    }

    /// Calls `f` with the code of each value of the row, in order.
    fn each(&self, row: usize, mut f: impl FnMut(u64)) {
        match self {
            Coded::Keyword(keywords) => match keywords.codes().get(row) {
                Some(&code) if code != Keywords::ABSENT => f(u64::from(code)),
                _ => {}
            },
            Coded::Integer(ints) => {
                if ints.is_valid(row) {
                    f(ints.value(row) as u64)
                }
            }
            Coded::List(lists) => {
                for &code in lists.codes(row) {
                    if code != Keywords::ABSENT {
                        f(u64::from(code))
                    }
                }
            }
        }
    }

    /// The value a code stands for.
    fn value(&self, code: u64) -> ValueRef<'_> {
        match self {
            Coded::Keyword(keywords) => ValueRef::Str(keyword(keywords.values(), code)),
            Coded::Integer(_) => ValueRef::Int(code as i64),
            Coded::List(lists) => ValueRef::Str(keyword(lists.values(), code)),
        }
    }
}

fn keyword(values: &[Box<str>], code: u64) -> &str {
    values.get(code as usize).map_or("", |v| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::SeriesKey;
    use crate::store::ScanStats;
    use arrow::array::Int64Array;
    use std::time::Duration;

    fn frame(rows: &[(i64, i64, &str, &str)]) -> EventFrame {
        let mut columns = std::collections::HashMap::new();
        columns.insert(
            "destination.port".into(),
            Column::Integer(rows.iter().map(|r| Some(r.1)).collect::<Int64Array>()),
        );
        columns.insert(
            "host.name".into(),
            Column::Keyword(rows.iter().map(|r| Some(r.2)).collect()),
        );
        columns.insert(
            "process.name".into(),
            Column::Keyword(rows.iter().map(|r| Some(r.3)).collect()),
        );
        EventFrame {
            path: "t".into(),
            timestamps: rows.iter().map(|r| r.0).collect(),
            columns,
            stats: ScanStats::default(),
        }
    }

    fn fold(frame: &EventFrame, rows: &[u32]) -> PartialFold {
        let mut fold = PartialFold::new(&fields().influencers);
        fold_frame(frame, rows, &fields(), ALL_TIME, &mut fold);
        fold
    }

    fn fields() -> FoldFields {
        FoldFields {
            span: BucketSpan(Duration::from_secs(900)),
            by_field: "destination.port".into(),
            partition_field: None,
            influencers: vec!["host.name".into(), "process.name".into()],
        }
    }

    const ALL_TIME: TimeRange = TimeRange {
        start_ms: 0,
        end_ms: i64::MAX,
    };

    #[test]
    fn folds_presence_counts_hosts_and_influencers_per_epoch_aligned_bucket() {
        let rows = [
            (0, 22, "a", "ssh"),
            (899_999, 22, "b", "ssh"),
            (900_000, 22, "a", "ssh"),
            (10, 4444, "a", "nc"),
        ];
        let all: Vec<u32> = (0..rows.len() as u32).collect();
        let buckets = fold(&frame(&rows), &all).summaries();
        assert_eq!(
            buckets.keys().copied().collect::<Vec<_>>(),
            [EpochMs(0), EpochMs(900_000)]
        );
        let first = &buckets[&EpochMs(0)];
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
                .map(|v| &**v)
                .collect::<Vec<_>>(),
            ["nc"]
        );
        assert_eq!(first.event_count, 3);
    }

    #[test]
    fn a_values_first_event_is_its_earliest_whatever_the_order_of_rows_and_parts() {
        let rows = [
            (899_999, 22, "b", "ssh"),
            (12, 22, "a", "ssh"),
            (400, 4444, "a", "nc"),
            (30, 22, "c", "ssh"),
        ];
        let key = |by: &str| SeriesKey {
            partition: None,
            by: by.into(),
        };
        let frame = frame(&rows);
        let mut late = fold(&frame, &[0, 2]);
        late.merge(fold(&frame, &[3, 1]));
        let buckets = late.summaries();
        let first = &buckets[&EpochMs(0)];
        assert_eq!(first.values[&key("22")].first_event_ms, EpochMs(12));
        assert_eq!(first.values[&key("4444")].first_event_ms, EpochMs(400));
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
        let whole = fold(&whole_frame, &all).summaries();
        for split in [1, 77, 150, 299] {
            let (a, b) = all.split_at(split);
            let mut left = fold(&whole_frame, a);
            left.merge(fold(&whole_frame, b));
            let mut right = fold(&whole_frame, b);
            right.merge(fold(&whole_frame, a));
            let mut sequential = fold(&whole_frame, a);
            fold_frame(&whole_frame, b, &fields(), ALL_TIME, &mut sequential);
            assert_eq!(
                sequential.summaries(),
                whole,
                "split at {split}, folded in turn"
            );
            assert_eq!(
                right.summaries(),
                whole,
                "split at {split}, merged right to left"
            );
            let left = left.summaries();
            assert_eq!(left, whole, "split at {split}");
        }
    }

    #[test]
    fn an_influencer_that_is_the_by_field_holds_the_by_value() {
        let rows = [
            (0, 22, "a", "ssh"),
            (1, 22, "b", "scp"),
            (2, 4444, "a", "nc"),
        ];
        let all: Vec<u32> = (0..rows.len() as u32).collect();
        let fields = FoldFields {
            by_field: "process.name".into(),
            ..fields()
        };
        let mut fold = PartialFold::new(&fields.influencers);
        fold_frame(&frame(&rows), &all, &fields, ALL_TIME, &mut fold);
        let buckets = fold.summaries();
        for (process, host) in [("ssh", "a"), ("scp", "b"), ("nc", "a")] {
            let value = &buckets[&EpochMs(0)].values[&SeriesKey {
                partition: None,
                by: process.into(),
            }];
            let texts = |field: &str| -> Vec<&str> {
                value.influencers[field].iter().map(|v| &**v).collect()
            };
            assert_eq!(texts("process.name"), [process]);
            assert_eq!(texts("host.name"), [host]);
        }
    }

    #[test]
    fn influencer_values_are_capped_deterministically() {
        let hosts: Vec<String> = (0..150).map(|i| format!("host-{i:03}")).collect();
        let rows: Vec<(i64, i64, &str, &str)> =
            hosts.iter().map(|h| (0, 22, h.as_str(), "ssh")).collect();
        let all: Vec<u32> = (0..rows.len() as u32).rev().collect();
        let buckets = fold(&frame(&rows), &all).summaries();
        let value = &buckets[&EpochMs(0)].values[&SeriesKey {
            partition: None,
            by: "22".into(),
        }];
        assert!(value.influencers_capped);
        assert_eq!(
            value.influencers["host.name"].len(),
            super::super::MAX_INFLUENCER_VALUES
        );
        assert_eq!(
            value.influencers["host.name"].iter().next().map(|v| &**v),
            Some("host-000")
        );
        assert_eq!(value.hosts.len(), 150, "host_count is never capped");
    }

    fn pairs(set: &PairSet) -> Vec<(u32, u64)> {
        let mut pairs = Vec::new();
        set.for_each(|group, code| pairs.push((group, code)));
        pairs.sort_unstable();
        pairs
    }

    #[test]
    fn pair_sets_hold_each_pair_once_as_bits_or_hashed() {
        let inserted = [(0, 3), (2, 0), (0, 3), (1, 4), (2, 0), (0, 0)];
        let expected = [(0, 0), (0, 3), (1, 4), (2, 0)];
        for width in [Some(5), None] {
            let mut set = PairSet::new(width);
            inserted.iter().for_each(|&(g, c)| set.insert(g, c));
            assert_eq!(pairs(&set), expected, "width {width:?}");
            assert_eq!(matches!(set, PairSet::Bits { .. }), width.is_some());
        }
    }

    #[test]
    fn a_pair_past_the_bitmap_moves_every_pair_to_a_hash_set() {
        let mut set = PairSet::new(Some(5));
        set.insert(1, 2);
        // A code at or past the width, and a group whose row would pass the size limit.
        set.insert(0, 7);
        assert!(matches!(set, PairSet::Hashed(_)));
        assert_eq!(pairs(&set), [(0, 7), (1, 2)]);
        let mut set = PairSet::new(Some(1000));
        set.insert(3, 999);
        set.insert((MAX_BITMAP_BITS / 1000 + 1) as u32, 1);
        set.insert(3, 999);
        assert!(matches!(set, PairSet::Hashed(_)));
        assert_eq!(
            pairs(&set),
            [(3, 999), ((MAX_BITMAP_BITS / 1000 + 1) as u32, 1)]
        );
    }
}
