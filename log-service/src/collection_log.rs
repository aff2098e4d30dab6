//! One collection's log: its in-memory tail and its group-commit queue.
//!
//! Appends join a queue. The first append into an idle queue spawns a committer task that waits
//! `group_window` for company, then writes everything queued as ONE fragment; appends that arrive
//! while a PUT is in flight form the next group. The committer is a spawned task so that a caller
//! that goes away (a dropped HTTP request) can never leave a group half-committed.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use silt_common::clock::DynClock;
use silt_common::keys::log_fragment;
use silt_common::record::{LogEntry, OperationRecord};
use silt_common::storage::{put_if_absent, DynStore, FenceError};
use silt_common::{CollectionId, SiltError, SiltResult};
use silt_sysdb::{LogCommit, SysDb};
use tokio::sync::oneshot;

use crate::fragment::encode_fragment;
use crate::recovery::{decode_at, read_after, read_fragment_bytes};
use crate::{AppendReceipt, LogConfig, LogError};

pub(crate) struct Shared {
    pub store: DynStore,
    pub sysdb: SysDb,
    pub config: LogConfig,
    /// Resyncs, garbage-collection deadlines and idleness are timed by this (the simulation's
    /// clock in tests), never by the ambient one.
    pub clock: DynClock,
    pub epoch: Instant,
}

impl Shared {
    pub fn now_ms(&self) -> u64 {
        self.clock
            .instant()
            .saturating_duration_since(self.epoch)
            .as_millis() as u64
    }
}

struct Pending {
    records: Vec<OperationRecord>,
    reply: oneshot::Sender<SiltResult<AppendReceipt>>,
}

#[derive(Default)]
struct Queue {
    pending: Vec<Pending>,
    committer_running: bool,
}

/// What this node knows of the collection's log beyond its index version.
struct Tail {
    recovered_at: Option<Instant>,
    compacted_offset: u64,
    next_offset: u64,
    entries: VecDeque<LogEntry>,
}

pub(crate) struct CollectionLog {
    id: CollectionId,
    queue: Mutex<Queue>,
    tail: tokio::sync::Mutex<Tail>,
    last_used_ms: AtomicU64,
}

fn approx_size(r: &OperationRecord) -> usize {
    64 + r.id.len()
        + r.embedding.as_ref().map_or(0, |e| e.len() * 4)
        + r.document.as_ref().map_or(0, String::len)
        + r.metadata.as_ref().map_or(0, |m| m.len() * 32)
}

impl CollectionLog {
    pub fn new(id: CollectionId, now_ms: u64) -> Self {
        CollectionLog {
            id,
            queue: Mutex::default(),
            tail: tokio::sync::Mutex::new(Tail {
                recovered_at: None,
                compacted_offset: 0,
                next_offset: 1,
                entries: VecDeque::new(),
            }),
            last_used_ms: AtomicU64::new(now_ms),
        }
    }

    pub fn touch(&self, now_ms: u64) {
        self.last_used_ms.store(now_ms, Ordering::Relaxed);
    }

    /// The span of the tail, for metrics; `None` while a writer or reader holds it.
    pub fn tail_span(&self) -> Option<crate::metrics::TailSpan> {
        let tail = self.tail.try_lock().ok()?;
        Some(crate::metrics::TailSpan {
            records: tail.entries.len(),
            first: tail.entries.front().map_or(0, |e| e.offset),
            last: tail.entries.back().map_or(0, |e| e.offset),
        })
    }

    /// Idle and with nothing queued: safe to drop from memory.
    pub fn is_idle(&self, now_ms: u64, idle_ms: u64) -> bool {
        let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        !queue.committer_running
            && queue.pending.is_empty()
            && now_ms.saturating_sub(self.last_used_ms.load(Ordering::Relaxed)) > idle_ms
    }

    pub async fn append(
        self: &Arc<Self>,
        shared: &Arc<Shared>,
        records: Vec<OperationRecord>,
    ) -> SiltResult<AppendReceipt> {
        let (reply, done) = oneshot::channel();
        let start_committer = {
            let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            queue.pending.push(Pending { records, reply });
            !std::mem::replace(&mut queue.committer_running, true)
        };
        if start_committer {
            let (this, shared) = (self.clone(), shared.clone());
            tokio::spawn(async move { this.run_committer(&shared).await });
        }
        done.await.map_err(|_| LogError::WriterGone)?
    }

    async fn run_committer(&self, shared: &Shared) {
        let window = shared.config.group_window;
        if !window.is_zero() {
            tokio::time::sleep(window).await;
        }
        loop {
            let group = {
                let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                if queue.pending.is_empty() {
                    queue.committer_running = false;
                    return;
                }
                let mut taken = 0;
                let mut bytes = 0;
                for p in &queue.pending {
                    bytes += p.records.iter().map(approx_size).sum::<usize>();
                    taken += 1;
                    if bytes >= shared.config.group_max_bytes {
                        break;
                    }
                }
                queue.pending.drain(..taken).collect::<Vec<_>>()
            };
            self.commit_group(shared, group).await;
        }
    }

    async fn commit_group(&self, shared: &Shared, group: Vec<Pending>) {
        let counts: Vec<usize> = group.iter().map(|p| p.records.len()).collect();
        let (records, replies): (Vec<_>, Vec<_>) =
            group.into_iter().map(|p| (p.records, p.reply)).unzip();
        let records: Vec<OperationRecord> = records.into_iter().flatten().collect();
        match self.commit(shared, records).await {
            Ok(first) => {
                let mut next = first;
                for (reply, n) in replies.into_iter().zip(counts) {
                    let receipt = AppendReceipt {
                        first_offset: next,
                        last_offset: next + n as u64 - 1,
                    };
                    next += n as u64;
                    let _ = reply.send(Ok(receipt));
                }
            }
            Err(e) => {
                let e = SiltError::from(e);
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }

    /// Writes `records` as one fragment at the true end of the log and returns its first offset.
    async fn commit(
        &self,
        shared: &Shared,
        records: Vec<OperationRecord>,
    ) -> Result<u64, LogError> {
        let mut tail = self.tail.lock().await;
        self.ensure_fresh(shared, &mut tail).await?;
        let limit = shared.config.max_tail_records;
        if tail.entries.len() + records.len() > limit {
            return Err(LogError::Backpressure {
                collection: self.id.to_string(),
                tail: tail.entries.len(),
                limit,
            });
        }
        let mut resyncs = 0;
        loop {
            let first = tail.next_offset;
            let bytes = encode_fragment(self.id, first, &records);
            let taken = match put_if_absent(
                shared.store.as_ref(),
                &log_fragment(self.id, first),
                bytes.clone(),
            )
            .await
            {
                Ok(()) => None,
                Err(FenceError::AlreadyExists(_)) => {
                    match read_fragment_bytes(&shared.store, self.id, first).await {
                        // The store's client retries a PUT whose answer was lost (a reset, a 5xx
                        // after the write): the retry finds the key taken by this very PUT.
                        // Adopting it as another writer's would log these records twice.
                        Ok(theirs) if theirs == bytes => None,
                        Ok(theirs) => Some(theirs),
                        Err(e) => {
                            // Collected since (this node is far behind): recover first.
                            tail.recovered_at = None;
                            return Err(e);
                        }
                    }
                }
                Err(FenceError::Store(e)) => return Err(e.into()),
            };
            let Some(theirs) = taken else {
                let last = first + records.len() as u64 - 1;
                // Memory learns of the fragment only once the catalog has accepted it: a fenced
                // fragment must never be served from here.
                if let Err(e) = self.fence(shared, first, last, bytes.len() as u64).await {
                    // Whatever this node believed about the log is suspect (fenced), or the
                    // position may be unrecorded (catalog error): re-read before the next
                    // append or read.
                    tail.recovered_at = None;
                    return Err(e);
                }
                tail.entries
                    .extend(records.into_iter().enumerate().map(|(i, record)| LogEntry {
                        offset: first + i as u64,
                        record,
                    }));
                tail.next_offset = last + 1;
                tail.recovered_at = Some(shared.clock.instant());
                return Ok(first);
            };
            // Another writer holds this position. Adopt its fragment and try the next offset,
            // but only if the catalog (read after the fragment) is not compacted past it: such
            // a fragment may be a fenced stale writer's, written into a collected key, whose
            // end lies anywhere; adopting it would put this writer's next offset inside a real
            // fragment. A real fragment there means this node's view is old: re-read the log.
            let theirs = decode_at(&theirs, self.id, first)?;
            let compacted = shared.sysdb.get_collection(self.id).await?.compacted_offset;
            if first <= compacted {
                tail.recovered_at = None;
                resyncs += 1;
                if resyncs > 3 {
                    return Err(LogError::Fenced {
                        collection: self.id.to_string(),
                        first,
                        compacted_offset: compacted,
                    });
                }
                self.ensure_fresh(shared, &mut tail).await?;
                continue;
            }
            tail.next_offset = theirs.last_offset() + 1;
            tail.entries.extend(theirs.entries);
            // What was adopted is in no catalog position until this writer's own commit covers
            // it (its writer failed before committing). Should this commit fail, the next call
            // must re-read the log, which records the position, instead of serving the adopted
            // entries from memory: a read here would see a write that reads through other nodes
            // do not (found by the simulation, seed 52774). Success sets this again.
            tail.recovered_at = None;
        }
    }

    /// The catalog-side fence (see `SysDb::commit_log_position`): the fragment `first..=last`,
    /// already durable, counts only if the collection is not compacted past `first`. A fenced
    /// fragment is left where it is: it may be a legitimate fragment that another node adopted
    /// and compacted while this one was paused, which a reader of an older version can still
    /// need within the grace period. Readers of the current version never read it (they start
    /// after the compacted offset, past it), `read_after` skips a fragment that overlaps its
    /// successor, and the catalog's collected offset is moved below it, so that the collector
    /// deletes it after the grace period.
    async fn fence(
        &self,
        shared: &Shared,
        first: u64,
        last: u64,
        bytes: u64,
    ) -> Result<(), LogError> {
        match shared
            .sysdb
            .commit_log_position(self.id, first, last, bytes)
            .await?
        {
            LogCommit::Committed => Ok(()),
            LogCommit::Fenced { compacted_offset } => {
                tracing::warn!(
                    collection = %self.id,
                    first,
                    last,
                    compacted_offset,
                    "stale log writer fenced: its fragment is below the compacted offset and is not acknowledged"
                );
                // Its key may be one the collector has passed already: have it list again.
                if let Err(e) = shared.sysdb.log_garbage_at(self.id, first).await {
                    tracing::warn!(collection = %self.id, first, error = %e, "could not reopen the log for garbage collection; the fenced fragment stays until the next compaction");
                }
                Err(LogError::Fenced {
                    collection: self.id.to_string(),
                    first,
                    compacted_offset,
                })
            }
        }
    }

    /// Loads the true tail from the catalog and object storage when this node has not done so
    /// recently enough to be sure nothing below its position was compacted and collected.
    async fn ensure_fresh(&self, shared: &Shared, tail: &mut Tail) -> Result<(), LogError> {
        let now = shared.clock.instant();
        if tail
            .recovered_at
            .is_some_and(|t| now.saturating_duration_since(t) < shared.config.resync_after)
        {
            return Ok(());
        }
        // A compaction and its garbage collection can run between reading the compacted offset
        // and listing the fragments (this node was paused in between): the fragments after the
        // old offset are gone, a gap. The catalog then has a newer offset; start again from it.
        let mut collection = shared.sysdb.get_collection(self.id).await?;
        if collection.log_position <= collection.compacted_offset {
            // Fully compacted: every acknowledged write is in the index version (its position
            // was committed before it was acknowledged), so the tail is empty and the next
            // offset is known without a LIST or a GET. A fragment above it can only be one
            // that was never acknowledged (a writer died between its PUT and its commit): the
            // next append finds the key taken and adopts it (`commit`), reads need not see it.
            tail.compacted_offset = collection.compacted_offset;
            tail.next_offset = collection.compacted_offset + 1;
            tail.entries.clear();
            tail.recovered_at = Some(now);
            return Ok(());
        }
        if tail.recovered_at.is_some()
            && collection.log_position + 1 == tail.next_offset
            && collection.compacted_offset >= tail.compacted_offset
        {
            // This node's view was complete when last refreshed, and nobody has committed past
            // it since (the position would have moved): the entries it holds above the catalog's
            // compacted offset are still the log (garbage collection stays at or below that
            // offset), and its next offset is still the end. Only the compacted part goes.
            tail.compacted_offset = collection.compacted_offset;
            while tail
                .entries
                .front()
                .is_some_and(|e| e.offset <= collection.compacted_offset)
            {
                tail.entries.pop_front();
            }
            tail.recovered_at = Some(now);
            return Ok(());
        }
        let mut attempts = 0;
        let entries = loop {
            match read_after(&shared.store, self.id, collection.compacted_offset).await {
                Ok(entries) => break entries,
                Err(e @ LogError::Gap { .. }) if attempts < 3 => {
                    let now = shared.sysdb.get_collection(self.id).await?;
                    if now.compacted_offset == collection.compacted_offset {
                        return Err(e);
                    }
                    collection = now;
                    attempts += 1;
                }
                Err(e) => return Err(e),
            }
        };
        let compacted = collection.compacted_offset;
        if let Some(last) = entries.last() {
            if last.offset > collection.log_position {
                // A writer died between its PUT and recording the position: record it now, or
                // the compactor would never learn of those writes. Everything read after the
                // compacted offset is the real log (a fenced stale fragment lies at or below
                // it), so this needs no fence.
                shared
                    .sysdb
                    .advance_log_position(self.id, last.offset)
                    .await?;
            }
        }
        tail.compacted_offset = compacted;
        tail.next_offset = entries.last().map_or(compacted, |e| e.offset) + 1;
        tail.entries = entries.into();
        tail.recovered_at = Some(shared.clock.instant());
        Ok(())
    }

    pub async fn read_tail(
        &self,
        shared: &Shared,
        after: u64,
        known_position: u64,
    ) -> Result<Vec<LogEntry>, LogError> {
        let mut tail = self.tail.lock().await;
        self.ensure_fresh(shared, &mut tail).await?;
        if known_position >= tail.next_offset {
            // Another node appended since this one last looked (routing moved the collection
            // and back): fetch what it wrote, so this read still sees every acknowledged write.
            match read_after(&shared.store, self.id, tail.next_offset - 1).await {
                Ok(newer) => {
                    if let Some(last) = newer.last() {
                        if last.offset > known_position {
                            // Past every acknowledged write: a fragment whose writer died
                            // before its commit. Record it before serving it, as recovery
                            // does, so the catalog never says "fully compacted" of a log
                            // whose unacknowledged write a reader has already seen (a log
                            // that starts from the catalog would then hide it again).
                            shared
                                .sysdb
                                .advance_log_position(self.id, last.offset)
                                .await?;
                        }
                        tail.next_offset = last.offset + 1;
                    }
                    tail.entries.extend(newer);
                }
                Err(LogError::Gap { .. }) => {
                    // What this node missed was compacted and collected meanwhile: start over
                    // from the catalog's compacted offset.
                    tail.recovered_at = None;
                    self.ensure_fresh(shared, &mut tail).await?;
                }
                Err(e) => return Err(e),
            }
        }
        if after < tail.compacted_offset {
            // The caller holds an older version than this node knows of; what it is missing was
            // released from memory but is still in object storage (GC waits out a grace period).
            drop(tail);
            return read_after(&shared.store, self.id, after).await;
        }
        Ok(tail
            .entries
            .iter()
            .filter(|e| e.offset > after)
            .cloned()
            .collect())
    }

    pub async fn mark_compacted(&self, offset: u64) {
        let mut tail = self.tail.lock().await;
        if offset <= tail.compacted_offset {
            return;
        }
        tail.compacted_offset = offset;
        while tail.entries.front().is_some_and(|e| e.offset <= offset) {
            tail.entries.pop_front();
        }
        // The buffer keeps the capacity of the longest tail it ever held (200,000 entries
        // after a bulk load); give it back once the compactor has caught up.
        if tail.entries.capacity() > 2 * tail.entries.len() + 64 {
            tail.entries.shrink_to_fit();
        }
    }
}
