//! The anomaly record's document and its row of the records files (`<out>/anomalies/`).

use std::sync::LazyLock;

use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use super::document::{Field, ListOf, Read::*, batch};
use crate::results::{ALERT_FIELDS, AnomalyRecord, Influencer};

/// The record's fields, in the records file's column order; see `docs/outputs.md`. After the
/// document's fields come netrare's own: one list of values per [`ALERT_FIELDS`] field, and
/// what explains the score.
pub(super) static RECORD: LazyLock<Vec<Field<AnomalyRecord>>> = LazyLock::new(|| {
    let mut fields: Vec<Field<AnomalyRecord>> = vec![
        Field::row("record_id", Keyword(|r| &r.record_id)),
        embedded(0, Field::job_id()),
        embedded(1, Field::result_type()),
        embedded(9, Field::timestamp()),
        embedded(6, Field::bucket_span()),
        embedded(
            7,
            Field::both("detector_index", Integer(|r| r.detector_index as i32)),
        ),
        embedded(8, Field::is_interim()),
        embedded(10, Field::both("function", Keyword(|r| &r.function))),
        embedded(
            11,
            Field::both("function_description", Keyword(|r| &r.function_description)),
        ),
        embedded(
            14,
            Field::both("by_field_name", Keyword(|r| &r.by_field_name)),
        ),
        embedded(
            15,
            Field::both("by_field_value", Keyword(|r| &r.by_field_value)),
        ),
        embedded(
            16,
            Field::both(
                "partition_field_name",
                OptionalKeyword(|r| r.partition_field_name.as_deref()),
            ),
        ),
        embedded(
            17,
            Field::both(
                "partition_field_value",
                OptionalKeyword(|r| r.partition_field_value.as_deref()),
            ),
        ),
        embedded(2, Field::both("probability", Double(|r| r.probability))),
        // ml-cpp writes it on every event rate record; `rare` has no multi-bucket feature.
        embedded(3, Field::document("multi_bucket_impact", Double(|_| 0.0))),
        embedded(4, Field::both("record_score", Double(|r| r.record_score))),
        embedded(
            5,
            Field::both("initial_record_score", Double(|r| r.initial_record_score)),
        ),
        Field::row("result_version", Count(|r| r.result_version)),
        embedded(12, Field::both("typical", Doubles(|r| &r.typical))),
        embedded(13, Field::both("actual", Doubles(|r| &r.actual))),
        embedded(18, Field::both("influencers", List(Box::new(INFLUENCERS)))),
        embedded(
            19,
            Field::both("anomaly_score_explanation", Object(explanation())),
        ),
        Field::row("influencers_capped", Flag(|r| r.influencers_capped)),
    ];
    fields.extend(ALERT_FIELDS.map(|name| Field::row(name, ValuesOf(AnomalyRecord::field_values))));
    let explained: Vec<Field<AnomalyRecord>> = vec![
        Field::row(
            "by_field_first_occurrence",
            Time(|r| r.by_field_first_occurrence_ms),
        ),
        Field::row(
            "by_field_relative_rarity",
            Double(|r| r.by_field_relative_rarity),
        ),
        Field::row("event_count", Count(|r| r.event_count)),
        Field::row("host_count", Count(|r| r.host_count)),
        Field::row("explanation", Keyword(|r| &r.explanation)),
    ];
    fields.extend(explained);
    fields
});

/// `field`, which Kibana embeds in an alert: at `place` among the record's columns of the alerts
/// file.
fn embedded(place: u8, field: Field<AnomalyRecord>) -> Field<AnomalyRecord> {
    Field {
        in_alert: Some(place),
        ..field
    }
}

/// `influencers`: `{influencer_field_name, influencer_field_values}` per field, as Elastic nests
/// them.
const INFLUENCERS: ListOf<AnomalyRecord, Influencer> = ListOf {
    items: |r| &r.influencers,
    fields: &INFLUENCER,
};

static INFLUENCER: LazyLock<Vec<Field<Influencer>>> = LazyLock::new(|| {
    vec![
        Field::both(
            "influencer_field_name",
            Keyword(|i| &i.influencer_field_name),
        ),
        Field::both(
            "influencer_field_values",
            Keywords(|i| &i.influencer_field_values),
        ),
    ]
});

/// `anomaly_score_explanation`: the keys ml-cpp writes for `rare`, absent (null) where it omits
/// the key.
fn explanation() -> Vec<Field<AnomalyRecord>> {
    vec![
        Field::both(
            "by_field_first_occurrence",
            OptionalFlag(|r| r.anomaly_score_explanation().by_field_first_occurrence),
        ),
        Field::both(
            "by_field_relative_rarity",
            OptionalDouble(|r| r.anomaly_score_explanation().by_field_relative_rarity),
        ),
    ]
}

/// One row per record, with Elastic's field names; see `docs/outputs.md`.
pub fn records_batch(records: &[AnomalyRecord]) -> Result<RecordBatch, ArrowError> {
    let rows: Vec<&AnomalyRecord> = records.iter().collect();
    batch(&RECORD, &rows)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::output::document::{Role, document};

    #[test]
    fn every_document_field_has_its_own_place_in_the_alerts_file() {
        let mut places: Vec<u8> = RECORD
            .iter()
            .filter(|f| f.role != Role::Row)
            .map(|f| f.in_alert.unwrap_or(u8::MAX))
            .collect();
        places.sort_unstable();
        let expected: Vec<u8> = (0..places.len() as u8).collect();
        assert_eq!(places, expected);
        assert!(
            RECORD
                .iter()
                .all(|f| f.role != Role::Row || f.in_alert.is_none())
        );
    }

    #[test]
    fn a_rare_explanation_holds_only_the_by_field_keys_ml_cpp_writes() {
        let first = AnomalyRecord::sample("4444", 900_000, 80.0, &[]);
        let doc = document(&RECORD, &first);
        let explanation = &doc["anomaly_score_explanation"];
        let keys: Vec<&String> = explanation
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            ["by_field_first_occurrence", "by_field_relative_rarity"]
        );
        assert_eq!(explanation["by_field_first_occurrence"], json!(true));
        let seen_before = AnomalyRecord {
            by_field_first_occurrence_ms: 0,
            by_field_relative_rarity: 0.0,
            ..first
        };
        let doc = document(&RECORD, &seen_before);
        assert_eq!(doc["anomaly_score_explanation"], json!({}));
    }
}
