//! Elasticsearch exports into ECS network events.
//!
//! Input, one JSON value per line: plain `_source` documents, search hits (`{"_source": ...}`),
//! `_bulk` bodies (an action line, then the document; `update` documents under `doc`), or
//! arrays of these; an input that opens with a JSON value spread over several lines (a
//! pretty-printed document, a saved search response) is read as a stream of JSON values. Documents whose
//! `event.category` lacks `network` are skipped and counted. Output: events in the store
//! via the parent module's writer, one file per input and day named `ndjson-<content hash>`.

mod fields;
#[cfg(test)]
mod tests;

use std::path::Path;

use serde_json::{Deserializer, Value};

use super::input::lines;
use super::write::{commit, file_stem, plausible_event_time};
use super::{Error, IngestReport, Input};
use crate::store::EcsEvent;

/// Ingests each input into the store at `out`. Malformed lines are counted and skipped; only
/// I/O and store errors stop the ingest.
pub fn ingest(inputs: &[Input], out: &Path) -> Result<IngestReport, Error> {
    let mut report = IngestReport::default();
    for input in inputs {
        let bytes = input.load()?;
        let name = input.name();
        let events = parse(&bytes, &name, &mut report);
        commit(
            out,
            &file_stem("ndjson", &bytes),
            &name,
            &events,
            &mut report,
        )?;
    }
    Ok(report)
}

/// Parses a whole export into network events, counting lines, malformed lines and skips.
pub fn parse(bytes: &[u8], name: &str, report: &mut IngestReport) -> Vec<EcsEvent> {
    let mut sink = Sink {
        name,
        report,
        events: Vec::new(),
    };
    if first_value_spans_lines(bytes) {
        sink.stream(bytes);
    } else {
        sink.lines(bytes);
    }
    sink.events
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// Whether the input opens with a complete JSON value written over several lines (a
/// pretty-printed document or response), rather than one value per line.
fn first_value_spans_lines(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let mut values = Deserializer::from_slice(&bytes[start..]).into_iter::<Value>();
    matches!(values.next(), Some(Ok(_)))
        && bytes[start..start + values.byte_offset()].contains(&b'\n')
}

struct Sink<'a> {
    name: &'a str,
    report: &'a mut IngestReport,
    events: Vec<EcsEvent>,
}

impl Sink<'_> {
    fn lines(&mut self, bytes: &[u8]) {
        let mut bulk_document_next = false;
        for (number, line) in lines(bytes) {
            self.report.lines_read += 1;
            if is_blank(line) {
                continue;
            }
            let value: Value = match serde_json::from_slice(line) {
                Ok(value) => value,
                Err(e) => {
                    self.report
                        .malformed(self.name, number, format!("invalid JSON: {e}"));
                    bulk_document_next = false;
                    continue;
                }
            };
            if let Some(action) = bulk_action(&value).filter(|_| !bulk_document_next) {
                bulk_document_next = action != "delete";
                continue;
            }
            let value = if bulk_document_next {
                update_doc(value)
            } else {
                value
            };
            bulk_document_next = false;
            self.value(value, number);
        }
    }

    fn stream(&mut self, bytes: &[u8]) {
        self.report.lines_read += lines(bytes).count() as u64;
        let mut values = Deserializer::from_slice(bytes).into_iter::<Value>();
        let mut start = 0;
        while let Some(next) = values.next() {
            let skipped = bytes[start..]
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
            let line = 1 + bytes[..start + skipped]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
            match next {
                Ok(value) => self.value(value, line),
                Err(e) => {
                    self.report.malformed(
                        self.name,
                        e.line() as u64,
                        format!("invalid JSON, rest of input skipped: {e}"),
                    );
                    return;
                }
            }
            start = values.byte_offset();
        }
    }

    /// A document, a search hit, a search response, or an array of them.
    fn value(&mut self, value: Value, line: u64) {
        match value {
            Value::Array(items) => items.into_iter().for_each(|item| self.value(item, line)),
            Value::Object(mut map) => {
                if let Some(Value::Array(hits)) = map
                    .get_mut("hits")
                    .and_then(|h| h.get_mut("hits"))
                    .filter(|h| h.is_array())
                    .map(Value::take)
                {
                    return hits.into_iter().for_each(|hit| self.value(hit, line));
                }
                let doc = match map.remove("_source") {
                    Some(Value::Object(source)) => source,
                    _ => map,
                };
                match fields::to_event(&doc) {
                    Ok(Some(event)) if !plausible_event_time(event.timestamp_ms) => {
                        self.report.skipped_implausible_time += 1
                    }
                    Ok(Some(event)) => self.events.push(event),
                    Ok(None) => self.report.skipped_non_network += 1,
                    Err(reason) => self.report.malformed(self.name, line, reason),
                }
            }
            other => self.report.malformed(
                self.name,
                line,
                format!("expected a JSON object, got {other}"),
            ),
        }
    }
}

/// The action of a `_bulk` action line (`{"index": {...}}`), if `value` is one.
fn bulk_action(value: &Value) -> Option<&str> {
    let map = value.as_object().filter(|m| m.len() == 1)?;
    let (action, meta) = map.iter().next()?;
    (meta.is_object() && matches!(action.as_str(), "index" | "create" | "update" | "delete"))
        .then_some(action.as_str())
}

/// The document of a `_bulk` `update` body (`{"doc": {...}}`), else the value itself.
fn update_doc(value: Value) -> Value {
    match value {
        Value::Object(mut map) if map.get("doc").is_some_and(Value::is_object) => {
            map.remove("doc").unwrap_or_default()
        }
        other => other,
    }
}
