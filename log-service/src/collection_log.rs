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

use silt_common::keys::log_fragment;
use silt_common::record::{LogEntry, OperationRecord};
use silt_common::storage::{put_if_absent, DynStore, FenceError};
use silt_common::{CollectionId, SiltError, SiltResult};
use silt_sysdb::SysDb;
use tokio::sync::oneshot;

use crate::fragment::encode_fragment;
use crate::recovery::{read_after, read_fragment};
use crate::{AppendReceipt, LogConfig, LogError};

pub(crate) struct Shared {
    pub store: DynStore,
    pub sysdb: SysDb,
    pub config: LogConfig,
    pub epoch: Instant,
}

impl Shared {
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
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
        loop {
            let first = tail.next_offset;
            let bytes = encode_fragment(self.id, first, &records);
            match put_if_absent(shared.store.as_ref(), &log_fragment(self.id, first), bytes).await {
                Ok(()) => {
                    let last = first + records.len() as u64 - 1;
                    tail.entries
                        .extend(records.into_iter().enumerate().map(|(i, record)| LogEntry {
                            offset: first + i as u64,
                            record,
                        }));
                    tail.next_offset = last + 1;
                    tail.recovered_at = Some(Instant::now());
                    shared.sysdb.advance_log_position(self.id, last).await?;
                    return Ok(first);
                }
                Err(FenceError::AlreadyExists(_)) => {
                    // Another writer holds this position: adopt its fragment and try the next.
                    let theirs = read_fragment(&shared.store, self.id, first).await?;
                    tail.next_offset = theirs.last_offset() + 1;
                    tail.entries.extend(theirs.entries);
                }
                Err(FenceError::Store(e)) => return Err(e.into()),
            }
        }
    }

    /// Loads the true tail from the catalog and object storage when this node has not done so
    /// recently enough to be sure nothing below its position was compacted and collected.
    async fn ensure_fresh(&self, shared: &Shared, tail: &mut Tail) -> Result<(), LogError> {
        if tail
            .recovered_at
            .is_some_and(|t| t.elapsed() < shared.config.resync_after)
        {
            return Ok(());
        }
        let collection = shared.sysdb.get_collection(self.id).await?;
        let compacted = collection.compacted_offset;
        let entries = read_after(&shared.store, self.id, compacted).await?;
        if let Some(last) = entries.last() {
            if last.offset > collection.log_position {
                // A writer died between its PUT and recording the position: record it now, or
                // the compactor would never learn of those writes.
                shared
                    .sysdb
                    .advance_log_position(self.id, last.offset)
                    .await?;
            }
        }
        tail.compacted_offset = compacted;
        tail.next_offset = entries.last().map_or(compacted, |e| e.offset) + 1;
        tail.entries = entries.into();
        tail.recovered_at = Some(Instant::now());
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
            let newer = read_after(&shared.store, self.id, tail.next_offset - 1).await?;
            if let Some(last) = newer.last() {
                tail.next_offset = last.offset + 1;
            }
            tail.entries.extend(newer);
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
    }
}
