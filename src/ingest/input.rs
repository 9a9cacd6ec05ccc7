//! Where ingest reads from: a file or standard input, loaded whole so that the content hash
//! naming the output and the events parsed come from the same bytes.

use std::io::Read;
use std::path::PathBuf;

use super::Error;

/// One input to ingest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file on disk.
    Path(PathBuf),
    /// Standard input, read to its end.
    Stdin,
}

impl Input {
    /// The name used in reports: the path, or `<stdin>`.
    pub fn name(&self) -> String {
        match self {
            Input::Path(path) => path.display().to_string(),
            Input::Stdin => "<stdin>".to_string(),
        }
    }

    /// Reads the whole input.
    pub(crate) fn load(&self) -> Result<Vec<u8>, Error> {
        let read_err = |source| Error::Read {
            input: self.name(),
            source,
        };
        match self {
            Input::Path(path) => std::fs::read(path).map_err(read_err),
            Input::Stdin => {
                let mut bytes = Vec::new();
                std::io::stdin()
                    .lock()
                    .read_to_end(&mut bytes)
                    .map_err(read_err)?;
                Ok(bytes)
            }
        }
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

    #[test]
    fn missing_file_is_a_read_error_naming_it() {
        let err = Input::Path("/nonexistent/audit.log".into())
            .load()
            .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/audit.log"), "{err}");
    }
}
