//! Grouping records into events. An event is the records sharing node, timestamp and serial;
//! records of different events may interleave. An event ends at its `EOE` record, or, since
//! not every event has one, once [`STALE_AFTER`] further distinct events have started without
//! it receiving a record, or at the end of the input. An event keeps at most [`MAX_RECORDS`]
//! records, so a log repeating one event's header cannot grow memory without bound, and at most
//! [`MAX_OPEN`] events are open at once, so neither can a log interleaving ever more events:
//! memory holds only the open events, however long the log.

use super::record::Record;

/// How many newer events may start before an event without `EOE` is considered complete.
pub const STALE_AFTER: u64 = 32;

/// The most records one event keeps; later ones are dropped and counted. A network event has a
/// handful (SYSCALL, SOCKADDR, PROCTITLE, CWD, PATH...); the kernel splits long EXECVE arguments
/// over a few more.
pub const MAX_RECORDS: usize = 256;

/// The most events open at once; past it the one longest without a record is taken as complete.
/// The kernel interleaves the events of calls in flight, a few per CPU; only a crafted log keeps
/// more than [`STALE_AFTER`] events open by feeding each of them records.
pub const MAX_OPEN: usize = 1024;

/// The records of one audit event, in arrival order (without its `EOE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// `node=` of its records.
    pub node: Option<String>,
    /// Event time, epoch milliseconds UTC.
    pub timestamp_ms: i64,
    /// Event serial number.
    pub serial: u64,
    /// The records.
    pub records: Vec<Record>,
}

impl AuditEvent {
    /// The last record of type `kind`.
    pub fn record(&self, kind: &str) -> Option<&Record> {
        self.records.iter().rev().find(|r| r.kind == kind)
    }

    fn key_matches(&self, record: &Record) -> bool {
        self.serial == record.serial
            && self.timestamp_ms == record.timestamp_ms
            && self.node == record.node
    }
}

struct Pending {
    event: AuditEvent,
    last_touched: u64,
}

/// Assembles records into events as they arrive.
#[derive(Default)]
pub struct Grouper {
    pending: Vec<Pending>,
    started: u64,
    /// Records dropped because their event already held [`MAX_RECORDS`].
    pub dropped: u64,
}

impl Grouper {
    /// Adds a record; returns the events it completed (its own at `EOE`, stale ones otherwise).
    pub fn push(&mut self, record: Record) -> Vec<AuditEvent> {
        let position = self
            .pending
            .iter()
            .position(|p| p.event.key_matches(&record));
        if record.kind == "EOE" {
            return position
                .map(|i| vec![self.pending.remove(i).event])
                .unwrap_or_default();
        }
        match position {
            Some(i) => {
                let pending = &mut self.pending[i];
                pending.last_touched = self.started;
                if pending.event.records.len() < MAX_RECORDS {
                    pending.event.records.push(record);
                } else {
                    self.dropped += 1;
                }
                Vec::new()
            }
            None => {
                self.started += 1;
                let event = AuditEvent {
                    node: record.node.clone(),
                    timestamp_ms: record.timestamp_ms,
                    serial: record.serial,
                    records: vec![record],
                };
                self.pending.push(Pending {
                    event,
                    last_touched: self.started,
                });
                self.flush_stale()
            }
        }
    }

    /// Ends the input: every pending event is complete.
    pub fn finish(self) -> Vec<AuditEvent> {
        self.pending.into_iter().map(|p| p.event).collect()
    }

    fn flush_stale(&mut self) -> Vec<AuditEvent> {
        let now = self.started;
        let (stale, live): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| now - p.last_touched > STALE_AFTER);
        let (mut stale, mut live) = (stale, live);
        if live.len() > MAX_OPEN
            && let Some(oldest) = (0..live.len()).min_by_key(|&i| live[i].last_touched)
        {
            stale.push(live.remove(oldest));
        }
        self.pending = live;
        stale.into_iter().map(|p| p.event).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::record::parse_line;
    use super::*;

    fn rec(kind: &str, serial: u64) -> Record {
        parse_line(format!("type={kind} msg=audit(1700000000.000:{serial}): x=1").as_bytes())
            .unwrap()
    }

    #[test]
    fn interleaved_records_group_by_serial_and_end_at_eoe() {
        let mut g = Grouper::default();
        assert!(g.push(rec("SYSCALL", 1)).is_empty());
        assert!(g.push(rec("SYSCALL", 2)).is_empty());
        assert!(g.push(rec("SOCKADDR", 1)).is_empty());
        let done = g.push(rec("EOE", 1));
        assert_eq!(done.len(), 1);
        assert_eq!(
            done[0]
                .records
                .iter()
                .map(|r| r.kind.as_str())
                .collect::<Vec<_>>(),
            ["SYSCALL", "SOCKADDR"]
        );
        let rest = g.finish();
        assert_eq!((rest.len(), rest[0].serial), (1, 2));
    }

    #[test]
    fn same_serial_on_another_node_is_another_event() {
        let mut g = Grouper::default();
        g.push(rec("SYSCALL", 7));
        g.push(
            parse_line(b"node=web1 type=SOCKADDR msg=audit(1700000000.000:7): saddr=00").unwrap(),
        );
        assert_eq!(g.finish().len(), 2);
    }

    #[test]
    fn events_without_eoe_are_flushed_once_stale() {
        let mut g = Grouper::default();
        g.push(rec("SYSCALL", 1));
        let mut flushed = Vec::new();
        for serial in 2..=(STALE_AFTER + 2) {
            flushed.extend(g.push(rec("SYSCALL", serial)));
        }
        assert_eq!(flushed.len(), 1);
        assert_eq!(flushed[0].serial, 1);
        assert_eq!(g.finish().len() as u64, STALE_AFTER + 1);
    }

    #[test]
    fn an_event_keeps_at_most_max_records_and_counts_the_rest() {
        let mut g = Grouper::default();
        for _ in 0..(MAX_RECORDS + 1000) {
            assert!(g.push(rec("SOCKADDR", 9)).is_empty());
        }
        assert_eq!(g.dropped, 1000);
        let events = g.finish();
        assert_eq!((events.len(), events[0].records.len()), (1, MAX_RECORDS));
    }

    #[test]
    fn at_most_max_open_events_are_held() {
        let mut g = Grouper::default();
        let total = MAX_OPEN as u64 + 100;
        let mut flushed = Vec::new();
        for serial in 0..total {
            flushed.extend(g.push(rec("SYSCALL", serial)));
            // A record for every open event within each STALE_AFTER starts keeps them all
            // fresh: only the cap ends any.
            if serial % (STALE_AFTER / 2) == 0 {
                let open: Vec<u64> = g.pending.iter().map(|p| p.event.serial).collect();
                for open in open {
                    flushed.extend(g.push(rec("PATH", open)));
                }
            }
            assert!(g.pending.len() <= MAX_OPEN);
        }
        assert_eq!(flushed.len() as u64, total - MAX_OPEN as u64);
        assert_eq!(g.finish().len(), MAX_OPEN);
    }

    #[test]
    fn stray_eoe_completes_nothing() {
        let mut g = Grouper::default();
        assert!(g.push(rec("EOE", 5)).is_empty());
        assert!(g.finish().is_empty());
    }
}
