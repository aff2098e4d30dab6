//! Giving freed memory back to the operating system.
//!
//! glibc's allocator keeps memory freed by the application in its arenas (one per thread that
//! allocated, up to 8 per core) and returns it only when the top of the main heap is free, so a
//! role that once held a large working set (a compactor merging 100,000 records, a log node
//! holding a large tail until it was compacted) keeps that resident size while idle. Every
//! `TRIM_EVERY` the process asks glibc to release the free pages of every arena
//! (`malloc_trim(0)`, which `madvise`s them away). It is cheap when there is little to give
//! back (a walk of the free lists) and runs on the blocking pool, off the async workers.
//!
//! Why not another allocator: jemalloc or mimalloc with a decay setting would do the same
//! without a timer, but add a C dependency to every build and change the allocation behaviour
//! of every code path; the trim changes nothing while work is running.

use std::time::Duration;

/// How long memory freed after a burst of work may stay resident.
pub const TRIM_EVERY: Duration = Duration::from_secs(5);

/// Trims the allocator's free memory every `every`, forever. `SILT_MALLOC_TRIM_MS` overrides
/// the period; 0 turns trimming off (to measure what it saves: scripts/idle-rss.sh).
pub async fn trim_periodically(every: Duration) {
    let every = match std::env::var("SILT_MALLOC_TRIM_MS").map(|v| v.parse::<u64>()) {
        Ok(Ok(0)) => return,
        Ok(Ok(ms)) => Duration::from_millis(ms),
        _ => every,
    };
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let _ = tokio::task::spawn_blocking(trim).await;
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim only walks and releases the allocator's own free chunks; it takes
    // the arenas' locks like any allocation and has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {
    // Other allocators (musl, macOS) return freed memory on their own.
}
