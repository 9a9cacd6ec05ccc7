//! Runs one target for a time budget: every seed as it is, then mutated inputs until the
//! budget is spent. Each input must pass the target's property, and the parse it measures must
//! stay within the target's allocation bound. A failing input is shrunk by proptest, written
//! under the target's `fuzz-failures/` folder, and the test fails at the end naming each one.
//! The input that came closest to the bound is written under `fuzz-max/`.
//!
//! `NETRARE_FUZZ_SECONDS`: the budget per target (default 10; all six take about 30 s on 2
//! cores, two at a time). `NETRARE_FUZZ_SEED`: the random seed (default fixed per target, so
//! `cargo test` replays the same inputs in the same order). `NETRARE_FUZZ_REPORT`: a file to
//! append one tab-separated result line to per target (used by `benches/fuzz.sh`).
//! `NETRARE_FUZZ_LAST`: a file each input is written to before it runs, to catch an input that
//! aborts the process (a stack overflow), which no test can catch.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use crate::alloc::peak_during;
use crate::mutate::{Input, Structure, inputs};

/// Peak heap a parse may allocate: `per_byte` × input length + `fixed`.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub per_byte: usize,
    pub fixed: usize,
}

impl Bound {
    fn of(&self, len: usize) -> usize {
        self.per_byte * len + self.fixed
    }
}

/// One fuzz target.
pub struct Target {
    /// Its corpus folder under `fixtures/fuzz/`.
    pub name: &'static str,
    pub structure: Structure,
    pub bound: Bound,
}

/// What a property checks beyond "no panic": `Err` names the broken expectation.
pub type Checked = Result<(), String>;

/// The measured part of a property: `measure` runs the parse under the allocation counter.
pub struct Probe {
    peak: usize,
}

impl Probe {
    /// Runs the parse, recording its peak heap.
    pub fn measure<T>(&mut self, parse: impl FnOnce() -> T) -> T {
        let (value, peak) = peak_during(parse);
        self.peak = self.peak.max(peak);
        value
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    Some(
        text.parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a whole number")),
    )
}

/// The corpus of a target: every file of `fixtures/fuzz/<name>/`, in name order.
pub fn corpus(name: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/fuzz")
        .join(name);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).expect("a corpus file");
            (path, bytes)
        })
        .collect()
}

#[derive(Default)]
struct Stats {
    iterations: u64,
    /// The highest peak / bound, over all inputs, and that input.
    max_bound_used: f64,
    max_input: Vec<u8>,
    /// The highest peak / input length, over inputs of at least 1 KiB.
    max_per_byte: f64,
    failures: Vec<String>,
}

/// Fuzzes `target` with `property`, which returns whether the input kept its promises.
pub fn run(target: Target, property: impl Fn(&[u8], &mut Probe) -> Checked) {
    let budget = Duration::from_secs(env_u64("NETRARE_FUZZ_SECONDS").unwrap_or(10));
    let seed = env_u64("NETRARE_FUZZ_SEED").unwrap_or_else(|| {
        // Fixed per target: FNV-1a of the name.
        target.name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    });
    let seeds = corpus(target.name);
    let started = Instant::now();
    let deadline = started + budget;
    let mut stats = Stats::default();

    // Where each input is written before it runs, when asked: a stack overflow aborts the
    // process, and this file then holds the input that caused it.
    let last = std::env::var_os("NETRARE_FUZZ_LAST").map(PathBuf::from);
    // One input: the property, then the bound on what its parse allocated.
    let check = |input: &Input, stats: &mut Stats| -> Result<(), TestCaseError> {
        if let Some(last) = &last {
            std::fs::write(last, &input.0).expect("the last input is written");
        }
        let mut probe = Probe { peak: 0 };
        property(&input.0, &mut probe).map_err(TestCaseError::fail)?;
        let allowed = target.bound.of(input.0.len());
        let used = probe.peak as f64 / allowed as f64;
        if used > stats.max_bound_used {
            stats.max_bound_used = used;
            stats.max_input.clone_from(&input.0);
        }
        if input.0.len() >= 1024 {
            stats.max_per_byte = stats
                .max_per_byte
                .max(probe.peak as f64 / input.0.len() as f64);
        }
        if probe.peak > allowed {
            return Err(TestCaseError::fail(format!(
                "the parse allocated a peak of {} bytes for {} input bytes; the bound is {} × {} + {} = {allowed}",
                probe.peak,
                input.0.len(),
                target.bound.per_byte,
                input.0.len(),
                target.bound.fixed
            )));
        }
        Ok(())
    };

    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config {
            failure_persistence: None,
            max_shrink_time: 60_000,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    // The seeds as they are, then mutated inputs until the deadline.
    for (path, bytes) in &seeds {
        let input = Input(bytes.clone());
        if let Err(e) =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&input, &mut stats)))
                .map_err(|_| "panicked".to_string())
                .and_then(|r| r.map_err(|e| e.to_string()))
        {
            stats.failures.push(format!("seed {}: {e}", path.display()));
        }
        stats.iterations += 1;
    }
    let strategy = inputs(
        seeds.iter().map(|(_, bytes)| bytes.clone()).collect(),
        target.structure,
    );
    let stats = std::cell::RefCell::new(stats);
    while Instant::now() < deadline && stats.borrow().failures.len() < 5 {
        let tree = strategy
            .new_tree(&mut runner)
            .expect("the strategy rejects nothing");
        stats.borrow_mut().iterations += 1;
        let outcome = runner.run_one(tree, |input| check(&input, &mut stats.borrow_mut()));
        if let Err(TestError::Fail(why, minimal)) = outcome {
            let saved = save_input("fuzz-failures", target.name, &minimal.0);
            stats.borrow_mut().failures.push(format!(
                "{why}\n  minimal input ({}), saved as {}: {minimal:?}",
                target.name,
                saved.display()
            ));
        }
    }
    let stats = stats.into_inner();
    save_input("fuzz-max", target.name, &stats.max_input);
    report(&target, seed, started.elapsed(), &stats);
    assert!(
        stats.failures.is_empty(),
        "{} failure(s) of target {} (NETRARE_FUZZ_SEED={seed}):\n{}",
        stats.failures.len(),
        target.name,
        stats.failures.join("\n")
    );
}

/// Writes an input under `$CARGO_TARGET_TMPDIR/<kind>/<target>/`: a failing one
/// (`fuzz-failures`), to be copied into the corpus as a regression seed, or the one closest to
/// the allocation bound (`fuzz-max`), to see what costs the most.
fn save_input(kind: &str, target: &str, input: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(kind)
        .join(target);
    std::fs::create_dir_all(&dir).expect("the inputs folder");
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let path = dir.join(format!("{hash:016x}"));
    std::fs::write(&path, input).expect("an input is written");
    path
}

fn report(target: &Target, seed: u64, elapsed: Duration, stats: &Stats) {
    let secs = elapsed.as_secs_f64();
    let line = format!(
        "{}\t{}\t{:.0}\t{}\t{:.3}\t{:.1}\t{:.1}\t{seed}",
        target.name,
        stats.iterations,
        stats.iterations as f64 / secs,
        stats.failures.len(),
        stats.max_bound_used,
        stats.max_per_byte,
        secs,
    );
    println!(
        "fuzz {}: {} inputs in {secs:.1} s ({:.0}/s), {} failure(s), peak heap at most {:.1}% of the bound, {:.1} bytes per input byte (inputs ≥ 1 KiB), seed {seed}",
        target.name,
        stats.iterations,
        stats.iterations as f64 / secs,
        stats.failures.len(),
        stats.max_bound_used * 100.0,
        stats.max_per_byte,
    );
    if let Ok(path) = std::env::var("NETRARE_FUZZ_REPORT") {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        writeln!(file, "{line}").expect("the report line is written");
    }
}
