//! Where ingest reads from: a file or standard input, read as a stream. The SHA-256 naming the
//! output and the line count are taken from the bytes as they pass, so that they cover exactly
//! the bytes parsed without holding them.

use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::Error;

/// One input to ingest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file on disk.
    Path(PathBuf),
    /// Standard input, read to its end.
    Stdin,
}

/// Read size: large enough that a read is cheap next to parsing what it returns.
const BUFFER_BYTES: usize = 1 << 20;

impl Input {
    /// The name used in reports: the path, or `<stdin>`.
    pub fn name(&self) -> String {
        match self {
            Input::Path(path) => path.display().to_string(),
            Input::Stdin => "<stdin>".to_string(),
        }
    }

    /// Opens the input to be read as a stream.
    pub(crate) fn open(&self) -> Result<Source, Error> {
        let inner: Box<dyn Read> = match self {
            Input::Path(path) => {
                Box::new(std::fs::File::open(path).map_err(|e| Error::read(&self.name(), e))?)
            }
            Input::Stdin => Box::new(io::stdin().lock()),
        };
        Ok(Source {
            name: self.name(),
            reader: BufReader::with_capacity(
                BUFFER_BYTES,
                Tally {
                    inner,
                    hash: Sha256::new(),
                    newlines: 0,
                    last: None,
                },
            ),
        })
    }
}

/// An open input: buffered, hashing and counting lines as its bytes are read.
pub(crate) struct Source {
    name: String,
    reader: BufReader<Tally>,
}

/// What an input held, known once it has been read to its end.
pub(crate) struct Consumed {
    /// SHA-256 of all its bytes.
    pub sha256: [u8; 32],
    /// Its lines, counted as [`lines`] counts them.
    pub lines: u64,
}

impl Source {
    /// Reads what the parser left (after a syntax error ended it) so that the hash covers the
    /// whole input, and returns the hash and line count.
    pub(crate) fn finish(mut self) -> Result<Consumed, Error> {
        io::copy(&mut self.reader, &mut io::sink()).map_err(|e| Error::read(&self.name, e))?;
        let tally = self.reader.into_inner();
        let unterminated = tally.last.is_some_and(|b| b != b'\n');
        Ok(Consumed {
            sha256: tally.hash.finalize().into(),
            lines: tally.newlines + u64::from(unterminated),
        })
    }
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl BufRead for Source {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.reader.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.reader.consume(amount)
    }
}

/// The raw reader under the buffer: every byte read passes through the hash and line count.
struct Tally {
    inner: Box<dyn Read>,
    hash: Sha256,
    newlines: u64,
    last: Option<u8>,
}

impl Read for Tally {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let read = &buf[..n];
        self.hash.update(read);
        self.newlines += read.iter().filter(|&&b| b == b'\n').count() as u64;
        if let Some(&last) = read.last() {
            self.last = Some(last);
        }
        Ok(n)
    }
}

/// Splits `bytes` into lines without their `\n` or `\r\n`, numbered from 1.
pub(crate) fn lines(bytes: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let mut split = body.split(|&b| b == b'\n');
    if bytes.is_empty() {
        split.next();
    }
    split
        .zip(1u64..)
        .map(|(line, n)| (n, line.strip_suffix(b"\r").unwrap_or(line)))
}

/// How [`read_line`] ended a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineEnd {
    /// The whole line was read, its `\n` or `\r\n` dropped.
    Whole,
    /// The line is longer than the limit: the first `limit` bytes were read, the rest not yet.
    TooLong,
}

/// Reads the next line of `src` into `line`, as [`lines`] splits them, holding at most `limit`
/// bytes of it; `None` at the end of the input.
pub(crate) fn read_line<R: BufRead>(
    src: &mut R,
    line: &mut Vec<u8>,
    limit: usize,
) -> io::Result<Option<LineEnd>> {
    line.clear();
    let mut started = false;
    loop {
        let buf = src.fill_buf()?;
        if buf.is_empty() {
            return Ok(started.then(|| end_whole(line)));
        }
        started = true;
        let newline = buf.iter().position(|&b| b == b'\n');
        let take = newline.unwrap_or(buf.len());
        let room = limit - line.len();
        if take > room {
            line.extend_from_slice(&buf[..room]);
            src.consume(room);
            return Ok(Some(LineEnd::TooLong));
        }
        line.extend_from_slice(&buf[..take]);
        src.consume(take + usize::from(newline.is_some()));
        if newline.is_some() {
            return Ok(Some(end_whole(line)));
        }
    }
}

fn end_whole(line: &mut Vec<u8>) -> LineEnd {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    LineEnd::Whole
}

/// The rest of a line [`read_line`] found too long: reads `src` up to the line's `\n`, consumes
/// it and then ends, so that the line can be parsed (or skipped) as a stream of its own.
pub(crate) struct RestOfLine<'a, R> {
    src: &'a mut R,
    ended: bool,
}

impl<'a, R: BufRead> RestOfLine<'a, R> {
    pub(crate) fn new(src: &'a mut R) -> Self {
        RestOfLine { src, ended: false }
    }
}

impl<R: BufRead> Read for RestOfLine<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.ended || out.is_empty() {
            return Ok(0);
        }
        let buf = self.src.fill_buf()?;
        let window = &buf[..buf.len().min(out.len())];
        let (n, newline) = match window.iter().position(|&b| b == b'\n') {
            Some(at) => (at, true),
            None => (window.len(), false),
        };
        out[..n].copy_from_slice(&window[..n]);
        self.ended = newline || buf.is_empty();
        self.src.consume(n + usize::from(newline));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_numbered_and_stripped() {
        let got: Vec<_> = lines(b"a\r\nb\n\nc").collect();
        assert_eq!(
            got,
            vec![
                (1, &b"a"[..]),
                (2, &b"b"[..]),
                (3, &b""[..]),
                (4, &b"c"[..])
            ]
        );
        assert_eq!(lines(b"a\n").count(), 1);
        assert_eq!(lines(b"").count(), 0);
    }

    /// `read_line` over `text` with `limit`, as (end, line) pairs.
    fn read_all(text: &[u8], limit: usize) -> Vec<(LineEnd, Vec<u8>)> {
        let mut src = BufReader::with_capacity(3, text);
        let mut line = Vec::new();
        let mut got = Vec::new();
        while let Some(end) = read_line(&mut src, &mut line, limit).unwrap() {
            got.push((end, line.clone()));
            if end == LineEnd::TooLong {
                io::copy(&mut RestOfLine::new(&mut src), &mut io::sink()).unwrap();
            }
        }
        got
    }

    #[test]
    fn read_line_splits_as_lines_does() {
        for text in [&b"a\r\nb\n\nc"[..], b"a\n", b"", b"\n\n", b"abcdefgh\nij"] {
            let streamed: Vec<Vec<u8>> = read_all(text, 100).into_iter().map(|(_, l)| l).collect();
            let whole: Vec<Vec<u8>> = lines(text).map(|(_, l)| l.to_vec()).collect();
            assert_eq!(streamed, whole, "{}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn a_line_over_the_limit_is_cut_and_the_next_line_read_whole() {
        let got = read_all(b"abcdefgh\nij\nklmnop", 4);
        assert_eq!(
            got,
            vec![
                (LineEnd::TooLong, b"abcd".to_vec()),
                (LineEnd::Whole, b"ij".to_vec()),
                (LineEnd::TooLong, b"klmn".to_vec()),
            ]
        );
        assert_eq!(
            read_all(b"abcd\n", 4),
            vec![(LineEnd::Whole, b"abcd".to_vec())]
        );
    }

    #[test]
    fn rest_of_line_stops_at_the_newline() {
        let mut src = BufReader::with_capacity(2, &b"head tail\nnext\n"[..]);
        let mut line = Vec::new();
        assert_eq!(
            read_line(&mut src, &mut line, 5).unwrap(),
            Some(LineEnd::TooLong)
        );
        let mut rest = String::new();
        RestOfLine::new(&mut src).read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "tail");
        assert_eq!(
            read_line(&mut src, &mut line, 5).unwrap(),
            Some(LineEnd::Whole)
        );
        assert_eq!(line, b"next");
    }

    #[test]
    fn missing_file_is_a_read_error_naming_it() {
        let err = Input::Path("/nonexistent/audit.log".into())
            .open()
            .err()
            .unwrap();
        assert!(err.to_string().contains("/nonexistent/audit.log"), "{err}");
    }

    #[test]
    fn the_hash_and_line_count_cover_the_whole_input() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.log");
        let text = b"one\ntwo\r\nthree";
        std::fs::write(&path, text).unwrap();
        let mut source = Input::Path(path).open().unwrap();
        let mut line = Vec::new();
        read_line(&mut source, &mut line, 100).unwrap();
        let consumed = source.finish().unwrap();
        assert_eq!(consumed.sha256, <[u8; 32]>::from(Sha256::digest(text)));
        assert_eq!(consumed.lines, lines(text).count() as u64);
    }
}
