//! Elasticsearch's `MachineLearningField.valuesToId`: the id suffix of records and influencers
//! since Elasticsearch 7.6, so ids match what Elasticsearch itself would store.

use std::fmt::Write;

/// The non-empty `values` concatenated, hashed with MurmurHash3 x64_128 (seed 0) over UTF-8, the
/// 16 bytes `h1` then `h2` big-endian read as a signed 128-bit integer in decimal, then `_` and
/// the concatenation's length in UTF-16 code units (Java's `String.length()`).
pub fn values_to_id(values: &[Option<&str>]) -> String {
    let combined: String = values.iter().flatten().copied().collect();
    let hash = murmur3_x64_128(combined.as_bytes());
    let mut id = hash.to_string();
    // Writing to a String cannot fail.
    let _ = write!(id, "_{}", combined.encode_utf16().count());
    id
}

/// `(h1 << 64) | h2` as Java's `new BigInteger(bytes)` reads the big-endian bytes of h1 then h2.
fn murmur3_x64_128(bytes: &[u8]) -> i128 {
    let mut reader = bytes;
    // The murmur3 crate returns `(h2 << 64) | h1`; reading from a slice never fails.
    let packed = murmur3::murmur3_x64_128(&mut reader, 0).unwrap_or_default();
    let (h1, h2) = (packed as u64, (packed >> 64) as u64);
    ((u128::from(h1) << 64) | u128::from(h2)) as i128
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_elasticsearch_vectors() {
        // From the Elasticsearch recipe; `store` is the record id suffix in Kibana's ML rule fixture.
        let cases = [
            ("store", "-96106189301704594950079884115725560577_5"),
            ("4444", "-57010440841075555165749155328788668196_4"),
            ("nc", "-137963705229589856294284031572529758102_2"),
            // Longer than one 16-byte block, and non-ASCII (UTF-8 bytes ≠ UTF-16 units).
            (
                "systemd-resolved",
                "45416825507273850553559978420675126738_16",
            ),
            (
                "a-much-longer-process-name-over-32-bytes",
                "-102315068176302317012822640621218626976_40",
            ),
            (
                "héllo wörld 0123456789abcdef",
                "-142118678764426058770044035989916892315_28",
            ),
        ];
        for (value, id) in cases {
            assert_eq!(values_to_id(&[Some(value)]), id, "{value}");
        }
    }

    #[test]
    fn absent_values_are_skipped() {
        assert_eq!(
            values_to_id(&[Some("4444"), None, None]),
            values_to_id(&[Some("4444")])
        );
        assert_eq!(
            values_to_id(&[Some("44"), Some("44")]),
            values_to_id(&[Some("4444")])
        );
    }
}
