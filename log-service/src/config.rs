use std::time::Duration;

#[derive(Debug, Clone)]
pub struct LogConfig {
    /// How long the first write of a group waits for others to join it.
    pub group_window: Duration,
    /// A group is flushed early once its encoded size passes this.
    pub group_max_bytes: usize,
    /// Writes are refused (429) while the unindexed tail holds more records than this.
    pub max_tail_records: usize,
    /// Fragments below the compacted offset are deleted only after this long.
    pub gc_grace: Duration,
    /// A writer re-reads the true tail after this long without writing, so it can never write
    /// below an offset that was compacted and collected meanwhile. Must be well under `gc_grace`.
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
