//! Small builders shared by the result and alert schemas.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Builder, ListArray, ListBuilder, StringArray, StringBuilder, StructArray,
    TimestampMillisecondArray,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Fields, TimeUnit};
use arrow::error::ArrowError;

/// A non-null UTC millisecond timestamp column.
pub fn timestamps(values: impl Iterator<Item = i64>) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from(values.collect::<Vec<_>>()).with_timezone("UTC"))
}

/// A string column.
pub fn strings<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(values.collect::<StringArray>())
}

/// A list-of-strings column.
pub fn string_lists<'a, I: IntoIterator<Item = &'a String>>(
    rows: impl Iterator<Item = I>,
) -> ArrayRef {
    let mut builder = ListBuilder::new(StringBuilder::new());
    for row in rows {
        for v in row {
            builder.values().append_value(v);
        }
        builder.append(true);
    }
    Arc::new(builder.finish())
}

/// A list-of-doubles column.
pub fn float_lists<'a>(rows: impl Iterator<Item = &'a [f64]>) -> ArrayRef {
    let mut builder = ListBuilder::new(Float64Builder::new());
    for row in rows {
        builder.values().append_slice(row);
        builder.append(true);
    }
    Arc::new(builder.finish())
}

/// The type of a UTC millisecond timestamp column.
pub fn time() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// A list type whose items may be null, as a JSON array's.
pub fn json_list(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", item, true)))
}

/// A struct type whose fields may be null, as a JSON object's.
pub fn json_struct(fields: &[(&str, DataType)]) -> DataType {
    DataType::Struct(Fields::from(
        fields
            .iter()
            .map(|(name, t)| Field::new(*name, t.clone(), true))
            .collect::<Vec<_>>(),
    ))
}

/// A field whose type is taken from the array built for it.
pub fn field_of(name: &str, array: &ArrayRef, nullable: bool) -> Field {
    Field::new(name, array.data_type().clone(), nullable)
}

/// A list-of-structs column: `columns` (name, values, nullable) hold the structs of every row in
/// order, `lengths` how many of them each row has.
pub fn struct_lists(
    columns: Vec<(String, ArrayRef, bool)>,
    lengths: impl Iterator<Item = usize>,
) -> Result<ArrayRef, ArrowError> {
    let fields: Fields = columns
        .iter()
        .map(|(name, array, nullable)| field_of(name, array, *nullable))
        .collect();
    let structs = StructArray::try_new(
        fields.clone(),
        columns.into_iter().map(|(_, a, _)| a).collect(),
        None,
    )?;
    let item = Arc::new(Field::new("item", DataType::Struct(fields), false));
    let offsets = OffsetBuffer::from_lengths(lengths);
    Ok(Arc::new(ListArray::try_new(
        item,
        offsets,
        Arc::new(structs),
        None,
    )?))
}
