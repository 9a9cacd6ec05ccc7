//! JSON documents as Arrow columns of a fixed schema, so a Parquet file holds exactly the fields
//! of the documents written as NDJSON, typed.
//!
//! Each column takes the document's value under its name: a missing or null value is a null, an
//! array fills a list, an object fills a struct (its missing fields null), a string fills a
//! timestamp as RFC 3339. A string column given an object or array holds its JSON text.

use arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, ListBuilder,
    StringBuilder, StructBuilder, TimestampMillisecondBuilder, make_builder,
};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use chrono::DateTime;
use serde_json::{Map, Value};

/// One row per document, one column per field of `schema`.
pub fn batch_from_json(
    schema: SchemaRef,
    documents: &[Map<String, Value>],
) -> Result<RecordBatch, ArrowError> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            let mut builder = make_builder(field.data_type(), documents.len());
            for document in documents {
                append(
                    builder.as_mut(),
                    field.data_type(),
                    document.get(field.name()),
                )
                .map_err(|e| ArrowError::InvalidArgumentError(format!("{}: {e}", field.name())))?;
            }
            Ok(builder.finish())
        })
        .collect::<Result<Vec<ArrayRef>, ArrowError>>()?;
    RecordBatch::try_new(schema, columns)
}

fn downcast<T: 'static>(builder: &mut dyn ArrayBuilder) -> Result<&mut T, ArrowError> {
    builder
        .as_any_mut()
        .downcast_mut::<T>()
        .ok_or_else(|| ArrowError::SchemaError("builder of an unexpected type".into()))
}

fn mismatch(expected: &str, value: &Value) -> ArrowError {
    ArrowError::InvalidArgumentError(format!("expected {expected}, found {value}"))
}

fn append(
    builder: &mut dyn ArrayBuilder,
    data_type: &DataType,
    value: Option<&Value>,
) -> Result<(), ArrowError> {
    let value = value.filter(|v| !v.is_null());
    match data_type {
        DataType::Utf8 => {
            let b = downcast::<StringBuilder>(builder)?;
            match value {
                None => b.append_null(),
                Some(Value::String(s)) => b.append_value(s),
                Some(other) => b.append_value(other.to_string()),
            }
        }
        DataType::Int64 => {
            let b = downcast::<Int64Builder>(builder)?;
            let n = value
                .map(|v| v.as_i64().ok_or_else(|| mismatch("an integer", v)))
                .transpose()?;
            b.append_option(n);
        }
        DataType::Float64 => {
            let b = downcast::<Float64Builder>(builder)?;
            let n = value
                .map(|v| v.as_f64().ok_or_else(|| mismatch("a number", v)))
                .transpose()?;
            b.append_option(n);
        }
        DataType::Boolean => {
            let b = downcast::<BooleanBuilder>(builder)?;
            let flag = value
                .map(|v| v.as_bool().ok_or_else(|| mismatch("a boolean", v)))
                .transpose()?;
            b.append_option(flag);
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            let b = downcast::<TimestampMillisecondBuilder>(builder)?;
            let ms = value.map(epoch_ms).transpose()?;
            b.append_option(ms);
        }
        DataType::List(item) => {
            let b = downcast::<ListBuilder<Box<dyn ArrayBuilder>>>(builder)?;
            match value {
                None => b.append_null(),
                Some(Value::Array(items)) => {
                    for v in items {
                        append(b.values().as_mut(), item.data_type(), Some(v))?;
                    }
                    b.append(true);
                }
                Some(one) => {
                    append(b.values().as_mut(), item.data_type(), Some(one))?;
                    b.append(true);
                }
            }
        }
        DataType::Struct(fields) => {
            let b = downcast::<StructBuilder>(builder)?;
            let object = match value {
                None => None,
                Some(Value::Object(o)) => Some(o),
                Some(other) => return Err(mismatch("an object", other)),
            };
            for (child, field) in b.field_builders_mut().iter_mut().zip(fields.iter()) {
                append(
                    child.as_mut(),
                    field.data_type(),
                    object.and_then(|o| o.get(field.name())),
                )?;
            }
            b.append(object.is_some());
        }
        other => {
            return Err(ArrowError::NotYetImplemented(format!(
                "JSON to {other} columns"
            )));
        }
    }
    Ok(())
}

/// A timestamp given as RFC 3339 text or as epoch milliseconds.
fn epoch_ms(value: &Value) -> Result<i64, ArrowError> {
    match value {
        Value::String(text) => DateTime::parse_from_rfc3339(text)
            .map(|t| t.timestamp_millis())
            .map_err(|_| mismatch("an RFC 3339 time", value)),
        other => other.as_i64().ok_or_else(|| mismatch("a time", other)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Field, Fields, Int64Type, Schema};
    use serde_json::json;

    use super::*;

    #[test]
    fn documents_fill_typed_columns_with_nulls_for_missing_values() {
        let item = Fields::from(vec![
            Field::new("id", DataType::Utf8, true),
            Field::new("depth", DataType::Int64, true),
        ]);
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, true),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                true,
            ),
            Field::new(
                "parents",
                DataType::List(Arc::new(Field::new("item", DataType::Struct(item), true))),
                true,
            ),
            Field::new("raw", DataType::Utf8, true),
        ]));
        let docs = [
            json!({"name": "a", "at": "2026-11-03T00:00:00.000Z",
                   "parents": [{"id": "r", "depth": 0}], "raw": {"k": 1}}),
            json!({"at": 1000, "parents": []}),
        ]
        .map(|d| d.as_object().cloned().unwrap_or_default());
        let batch = batch_from_json(schema, &docs).expect("batch");
        assert_eq!(batch.num_rows(), 2);
        let names = batch.column(0).as_string::<i32>();
        assert_eq!((names.value(0), names.is_null(1)), ("a", true));
        let at = batch
            .column(1)
            .as_primitive::<arrow::datatypes::TimestampMillisecondType>();
        assert_eq!((at.value(0), at.value(1)), (1_793_664_000_000, 1000));
        let parents = batch.column(2).as_list::<i32>();
        assert_eq!((parents.value(0).len(), parents.value(1).len()), (1, 0));
        let first = parents.value(0);
        let depth = first.as_struct().column(1).as_primitive::<Int64Type>();
        assert_eq!(depth.value(0), 0);
        assert_eq!(batch.column(3).as_string::<i32>().value(0), r#"{"k":1}"#);
    }

    #[test]
    fn a_value_of_the_wrong_type_names_the_column() {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]));
        let docs = [json!({"n": "x"}).as_object().cloned().unwrap_or_default()];
        let err = batch_from_json(schema, &docs).expect_err("string in an integer column");
        assert!(err.to_string().contains("n: "), "{err}");
    }
}
