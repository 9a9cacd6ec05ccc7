//! A job's fold as one Spark SQL query: the datafeed's selection of a time window, grouped by
//! bucket, partition and by-value into exactly the rows of the bucket summary contract
//! (docs/bucket-summary.md).

use super::columns::{MissingColumn, SourceSchema, literal, reference};
use super::predicate;
use crate::bucket::{FoldFields, MAX_INFLUENCER_VALUES};
use crate::datafeed::BoolQuery;
use crate::store::{FieldKind, TimeRange};

/// The version of the summary contract the query produces and the decoder reads.
pub const SUMMARY_VERSION: i32 = 2;

/// The contract's column holding an influencer field's values.
pub fn influencer_column(field: &str) -> String {
    format!("influencer:{field}")
}

/// Why a job cannot be compiled to Spark SQL.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Missing(#[from] MissingColumn),
    #[error(transparent)]
    Datafeed(#[from] crate::datafeed::Error),
}

/// The view a path source is read through.
const PATH_VIEW: &str = "netrare_events";

fn is_path(source: &str) -> bool {
    source.contains('/') || source.contains(':') || source.ends_with(".parquet")
}

/// What the query reads events from: a table the cluster knows, as named, or for a path the
/// view [`source_view`] creates.
pub fn from_clause(source: &str) -> String {
    if is_path(source) {
        PATH_VIEW.to_string()
    } else {
        source.to_string()
    }
}

/// For a path source, the statement creating the view the query reads: every `*.parquet` file
/// below the path (as the native store finds them, hidden and `_` names skipped), with flat and
/// nested column layouts merged.
pub fn source_view(source: &str) -> Option<String> {
    is_path(source).then(|| {
        format!(
            "CREATE OR REPLACE TEMPORARY VIEW {PATH_VIEW} USING parquet OPTIONS (path {}, \
             pathGlobFilter '*.parquet', recursiveFileLookup 'true', mergeSchema 'true')",
            literal(source)
        )
    })
}

/// The query folding the events of `source` selected by `datafeed` into the summaries of the
/// buckets in `window`.
pub fn summary_query(
    source: &str,
    datafeed: &BoolQuery,
    fold: &FoldFields,
    window: TimeRange,
    schema: &SourceSchema,
) -> Result<String, Error> {
    let TimeRange { start_ms, end_ms } = window;
    let (ts_ms, window) = schema.timestamp(start_ms, end_ms)?;
    let selection = predicate::compile(datafeed, schema)?;
    let by = as_string(
        &fold.by_field,
        schema.required_value(&fold.by_field, "the job's by field")?,
    );
    let partition = match &fold.partition_field {
        Some(field) => as_string(
            field,
            schema.required_value(field, "the job's partition field")?,
        ),
        None => "CAST(NULL AS STRING)".to_string(),
    };
    let has_partition = if fold.partition_field.is_some() {
        " AND partition_value IS NOT NULL"
    } else {
        ""
    };
    let influencers: Vec<(String, String)> = fold
        .influencers
        .iter()
        .enumerate()
        .map(|(i, field)| (format!("i{i}"), influencer_values(field, schema)))
        .collect();
    let mut projected = vec![
        format!("{ts_ms} AS ts_ms"),
        format!("{by} AS by_value"),
        format!("{partition} AS partition_value"),
        format!("{} AS host_name", schema.value("host.name")),
    ];
    projected.extend(influencers.iter().map(|(name, v)| format!("{v} AS {name}")));
    let span = fold.span.ms();
    let mut grouped = vec![
        format!("ts_ms - pmod(ts_ms, {span}) AS bucket_start_ms"),
        "partition_value".to_string(),
        "by_value".to_string(),
        "COUNT(*) AS event_count".to_string(),
        "MIN(ts_ms) AS first_event_ms".to_string(),
        "array_sort(collect_set(host_name)) AS hosts".to_string(),
    ];
    grouped.extend(
        fold.influencers
            .iter()
            .zip(&influencers)
            .map(|(field, (name, _))| match FieldKind::of(field) {
                FieldKind::KeywordList => {
                    format!("array_sort(array_distinct(flatten(collect_set({name})))) AS {name}")
                }
                _ => format!("array_sort(collect_set({name})) AS {name}"),
            }),
    );
    let mut summary = vec![
        format!("{SUMMARY_VERSION} AS summary_version"),
        "bucket_start_ms".to_string(),
        "partition_value AS `partition`".to_string(),
        "by_value AS `by`".to_string(),
        "event_count".to_string(),
        "first_event_ms".to_string(),
        "CAST(SUM(event_count) OVER (PARTITION BY bucket_start_ms) AS BIGINT) AS bucket_event_count"
            .to_string(),
        "hosts".to_string(),
    ];
    summary.extend(
        fold.influencers
            .iter()
            .zip(&influencers)
            .map(|(field, (name, _))| {
                format!(
                    "slice({name}, 1, {MAX_INFLUENCER_VALUES}) AS {}",
                    reference(&[influencer_column(field)])
                )
            }),
    );
    let capped: Vec<String> = influencers
        .iter()
        .map(|(name, _)| format!("size({name}) > {MAX_INFLUENCER_VALUES}"))
        .chain(std::iter::once("false".to_string()))
        .collect();
    summary.push(format!("({}) AS influencers_capped", capped.join(" OR ")));
    Ok(format!(
        "-- netrare bucket summary v{SUMMARY_VERSION}: buckets of {span} ms in [{from}, {to})\n\
         SELECT\n  {summary}\nFROM (\n  SELECT\n    {grouped}\n  FROM (\n    SELECT\n      {projected}\n    \
         FROM {source}\n    WHERE {window}\n      AND {selection}\n  )\n  \
         WHERE by_value IS NOT NULL{has_partition}\n  GROUP BY 1, 2, 3\n)\n",
        from = start_ms,
        to = end_ms,
        summary = summary.join(",\n  "),
        grouped = grouped.join(",\n    "),
        projected = projected.join(",\n      "),
        source = from_clause(source),
    ))
}

/// A by or partition value as the string the native fold keys it by: a list field's first
/// element, an integer in decimal.
fn as_string(field: &str, value: String) -> String {
    match FieldKind::of(field) {
        FieldKind::KeywordList => format!("try_element_at({value}, 1)"),
        FieldKind::Port | FieldKind::Integer => format!("CAST({value} AS STRING)"),
        FieldKind::Keyword => value,
    }
}

/// An influencer field's values of one event: a string, or for list fields an array of them.
fn influencer_values(field: &str, schema: &SourceSchema) -> String {
    let value = schema.value(field);
    match FieldKind::of(field) {
        FieldKind::KeywordList => format!("filter({value}, x -> x IS NOT NULL)"),
        FieldKind::Port | FieldKind::Integer => format!("CAST({value} AS STRING)"),
        FieldKind::Keyword => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::BucketSpan;
    use std::time::Duration;

    fn fold(partition: Option<&str>) -> FoldFields {
        FoldFields {
            span: BucketSpan(Duration::from_secs(900)),
            by_field: "destination.port".into(),
            partition_field: partition.map(String::from),
            influencers: vec!["host.name".into(), "event.category".into()],
        }
    }

    const WINDOW: TimeRange = TimeRange {
        start_ms: 900_000,
        end_ms: 1_800_000,
    };

    fn schema() -> SourceSchema {
        SourceSchema::flat(
            &[
                "destination.port",
                "host.name",
                "event.category",
                "process.name",
            ]
            .map(String::from),
        )
    }

    #[test]
    fn groups_by_bucket_partition_and_by_value_with_capped_influencers() {
        let sql = summary_query(
            "events",
            &BoolQuery::default(),
            &fold(None),
            WINDOW,
            &schema(),
        )
        .expect("compiles");
        for part in [
            "ts_ms - pmod(ts_ms, 900000) AS bucket_start_ms",
            "CAST(CASE WHEN try_cast(`destination.port` AS BIGINT) BETWEEN 0 AND 65535",
            "slice(i0, 1, 100) AS `influencer:host.name`",
            "array_sort(array_distinct(flatten(collect_set(i1)))) AS i1",
            "(size(i0) > 100 OR size(i1) > 100 OR false) AS influencers_capped",
            "`@timestamp` >= timestamp_millis(900000) AND `@timestamp` < timestamp_millis(1800000)",
            "FROM events\n",
            "WHERE by_value IS NOT NULL\n",
            "GROUP BY 1, 2, 3",
        ] {
            assert!(sql.contains(part), "{part:?} not in\n{sql}");
        }
    }

    #[test]
    fn a_partitioned_job_needs_its_partition_value() {
        let sql = summary_query(
            "events",
            &BoolQuery::default(),
            &fold(Some("process.name")),
            WINDOW,
            &schema(),
        )
        .expect("compiles");
        assert!(sql.contains("WHERE by_value IS NOT NULL AND partition_value IS NOT NULL"));
        let err = summary_query(
            "events",
            &BoolQuery::default(),
            &fold(Some("user.name")),
            WINDOW,
            &schema(),
        )
        .expect_err("no such column");
        assert!(err.to_string().contains("\"user.name\""), "{err}");
    }

    #[test]
    fn paths_are_read_through_a_parquet_view_and_tables_by_name() {
        assert_eq!(from_clause("/data/events"), "netrare_events");
        assert_eq!(
            source_view("s3a://lake/ecs").expect("a path"),
            "CREATE OR REPLACE TEMPORARY VIEW netrare_events USING parquet OPTIONS \
             (path 's3a://lake/ecs', pathGlobFilter '*.parquet', recursiveFileLookup 'true', \
             mergeSchema 'true')"
        );
        assert_eq!(from_clause("security.ecs_events"), "security.ecs_events");
        assert_eq!(source_view("security.ecs_events"), None);
    }
}
