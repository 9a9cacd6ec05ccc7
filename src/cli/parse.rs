//! Flag values shared by several subcommands.

use chrono::{DateTime, Utc};

/// Parses an RFC 3339 time.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{text:?} is not an RFC 3339 time ({e}), e.g. 2026-11-22T13:15:00Z"))
}

/// Parses a value by its serde name (`elastic`, `full`), so every variant of the enum is
/// accepted as soon as it exists.
pub fn parse_name<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|e| format!("{text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::Scenarios;
    use crate::model::ModelKind;

    #[test]
    fn names_parse_from_their_serde_names() {
        assert_eq!(parse_name::<ModelKind>("elastic"), Ok(ModelKind::Elastic));
        assert!(
            parse_name::<ModelKind>("nope")
                .unwrap_err()
                .contains("nope")
        );
        assert_eq!(parse_name::<Scenarios>("full"), Ok(Scenarios::Full));
    }
}
