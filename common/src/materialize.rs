//! Applying log operations to records by id, with Chroma's semantics:
//! - add of an existing id is ignored (the old record stays);
//! - update of a missing id is ignored; update merges metadata (null removes a key) and replaces
//!   the embedding, document and uri only when given;
//! - upsert of an existing id behaves as update, of a missing id as add;
//! - delete removes the record.
//!
//! The compactor and the query path share this code so that a query over "version + tail" and
//! the version the compactor later writes from the same tail are identical, in content and order.

use std::collections::HashMap;

use crate::record::{LogEntry, Metadata, MetadataUpdate, Operation, OperationRecord, Record};

/// The effect of a log tail on top of a base version.
#[derive(Debug, Default)]
pub struct Overlay {
    /// New state of ids present in the base: `Some` replaced, `None` deleted.
    base_changes: HashMap<String, Option<Record>>,
    /// Records whose ids are not in the base, in order of first insertion; `None` once deleted.
    appended: Vec<Option<Record>>,
    appended_index: HashMap<String, usize>,
}

impl Overlay {
    /// Applies `entries` (in log order) to a base whose records `base` looks up by id.
    pub fn build<'b, F>(base: F, entries: &[LogEntry]) -> Overlay
    where
        F: Fn(&str) -> Option<&'b Record>,
    {
        let mut overlay = Overlay::default();
        for entry in entries {
            overlay.apply(&base, &entry.record);
        }
        overlay
    }

    fn current<'a, 'b: 'a, F>(&'a self, base: &F, id: &str) -> Option<&'a Record>
    where
        F: Fn(&str) -> Option<&'b Record>,
    {
        if let Some(&i) = self.appended_index.get(id) {
            return self.appended[i].as_ref();
        }
        if let Some(change) = self.base_changes.get(id) {
            return change.as_ref();
        }
        base(id)
    }

    fn set<'b, F>(&mut self, base: &F, id: &str, value: Option<Record>)
    where
        F: Fn(&str) -> Option<&'b Record>,
    {
        if let Some(&i) = self.appended_index.get(id) {
            self.appended[i] = value;
        } else if self.base_changes.contains_key(id) || base(id).is_some() {
            self.base_changes.insert(id.to_string(), value);
        } else if value.is_some() {
            self.appended_index
                .insert(id.to_string(), self.appended.len());
            self.appended.push(value);
        }
    }

    fn apply<'b, F>(&mut self, base: &F, op: &OperationRecord)
    where
        F: Fn(&str) -> Option<&'b Record>,
    {
        let existing = self.current(base, &op.id).cloned();
        let next = match (op.operation, existing) {
            (Operation::Add, Some(_)) | (Operation::Update, None) => return,
            (Operation::Add | Operation::Upsert, None) => match insert_record(op) {
                Some(r) => Some(r),
                None => return,
            },
            (Operation::Update | Operation::Upsert, Some(old)) => Some(merge(old, op)),
            (Operation::Delete, None) => return,
            (Operation::Delete, Some(_)) => None,
        };
        self.set(base, &op.id, next);
    }

    /// Whether the tail touched this id in any way that changes what the base says.
    pub fn overrides(&self, id: &str) -> bool {
        self.base_changes.contains_key(id)
    }

    /// The merged view: base records in base order (replaced or skipped as the tail says), then
    /// records new in the tail.
    pub fn merged<'a, I>(&'a self, base: I) -> impl Iterator<Item = &'a Record> + 'a
    where
        I: Iterator<Item = &'a Record> + 'a,
    {
        base.filter_map(move |r| match self.base_changes.get(&r.id) {
            Some(change) => change.as_ref(),
            None => Some(r),
        })
        .chain(self.appended.iter().flatten())
    }

    /// What the tail made of base records it touched: `Some` replaced, `None` deleted.
    pub fn base_changes(&self) -> impl Iterator<Item = (&str, Option<&Record>)> + '_ {
        self.base_changes
            .iter()
            .map(|(id, change)| (id.as_str(), change.as_ref()))
    }

    /// Records new in the tail, in order of first insertion.
    pub fn appended(&self) -> impl Iterator<Item = &Record> + '_ {
        self.appended.iter().flatten()
    }

    pub fn is_empty(&self) -> bool {
        self.base_changes.is_empty() && self.appended.is_empty()
    }
}

fn insert_record(op: &OperationRecord) -> Option<Record> {
    // The gateway guarantees add/upsert carry an embedding; a record without one is unusable.
    let embedding = op.embedding.clone()?;
    Some(Record {
        id: op.id.clone(),
        embedding,
        document: op.document.clone(),
        metadata: apply_metadata(Metadata::new(), op.metadata.as_ref()),
        uri: op.uri.clone(),
    })
}

fn merge(mut old: Record, op: &OperationRecord) -> Record {
    if let Some(e) = &op.embedding {
        old.embedding = e.clone();
    }
    if let Some(d) = &op.document {
        old.document = Some(d.clone());
    }
    if let Some(u) = &op.uri {
        old.uri = Some(u.clone());
    }
    old.metadata = apply_metadata(old.metadata, op.metadata.as_ref());
    old
}

fn apply_metadata(mut base: Metadata, update: Option<&MetadataUpdate>) -> Metadata {
    for (k, v) in update.into_iter().flatten() {
        match v {
            Some(v) => {
                base.insert(k.clone(), v.clone());
            }
            None => {
                base.remove(k);
            }
        }
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::MetadataValue;

    fn op(operation: Operation, id: &str, x: f32, meta: &[(&str, Option<i64>)]) -> LogEntry {
        LogEntry {
            offset: 0,
            record: OperationRecord {
                id: id.to_string(),
                operation,
                embedding: (operation != Operation::Delete).then(|| vec![x]),
                document: None,
                metadata: Some(
                    meta.iter()
                        .map(|(k, v)| (k.to_string(), v.map(MetadataValue::Int)))
                        .collect(),
                ),
                uri: None,
            },
        }
    }

    fn rec(id: &str, x: f32) -> Record {
        Record {
            id: id.into(),
            embedding: vec![x],
            document: None,
            metadata: Metadata::new(),
            uri: None,
        }
    }

    #[test]
    fn chroma_semantics_by_id() {
        let base = [rec("a", 1.0), rec("b", 2.0), rec("c", 3.0)];
        let lookup = |id: &str| base.iter().find(|r| r.id == id);
        let entries = vec![
            op(Operation::Add, "a", 9.0, &[]),     // ignored: exists
            op(Operation::Update, "zz", 9.0, &[]), // ignored: missing
            op(
                Operation::Upsert,
                "b",
                5.0,
                &[("k", Some(1)), ("j", Some(2))],
            ),
            op(Operation::Update, "b", 6.0, &[("k", None)]), // merge, drop k
            op(Operation::Delete, "c", 0.0, &[]),
            op(Operation::Add, "d", 4.0, &[]),
            op(Operation::Add, "e", 5.0, &[]),
            op(Operation::Delete, "d", 0.0, &[]),
            op(Operation::Upsert, "d", 7.0, &[]), // re-created: keeps its slot
        ];
        let overlay = Overlay::build(lookup, &entries);
        let merged: Vec<&Record> = overlay.merged(base.iter()).collect();
        let ids: Vec<&str> = merged.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "d", "e"]);
        assert_eq!(merged[0].embedding, vec![1.0]);
        assert_eq!(merged[1].embedding, vec![6.0]);
        assert_eq!(merged[1].metadata.len(), 1);
        assert_eq!(merged[1].metadata["j"], MetadataValue::Int(2));
        assert_eq!(merged[2].embedding, vec![7.0]);
        assert!(overlay.overrides("c"));
        assert!(!overlay.overrides("a"));
    }
}
