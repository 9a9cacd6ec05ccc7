//! Elasticsearch exports into ECS network events.
//!
//! Input, one JSON value per line: plain `_source` documents, search hits (`{"_source": ...}`),
//! `_bulk` bodies (an action line, then the document; `update` documents under `doc`), search
//! responses, or arrays of these; an input that opens with a JSON value spread over several
//! lines (a pretty-printed document, a saved search response) is read as a stream of JSON
//! values. Documents whose `event.category` lacks `network` are skipped and counted. Output:
//! events in the store via the parent module's writer, one file per input and day named
//! `ndjson-<content hash>`.
//!
//! Inputs are streamed: a line is held whole only up to [`MAX_LINE_BYTES`]; a longer line, and
//! any value of a multi-line input, is read by [`walk`], which takes the hits of a search
//! response and the elements of an array one at a time.

mod fields;
#[cfg(test)]
mod tests;
mod walk;

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use serde::de::DeserializeSeed;
use serde_json::{Deserializer, Value};

use super::input::{LineEnd, RestOfLine, lines, read_line};
use super::write::{Pending, plausible_event_time};
use super::{Error, IngestReport, Input};
use crate::store::EcsEvent;
use walk::{Walk, Walked};

/// The longest line parsed whole. A longer line is read as a stream if it is a search response
/// or an array (their hits or elements one at a time), and is an error otherwise: a document
/// that large is not a network event, and holding it would make memory depend on the input.
/// Parsing a line costs several times its size in memory, so this keeps one line's share of the
/// ingest's memory to tens of MB.
pub const MAX_LINE_BYTES: usize = 8 << 20;

/// Ingests each input into the store at `out`, reading it as a stream and writing its events in
/// batches, so that memory does not grow with the input. Malformed lines are counted and
/// skipped; I/O and store errors stop the ingest, as does a line longer than [`MAX_LINE_BYTES`]
/// that is not a search response or an array.
pub fn ingest(inputs: &[Input], out: &Path) -> Result<IngestReport, Error> {
    let mut report = IngestReport::default();
    for input in inputs {
        let mut source = input.open()?;
        let name = input.name();
        let mut pending = Pending::new(out, "ndjson");
        read(
            &mut source,
            &name,
            MAX_LINE_BYTES,
            &mut report,
            &mut |event| pending.push(event),
        )?;
        let consumed = source.finish()?;
        report.lines_read += consumed.lines;
        pending.commit(out, &name, &consumed, &mut report)?;
    }
    Ok(report)
}

/// Parses a whole export into network events, counting lines, malformed lines and skips.
pub fn parse(bytes: &[u8], name: &str, report: &mut IngestReport) -> Vec<EcsEvent> {
    report.lines_read += lines(bytes).count() as u64;
    let mut events = Vec::new();
    // The bytes are in memory already, so no line is too long; reading a slice cannot fail, nor
    // can collecting into a Vec: there is no error to report.
    let _ = read(&mut &bytes[..], name, usize::MAX, report, &mut |event| {
        events.push(event);
        Ok(())
    });
    events
}

/// The signature of what takes the events parsed; its error stops the read.
type Emit<'a> = dyn FnMut(EcsEvent) -> Result<(), Error> + 'a;

/// Reads an export from `src`, handing each network event to `emit`.
fn read<R: BufRead>(
    src: &mut R,
    name: &str,
    limit: usize,
    report: &mut IngestReport,
    emit: &mut Emit,
) -> Result<(), Error> {
    let mut head = Vec::new();
    let spans = first_value_spans_lines(src, &mut head, limit).map_err(|e| Error::read(name, e))?;
    let mut src = io::Cursor::new(head).chain(src);
    let mut sink = Sink {
        name,
        report,
        emit,
        failed: None,
    };
    if spans {
        sink.stream(&mut src)
    } else {
        sink.lines(&mut src, limit)
    }
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// Whether the input opens with a complete JSON value written over several lines (a
/// pretty-printed document or response), rather than one value per line. Reads that value, or
/// its first `limit` bytes, into `head`, to be read again; a value longer than that is taken as
/// spanning lines if its first `limit` bytes hold a line break (a line that long without one is
/// one huge line).
fn first_value_spans_lines<R: BufRead>(
    src: &mut R,
    head: &mut Vec<u8>,
    limit: usize,
) -> io::Result<bool> {
    let mut tee = Tee {
        src,
        head: &mut *head,
        limit,
        full: false,
    };
    let mut values = Deserializer::from_reader(&mut tee).into_iter::<Value>();
    let first = values.next();
    let end = values.byte_offset();
    let full = tee.full;
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    match first {
        Some(Ok(_)) => Ok(head[start..end].contains(&b'\n')),
        Some(Err(_)) if full => Ok(head[start..].contains(&b'\n')),
        Some(Err(e)) if e.is_io() => Err(e.into()),
        _ => Ok(false),
    }
}

/// Reads `src` into `head` as it is read, failing once `limit` bytes are held.
struct Tee<'a, R> {
    src: &'a mut R,
    head: &'a mut Vec<u8>,
    limit: usize,
    full: bool,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let room = self.limit - self.head.len();
        if room == 0 {
            self.full = true;
            return Err(io::Error::other("first value longer than the line limit"));
        }
        let take = room.min(out.len());
        let n = self.src.read(&mut out[..take])?;
        self.head.extend_from_slice(&out[..n]);
        Ok(n)
    }
}

/// Counts the line breaks read through it, for the line number of a value in a stream.
struct Newlines<'c, R> {
    inner: R,
    seen: &'c Cell<u64>,
}

impl<R: Read> Read for Newlines<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(out)?;
        let breaks = out[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        self.seen.set(self.seen.get() + breaks);
        Ok(n)
    }
}

/// Where parsed values go: events to `emit`, the rest counted in the report.
struct Sink<'a> {
    name: &'a str,
    report: &'a mut IngestReport,
    emit: &'a mut Emit<'a>,
    /// Why `emit` failed, while a deserializer unwinds from the failure.
    failed: Option<Error>,
}

impl Sink<'_> {
    fn lines<R: BufRead>(&mut self, src: &mut R, limit: usize) -> Result<(), Error> {
        let mut bulk_document_next = false;
        let mut line = Vec::new();
        let mut number = 0;
        while let Some(end) =
            read_line(src, &mut line, limit).map_err(|e| Error::read(self.name, e))?
        {
            number += 1;
            if end == LineEnd::TooLong {
                bulk_document_next = false;
                self.long_line(src, &line, number, limit)?;
                continue;
            }
            if is_blank(&line) {
                continue;
            }
            let value: Value = match serde_json::from_slice(&line) {
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
            self.value(value, number)?;
        }
        Ok(())
    }

    /// A line longer than `limit`, of which `head` has been read: streamed if it is a search
    /// response or an array, else [`Error::LineTooLong`]. A syntax error in it makes it a
    /// malformed line (the hits before the error are kept).
    fn long_line<R: BufRead>(
        &mut self,
        src: &mut R,
        head: &[u8],
        number: u64,
        limit: usize,
    ) -> Result<(), Error> {
        let too_long = Error::LineTooLong {
            input: self.name.to_string(),
            line: number,
            limit,
        };
        if !matches!(
            head.iter().find(|b| !b.is_ascii_whitespace()),
            Some(b'{' | b'[')
        ) {
            return Err(too_long);
        }
        let mut rest = RestOfLine::new(src);
        let walked = {
            let mut de = Deserializer::from_reader(BufReader::new(head.chain(&mut rest)));
            Walk::new(self, number, false)
                .deserialize(&mut de)
                .and_then(|walked| de.end().map(|()| walked))
        };
        io::copy(&mut rest, &mut io::sink()).map_err(|e| Error::read(self.name, e))?;
        match walked {
            Ok(Walked::Streamed) => Ok(()),
            Ok(_) => Err(too_long),
            Err(e) => {
                let e = self.json_error(e)?;
                self.report
                    .malformed(self.name, number, format!("invalid JSON: {e}"));
                Ok(())
            }
        }
    }

    fn stream<R: Read>(&mut self, src: R) -> Result<(), Error> {
        let seen = Cell::new(0);
        let mut de = Deserializer::from_reader(Newlines {
            inner: src,
            seen: &seen,
        });
        loop {
            // Skips the white space before the next value; an error says there is one.
            match de.end() {
                Ok(()) => return Ok(()),
                Err(e) if e.is_io() => return Err(Error::read(self.name, e.into())),
                Err(_) => {}
            }
            let line = seen.get() + 1;
            match Walk::new(self, line, true).deserialize(&mut de) {
                Ok(Walked::Kept(value)) => self.value(value, line)?,
                Ok(_) => {}
                Err(e) => {
                    let e = self.json_error(e)?;
                    self.report.malformed(
                        self.name,
                        e.line() as u64,
                        format!("invalid JSON, rest of input skipped: {e}"),
                    );
                    return Ok(());
                }
            }
        }
    }

    /// The error that stops the ingest behind a deserializer's error `e`, if there is one: a
    /// failed read or a failure of `emit`. Otherwise `e` says how the input is malformed.
    fn json_error(&mut self, e: serde_json::Error) -> Result<serde_json::Error, Error> {
        match self.failed.take() {
            Some(failure) => Err(failure),
            None if e.is_io() => Err(Error::read(self.name, e.into())),
            None => Ok(e),
        }
    }

    /// Keeps `failure` to return once the deserializer has unwound; the error to unwind it with.
    fn stop<E: serde::de::Error>(&mut self, failure: Error) -> E {
        let reason = E::custom(&failure);
        self.failed = Some(failure);
        reason
    }

    /// A document, a search hit, a search response, or an array of them.
    fn value(&mut self, value: Value, line: u64) -> Result<(), Error> {
        match value {
            Value::Array(items) => {
                for item in items {
                    self.value(item, line)?;
                }
            }
            Value::Object(mut map) => {
                if let Some(Value::Array(hits)) = map
                    .get_mut("hits")
                    .and_then(|h| h.get_mut("hits"))
                    .filter(|h| h.is_array())
                    .map(Value::take)
                {
                    for hit in hits {
                        self.value(hit, line)?;
                    }
                    return Ok(());
                }
                let doc = match map.remove("_source") {
                    Some(Value::Object(source)) => source,
                    _ => map,
                };
                match fields::to_event(&doc) {
                    Ok(Some(event)) if !plausible_event_time(event.timestamp_ms) => {
                        self.report.skipped_implausible_time += 1
                    }
                    Ok(Some(event)) => (self.emit)(event)?,
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
        Ok(())
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
