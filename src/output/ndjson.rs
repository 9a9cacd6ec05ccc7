//! Alerts as Elasticsearch `_bulk` NDJSON, to load them into Kibana's alerts index.

use serde_json::{Map, Value, json};

/// `_bulk` text: for each document a `create` action into `index` with the alert uuid as `_id`
/// (so loading twice adds nothing: Elasticsearch answers 409), then the document, one line each.
pub fn alerts_ndjson(index: &str, documents: &[Map<String, Value>]) -> String {
    let mut out = String::new();
    for document in documents {
        let id = document
            .get("kibana.alert.uuid")
            .cloned()
            .unwrap_or(Value::Null);
        let action = json!({ "create": { "_index": index, "_id": id } });
        out.push_str(&action.to_string());
        out.push('\n');
        out.push_str(&Value::Object(document.clone()).to_string());
        out.push('\n');
    }
    out
}
