//! The engine's answer, Arrow record batches of the summary contract (docs/bucket-summary.md),
//! back into [`BucketSummary`] values: the same ones the native fold would have made.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array, ListArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Int64Type};
use arrow::record_batch::RecordBatch;

use super::query::{SUMMARY_VERSION, influencer_column};
use crate::bucket::{BucketSummary, SeriesKey, ValueSummary};
use crate::time::EpochMs;

/// A result that does not follow the contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the summary has no column {column:?}")]
    MissingColumn { column: String },
    #[error("summary column {column:?} is {found}, expected {expected}")]
    WrongType {
        column: String,
        found: String,
        expected: &'static str,
    },
    #[error("summary column {column:?} is null in row {row}")]
    Null { column: String, row: usize },
    #[error("the summary is version {found}; this netrare reads version {SUMMARY_VERSION}")]
    Version { found: i64 },
    #[error("bucket {start_ms}: rows disagree on bucket_event_count ({a} and {b})")]
    BucketCount { start_ms: i64, a: u64, b: u64 },
}

/// Adds the rows of `batch` to `buckets`. `influencers` are the job's influencer fields, each
/// with its `influencer:<field>` column.
pub fn decode(
    batch: &RecordBatch,
    influencers: &[String],
    buckets: &mut BTreeMap<EpochMs, BucketSummary>,
) -> Result<(), Error> {
    let version = integers(batch, "summary_version")?;
    let starts = integers(batch, "bucket_start_ms")?;
    let partitions = strings(batch, "partition")?;
    let bys = strings(batch, "by")?;
    let counts = integers(batch, "event_count")?;
    let first_events = integers(batch, "first_event_ms")?;
    let bucket_counts = integers(batch, "bucket_event_count")?;
    let hosts = lists(batch, "hosts")?;
    let capped = booleans(batch, "influencers_capped")?;
    let values: Vec<(&String, ListArray)> = influencers
        .iter()
        .map(|field| Ok((field, lists(batch, &influencer_column(field))?)))
        .collect::<Result<_, Error>>()?;

    for row in 0..batch.num_rows() {
        let found = required(&version, "summary_version", row)?;
        if found != i64::from(SUMMARY_VERSION) {
            return Err(Error::Version { found });
        }
        let start_ms = EpochMs(required(&starts, "bucket_start_ms", row)?);
        let by = bys
            .is_valid(row)
            .then(|| bys.value(row).to_string())
            .ok_or_else(|| null("by", row))?;
        let key = SeriesKey {
            partition: partitions
                .is_valid(row)
                .then(|| partitions.value(row).to_string()),
            by,
        };
        let mut value = ValueSummary {
            event_count: count(&counts, "event_count", row)?,
            first_event_ms: EpochMs(required(&first_events, "first_event_ms", row)?),
            hosts: list_values(&hosts, row)
                .into_iter()
                .map(Into::into)
                .collect(),
            influencers_capped: capped.is_valid(row) && capped.value(row),
            ..ValueSummary::default()
        };
        for (field, list) in &values {
            let values = list_values(list, row);
            if !values.is_empty() {
                value.set_influencers(field, values.into_iter().map(Into::into).collect());
            }
        }
        let bucket_count = count(&bucket_counts, "bucket_event_count", row)?;
        let bucket = buckets.entry(start_ms).or_insert_with(|| BucketSummary {
            event_count: bucket_count,
            ..BucketSummary::empty(start_ms)
        });
        if bucket.event_count != bucket_count {
            return Err(Error::BucketCount {
                start_ms: start_ms.ms(),
                a: bucket.event_count,
                b: bucket_count,
            });
        }
        bucket.values.insert(key, value);
    }
    Ok(())
}

fn null(column: &str, row: usize) -> Error {
    Error::Null {
        column: column.to_string(),
        row,
    }
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, Error> {
    batch
        .column_by_name(name)
        .ok_or_else(|| Error::MissingColumn {
            column: name.to_string(),
        })
}

fn wrong_type(name: &str, array: &ArrayRef, expected: &'static str) -> Error {
    Error::WrongType {
        column: name.to_string(),
        found: array.data_type().to_string(),
        expected,
    }
}

fn is_string(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

fn integers(batch: &RecordBatch, name: &str) -> Result<Int64Array, Error> {
    let array = column(batch, name)?;
    if !array.data_type().is_integer() {
        return Err(wrong_type(name, array, "an integer"));
    }
    let ints = cast(array, &DataType::Int64).map_err(|_| wrong_type(name, array, "an integer"))?;
    Ok(ints.as_primitive::<Int64Type>().clone())
}

fn strings(batch: &RecordBatch, name: &str) -> Result<StringArray, Error> {
    let array = column(batch, name)?;
    if !is_string(array.data_type()) && array.data_type() != &DataType::Null {
        return Err(wrong_type(name, array, "a string"));
    }
    let strings = cast(array, &DataType::Utf8).map_err(|_| wrong_type(name, array, "a string"))?;
    Ok(strings.as_string::<i32>().clone())
}

fn booleans(batch: &RecordBatch, name: &str) -> Result<BooleanArray, Error> {
    let array = column(batch, name)?;
    array
        .as_boolean_opt()
        .cloned()
        .ok_or_else(|| wrong_type(name, array, "a boolean"))
}

fn lists(batch: &RecordBatch, name: &str) -> Result<ListArray, Error> {
    const EXPECTED: &str = "a list of strings";
    let array = column(batch, name)?;
    let item = match array.data_type() {
        DataType::List(item) | DataType::LargeList(item) | DataType::ListView(item) => item,
        _ => return Err(wrong_type(name, array, EXPECTED)),
    };
    if !is_string(item.data_type()) && item.data_type() != &DataType::Null {
        return Err(wrong_type(name, array, EXPECTED));
    }
    let target = DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)));
    let lists = cast(array, &target).map_err(|_| wrong_type(name, array, EXPECTED))?;
    Ok(lists.as_list::<i32>().clone())
}

fn required(array: &Int64Array, name: &str, row: usize) -> Result<i64, Error> {
    if array.is_valid(row) {
        Ok(array.value(row))
    } else {
        Err(null(name, row))
    }
}

fn count(array: &Int64Array, name: &str, row: usize) -> Result<u64, Error> {
    let value = required(array, name, row)?;
    u64::try_from(value).map_err(|_| Error::WrongType {
        column: name.to_string(),
        found: format!("negative ({value})"),
        expected: "a count",
    })
}

/// The non-null strings of one list cell (none for a null cell).
fn list_values(lists: &ListArray, row: usize) -> Vec<String> {
    if lists.is_null(row) {
        return Vec::new();
    }
    let cell = lists.value(row);
    cell.as_string::<i32>()
        .iter()
        .flatten()
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int32Array, ListBuilder, StringBuilder};
    use arrow::datatypes::Schema;

    fn string_lists(rows: &[&[&str]]) -> ArrayRef {
        let mut builder = ListBuilder::new(StringBuilder::new());
        for row in rows {
            for v in *row {
                builder.values().append_value(v);
            }
            builder.append(true);
        }
        Arc::new(builder.finish())
    }

    fn batch(leave_out: &str, replace: Option<(&str, ArrayRef)>) -> RecordBatch {
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("summary_version", Arc::new(Int32Array::from(vec![2, 2, 2]))),
            (
                "bucket_start_ms",
                Arc::new(Int64Array::from(vec![0, 0, 900_000])),
            ),
            (
                "partition",
                Arc::new(StringArray::from(vec![None::<&str>, None, None])),
            ),
            ("by", Arc::new(StringArray::from(vec!["22", "4444", "22"]))),
            ("event_count", Arc::new(Int64Array::from(vec![2, 1, 1]))),
            (
                "first_event_ms",
                Arc::new(Int64Array::from(vec![12, 7, 900_003])),
            ),
            (
                "bucket_event_count",
                Arc::new(Int64Array::from(vec![3, 3, 1])),
            ),
            ("hosts", string_lists(&[&["a", "b"], &["a"], &["a"]])),
            (
                "influencer:process.name",
                string_lists(&[&["ssh"], &["nc"], &[]]),
            ),
            (
                "influencers_capped",
                Arc::new(BooleanArray::from(vec![false, true, false])),
            ),
        ];
        let columns: Vec<(&str, ArrayRef)> = columns
            .into_iter()
            .filter(|(name, _)| *name != leave_out)
            .map(|(name, array)| match &replace {
                Some((replaced, with)) if *replaced == name => (name, with.clone()),
                _ => (name, array),
            })
            .collect();
        let schema = Schema::new(
            columns
                .iter()
                .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
                .collect::<Vec<_>>(),
        );
        RecordBatch::try_new(
            Arc::new(schema),
            columns.into_iter().map(|(_, a)| a).collect(),
        )
        .expect("valid test batch")
    }

    fn decode_one(batch: &RecordBatch) -> Result<BTreeMap<EpochMs, BucketSummary>, Error> {
        let mut buckets = BTreeMap::new();
        decode(batch, &["process.name".to_string()], &mut buckets)?;
        Ok(buckets)
    }

    #[test]
    fn rows_become_the_summaries_the_native_fold_makes() {
        let buckets = decode_one(&batch("", None)).expect("decodes");
        let mut expected = ValueSummary {
            event_count: 2,
            first_event_ms: EpochMs(12),
            hosts: ["a", "b"].map(Into::into).into_iter().collect(),
            ..ValueSummary::default()
        };
        expected.add_influencer("process.name", "ssh");
        let first = &buckets[&EpochMs(0)];
        assert_eq!(first.event_count, 3);
        let key = |by: &str| SeriesKey {
            partition: None,
            by: by.to_string(),
        };
        assert_eq!(first.values[&key("22")], expected);
        assert!(first.values[&key("4444")].influencers_capped);
        let second = &buckets[&EpochMs(900_000)].values[&key("22")];
        assert!(
            second.influencers.is_empty(),
            "an empty list is no influencer"
        );
    }

    #[test]
    fn a_missing_column_is_named() {
        let err = decode_one(&batch("influencer:process.name", None)).expect_err("missing");
        assert_eq!(
            err.to_string(),
            "the summary has no column \"influencer:process.name\""
        );
    }

    #[test]
    fn a_column_of_the_wrong_type_is_named() {
        let wrong: ArrayRef = Arc::new(StringArray::from(vec!["2", "1", "1"]));
        let err = decode_one(&batch("", Some(("event_count", wrong)))).expect_err("wrong type");
        assert_eq!(
            err.to_string(),
            "summary column \"event_count\" is Utf8, expected an integer"
        );
    }

    #[test]
    fn another_version_and_inconsistent_bucket_counts_are_refused() {
        let v1: ArrayRef = Arc::new(Int32Array::from(vec![1, 1, 1]));
        assert_eq!(
            decode_one(&batch("", Some(("summary_version", v1)))),
            Err(Error::Version { found: 1 })
        );
        let counts: ArrayRef = Arc::new(Int64Array::from(vec![3, 4, 1]));
        assert!(matches!(
            decode_one(&batch("", Some(("bucket_event_count", counts)))),
            Err(Error::BucketCount { start_ms: 0, .. })
        ));
    }
}
