//! Elastic's deterministic anomaly record id, so ids match what Elasticsearch would store and
//! alerts deduplicate the same way.

/// `{job_id}_record_{bucket_start_ms}_{bucket_span_s}_{detector_index}_{hash}_{length}`, where
/// `hash` is Java's `Objects.hash(by, over, partition)` and `length` the sum of their lengths in
/// UTF-16 code units, as Elasticsearch computes them.
pub fn record_id(
    job_id: &str,
    bucket_start_ms: i64,
    bucket_span_s: i64,
    detector_index: u32,
    by: Option<&str>,
    over: Option<&str>,
    partition: Option<&str>,
) -> String {
    let values = [by, over, partition];
    let hash = values.iter().fold(1i32, |h, v| {
        h.wrapping_mul(31)
            .wrapping_add(v.map_or(0, java_string_hash))
    });
    let length: usize = values
        .iter()
        .map(|v| v.map_or(0, |s| s.encode_utf16().count()))
        .sum();
    format!("{job_id}_record_{bucket_start_ms}_{bucket_span_s}_{detector_index}_{hash}_{length}")
}

/// Java's `String.hashCode`: `s[0]·31^(n−1) + … + s[n−1]` over UTF-16 code units, wrapping.
fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hashes() {
        // Known values of Java's "".hashCode(), "a".hashCode(), "4444".hashCode(), "hello".hashCode().
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("4444"), 1_600_768);
        assert_eq!(java_string_hash("hello"), 99_162_322);
    }

    #[test]
    fn id_matches_elastic_format() {
        // Objects.hash("4444", null, null) = ((1·31 + 1600768)·31 + 0)·31 + 0.
        let h = (31i32 + 1_600_768).wrapping_mul(31).wrapping_mul(31);
        let id = record_id(
            "v3_linux_anomalous_network_port_activity",
            1_763_800_200_000,
            900,
            0,
            Some("4444"),
            None,
            None,
        );
        assert_eq!(
            id,
            format!("v3_linux_anomalous_network_port_activity_record_1763800200000_900_0_{h}_4")
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
