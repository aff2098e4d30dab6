//! Deterministic simulation (issue 18): the log, compactor and query node in one seeded
//! single-threaded run over a fault-injecting in-memory store, one operation at a time, with
//! time from a simulated clock and ids from a seeded source. Each seed draws a sequence of
//! writes (add/upsert/update/delete batches through either of two log nodes), strong reads
//! (get all, get by ids, count, exact KNN over flat versions), compactions, garbage-collection
//! rounds after the grace period, log and query node restarts, whole-process crashes in the
//! middle of a write or a compaction (the store stops answering from its n-th request), and
//! random request failures. Every read is checked against `model::Model`; at the end, with
//! faults off, everything is compacted and collected and only the current version may remain.
//!
//! A failing seed replays exactly: `SILT_SIM_SEED=<seed> cargo test -p silt-query-service
//! --test simulation -- --nocapture`. `SILT_SIM_SEEDS=<n>` runs n seeds (from
//! `SILT_SIM_FIRST_SEED`, default 0). `a_seed_replays_exactly` checks that two runs of one seed
//! make the same store requests with the same results, step by step (see `by_step`).

mod model;
mod ops;
mod pause;
mod reads;
mod trace;
mod world;

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use ops::{run_seed, Outcome};
use silt_common::clock::{Clock, SystemClock};

/// Seeds per CI run: about 30 s in a debug build on two cores.
const DEFAULT_SEEDS: u64 = 200;

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    match v.parse() {
        Ok(n) => Some(n),
        Err(_) => panic!("{name}={v:?} is not a number"),
    }
}

fn replay_command(seed: u64) -> String {
    format!(
        "SILT_SIM_SEED={seed} cargo test -p silt-query-service --test simulation -- --nocapture simulation_seeds"
    )
}

/// Runs one seed on its own thread's single-threaded runtime; a panic anywhere is a failure of
/// that seed.
fn run_caught(seed: u64) -> Result<Outcome, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    match std::panic::catch_unwind(AssertUnwindSafe(|| runtime.block_on(run_seed(seed)))) {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err(failure)) => Err(failure),
        Err(panic) => Err(panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panicked".to_string())),
    }
}

#[test]
fn simulation_seeds() {
    let (first, count) = match env_u64("SILT_SIM_SEED") {
        Some(seed) => (seed, 1),
        None => (
            env_u64("SILT_SIM_FIRST_SEED").unwrap_or(0),
            env_u64("SILT_SIM_SEEDS").unwrap_or(DEFAULT_SEEDS),
        ),
    };
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let next = AtomicU64::new(first);
    let totals = Mutex::new(ops::Stats::default());
    let failures = Mutex::new(Vec::new());
    // Seeds are independent; each runs on one thread, so running several at once keeps every
    // seed's run exactly what it is alone.
    // Wall time, for the report only.
    let started = SystemClock.instant();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= first + count {
                    break;
                }
                match run_caught(seed) {
                    Ok(outcome) => totals
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .add(&outcome.stats),
                    Err(e) => failures
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((seed, e)),
                }
            });
        }
    });
    let totals = totals.into_inner().unwrap_or_else(|p| p.into_inner());
    println!(
        "simulation: {count} seeds from {first} in {:.1} s: {totals}",
        (SystemClock.instant() - started).as_secs_f64()
    );
    let mut failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
    failures.sort_by_key(|(seed, _)| *seed);
    if let Some((seed, _)) = failures.first() {
        for (seed, e) in &failures {
            eprintln!("\n=== seed {seed} failed:\n{e}");
        }
        panic!(
            "{} of {count} seeds failed: {:?}\nreplay the first with:\n  {}",
            failures.len(),
            failures.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            replay_command(*seed)
        );
    }
    if count >= 50 {
        // A simulation whose faults never fire proves nothing.
        assert!(
            totals.injected_failures > 0,
            "no request failure was injected"
        );
        assert!(totals.crashes > 0, "no crash happened");
        assert!(
            totals.gc_deleted > 0,
            "garbage collection never deleted anything"
        );
        assert!(totals.checked_reads > 0, "no read was checked");
    }
}

/// Seeds that once found a bug, run on every CI run whatever the seed range.
const REGRESSIONS: &[(u64, &str)] = &[(
    52774,
    "a log node served entries it adopted from a failed writer after its own commit failed: \
     a read through it saw a write that a later read through the other node did not",
)];

#[test]
fn seeds_that_found_bugs() {
    for (seed, bug) in REGRESSIONS {
        if let Err(e) = run_caught(*seed) {
            panic!(
                "seed {seed} fails again ({bug}):\n{e}\nreplay: {}",
                replay_command(*seed)
            );
        }
    }
}

/// The trace cut into steps (each ends with the simulation's note of its outcome), each step's
/// events sorted. Within one read the version and the tail are fetched concurrently and their
/// requests may interleave differently from run to run (the catalog answers from its own
/// threads); fault decisions depend on the request, not on that order, so the same requests
/// meet the same fates and every step must make the same requests with the same results.
fn by_step(trace: &[String]) -> Vec<Vec<&str>> {
    let mut steps = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for event in trace {
        current.push(event);
        if event.starts_with('#') {
            current.sort_unstable();
            steps.push(std::mem::take(&mut current));
        }
    }
    current.sort_unstable();
    steps.push(current);
    steps
}

#[test]
fn a_seed_replays_exactly() {
    let mut covered = ops::Stats::default();
    for seed in [7, 99, 1234, 4242] {
        let a = run_caught(seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let b = run_caught(seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert!(
            a.trace.len() > 200 && a.stats.checked_reads > 5,
            "seed {seed} did too little to compare: {} events",
            a.trace.len()
        );
        let (sa, sb) = (by_step(&a.trace), by_step(&b.trace));
        if let Some(i) = (0..sa.len().max(sb.len())).find(|&i| sa.get(i) != sb.get(i)) {
            panic!(
                "seed {seed} diverged in step {i} of {}:\n  first run:  {:?}\n  second run: {:?}",
                sa.len(),
                sa.get(i),
                sb.get(i)
            );
        }
        assert_eq!(a.stats, b.stats);
        covered.add(&a.stats);
    }
    // The replayed runs went through what could make a replay differ.
    assert!(
        covered.crashes > 0 && covered.paused_writes > 0 && covered.injected_failures > 0,
        "the replayed seeds miss crashes, pauses or injected failures: {covered}"
    );
    // And different seeds make different runs.
    let (x, y) = (run_caught(7), run_caught(8));
    assert_ne!(x.map(|o| o.trace), y.map(|o| o.trace));
}
