//! What an ingest did: counts of lines, events and skips, and where the malformed lines are.

use std::fmt;
use std::path::PathBuf;

/// How many malformed lines a report keeps as examples; the rest are only counted.
pub const MAX_MALFORMED_EXAMPLES: usize = 10;

/// A line that could not be parsed and was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedLine {
    /// The input's name (path or `<stdin>`).
    pub input: String,
    /// Line number, from 1.
    pub line: u64,
    /// Why the line was rejected.
    pub reason: String,
}

/// The outcome of ingesting a set of inputs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Lines read (audit records or NDJSON lines), blank lines included.
    pub lines_read: u64,
    /// Events written to the store in this run.
    pub events_written: u64,
    /// Malformed lines skipped.
    pub malformed: u64,
    /// The first [`MAX_MALFORMED_EXAMPLES`] malformed lines.
    pub malformed_examples: Vec<MalformedLine>,
    /// Audit events or documents skipped because they are not network activity.
    pub skipped_non_network: u64,
    /// Audit network syscalls skipped because their socket is not IP (AF_UNIX, netlink, ...).
    pub skipped_not_ip: u64,
    /// Events dated before 1970 or more than a day ahead of the clock, skipped.
    pub skipped_implausible_time: u64,
    /// Records past [`crate::ingest::auditd::event::MAX_RECORDS`] in one audit event, dropped.
    pub dropped_records: u64,
    /// Inputs whose output files all existed already, so nothing was written for them.
    pub already_ingested: Vec<String>,
    /// Parquet files written in this run.
    pub files_written: Vec<PathBuf>,
}

impl IngestReport {
    /// Counts a malformed line, keeping it as an example while there is room.
    pub(crate) fn malformed(&mut self, input: &str, line: u64, reason: impl Into<String>) {
        self.malformed += 1;
        if self.malformed_examples.len() < MAX_MALFORMED_EXAMPLES {
            self.malformed_examples.push(MalformedLine {
                input: input.to_string(),
                line,
                reason: reason.into(),
            });
        }
    }
}

impl fmt::Display for MalformedLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.input, self.line, self.reason)
    }
}

impl fmt::Display for IngestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "read {} lines; wrote {} events in {} files; skipped {} non-network and {} non-IP socket events",
            self.lines_read,
            self.events_written,
            self.files_written.len(),
            self.skipped_non_network,
            self.skipped_not_ip
        )?;
        if !self.already_ingested.is_empty() {
            writeln!(
                f,
                "already ingested, not rewritten: {}",
                self.already_ingested.join(", ")
            )?;
        }
        if self.skipped_implausible_time > 0 {
            writeln!(
                f,
                "skipped {} events dated before 1970 or more than a day ahead of the clock",
                self.skipped_implausible_time
            )?;
        }
        if self.dropped_records > 0 {
            writeln!(
                f,
                "dropped {} records past the limit of {} records in one audit event",
                self.dropped_records,
                crate::ingest::auditd::event::MAX_RECORDS
            )?;
        }
        if self.malformed > 0 {
            writeln!(f, "{} malformed lines skipped, first:", self.malformed)?;
            for example in &self.malformed_examples {
                writeln!(f, "  {example}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_examples_are_capped_but_all_counted() {
        let mut report = IngestReport::default();
        for line in 1..=25 {
            report.malformed("audit.log", line, "no header");
        }
        assert_eq!(report.malformed, 25);
        assert_eq!(report.malformed_examples.len(), MAX_MALFORMED_EXAMPLES);
        assert_eq!(
            report.malformed_examples[0].to_string(),
            "audit.log:1: no header"
        );
    }

    #[test]
    fn summary_names_counts_and_examples() {
        let mut report = IngestReport {
            lines_read: 7,
            events_written: 2,
            skipped_non_network: 3,
            ..Default::default()
        };
        report.malformed("x.log", 4, "bad");
        report.already_ingested.push("old.log".into());
        let text = report.to_string();
        assert!(text.contains("read 7 lines; wrote 2 events"), "{text}");
        assert!(text.contains("3 non-network"), "{text}");
        assert!(text.contains("x.log:4: bad"), "{text}");
        assert!(
            text.contains("already ingested, not rewritten: old.log"),
            "{text}"
        );
    }
}
