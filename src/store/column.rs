//! One normalised column of an [`super::EventFrame`], whatever its Parquet type was.

use std::fmt;

use arrow::array::{Array, Int64Array};
use rustc_hash::FxHashMap;

/// How an ECS field is read, decided by its name (see [`FieldKind::of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A string: ECS `keyword` and `ip`.
    Keyword,
    /// A list of strings; a single string column is read as a one-element list.
    KeywordList,
    /// A port, 0..=65535: integers or numeric strings; anything else is counted and nulled.
    Port,
    /// A signed integer (`process.pid`): integers or numeric strings.
    Integer,
}

impl FieldKind {
    /// The kind of an ECS field name.
    pub fn of(field: &str) -> FieldKind {
        match field {
            "event.category" | "event.type" | "process.args" | "tags" => FieldKind::KeywordList,
            "source.port" | "destination.port" | "client.port" | "server.port" => FieldKind::Port,
            "process.pid" | "process.parent.pid" => FieldKind::Integer,
            _ => FieldKind::Keyword,
        }
    }
}

/// A column's values, normalised. Nulls mean "field absent" for that event.
#[derive(Debug, Clone)]
pub enum Column {
    /// One string per event, as a code into the column's distinct values.
    Keyword(Keywords),
    /// Several strings per event (`event.category`), coded as keywords are.
    KeywordList(KeywordLists),
    /// One integer per event (ports, pids).
    Integer(Int64Array),
}

/// One value of a column, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ValueRef<'a> {
    Str(&'a str),
    Int(i64),
}

impl fmt::Display for ValueRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueRef::Str(s) => f.write_str(s),
            ValueRef::Int(i) => write!(f, "{i}"),
        }
    }
}

/// A keyword column as codes into its distinct values. Equal strings have equal codes, so the
/// datafeed and the fold compare and hash small integers per event, and each distinct string
/// once per frame: the Parquet files are dictionary-encoded and hosts, processes, users and
/// addresses repeat heavily.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keywords {
    /// Per row, the index of its value in `values`, or [`Keywords::ABSENT`].
    codes: Vec<u32>,
    /// The distinct values, each once, in order of first appearance; a dictionary read from a
    /// file may bring values no row uses.
    values: Vec<Box<str>>,
}

impl Keywords {
    /// The code of a row without a value.
    pub const ABSENT: u32 = u32::MAX;

    /// Per row, the code of its value or [`Keywords::ABSENT`].
    pub fn codes(&self) -> &[u32] {
        &self.codes
    }

    /// The distinct values, indexed by code.
    pub fn values(&self) -> &[Box<str>] {
        &self.values
    }

    /// The value of `row`, if any.
    pub fn get(&self, row: usize) -> Option<&str> {
        let code = *self.codes.get(row)?;
        self.values.get(code as usize).map(|v| &**v)
    }
}

impl<'a> FromIterator<Option<&'a str>> for Keywords {
    fn from_iter<I: IntoIterator<Item = Option<&'a str>>>(rows: I) -> Keywords {
        let mut builder = KeywordsBuilder::default();
        for value in rows {
            builder.push(value);
        }
        builder.finish()
    }
}

/// Builds [`Keywords`] row by row, giving each distinct string one code.
#[derive(Debug, Default)]
pub struct KeywordsBuilder {
    codes: Vec<u32>,
    index: FxHashMap<Box<str>, u32>,
}

impl KeywordsBuilder {
    /// The code of `value`, new if it was never seen.
    pub fn intern(&mut self, value: &str) -> u32 {
        if let Some(&code) = self.index.get(value) {
            return code;
        }
        let code = self.index.len() as u32;
        self.index.insert(value.into(), code);
        code
    }

    /// Appends rows with these codes.
    pub fn extend_codes(&mut self, codes: impl Iterator<Item = u32>) {
        self.codes.extend(codes);
    }

    /// Appends a row with `value`, or without a value.
    pub fn push(&mut self, value: Option<&str>) {
        let code = value.map_or(Keywords::ABSENT, |v| self.intern(v));
        self.codes.push(code);
    }

    /// The column built so far.
    pub fn finish(self) -> Keywords {
        let mut values = vec![Box::<str>::default(); self.index.len()];
        for (value, code) in self.index {
            values[code as usize] = value;
        }
        Keywords {
            codes: self.codes,
            values,
        }
    }
}

/// A list-of-keywords column: every element as a code into the elements' distinct values, so
/// a datafeed tests each distinct element once per frame, as it does a keyword column's values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeywordLists {
    /// Row `i`'s elements are `elements.codes()[offsets[i]..offsets[i + 1]]`; a null list has
    /// none.
    offsets: Vec<u32>,
    /// Every element, as a code ([`Keywords::ABSENT`] for a null element).
    elements: Keywords,
}

impl KeywordLists {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The codes of the row's elements, a null element as [`Keywords::ABSENT`].
    pub fn codes(&self, row: usize) -> &[u32] {
        match (self.offsets.get(row), self.offsets.get(row + 1)) {
            (Some(&start), Some(&end)) => self
                .elements
                .codes()
                .get(start as usize..end as usize)
                .unwrap_or(&[]),
            _ => &[],
        }
    }

    /// The distinct elements, indexed by code.
    pub fn values(&self) -> &[Box<str>] {
        self.elements.values()
    }
}

impl<'a, R: IntoIterator<Item = Option<&'a str>>> FromIterator<R> for KeywordLists {
    fn from_iter<I: IntoIterator<Item = R>>(rows: I) -> KeywordLists {
        let mut builder = KeywordListsBuilder::default();
        for row in rows {
            let codes: Vec<u32> = row
                .into_iter()
                .map(|v| v.map_or(Keywords::ABSENT, |v| builder.elements.intern(v)))
                .collect();
            builder.push_row(&codes);
        }
        builder.finish()
    }
}

/// Builds [`KeywordLists`] row by row; the elements are coded by a [`KeywordsBuilder`].
#[derive(Debug, Default)]
pub struct KeywordListsBuilder {
    /// Where each row ends in the elements.
    ends: Vec<u32>,
    elements: KeywordsBuilder,
}

impl KeywordListsBuilder {
    /// The builder coding the elements.
    pub fn elements(&mut self) -> &mut KeywordsBuilder {
        &mut self.elements
    }

    /// Appends a row with these element codes (none for a null or empty list).
    pub fn push_row(&mut self, codes: &[u32]) {
        // Rows hold an element or two: pushed one by one, not copied as a slice.
        for &code in codes {
            self.elements.codes.push(code);
        }
        self.ends.push(self.elements.codes.len() as u32);
    }

    /// Appends rows whose elements are one run: `ends` are where each row ends in `run`.
    pub fn push_rows(&mut self, run: &[u32], ends: impl Iterator<Item = usize>) {
        let base = self.elements.codes.len();
        self.elements.codes.extend_from_slice(run);
        self.ends.extend(ends.map(|end| (base + end) as u32));
    }

    /// The column built so far.
    pub fn finish(self) -> KeywordLists {
        let mut offsets = Vec::with_capacity(self.ends.len() + 1);
        offsets.push(0);
        offsets.extend(self.ends);
        KeywordLists {
            offsets,
            elements: self.elements.finish(),
        }
    }
}

impl Column {
    /// Number of events (rows).
    pub fn len(&self) -> usize {
        match self {
            Column::Keyword(a) => a.codes.len(),
            Column::KeywordList(a) => a.len(),
            Column::Integer(a) => a.len(),
        }
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The single value of `row` (the first one for a list), or `None` when absent.
    pub fn first(&self, row: usize) -> Option<ValueRef<'_>> {
        self.values(row).next()
    }

    /// Every value of `row`: none when null, one for scalar columns, each element for lists.
    pub fn values(&self, row: usize) -> Values<'_> {
        Values {
            column: self,
            row,
            next: 0,
        }
    }
}

/// Iterator over the values of one row; see [`Column::values`].
pub struct Values<'a> {
    column: &'a Column,
    row: usize,
    next: usize,
}

impl<'a> Iterator for Values<'a> {
    type Item = ValueRef<'a>;

    fn next(&mut self) -> Option<ValueRef<'a>> {
        let index = self.next;
        self.next += 1;
        match self.column {
            Column::Keyword(a) => a.get(self.row).filter(|_| index == 0).map(ValueRef::Str),
            Column::Integer(a) => {
                (index == 0 && a.is_valid(self.row)).then(|| ValueRef::Int(a.value(self.row)))
            }
            Column::KeywordList(a) => {
                let codes = a.codes(self.row);
                let mut at = index;
                while codes.get(at) == Some(&Keywords::ABSENT) {
                    at += 1;
                    self.next += 1;
                }
                let code = *codes.get(at)?;
                a.values().get(code as usize).map(|v| ValueRef::Str(v))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_values_skip_null_elements() {
        let lists: KeywordLists = [
            vec![Some("network"), None, Some("process")],
            vec![],
            vec![Some("network")],
        ]
        .into_iter()
        .collect();
        assert_eq!(lists.len(), 3);
        assert_eq!(lists.codes(0), [0, Keywords::ABSENT, 1]);
        assert_eq!(lists.codes(2), [0], "equal elements share a code");
        let column = Column::KeywordList(lists);
        let row0: Vec<_> = column.values(0).map(|v| v.to_string()).collect();
        assert_eq!(row0, ["network", "process"]);
        assert_eq!(column.values(1).count(), 0);
        assert_eq!(column.values(3).count(), 0, "past the last row");
    }

    #[test]
    fn keywords_give_equal_strings_one_code() {
        let column: Keywords = ["ssh", "nc", "ssh"]
            .into_iter()
            .map(Some)
            .chain([None])
            .collect();
        assert_eq!(column.codes(), [0, 1, 0, Keywords::ABSENT]);
        assert_eq!(column.values(), ["ssh".into(), "nc".into()]);
        assert_eq!((column.get(2), column.get(3)), (Some("ssh"), None));
    }

    #[test]
    fn kinds_follow_ecs_names() {
        assert_eq!(FieldKind::of("destination.port"), FieldKind::Port);
        assert_eq!(FieldKind::of("event.type"), FieldKind::KeywordList);
        assert_eq!(FieldKind::of("host.name"), FieldKind::Keyword);
    }
}
