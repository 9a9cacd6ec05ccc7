//! One table per result type lists the fields of its Elastic document and how each is read from
//! the result. The Parquet row, the `_bulk` NDJSON document and the record embedded in an alert
//! are all derived from it, so no sink names, types or reads a field on its own.

use std::sync::{Arc, LazyLock};

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, StructArray};
use arrow::datatypes::{DataType, Fields, Schema};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use serde_json::{Map, Value, json};

use super::arrays::{
    field_of, float_lists, json_list, json_struct, string_lists, strings, struct_lists, time,
    timestamps,
};
use crate::results::{
    AnomalyRecord, BucketInfluencer, BucketResult, InfluencerResult, ModelSizeStats,
};

/// A named column: name, values, nullable.
pub(super) type Column = (String, ArrayRef, bool);

/// Where a field is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// In the Elastic document and in the Parquet row.
    Both,
    /// In the Parquet row only: ids and versions, which Elasticsearch keeps as `_id` and
    /// `_version`, and netrare's own columns.
    Row,
    /// In the Elastic document only.
    Document,
}

impl Role {
    pub(super) fn in_row(self) -> bool {
        self != Role::Document
    }

    fn in_document(self) -> bool {
        self != Role::Row
    }

    /// A nested document's struct holds only its document fields: its ids and versions are its
    /// parent's.
    fn nested(self) -> bool {
        self == Role::Both
    }
}

/// How a field is read from a result of type `T`; the variant gives both its Arrow column and
/// its JSON value. An optional value is a nullable column, and absent from the document.
pub(super) enum Read<T> {
    Keyword(fn(&T) -> &str),
    /// An id made from the result's fields.
    Id(fn(&T) -> String),
    OptionalKeyword(fn(&T) -> Option<&str>),
    Keywords(fn(&T) -> &[String]),
    /// The result's values of the field the column is named after.
    ValuesOf(fn(&T, &str) -> Vec<String>),
    /// A 32-bit integer column.
    Integer(fn(&T) -> i32),
    Long(fn(&T) -> i64),
    /// A count: a long column.
    Count(fn(&T) -> u64),
    Double(fn(&T) -> f64),
    OptionalDouble(fn(&T) -> Option<f64>),
    Doubles(fn(&T) -> &[f64]),
    Flag(fn(&T) -> bool),
    OptionalFlag(fn(&T) -> Option<bool>),
    /// Epoch milliseconds: a UTC timestamp column, a number in the document.
    Time(fn(&T) -> i64),
    /// An object whose fields are read from the same result.
    Object(Vec<Field<T>>),
    /// A list of documents of another type, each read through its own table.
    List(Box<dyn Nested<T>>),
}

/// One field of a result type's document.
pub(super) struct Field<T> {
    pub name: &'static str,
    pub role: Role,
    pub read: Read<T>,
    /// The field's place among the record's columns of the alerts file. Kibana embeds the record
    /// in the order ml-cpp writes it, not the records file's, so only the record's document
    /// fields have one.
    pub in_alert: Option<u8>,
}

impl<T> Field<T> {
    pub fn both(name: &'static str, read: Read<T>) -> Self {
        Field::new(name, Role::Both, read)
    }

    pub fn row(name: &'static str, read: Read<T>) -> Self {
        Field::new(name, Role::Row, read)
    }

    pub fn document(name: &'static str, read: Read<T>) -> Self {
        Field::new(name, Role::Document, read)
    }

    fn new(name: &'static str, role: Role, read: Read<T>) -> Self {
        Field {
            name,
            role,
            read,
            in_alert: None,
        }
    }
}

/// What every result type has, read alike by every table.
pub(super) trait Shared {
    /// `result_type`.
    const RESULT_TYPE: &'static str;
    fn job_id(&self) -> &str;
    fn timestamp_ms(&self) -> i64;
}

/// What every result of a bucket has (all but the model size statistics).
pub(super) trait InBucket: Shared {
    fn bucket_span(&self) -> i64;
    fn is_interim(&self) -> bool;
}

/// Implements [`Shared`] and [`InBucket`] from the fields the results of a bucket have.
macro_rules! in_bucket {
    ($($result:ty => $result_type:literal),*) => {$(
        impl Shared for $result {
            const RESULT_TYPE: &'static str = $result_type;
            fn job_id(&self) -> &str {
                &self.job_id
            }
            fn timestamp_ms(&self) -> i64 {
                self.timestamp_ms.ms()
            }
        }
        impl InBucket for $result {
            fn bucket_span(&self) -> i64 {
                self.bucket_span
            }
            fn is_interim(&self) -> bool {
                self.is_interim
            }
        }
    )*};
}

in_bucket!(
    AnomalyRecord => "record",
    BucketResult => "bucket",
    BucketInfluencer => "bucket_influencer",
    InfluencerResult => "influencer"
);

impl Shared for ModelSizeStats {
    const RESULT_TYPE: &'static str = "model_size_stats";
    fn job_id(&self) -> &str {
        &self.job_id
    }
    fn timestamp_ms(&self) -> i64 {
        self.timestamp_ms.ms()
    }
}

impl<T: Shared> Field<T> {
    pub fn job_id() -> Self {
        Field::both("job_id", Read::Keyword(T::job_id))
    }

    pub fn result_type() -> Self {
        Field::both("result_type", Read::Keyword(|_| T::RESULT_TYPE))
    }

    pub fn timestamp() -> Self {
        Field::both("timestamp", Read::Time(T::timestamp_ms))
    }
}

impl<T: InBucket> Field<T> {
    pub fn bucket_span() -> Self {
        Field::both("bucket_span", Read::Long(T::bucket_span))
    }

    pub fn is_interim() -> Self {
        Field::both("is_interim", Read::Flag(T::is_interim))
    }
}

/// The table of a bucket's result: its `id`, the fields every result of a bucket begins with
/// (`job_id`, `result_type`, `timestamp`, `bucket_span`, `is_interim`), then its `own`.
pub(super) fn bucket_result<T: InBucket>(
    id: fn(&T) -> String,
    own: Vec<Field<T>>,
) -> Vec<Field<T>> {
    let mut fields = vec![
        Field::row("id", Read::Id(id)),
        Field::job_id(),
        Field::result_type(),
        Field::timestamp(),
        Field::bucket_span(),
        Field::is_interim(),
    ];
    fields.extend(own);
    fields
}

/// The documents nested in a list field, type-erased so that a table can hold them.
pub(super) trait Nested<T>: Send + Sync {
    /// The list column of `rows`: each row's documents as structs.
    fn column(&self, rows: &[&T]) -> Result<ArrayRef, ArrowError>;
    /// The documents of `row`.
    fn documents(&self, row: &T) -> Value;
    /// The list's type in the alerts file.
    fn json_type(&self) -> DataType;
}

/// The documents of type `U` a `T` holds, with the table that reads them.
pub(super) struct ListOf<T, U: 'static> {
    pub items: fn(&T) -> &[U],
    pub fields: &'static LazyLock<Vec<Field<U>>>,
}

impl<T, U: 'static> Nested<T> for ListOf<T, U> {
    fn column(&self, rows: &[&T]) -> Result<ArrayRef, ArrowError> {
        let items: Vec<&U> = rows.iter().flat_map(|r| (self.items)(r)).collect();
        struct_lists(
            columns(self.fields, &items, Role::nested)?,
            rows.iter().map(|r| (self.items)(r).len()),
        )
    }

    fn documents(&self, row: &T) -> Value {
        let items = (self.items)(row).iter();
        Value::Array(
            items
                .map(|item| Value::Object(document(self.fields, item)))
                .collect(),
        )
    }

    fn json_type(&self) -> DataType {
        json_list(object_json_type(self.fields))
    }
}

/// The columns of the fields of `rows` that `keep` keeps, in table order.
pub(super) fn columns<T>(
    fields: &[Field<T>],
    rows: &[&T],
    keep: fn(Role) -> bool,
) -> Result<Vec<Column>, ArrowError> {
    fields
        .iter()
        .filter(|f| keep(f.role))
        .map(|f| Ok((f.name.to_string(), column(f, rows)?, f.read.nullable())))
        .collect()
}

/// One Parquet row per result: every field but the document-only ones.
pub(super) fn batch<T>(fields: &[Field<T>], rows: &[&T]) -> Result<RecordBatch, ArrowError> {
    batch_of(columns(fields, rows, Role::in_row)?)
}

/// A batch of named columns.
pub(super) fn batch_of(columns: Vec<Column>) -> Result<RecordBatch, ArrowError> {
    let fields: Vec<_> = columns
        .iter()
        .map(|(name, array, nullable)| field_of(name, array, *nullable))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, a, _)| a).collect(),
    )
}

/// The Elastic document of `row`.
pub(super) fn document<T>(fields: &[Field<T>], row: &T) -> Map<String, Value> {
    fields
        .iter()
        .filter(|f| f.role.in_document())
        .filter_map(|f| Some((f.name.to_string(), value(f, row)?)))
        .collect()
}

/// The column type the alerts file gives a field: the type of its JSON value, integers as
/// longs, every column, item and struct field nullable.
pub(super) fn json_type<T>(read: &Read<T>) -> DataType {
    match read {
        Read::Keyword(_) | Read::Id(_) | Read::OptionalKeyword(_) => DataType::Utf8,
        Read::Keywords(_) | Read::ValuesOf(_) => json_list(DataType::Utf8),
        Read::Integer(_) | Read::Long(_) | Read::Count(_) => DataType::Int64,
        Read::Double(_) | Read::OptionalDouble(_) => DataType::Float64,
        Read::Doubles(_) => json_list(DataType::Float64),
        Read::Flag(_) | Read::OptionalFlag(_) => DataType::Boolean,
        Read::Time(_) => time(),
        Read::Object(fields) => object_json_type(fields),
        Read::List(nested) => nested.json_type(),
    }
}

fn object_json_type<T>(fields: &[Field<T>]) -> DataType {
    let types: Vec<(&str, DataType)> = fields
        .iter()
        .filter(|f| f.role.nested())
        .map(|f| (f.name, json_type(&f.read)))
        .collect();
    json_struct(&types)
}

impl<T> Read<T> {
    fn nullable(&self) -> bool {
        matches!(
            self,
            Read::OptionalKeyword(_) | Read::OptionalDouble(_) | Read::OptionalFlag(_)
        )
    }
}

fn column<T>(field: &Field<T>, rows: &[&T]) -> Result<ArrayRef, ArrowError> {
    Ok(match &field.read {
        Read::Keyword(f) => strings(rows.iter().map(|r| Some(f(r)))),
        Read::Id(f) => {
            let ids: Vec<String> = rows.iter().map(|r| f(r)).collect();
            strings(ids.iter().map(|s| Some(s.as_str())))
        }
        Read::OptionalKeyword(f) => strings(rows.iter().map(|r| f(r))),
        Read::Keywords(f) => string_lists(rows.iter().map(|r| f(r))),
        Read::ValuesOf(f) => {
            let values: Vec<Vec<String>> = rows.iter().map(|r| f(r, field.name)).collect();
            string_lists(values.iter())
        }
        Read::Integer(f) => Arc::new(rows.iter().map(|r| f(r)).collect::<Int32Array>()),
        Read::Long(f) => Arc::new(rows.iter().map(|r| f(r)).collect::<Int64Array>()),
        Read::Count(f) => Arc::new(rows.iter().map(|r| f(r) as i64).collect::<Int64Array>()),
        Read::Double(f) => Arc::new(rows.iter().map(|r| f(r)).collect::<Float64Array>()),
        Read::OptionalDouble(f) => Arc::new(rows.iter().map(|r| f(r)).collect::<Float64Array>()),
        Read::Doubles(f) => float_lists(rows.iter().map(|r| f(r))),
        Read::Flag(f) => Arc::new(rows.iter().map(|r| Some(f(r))).collect::<BooleanArray>()),
        Read::OptionalFlag(f) => Arc::new(rows.iter().map(|r| f(r)).collect::<BooleanArray>()),
        Read::Time(f) => timestamps(rows.iter().map(|r| f(r))),
        Read::Object(fields) => {
            let columns = columns(fields, rows, Role::nested)?;
            let fields: Fields = columns
                .iter()
                .map(|(name, array, nullable)| field_of(name, array, *nullable))
                .collect();
            let arrays = columns.into_iter().map(|(_, a, _)| a).collect();
            Arc::new(StructArray::try_new(fields, arrays, None)?)
        }
        Read::List(nested) => nested.column(rows)?,
    })
}

/// The JSON value of `field` in `row`; `None` for an absent optional value.
fn value<T>(field: &Field<T>, row: &T) -> Option<Value> {
    Some(match &field.read {
        Read::Keyword(f) => json!(f(row)),
        Read::Id(f) => json!(f(row)),
        Read::OptionalKeyword(f) => json!(f(row)?),
        Read::Keywords(f) => json!(f(row)),
        Read::ValuesOf(f) => json!(f(row, field.name)),
        Read::Integer(f) => json!(f(row)),
        Read::Long(f) | Read::Time(f) => json!(f(row)),
        Read::Count(f) => json!(f(row)),
        Read::Double(f) => json!(f(row)),
        Read::OptionalDouble(f) => json!(f(row)?),
        Read::Doubles(f) => json!(f(row)),
        Read::Flag(f) => json!(f(row)),
        Read::OptionalFlag(f) => json!(f(row)?),
        Read::Object(fields) => Value::Object(document(fields, row)),
        Read::List(nested) => nested.documents(row),
    })
}
