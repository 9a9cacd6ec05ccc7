//! Elastic's deterministic anomaly record id, so ids match what Elasticsearch would store and
//! alerts deduplicate the same way.

use super::values_to_id::values_to_id;

/// `{job_id}_record_{bucket_start_ms}_{bucket_span_s}_{detector_index}_{valuesToId(by, over, partition)}`,
/// as Elasticsearch 7.6 and later compute it.
pub fn record_id(
    job_id: &str,
    bucket_start_ms: i64,
    bucket_span_s: i64,
    detector_index: u32,
    by: Option<&str>,
    over: Option<&str>,
    partition: Option<&str>,
) -> String {
    let suffix = values_to_id(&[by, over, partition]);
    format!("{job_id}_record_{bucket_start_ms}_{bucket_span_s}_{detector_index}_{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_matches_elastic_format() {
        let id = record_id(
            "v3_linux_anomalous_network_port_activity",
            1_700_000_100_000,
            900,
            0,
            Some("4444"),
            None,
            None,
        );
        assert_eq!(
            id,
            "v3_linux_anomalous_network_port_activity_record_1700000100000_900_0_-57010440841075555165749155328788668196_4"
        );
    }

    #[test]
    fn partition_changes_the_id() {
        let a = record_id("j", 0, 900, 0, Some("22"), None, Some("web-01"));
        let b = record_id("j", 0, 900, 0, Some("22"), None, Some("web-02"));
        assert_ne!(a, b);
        assert!(a.ends_with("_8"));
    }
}
