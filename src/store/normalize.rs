//! Normalising a column read from Parquet to the one internal form of its ECS field.
//!
//! Input: an Arrow array as the file stored it. Output: `@timestamp` as epoch milliseconds UTC,
//! or a [`Column`] by [`FieldKind`], plus how many values were invalid and nulled. Arrays that
//! already have the internal type are shared, not copied; conversions run as Arrow kernels, with
//! no per-value allocation.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array, StringArray};
use arrow::compute::{cast, concat, filter};
use arrow::datatypes::{DataType, Int32Type, Int64Type, TimeUnit};
use arrow::error::ArrowError;
use chrono::DateTime;

use super::column::{Column, FieldKind, KeywordListsBuilder, Keywords, KeywordsBuilder};

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

/// A column read batch by batch: keywords and keyword lists are coded as they come (each batch's
/// dictionary once), integers are normalised per batch and joined at the end.
#[derive(Debug)]
pub enum ColumnBuilder {
    Keyword {
        builder: KeywordsBuilder,
        last: LastDictionary,
    },
    KeywordList {
        builder: KeywordListsBuilder,
        last: LastDictionary,
    },
    Integer {
        /// Ports are also checked to be in 0..=65535.
        port: bool,
        parts: Vec<Int64Array>,
        invalid: u64,
    },
}

/// The last dictionary seen and the code of each of its values: the batches of one column chunk
/// share their dictionary.
type LastDictionary = Option<(ArrayRef, Vec<u32>)>;

impl ColumnBuilder {
    /// An empty column of `kind`.
    pub fn new(kind: FieldKind) -> ColumnBuilder {
        match kind {
            FieldKind::Keyword => ColumnBuilder::Keyword {
                builder: KeywordsBuilder::default(),
                last: None,
            },
            FieldKind::KeywordList => ColumnBuilder::KeywordList {
                builder: KeywordListsBuilder::default(),
                last: None,
            },
            FieldKind::Integer | FieldKind::Port => ColumnBuilder::Integer {
                port: kind == FieldKind::Port,
                parts: Vec::new(),
                invalid: 0,
            },
        }
    }

    /// Appends the rows of `array` that `keep` selects (all when `None`).
    pub fn append(
        &mut self,
        array: &ArrayRef,
        keep: Option<&BooleanArray>,
    ) -> Result<(), Mismatch> {
        match self {
            ColumnBuilder::Keyword { builder, last } => append_keywords(builder, last, array, keep),
            ColumnBuilder::KeywordList { builder, last } => {
                append_keyword_lists(builder, last, array, keep)
            }
            ColumnBuilder::Integer {
                port,
                parts,
                invalid,
            } => {
                let kept = match keep {
                    Some(keep) if keep.true_count() < array.len() => {
                        filter(array, keep).map_err(|e| Mismatch::cast(INTEGER, e))?
                    }
                    _ => array.clone(),
                };
                let (ints, nulled) = if *port {
                    ports(&kept)?
                } else {
                    integers(&kept)?
                };
                if !ints.is_empty() || parts.is_empty() {
                    parts.push(ints);
                }
                *invalid += nulled;
                Ok(())
            }
        }
    }

    /// The column and the number of values nulled because they were invalid.
    pub fn finish(self) -> Result<(Column, u64), ArrowError> {
        match self {
            ColumnBuilder::Keyword { builder, .. } => Ok((Column::Keyword(builder.finish()), 0)),
            ColumnBuilder::KeywordList { builder, .. } => {
                Ok((Column::KeywordList(builder.finish()), 0))
            }
            ColumnBuilder::Integer { parts, invalid, .. } => {
                let ints = match parts.as_slice() {
                    [] => Int64Array::from(Vec::<i64>::new()),
                    [only] => only.clone(),
                    _ => {
                        let arrays: Vec<&dyn Array> =
                            parts.iter().map(|a| a as &dyn Array).collect();
                        concat(&arrays)?.as_primitive::<Int64Type>().clone()
                    }
                };
                Ok((Column::Integer(ints), invalid))
            }
        }
    }
}

/// Ports: integers in 0..=65535; the others are nulled and counted with the unparseable ones.
fn ports(array: &ArrayRef) -> Result<(Int64Array, u64), Mismatch> {
    let (ints, unparseable) = integers(array)?;
    let ports = ints.unary_opt(|v| (0..=65_535).contains(&v).then_some(v));
    let out_of_range = (ports.null_count() - ints.null_count()) as u64;
    Ok((ports, unparseable + out_of_range))
}

/// Codes the selected rows of a keyword array. A dictionary's values are coded once per
/// dictionary, then each row is a lookup of its key.
fn append_keywords(
    builder: &mut KeywordsBuilder,
    last: &mut LastDictionary,
    array: &ArrayRef,
    keep: Option<&BooleanArray>,
) -> Result<(), Mismatch> {
    if !matches!(array.data_type(), DataType::Dictionary(..)) {
        let strings = keyword(array)?;
        for (row, value) in strings.iter().enumerate() {
            if keep.is_none_or(|k| k.value(row)) {
                builder.push(value);
            }
        }
        return Ok(());
    }
    let row_codes = dictionary_codes(builder, last, array).ok_or(Mismatch::new(KEYWORD))?;
    match keep.filter(|k| k.true_count() < row_codes.len()) {
        None => builder.extend_codes(row_codes.into_iter()),
        Some(keep) => {
            let kept = keep.values().set_indices();
            builder.extend_codes(kept.map_while(|row| row_codes.get(row).copied()));
        }
    }
    Ok(())
}

/// Each row's code of a dictionary-encoded keyword array ([`Keywords::ABSENT`] where null),
/// gathered through its keys in one pass; the dictionary's values are coded once. `None` when
/// the values are not keywords.
fn dictionary_codes(
    builder: &mut KeywordsBuilder,
    last: &mut LastDictionary,
    array: &ArrayRef,
) -> Option<Vec<u32>> {
    let dictionary = array.as_any_dictionary();
    let values = dictionary.values();
    let seen = last
        .as_ref()
        .is_some_and(|(seen, _)| std::ptr::addr_eq(Arc::as_ptr(seen), Arc::as_ptr(values)));
    if !seen {
        let codes = keyword(values)
            .ok()?
            .iter()
            .map(|v| v.map_or(Keywords::ABSENT, |s| builder.intern(s)))
            .collect();
        *last = Some((values.clone(), codes));
    }
    let codes = last.as_ref().map_or(&[][..], |(_, codes)| codes.as_slice());
    if codes.is_empty() {
        return Some(vec![Keywords::ABSENT; array.len()]);
    }
    let code_of = |key: usize| codes.get(key).copied().unwrap_or(Keywords::ABSENT);
    // The scan reads keywords with 32-bit keys: gathered straight from them.
    let mut row_codes: Vec<u32> = match array.as_dictionary_opt::<Int32Type>() {
        Some(keys) => keys
            .keys()
            .values()
            .iter()
            .map(|&k| code_of(k as usize))
            .collect(),
        None => dictionary
            .normalized_keys()
            .into_iter()
            .map(code_of)
            .collect(),
    };
    if let Some(nulls) = array.nulls().filter(|n| n.null_count() > 0) {
        for (code, valid) in row_codes.iter_mut().zip(nulls.iter()) {
            if !valid {
                *code = Keywords::ABSENT;
            }
        }
    }
    Some(row_codes)
}

/// Codes the selected rows of a list of keywords, or of a single keyword column as one-element
/// lists. The elements are coded as a keyword column's rows are.
fn append_keyword_lists(
    builder: &mut KeywordListsBuilder,
    last: &mut LastDictionary,
    array: &ArrayRef,
    keep: Option<&BooleanArray>,
) -> Result<(), Mismatch> {
    let selected = |row: usize| keep.is_none_or(|k| k.value(row));
    let (elements, offsets): (&ArrayRef, Vec<usize>) = match array.data_type() {
        DataType::List(_) => {
            let lists = array.as_list::<i32>();
            let offsets = lists.value_offsets().iter().map(|&o| o as usize);
            (lists.values(), offsets.collect())
        }
        DataType::LargeList(_) => {
            let lists = array.as_list::<i64>();
            let offsets = lists.value_offsets().iter().map(|&o| o as usize);
            (lists.values(), offsets.collect())
        }
        other if is_keyword(other) => {
            let codes = element_codes(builder.elements(), last, array)?;
            for (row, &code) in codes.iter().enumerate() {
                if selected(row) {
                    let one = [code];
                    builder.push_row(if code == Keywords::ABSENT { &[] } else { &one });
                }
            }
            return Ok(());
        }
        _ => return Err(Mismatch::new(KEYWORD_LIST)),
    };
    let codes = element_codes(builder.elements(), last, elements)?;
    let nulls = array.nulls().filter(|n| n.null_count() > 0);
    let partial = keep.filter(|k| k.true_count() < array.len());
    if partial.is_none() && nulls.is_none() {
        // Every row kept and none null: the rows' elements are one run of codes.
        let (first, end) = (offsets[0], offsets[offsets.len() - 1]);
        if let Some(run) = codes.get(first..end) {
            builder.push_rows(run, offsets[1..].iter().map(|&o| o - first));
            return Ok(());
        }
    }
    let rows: Box<dyn Iterator<Item = usize>> = match partial {
        Some(keep) => Box::new(keep.values().set_indices()),
        None => Box::new(0..array.len()),
    };
    for row in rows {
        let valid = nulls.is_none_or(|n| n.is_valid(row));
        match codes.get(offsets[row]..offsets[row + 1]) {
            Some(row_codes) if valid => builder.push_row(row_codes),
            _ => builder.push_row(&[]),
        }
    }
    Ok(())
}

/// The code of each element of a keyword array, plain or dictionary-encoded.
fn element_codes(
    builder: &mut KeywordsBuilder,
    last: &mut LastDictionary,
    elements: &ArrayRef,
) -> Result<Vec<u32>, Mismatch> {
    let mismatch = || Mismatch::new(KEYWORD_LIST);
    if matches!(elements.data_type(), DataType::Dictionary(..)) {
        return dictionary_codes(builder, last, elements).ok_or_else(mismatch);
    }
    let strings = keyword(elements).map_err(|_| mismatch())?;
    Ok(strings
        .iter()
        .map(|v| v.map_or(Keywords::ABSENT, |s| builder.intern(s)))
        .collect())
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
        DictionaryArray, Float64Array, Int32Array, LargeListArray, LargeStringArray, ListArray,
        ListBuilder, StringBuilder, StringViewArray, TimestampMicrosecondArray,
        TimestampNanosecondArray, TimestampSecondArray, UInt16Array, UInt64Array,
    };
    use arrow::datatypes::{Field, Int8Type};

    /// `array` as a column of `kind`, with the number of invalid values nulled.
    fn normalize(kind: FieldKind, array: &ArrayRef) -> Result<(Column, u64), Mismatch> {
        let mut builder = ColumnBuilder::new(kind);
        builder.append(array, None)?;
        Ok(builder.finish().unwrap())
    }

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
    fn dictionary_pages_keep_the_selected_rows_and_their_nulls() {
        let page: DictionaryArray<Int8Type> = vec![Some("tcp"), None, Some("udp"), Some("tcp")]
            .into_iter()
            .collect();
        let page: ArrayRef = Arc::new(page);
        let mut builder = ColumnBuilder::new(FieldKind::Keyword);
        builder.append(&page, None).unwrap();
        let some = BooleanArray::from(vec![false, true, true, false]);
        builder.append(&page, Some(&some)).unwrap();
        let all = BooleanArray::from(vec![true; 4]);
        builder.append(&page, Some(&all)).unwrap();
        let (column, _) = builder.finish().unwrap();
        let rows: Vec<Vec<String>> = values(&column);
        let expected: Vec<Vec<&str>> = vec![
            vec!["tcp"],
            vec![],
            vec!["udp"],
            vec!["tcp"],
            vec![],
            vec!["udp"],
            vec!["tcp"],
            vec![],
            vec!["udp"],
            vec!["tcp"],
        ];
        assert_eq!(rows, expected);
    }

    /// Lists whose elements are dictionary-encoded, as the scan reads them: `[network, null]`,
    /// a null list, `[process, network]`, `[]`.
    fn dictionary_lists() -> ArrayRef {
        let keys = Int32Array::from(vec![Some(0), None, Some(1), Some(0)]);
        let dictionary = StringArray::from(vec!["network", "process"]);
        let elements = DictionaryArray::try_new(keys, Arc::new(dictionary)).unwrap();
        let item = Arc::new(Field::new_list_field(elements.data_type().clone(), true));
        let offsets = arrow::buffer::OffsetBuffer::from_lengths([2, 0, 2, 0]);
        let nulls = arrow::buffer::NullBuffer::from(vec![true, false, true, true]);
        Arc::new(ListArray::new(
            item,
            offsets,
            Arc::new(elements),
            Some(nulls),
        ))
    }

    #[test]
    fn dictionary_lists_keep_the_selected_rows_and_skip_null_elements() {
        let lists = dictionary_lists();
        let (column, _) = normalize(FieldKind::KeywordList, &lists).unwrap();
        let expected = [vec!["network"], vec![], vec!["process", "network"], vec![]];
        assert_eq!(
            values(&column),
            expected.map(|r| r.into_iter().map(String::from).collect::<Vec<_>>())
        );

        let mut builder = ColumnBuilder::new(FieldKind::KeywordList);
        let keep = BooleanArray::from(vec![false, true, true, false]);
        builder.append(&lists, Some(&keep)).unwrap();
        builder.append(&lists.slice(2, 2), None).unwrap();
        let (column, _) = builder.finish().unwrap();
        let Column::KeywordList(coded) = &column else {
            panic!("a list column");
        };
        assert_eq!(coded.values().len(), 2, "one dictionary, coded once");
        let expected = [
            vec![],
            vec!["process", "network"],
            vec!["process", "network"],
            vec![],
        ];
        assert_eq!(
            values(&column),
            expected.map(|r| r.into_iter().map(String::from).collect::<Vec<_>>())
        );
    }

    #[test]
    fn lists_of_other_types_are_refused() {
        let floats = Float64Array::from(vec![1.0]);
        let item = Arc::new(Field::new_list_field(DataType::Float64, true));
        let offsets = arrow::buffer::OffsetBuffer::from_lengths([1]);
        let lists: ArrayRef = Arc::new(ListArray::new(item, offsets, Arc::new(floats), None));
        let refused = normalize(FieldKind::KeywordList, &lists).unwrap_err();
        assert_eq!(refused.expected, KEYWORD_LIST);
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
