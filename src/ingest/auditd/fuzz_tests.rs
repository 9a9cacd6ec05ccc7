//! Property: no byte sequence makes the audit parser (lines, grouping, mapping) panic.

use super::{AuditdOptions, parse};
use crate::ingest::IngestReport;
use crate::ingest::testutil::fixture;

/// A small deterministic xorshift64 generator.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[u8] =
    b"=\"' ():.\x1d\x00\n{}type=msg=audit(node=SYSCALL SOCKADDR EOE saddr=0A00\xff\xc3";

fn mutate(rng: &mut XorShift, seed: &[u8]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for _ in 0..=rng.below(8) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(4) {
            0 if at < bytes.len() => bytes[at] = rng.next() as u8,
            1 if at < bytes.len() => {
                bytes.truncate(at);
            }
            2 => {
                let start = rng.below(INTERESTING.len());
                let len = rng.below(INTERESTING.len() - start) + 1;
                bytes.splice(at..at, INTERESTING[start..start + len].iter().copied());
            }
            _ => bytes.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
        }
    }
    bytes
}

#[test]
fn random_and_mutated_input_never_panics() {
    let seeds: Vec<Vec<u8>> = fixture("network.log")
        .split(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let opts = AuditdOptions::default();
    for round in 0..3000 {
        let mut input = Vec::new();
        for _ in 0..=rng.below(6) {
            let line = if round % 5 == 0 {
                (0..rng.below(200)).map(|_| rng.next() as u8).collect()
            } else {
                let seed = rng.below(seeds.len());
                mutate(&mut rng, &seeds[seed])
            };
            input.extend(line);
            input.push(b'\n');
        }
        let mut report = IngestReport::default();
        parse(&input, "fuzz", &opts, &mut report);
        let mut ndjson_report = IngestReport::default();
        crate::ingest::ndjson::parse(&input, "fuzz", &mut ndjson_report);
    }
}
