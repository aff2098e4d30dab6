//! A paused writer: a write through one log node stops inside its PUT (a stopped process, a
//! stuck connection) while the other node writes, compactions run and garbage is collected;
//! some steps later it resumes. The interleaving is the seed's: the write runs alone until it
//! is held, and after its release the simulation waits for its answer before going on.

use std::sync::Arc;

use rand::Rng;
use silt_common::record::OperationRecord;
use silt_common::storage::Hold;
use silt_common::SiltResult;
use silt_log_service::{AppendReceipt, LogService};
use tokio::task::JoinHandle;

use crate::ops::Sim;
use crate::world::LOG_NODES;

pub struct Paused {
    pub node: usize,
    hold: Arc<Hold>,
    task: JoinHandle<SiltResult<AppendReceipt>>,
    batch: Vec<OperationRecord>,
    resume_at: usize,
}

impl Sim {
    /// The node every call goes to while a writer is paused on the other one (a call through
    /// the paused node would wait behind its held PUT).
    pub fn pick_node(&mut self, random: usize) {
        let node = match &self.paused {
            Some(p) => (p.node + 1) % LOG_NODES,
            None => random,
        };
        self.w.logs.pick(node);
        self.node = node;
    }

    pub async fn pause_write(&mut self) {
        if self.paused.is_some() {
            return self.write().await;
        }
        let batch = self.random_batch();
        let node = self.node;
        let hold = self.w.faulty.hold_next_put();
        let (log, c, records) = (self.w.logs.node(node), self.w.collection, batch.clone());
        let mut task = tokio::spawn(async move { log.append(c, records).await });
        tokio::select! {
            biased;
            _ = hold.reached() => {
                let resume_at = self.step + self.rng.random_range(1..12);
                self.stats.paused_writes += 1;
                self.note(format!("write {} paused in its PUT on log node {node} until step {resume_at}", summary(&batch)));
                self.paused = Some(Paused { node, hold, task, batch, resume_at });
            }
            r = &mut task => {
                // It failed before its PUT: nothing to pause; the hold must not catch another.
                hold.release();
                let r = r.unwrap_or_else(|e| Err(silt_common::SiltError::internal(e.to_string())));
                self.written(batch, Some(r));
            }
        }
    }

    /// Releases a paused writer whose time has come (or any, with `now`), and waits for its
    /// answer: acknowledged now, it counts from now; failed, it may yet appear, like any
    /// failed write.
    pub async fn resume(&mut self, now: bool) {
        let due = self
            .paused
            .as_ref()
            .is_some_and(|p| now || p.resume_at <= self.step);
        if !due {
            return;
        }
        let Some(p) = self.paused.take() else { return };
        self.note(format!("resume the write paused on log node {}", p.node));
        p.hold.release();
        let r = p
            .task
            .await
            .unwrap_or_else(|e| Err(silt_common::SiltError::internal(e.to_string())));
        self.written(p.batch, Some(r));
    }

    /// The paused writer's process died (its node restarted, or the whole process): it never
    /// resumes, and what it wrote may or may not count.
    pub fn abandon_pause(&mut self, node: Option<usize>) {
        if self
            .paused
            .as_ref()
            .is_some_and(|p| node.is_none_or(|n| n == p.node))
        {
            if let Some(p) = self.paused.take() {
                self.note(format!(
                    "the write paused on log node {} dies with it",
                    p.node
                ));
                self.model.failed(p.batch);
            }
        }
    }
}

pub fn summary(batch: &[OperationRecord]) -> String {
    let ops: Vec<String> = batch
        .iter()
        .map(|o| format!("{:?} {}", o.operation, o.id))
        .collect();
    format!("{ops:?}")
}
