//! How an ECS field is read from the Spark source: which column (flat dotted name, nested struct
//! path, or both) and how its values become the one internal form the native store gives them.

use crate::store::FieldKind;

/// The Spark type of a source column, as far as the query cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// `string`, or anything cast to one (integers print as the native store prints them).
    Scalar,
    /// `array<...>`.
    Array,
    /// `timestamp` or `timestamp_ntz`.
    Timestamp,
    /// `bigint`, `int` and other integers.
    Integer,
    /// A struct, map or anything else the query cannot read as a value.
    Other,
}

/// One leaf column of the source: its path (one element for a flat `host.name` column, several
/// for a nested `host` struct with a `name` field) and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceColumn {
    pub path: Vec<String>,
    pub column_type: ColumnType,
}

/// The columns of the source the query reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSchema {
    pub columns: Vec<SourceColumn>,
}

/// A field the source does not have where the query cannot do without it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the Spark source has no column {field:?} ({why})")]
pub struct MissingColumn {
    pub field: String,
    pub why: &'static str,
}

impl SourceSchema {
    /// The schema `netrare fixtures generate` and `ingest` write: flat dotted columns, list
    /// fields as arrays, `@timestamp` a timestamp. Used when no server is asked.
    pub fn flat(fields: &[String]) -> SourceSchema {
        let timestamp = SourceColumn {
            path: vec![TIMESTAMP.to_string()],
            column_type: ColumnType::Timestamp,
        };
        let columns = fields.iter().map(|field| SourceColumn {
            path: vec![field.clone()],
            column_type: match FieldKind::of(field) {
                FieldKind::KeywordList => ColumnType::Array,
                FieldKind::Port | FieldKind::Integer => ColumnType::Integer,
                FieldKind::Keyword => ColumnType::Scalar,
            },
        });
        SourceSchema {
            columns: std::iter::once(timestamp).chain(columns).collect(),
        }
    }

    /// The columns that hold `field`: a flat column named `field`, and a nested path whose
    /// segments join to `field`.
    fn find(&self, field: &str) -> Vec<&SourceColumn> {
        self.columns
            .iter()
            .filter(|c| c.path.join(".") == field && c.column_type != ColumnType::Other)
            .collect()
    }

    /// `field`'s values in its internal form, as a SQL expression: a string for keywords, a
    /// `bigint` for ports and integers (invalid ports null, as the native store nulls them), an
    /// `array<string>` for list fields. A field the source lacks is a typed NULL, as a missing
    /// field is null natively.
    pub fn value(&self, field: &str) -> String {
        let kind = FieldKind::of(field);
        let variants: Vec<String> = self
            .find(field)
            .into_iter()
            .map(|column| normalize(kind, column))
            .collect();
        match variants.len() {
            0 => null_of(kind).to_string(),
            1 => variants.concat(),
            _ => format!("coalesce({})", variants.join(", ")),
        }
    }

    /// `field`'s value, or an error naming it when the source has no such column.
    pub fn required_value(&self, field: &str, why: &'static str) -> Result<String, MissingColumn> {
        if self.find(field).is_empty() {
            return Err(MissingColumn {
                field: field.to_string(),
                why,
            });
        }
        Ok(self.value(field))
    }

    /// `@timestamp` as epoch milliseconds, and a filter for `[from_ms, to_ms)` the source can
    /// prune files and row groups with.
    pub fn timestamp(&self, from_ms: i64, to_ms: i64) -> Result<(String, String), MissingColumn> {
        let missing = || MissingColumn {
            field: TIMESTAMP.to_string(),
            why: "every event needs one",
        };
        let column = self
            .find(TIMESTAMP)
            .into_iter()
            .next()
            .ok_or_else(missing)?;
        let name = reference(&column.path);
        let (ms, window) = match column.column_type {
            ColumnType::Timestamp => (
                format!("unix_millis({name})"),
                format!(
                    "{name} >= timestamp_millis({from_ms}) AND {name} < timestamp_millis({to_ms})"
                ),
            ),
            ColumnType::Integer => (
                format!("CAST({name} AS BIGINT)"),
                format!("{name} >= {from_ms} AND {name} < {to_ms}"),
            ),
            _ => {
                let ms = format!("unix_millis(try_to_timestamp({name}))");
                let window = format!("{ms} >= {from_ms} AND {ms} < {to_ms}");
                (ms, window)
            }
        };
        Ok((ms, window))
    }
}

/// The event time column.
pub const TIMESTAMP: &str = "@timestamp";

/// A column reference: each path segment quoted, so dots inside a flat name stay part of it.
pub fn reference(path: &[String]) -> String {
    path.iter()
        .map(|segment| format!("`{}`", segment.replace('`', "``")))
        .collect::<Vec<_>>()
        .join(".")
}

/// A SQL string literal.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn null_of(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Keyword => "CAST(NULL AS STRING)",
        FieldKind::KeywordList => "CAST(NULL AS ARRAY<STRING>)",
        FieldKind::Port | FieldKind::Integer => "CAST(NULL AS BIGINT)",
    }
}

/// One column's values as the internal form of `kind`; a list column read as a scalar gives
/// its first element, a scalar read as a list a one-element list.
fn normalize(kind: FieldKind, column: &SourceColumn) -> String {
    let name = reference(&column.path);
    let scalar = match column.column_type {
        ColumnType::Array => format!("try_element_at({name}, 1)"),
        _ => name.clone(),
    };
    match kind {
        FieldKind::Keyword => format!("CAST({scalar} AS STRING)"),
        FieldKind::KeywordList => match column.column_type {
            ColumnType::Array => format!("transform({name}, v -> CAST(v AS STRING))"),
            _ => format!("CASE WHEN {name} IS NOT NULL THEN array(CAST({name} AS STRING)) END"),
        },
        FieldKind::Integer => format!("try_cast({scalar} AS BIGINT)"),
        FieldKind::Port => format!(
            "CASE WHEN try_cast({scalar} AS BIGINT) BETWEEN 0 AND 65535 \
             THEN try_cast({scalar} AS BIGINT) END"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested_and_flat() -> SourceSchema {
        let column = |path: &[&str], column_type| SourceColumn {
            path: path.iter().map(|s| s.to_string()).collect(),
            column_type,
        };
        SourceSchema {
            columns: vec![
                column(&["@timestamp"], ColumnType::Integer),
                column(&["host.name"], ColumnType::Scalar),
                column(&["host", "name"], ColumnType::Scalar),
                column(&["event", "category"], ColumnType::Scalar),
                column(&["destination.port"], ColumnType::Scalar),
            ],
        }
    }

    #[test]
    fn flat_and_nested_columns_of_one_field_are_coalesced() {
        assert_eq!(
            nested_and_flat().value("host.name"),
            "coalesce(CAST(`host.name` AS STRING), CAST(`host`.`name` AS STRING))"
        );
    }

    #[test]
    fn values_take_the_internal_form_of_their_field() {
        let schema = nested_and_flat();
        assert_eq!(
            schema.value("event.category"),
            "CASE WHEN `event`.`category` IS NOT NULL THEN array(CAST(`event`.`category` AS STRING)) END"
        );
        assert!(
            schema
                .value("destination.port")
                .contains("BETWEEN 0 AND 65535")
        );
        assert_eq!(schema.value("user.name"), "CAST(NULL AS STRING)");
    }

    #[test]
    fn a_missing_required_column_is_named() {
        let err = nested_and_flat()
            .required_value("process.name", "the job's by field")
            .expect_err("missing");
        assert!(err.to_string().contains("\"process.name\""), "{err}");
        let no_time = SourceSchema { columns: vec![] };
        assert!(no_time.timestamp(0, 1).is_err());
    }

    #[test]
    fn time_windows_prune_on_the_raw_column() {
        let (ms, window) = SourceSchema::flat(&[])
            .timestamp(0, 900_000)
            .expect("has time");
        assert_eq!(ms, "unix_millis(`@timestamp`)");
        assert_eq!(
            window,
            "`@timestamp` >= timestamp_millis(0) AND `@timestamp` < timestamp_millis(900000)"
        );
    }

    #[test]
    fn literals_and_names_are_quoted() {
        assert_eq!(literal("it's"), "'it\\'s'");
        assert_eq!(reference(&["a`b".to_string()]), "`a``b`");
    }
}
