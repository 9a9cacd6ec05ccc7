//! Normalising a column read from Parquet to the one internal form of its ECS field.
//!
//! Input: an Arrow array as the file stored it. Output: `@timestamp` as epoch milliseconds UTC,
//! or a [`Column`] by [`FieldKind`], plus how many values were invalid and nulled. Arrays that
//! already have the internal type are shared, not copied; conversions run as Arrow kernels, with
//! no per-value allocation.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, ListArray, StringArray};
use arrow::buffer::OffsetBuffer;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Int64Type, TimeUnit};
use chrono::DateTime;

use super::column::{Column, FieldKind};

/// Why an array cannot be read as its field's kind: what was expected instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub expected: String,
}

impl Mismatch {
    fn new(expected: &str) -> Mismatch {
        Mismatch {
            expected: expected.to_string(),
        }
    }

    fn cast(expected: &str, error: arrow::error::ArrowError) -> Mismatch {
        Mismatch {
            expected: format!("{expected} (conversion failed: {error})"),
        }
    }
}

const TIMESTAMP: &str = "a timestamp, epoch-millisecond Int64 or RFC 3339 string";
const KEYWORD: &str = "a string or integer";
const KEYWORD_LIST: &str = "a list of strings or a string";
const INTEGER: &str = "an integer or numeric string";

/// `@timestamp` values as epoch milliseconds UTC; null where absent, unparseable or out of range.
/// Timestamps without a time zone are taken as UTC.
pub fn timestamps_ms(array: &dyn Array) -> Result<Int64Array, Mismatch> {
    match array.data_type() {
        DataType::Timestamp(unit, _) => {
            let raw = cast(array, &DataType::Int64).map_err(|e| Mismatch::cast(TIMESTAMP, e))?;
            Ok(scale_to_ms(raw.as_primitive::<Int64Type>(), *unit))
        }
        DataType::Int64 => Ok(array.as_primitive::<Int64Type>().clone()),
        DataType::Utf8 => Ok(parse_rfc3339(array.as_string::<i32>().iter())),
        DataType::LargeUtf8 => Ok(parse_rfc3339(array.as_string::<i64>().iter())),
        DataType::Utf8View => Ok(parse_rfc3339(array.as_string_view().iter())),
        DataType::Dictionary(_, value) if is_string(value) => {
            let strings = cast(array, &DataType::Utf8).map_err(|e| Mismatch::cast(TIMESTAMP, e))?;
            Ok(parse_rfc3339(strings.as_string::<i32>().iter()))
        }
        _ => Err(Mismatch::new(TIMESTAMP)),
    }
}

/// Floors to milliseconds, so a row's millisecond and its row group's bounds agree.
fn scale_to_ms(raw: &Int64Array, unit: TimeUnit) -> Int64Array {
    match unit {
        TimeUnit::Second => raw.unary_opt(|v| v.checked_mul(1_000)),
        TimeUnit::Millisecond => raw.clone(),
        TimeUnit::Microsecond => raw.unary(|v| v.div_euclid(1_000)),
        TimeUnit::Nanosecond => raw.unary(|v| v.div_euclid(1_000_000)),
    }
}

fn parse_rfc3339<'a>(values: impl Iterator<Item = Option<&'a str>>) -> Int64Array {
    values
        .map(|v| {
            v.and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.timestamp_millis())
        })
        .collect()
}

/// `array` as a column of `kind`, with the number of values nulled because they were invalid
/// (unparseable integers, ports outside 0..=65535).
pub fn normalize(kind: FieldKind, array: &ArrayRef) -> Result<(Column, u64), Mismatch> {
    match kind {
        FieldKind::Keyword => Ok((Column::Keyword(keyword(array)?), 0)),
        FieldKind::KeywordList => Ok((Column::KeywordList(keyword_list(array)?), 0)),
        FieldKind::Integer => {
            integers(array).map(|(ints, invalid)| (Column::Integer(ints), invalid))
        }
        FieldKind::Port => {
            let (ints, unparseable) = integers(array)?;
            let ports = ints.unary_opt(|v| (0..=65_535).contains(&v).then_some(v));
            let out_of_range = (ports.null_count() - ints.null_count()) as u64;
            Ok((Column::Integer(ports), unparseable + out_of_range))
        }
    }
}

fn is_string(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// Strings and integers (formatted), plain or dictionary-encoded.
fn is_keyword(data_type: &DataType) -> bool {
    match data_type {
        DataType::Dictionary(_, value) => is_keyword(value),
        other => is_string(other) || other.is_integer(),
    }
}

fn keyword(array: &ArrayRef) -> Result<StringArray, Mismatch> {
    match array.data_type() {
        DataType::Utf8 => Ok(array.as_string::<i32>().clone()),
        other if is_keyword(other) => {
            let strings = cast(array, &DataType::Utf8).map_err(|e| Mismatch::cast(KEYWORD, e))?;
            Ok(strings.as_string::<i32>().clone())
        }
        _ => Err(Mismatch::new(KEYWORD)),
    }
}

fn keyword_list(array: &ArrayRef) -> Result<ListArray, Mismatch> {
    match array.data_type() {
        DataType::List(item) if item.data_type() == &DataType::Utf8 => {
            Ok(array.as_list::<i32>().clone())
        }
        DataType::List(item) | DataType::LargeList(item) if is_keyword(item.data_type()) => {
            let target = DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)));
            let lists = cast(array, &target).map_err(|e| Mismatch::cast(KEYWORD_LIST, e))?;
            Ok(lists.as_list::<i32>().clone())
        }
        other if is_keyword(other) => Ok(singleton_lists(keyword(array)?)),
        _ => Err(Mismatch::new(KEYWORD_LIST)),
    }
}

/// Each string as a one-element list (a null string as a null list), sharing the strings' buffers.
fn singleton_lists(strings: StringArray) -> ListArray {
    let offsets = OffsetBuffer::from_lengths(std::iter::repeat_n(1, strings.len()));
    let nulls = strings.nulls().cloned();
    let item = Arc::new(Field::new_list_field(DataType::Utf8, true));
    ListArray::new(item, offsets, Arc::new(strings), nulls)
}

/// Integers of any width or numeric strings as Int64; unparseable or overflowing values become
/// null and are counted.
fn integers(array: &ArrayRef) -> Result<(Int64Array, u64), Mismatch> {
    if !is_keyword(array.data_type()) {
        return Err(Mismatch::new(INTEGER));
    }
    let ints = cast(array, &DataType::Int64).map_err(|e| Mismatch::cast(INTEGER, e))?;
    let ints = ints.as_primitive::<Int64Type>().clone();
    let invalid = ints.null_count().saturating_sub(array.logical_null_count()) as u64;
    Ok((ints, invalid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        DictionaryArray, Float64Array, Int32Array, LargeListArray, LargeStringArray, ListBuilder,
        StringBuilder, StringViewArray, TimestampMicrosecondArray, TimestampNanosecondArray,
        TimestampSecondArray, UInt16Array, UInt64Array,
    };
    use arrow::datatypes::Int8Type;

    const T: i64 = 1_795_359_600_123; // 2026-11-22T15:00:00.123Z

    fn values(column: &Column) -> Vec<Vec<String>> {
        (0..column.len())
            .map(|row| column.values(row).map(|v| v.to_string()).collect())
            .collect()
    }

    #[test]
    fn timestamp_units_become_floored_milliseconds() {
        let seconds = TimestampSecondArray::from(vec![T / 1000]).with_timezone("+02:00");
        let micros = TimestampMicrosecondArray::from(vec![T * 1000 + 999]);
        let nanos = TimestampNanosecondArray::from(vec![-1]).with_timezone("UTC");
        assert_eq!(timestamps_ms(&seconds).unwrap().value(0), T / 1000 * 1000);
        assert_eq!(timestamps_ms(&micros).unwrap().value(0), T);
        assert_eq!(timestamps_ms(&nanos).unwrap().value(0), -1);
        assert!(
            timestamps_ms(&TimestampSecondArray::from(vec![i64::MAX]))
                .unwrap()
                .is_null(0)
        );
    }

    #[test]
    fn timestamp_strings_parse_as_rfc3339() {
        let texts = [
            "2026-11-22T15:00:00.123Z",
            "2026-11-22T17:00:00.123+02:00",
            "yesterday",
        ];
        let expected = Int64Array::from(vec![Some(T), Some(T), None]);
        assert_eq!(
            timestamps_ms(&StringArray::from(texts.to_vec())).unwrap(),
            expected
        );
        assert_eq!(
            timestamps_ms(&LargeStringArray::from(texts.to_vec())).unwrap(),
            expected
        );
        assert_eq!(
            timestamps_ms(&StringViewArray::from(texts.to_vec())).unwrap(),
            expected
        );
        assert!(timestamps_ms(&Float64Array::from(vec![1.0])).is_err());
    }

    #[test]
    fn keywords_accept_strings_dictionaries_and_integers() {
        let dict: DictionaryArray<Int8Type> = vec!["tcp", "udp", "tcp"].into_iter().collect();
        let (column, _) = normalize(FieldKind::Keyword, &(Arc::new(dict) as ArrayRef)).unwrap();
        assert_eq!(values(&column), [["tcp"], ["udp"], ["tcp"]]);
        let ints: ArrayRef = Arc::new(Int32Array::from(vec![Some(7), None]));
        let (column, invalid) = normalize(FieldKind::Keyword, &ints).unwrap();
        assert_eq!(values(&column), [vec!["7".to_string()], vec![]]);
        assert_eq!(invalid, 0);
        let floats: ArrayRef = Arc::new(Float64Array::from(vec![1.5]));
        assert_eq!(
            normalize(FieldKind::Keyword, &floats).unwrap_err(),
            Mismatch::new(KEYWORD)
        );
    }

    #[test]
    fn keyword_lists_accept_lists_and_single_strings() {
        let mut builder = ListBuilder::new(StringBuilder::new());
        builder.values().append_value("network");
        builder.append(true);
        builder.append(false);
        let lists: ArrayRef = Arc::new(builder.finish());
        let large: ArrayRef = Arc::new(
            cast(
                &lists,
                &DataType::LargeList(Arc::new(Field::new_list_field(DataType::LargeUtf8, true))),
            )
            .unwrap(),
        );
        assert!(large.as_any().is::<LargeListArray>());
        let single: ArrayRef = Arc::new(StringArray::from(vec![Some("network"), None]));
        for array in [lists, large, single] {
            let (column, _) = normalize(FieldKind::KeywordList, &array).unwrap();
            assert_eq!(values(&column), [vec!["network".to_string()], vec![]]);
            assert!(matches!(column, Column::KeywordList(_)));
        }
    }

    #[test]
    fn ports_accept_integers_and_numeric_strings_and_null_the_rest() {
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from(vec![
                Some(443),
                Some(-1),
                Some(70_000),
                None,
            ])),
            Arc::new(StringArray::from(vec![
                Some("443"),
                Some("-1"),
                Some("abc"),
                None,
            ])),
        ];
        for array in arrays {
            let (column, invalid) = normalize(FieldKind::Port, &array).unwrap();
            assert_eq!(
                values(&column),
                [vec!["443".to_string()], vec![], vec![], vec![]]
            );
            assert_eq!(invalid, 2);
        }
        let wide: ArrayRef = Arc::new(UInt64Array::from(vec![u64::MAX, 22]));
        let (column, invalid) = normalize(FieldKind::Port, &wide).unwrap();
        assert_eq!(
            (column.first(1), invalid),
            (Some(crate::store::ValueRef::Int(22)), 1)
        );
        let small: ArrayRef = Arc::new(UInt16Array::from(vec![65_535]));
        assert_eq!(
            normalize(FieldKind::Port, &small).unwrap().0.first(0),
            Some(crate::store::ValueRef::Int(65_535))
        );
    }

    #[test]
    fn integers_keep_any_range() {
        let pids: ArrayRef = Arc::new(StringArray::from(vec!["100000", "x"]));
        let (column, invalid) = normalize(FieldKind::Integer, &pids).unwrap();
        assert_eq!(values(&column), [vec!["100000".to_string()], vec![]]);
        assert_eq!(invalid, 1);
    }
}
