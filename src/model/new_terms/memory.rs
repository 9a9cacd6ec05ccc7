//! The memory estimate that holds the new-terms model to `model_memory_limit`.
//!
//! Input: the values of each term the model keeps. Output: bytes charged when the term is
//! admitted and given back when it is forgotten.

/// A term entry: its list (24) + last-seen time (8) + map slack (32), and per value a `String`
/// (24) plus its bytes.
const TERM_ENTRY: u64 = 24 + 8 + 32;
const VALUE_ENTRY: u64 = 24;
/// The model's fixed fields.
pub const FIXED_BYTES: u64 = 1024;

/// Bytes charged for a term.
pub fn term_cost(term: &[String]) -> u64 {
    TERM_ENTRY
        + term
            .iter()
            .map(|v| VALUE_ENTRY + v.len() as u64)
            .sum::<u64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_term_costs_its_entry_and_its_values() {
        // 64 + (24 + 6) + (24 + 4).
        assert_eq!(term_cost(&["web-01".into(), "4444".into()]), 122);
    }
}
