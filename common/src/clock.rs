//! Time and randomness as injected sources. Logic that a test must reproduce (the log's
//! resyncs and garbage collection, the compactor's scheduling and attempt ids, the catalog's
//! timestamps and ids) asks a `Clock` and an `Entropy` it was given, never the ambient ones:
//! production passes `SystemClock` and `Entropy::system()`, the deterministic simulation
//! (query-service/tests/simulation.rs) a `SimClock` it advances itself and a seeded `Entropy`.
//! `clippy.toml` disallows the ambient sources everywhere else.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

/// A source of wall-clock and monotonic time.
pub trait Clock: fmt::Debug + Send + Sync + 'static {
    /// Wall-clock time in milliseconds since the Unix epoch: what is persisted (superseded-at,
    /// heartbeats) and compared across processes.
    fn now_ms(&self) -> i64;
    /// Monotonic time, for durations and deadlines within this process. Compare it only with
    /// instants from the same clock (`clock.instant() - earlier`, never `earlier.elapsed()`).
    fn instant(&self) -> Instant;
}

pub type DynClock = Arc<dyn Clock>;

/// The machine's clocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl SystemClock {
    pub fn shared() -> DynClock {
        Arc::new(SystemClock)
    }
}

// The one place the ambient clocks are read.
#[allow(clippy::disallowed_methods)]
impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    fn instant(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to. Its instants are a fixed base plus the simulated
/// elapsed time, so every difference between two of them is exactly what the simulation
/// advanced, whatever the real time.
#[derive(Debug)]
pub struct SimClock {
    base: Instant,
    start_ms: i64,
    elapsed: Mutex<Duration>,
}

impl SimClock {
    /// A clock reading `start_ms` (epoch ms) until advanced.
    pub fn new(start_ms: i64) -> Arc<SimClock> {
        // Only an origin: what the simulation observes are differences from it.
        #[allow(clippy::disallowed_methods)]
        let base = Instant::now();
        Arc::new(SimClock {
            base,
            start_ms,
            elapsed: Mutex::new(Duration::ZERO),
        })
    }

    pub fn advance(&self, by: Duration) {
        *self.elapsed.lock().unwrap_or_else(|p| p.into_inner()) += by;
    }

    /// Simulated time since the clock was made.
    pub fn elapsed(&self) -> Duration {
        *self.elapsed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Clock for SimClock {
    fn now_ms(&self) -> i64 {
        self.start_ms + self.elapsed().as_millis() as i64
    }

    fn instant(&self) -> Instant {
        self.base + self.elapsed()
    }
}

/// Where random ids and seeds come from: the OS generator in production, a seeded generator in
/// simulation (so a seed names one run exactly). Not for secrets: API keys always come from the
/// OS (`api_key::generate_key`).
pub struct Entropy {
    seeded: Option<Mutex<StdRng>>,
}

pub type DynEntropy = Arc<Entropy>;

impl fmt::Debug for Entropy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.seeded.is_some() {
            "Entropy(seeded)"
        } else {
            "Entropy(system)"
        })
    }
}

impl Entropy {
    pub fn system() -> DynEntropy {
        Arc::new(Entropy { seeded: None })
    }

    pub fn seeded(seed: u64) -> DynEntropy {
        Arc::new(Entropy {
            seeded: Some(Mutex::new(StdRng::seed_from_u64(seed))),
        })
    }

    /// A random (version 4) UUID.
    pub fn uuid(&self) -> Uuid {
        match &self.seeded {
            Some(rng) => {
                let bytes: [u8; 16] = rng.lock().unwrap_or_else(|p| p.into_inner()).random();
                uuid::Builder::from_random_bytes(bytes).into_uuid()
            }
            // The one place ambient randomness makes ids.
            #[allow(clippy::disallowed_methods)]
            None => Uuid::new_v4(),
        }
    }

    /// A seed for a local generator (sampling), so that its draws replay with this source.
    pub fn seed(&self) -> u64 {
        match &self.seeded {
            Some(rng) => rng.lock().unwrap_or_else(|p| p.into_inner()).random(),
            #[allow(clippy::disallowed_methods)]
            None => rand::random(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sim_clock_moves_only_when_advanced() {
        let clock = SimClock::new(1_000);
        let (t0, ms0) = (clock.instant(), clock.now_ms());
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(clock.instant(), t0);
        assert_eq!(clock.now_ms(), ms0);
        clock.advance(Duration::from_millis(1_500));
        assert_eq!(clock.instant() - t0, Duration::from_millis(1_500));
        assert_eq!(clock.now_ms(), 2_500);
    }

    #[test]
    fn seeded_entropy_replays_and_seeds_differ() {
        let (a, b, c) = (Entropy::seeded(7), Entropy::seeded(7), Entropy::seeded(8));
        let ids = |e: &Entropy| (0..4).map(|_| e.uuid()).collect::<Vec<_>>();
        let (ia, ib, ic) = (ids(&a), ids(&b), ids(&c));
        assert_eq!(ia, ib);
        assert_ne!(ia, ic);
        assert!(ia.iter().all(|u| u.get_version_num() == 4));
        assert_eq!(a.seed(), b.seed());
        assert_ne!(Entropy::system().uuid(), Entropy::system().uuid());
    }
}
