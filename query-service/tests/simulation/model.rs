//! The oracle: what a collection may hold after the writes the simulation made, written from
//! Chroma's semantics independently of `common::materialize`.
//!
//! An acknowledged write happened, in order. A failed write may or may not have happened (its
//! fragment can land before the error, and be adopted later); it happened before every write
//! issued after it, and once a read saw it, it must stay. So the model keeps a few possible
//! states ("frozen" up to the last acknowledged write) plus the failed writes since then, and a
//! read must equal some frozen state with some subset of those failed writes applied, in order,
//! including every failed write an earlier read proved applied.

use std::collections::BTreeMap;

use silt_common::record::{Metadata, Operation, OperationRecord, Record};

pub type State = BTreeMap<String, Record>;

pub struct Model {
    frozen: Vec<State>,
    open: Vec<Open>,
}

struct Open {
    batch: Vec<OperationRecord>,
    /// A read saw it applied: every later read must too.
    seen: bool,
}

/// Most failed writes kept undecided; past it the simulation stops injecting failures until a
/// write is acknowledged (2^k candidate states per frozen state).
pub const MAX_OPEN: usize = 6;

impl Model {
    pub fn new() -> Self {
        Model {
            frozen: vec![State::new()],
            open: Vec::new(),
        }
    }

    pub fn open_writes(&self) -> usize {
        self.open.len()
    }

    /// How many states a read is checked against now.
    pub fn candidate_count(&self) -> usize {
        self.frozen.len() << self.open.len()
    }

    pub fn acknowledged(&mut self, batch: &[OperationRecord]) {
        let mut next: Vec<State> = Vec::new();
        for (state, _) in self.candidates() {
            let mut s = state;
            apply_batch(&mut s, batch);
            if !next.contains(&s) {
                next.push(s);
            }
        }
        self.frozen = next;
        self.open.clear();
    }

    pub fn failed(&mut self, batch: Vec<OperationRecord>) {
        self.open.push(Open { batch, seen: false });
    }

    /// Every state a read may observe now, with the failed writes applied in each.
    fn candidates(&self) -> Vec<(State, u32)> {
        let mut out: Vec<(State, u32)> = Vec::new();
        let required: u32 = self
            .open
            .iter()
            .enumerate()
            .filter(|(_, o)| o.seen)
            .map(|(i, _)| 1 << i)
            .sum();
        for base in &self.frozen {
            for mask in 0u32..(1 << self.open.len()) {
                if mask & required != required {
                    continue;
                }
                let mut s = base.clone();
                for (i, o) in self.open.iter().enumerate() {
                    if mask & (1 << i) != 0 {
                        apply_batch(&mut s, &o.batch);
                    }
                }
                out.push((s, mask));
            }
        }
        out
    }

    /// Checks an observation (`fits` says whether a candidate state explains it) and learns
    /// from it: states that cannot explain it are dropped, failed writes every explanation
    /// includes are marked seen. Returns the states that fit (for the error message when none).
    pub fn observe(&mut self, fits: impl Fn(&State) -> bool) -> Result<(), String> {
        let candidates = self.candidates();
        let n = candidates.len();
        let fitting: Vec<(State, u32)> = candidates.into_iter().filter(|(s, _)| fits(s)).collect();
        if fitting.is_empty() {
            let allowed: Vec<String> = self
                .candidates()
                .iter()
                .take(4)
                .map(|(s, _)| format!("{:?}", s.keys().collect::<Vec<_>>()))
                .collect();
            return Err(format!(
                "no state the acknowledged writes allow explains this read ({n} candidates, {} failed writes undecided); ids of the first allowed states: {}",
                self.open.len(),
                allowed.join(" | ")
            ));
        }
        let all_seen = fitting.iter().fold(u32::MAX, |acc, (_, m)| acc & m);
        for (i, o) in self.open.iter_mut().enumerate() {
            if all_seen & (1 << i) != 0 {
                o.seen = true;
            }
        }
        // A frozen state survives if some subset of the failed writes on top of it fits.
        self.frozen.retain(|base| {
            fitting.iter().any(|(s, mask)| {
                let mut b = base.clone();
                for (i, o) in self.open.iter().enumerate() {
                    if mask & (1 << i) != 0 {
                        apply_batch(&mut b, &o.batch);
                    }
                }
                &b == s
            })
        });
        Ok(())
    }
}

fn apply_batch(state: &mut State, batch: &[OperationRecord]) {
    for op in batch {
        apply(state, op);
    }
}

/// Chroma: add of an existing id is ignored; update of a missing one too; upsert is add or
/// update; update merges metadata (a null removes the key) and replaces what it carries.
fn apply(state: &mut State, op: &OperationRecord) {
    let exists = state.contains_key(&op.id);
    match (op.operation, exists) {
        (Operation::Delete, _) => {
            state.remove(&op.id);
        }
        (Operation::Add, true) | (Operation::Update, false) => {}
        (Operation::Add | Operation::Upsert, false) => {
            let Some(embedding) = op.embedding.clone() else {
                return;
            };
            let mut metadata = Metadata::new();
            merge_metadata(&mut metadata, op);
            state.insert(
                op.id.clone(),
                Record {
                    id: op.id.clone(),
                    embedding,
                    document: op.document.clone(),
                    metadata,
                    uri: op.uri.clone(),
                },
            );
        }
        (Operation::Update | Operation::Upsert, true) => {
            if let Some(r) = state.get_mut(&op.id) {
                if let Some(e) = &op.embedding {
                    r.embedding = e.clone();
                }
                if let Some(d) = &op.document {
                    r.document = Some(d.clone());
                }
                if let Some(u) = &op.uri {
                    r.uri = Some(u.clone());
                }
                merge_metadata(&mut r.metadata, op);
            }
        }
    }
}

fn merge_metadata(into: &mut Metadata, op: &OperationRecord) {
    for (k, v) in op.metadata.iter().flatten() {
        match v {
            Some(v) => into.insert(k.clone(), v.clone()),
            None => into.remove(k),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(id: &str, x: f32) -> OperationRecord {
        OperationRecord {
            id: id.into(),
            operation: Operation::Add,
            embedding: Some(vec![x]),
            document: None,
            metadata: None,
            uri: None,
        }
    }

    #[test]
    fn a_failed_write_may_appear_but_never_disappear_once_seen() {
        let mut m = Model::new();
        m.acknowledged(&[add("a", 1.0)]);
        m.failed(vec![add("b", 2.0)]);
        let has_b = |s: &State| s.contains_key("b");
        m.observe(|s| !has_b(s)).unwrap();
        m.observe(has_b).unwrap();
        assert!(m.observe(|s| !has_b(s)).is_err());
        // An acknowledged delete is never undone.
        m.acknowledged(&[OperationRecord::delete("a".to_string())]);
        assert!(m.observe(|s| s.contains_key("a")).is_err());
    }
}
