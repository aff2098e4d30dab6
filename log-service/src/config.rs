use std::time::Duration;

#[derive(Debug, Clone)]
pub struct LogConfig {
    /// How long the first write of a group waits for others to join it.
    pub group_window: Duration,
    /// A group is flushed early once its encoded size passes this.
    pub group_max_bytes: usize,
    /// Writes are refused (429) while the unindexed tail holds more records than this.
    pub max_tail_records: usize,
    /// Fragments below the compacted offset are deleted only after this long (by the
    /// compactors' GC round, or `ObjectLog::collect_garbage`).
    pub gc_grace: Duration,
    /// A writer re-reads the true tail after this long without writing, so that it rarely
    /// tries an offset that was compacted and collected meanwhile. Correctness does not rest on
    /// it (a writer paused between choosing an offset and its PUT is stopped by the catalog's
    /// fence at commit, see `SysDb::commit_log_position`); it keeps such writers from failing.
    /// Must be well under `gc_grace`.
    pub resync_after: Duration,
    /// A collection with no writes or reads for this long drops its in-memory state.
    pub idle_eviction: Duration,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            group_window: Duration::from_millis(10),
            group_max_bytes: 8 << 20,
            max_tail_records: 200_000,
            gc_grace: Duration::from_secs(600),
            resync_after: Duration::from_secs(60),
            idle_eviction: Duration::from_secs(120),
        }
    }
}

impl LogConfig {
    /// Sets the garbage-collection grace period, and shortens `resync_after` to a quarter of
    /// it when the default would not be well under it.
    pub fn with_gc_grace(mut self, gc_grace: Duration) -> Self {
        self.gc_grace = gc_grace;
        self.resync_after = self.resync_after.min(gc_grace / 4);
        self
    }

    /// How often idle eviction should run: every 10 s, or twice per grace period when that is
    /// shorter (tests run with grace periods of a second or two).
    pub fn maintenance_interval(&self) -> Duration {
        (self.gc_grace / 2).clamp(Duration::from_millis(100), Duration::from_secs(10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_grace_shortens_resync_and_maintenance() {
        let c = LogConfig::default().with_gc_grace(Duration::from_secs(2));
        assert_eq!(c.gc_grace, Duration::from_secs(2));
        assert_eq!(c.resync_after, Duration::from_millis(500));
        assert_eq!(c.maintenance_interval(), Duration::from_secs(1));
        let d = LogConfig::default().with_gc_grace(Duration::from_secs(3600));
        assert_eq!(d.resync_after, Duration::from_secs(60));
        assert_eq!(d.maintenance_interval(), Duration::from_secs(10));
    }
}
