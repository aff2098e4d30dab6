//! Which records can match a filter, from the metadata index alone: a superset of the true
//! matches (every candidate is verified against the record itself), found without scanning
//! the records. Equality, ranges, `$in` and array membership are key ranges in the sorted
//! index; negations are complements; `$and` / `$or` are set algebra.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use silt_common::filter::{CmpOp, Where};
use silt_common::record::MetadataValue;
use silt_index::format::{number_key, sort_keys, BlockEntry, Head, Loc, SortKey};

#[derive(Debug, Clone)]
pub enum Candidates {
    All,
    /// Exactly these records (by ordinal), with where they are.
    Only(BTreeMap<u32, Loc>),
    AllExcept(HashSet<u32>),
}

impl Candidates {
    pub fn none() -> Self {
        Candidates::Only(BTreeMap::new())
    }

    pub fn admits(&self, ordinal: u32) -> bool {
        match self {
            Candidates::All => true,
            Candidates::Only(m) => m.contains_key(&ordinal),
            Candidates::AllExcept(e) => !e.contains(&ordinal),
        }
    }

    pub fn and(self, other: Candidates) -> Candidates {
        use Candidates::*;
        match (self, other) {
            (All, x) | (x, All) => x,
            (Only(mut a), Only(b)) => {
                a.retain(|k, _| b.contains_key(k));
                Only(a)
            }
            (Only(mut a), AllExcept(e)) | (AllExcept(e), Only(mut a)) => {
                a.retain(|k, _| !e.contains(k));
                Only(a)
            }
            (AllExcept(mut a), AllExcept(b)) => {
                a.extend(b);
                AllExcept(a)
            }
        }
    }

    pub fn or(self, other: Candidates) -> Candidates {
        use Candidates::*;
        match (self, other) {
            (All, _) | (_, All) => All,
            (Only(mut a), Only(b)) => {
                a.extend(b);
                Only(a)
            }
            (Only(a), AllExcept(mut e)) | (AllExcept(mut e), Only(a)) => {
                e.retain(|k| !a.contains_key(k));
                AllExcept(e)
            }
            (AllExcept(a), AllExcept(b)) => AllExcept(a.intersection(&b).copied().collect()),
        }
    }
}

/// Whether a filter's candidates will be an explicit set: known before reading any block, so a
/// query can plan its reads up front.
pub fn is_selective(w: &Where) -> bool {
    match w {
        Where::And(cs) => cs.iter().any(is_selective),
        Where::Or(cs) => !cs.is_empty() && cs.iter().all(is_selective),
        Where::Compare { op, value, .. } => {
            *op != CmpOp::Ne && (!matches!(op, CmpOp::Eq) || lookup_key(value).is_some())
        }
        Where::In { negate, .. } | Where::Contains { negate, .. } => !negate,
    }
}

/// A block of the metadata index: (index in `head.meta`, block number).
pub type BlockId = (usize, usize);

/// One leaf of a filter as an index lookup: inclusive key bounds in the scalar or array index.
struct Lookup<'a> {
    key: &'a str,
    array: bool,
    lo: Option<SortKey>,
    hi: Option<SortKey>,
}

fn lookup_key(v: &MetadataValue) -> Option<SortKey> {
    if v.is_array() {
        return None;
    }
    sort_keys(v).into_iter().next()
}

/// Numbers beyond 2^53 share f64 keys with their neighbours: their equality sets may hold
/// non-matches, so those sets cannot be complemented.
fn exact_key(v: &MetadataValue) -> bool {
    match v {
        MetadataValue::Int(i) => i.unsigned_abs() < (1u64 << 53),
        MetadataValue::Float(f) => f.abs() < 9.007_199_254_740_992e15,
        _ => true,
    }
}

fn leaf_lookups<'a>(w: &'a Where) -> Vec<Lookup<'a>> {
    let eq = |key: &'a str, array: bool, v: &MetadataValue| {
        lookup_key(v).map(|k| Lookup {
            key,
            array,
            lo: Some(k.clone()),
            hi: Some(k),
        })
    };
    match w {
        Where::And(_) | Where::Or(_) => Vec::new(),
        Where::Compare { key, op, value } => match op {
            CmpOp::Eq | CmpOp::Ne => eq(key, false, value).into_iter().collect(),
            _ => {
                let n = match value {
                    MetadataValue::Int(i) => *i as f64,
                    MetadataValue::Float(f) => *f,
                    _ => return Vec::new(),
                };
                let (lo, hi) = match op {
                    CmpOp::Gt | CmpOp::Gte => (number_key(n), number_key(f64::INFINITY)),
                    _ => (number_key(f64::NEG_INFINITY), number_key(n)),
                };
                vec![Lookup {
                    key,
                    array: false,
                    lo: Some(lo),
                    hi: Some(hi),
                }]
            }
        },
        Where::In { key, values, .. } => values.iter().filter_map(|v| eq(key, false, v)).collect(),
        Where::Contains { key, value, .. } => eq(key, true, value).into_iter().collect(),
    }
}

fn blocks_of<'h>(head: &'h Head, l: &Lookup<'_>) -> impl Iterator<Item = BlockId> + 'h {
    let (lo, hi) = (l.lo.clone(), l.hi.clone());
    let key = l.key.to_string();
    let array = l.array;
    head.meta
        .iter()
        .enumerate()
        .filter(move |(_, m)| m.key == key && m.array == array)
        .flat_map(move |(i, m)| {
            let (lo, hi) = (lo.clone(), hi.clone());
            m.blocks
                .iter()
                .enumerate()
                .filter(move |(_, b)| b.overlaps(lo.as_deref(), hi.as_deref()))
                .map(move |(j, _)| (i, j))
        })
}

/// At most how many index entries a narrowing filter can match, from the head's block counts
/// alone (before any block is read): whole blocks are counted, so it errs high by a block or
/// two a lookup. `None` when the filter does not narrow.
pub fn estimated_matches(head: &Head, w: &Where) -> Option<u64> {
    match w {
        Where::And(cs) => cs.iter().filter_map(|c| estimated_matches(head, c)).min(),
        Where::Or(cs) if !cs.is_empty() => cs.iter().map(|c| estimated_matches(head, c)).sum(),
        Where::Or(_) => None,
        leaf if is_selective(leaf) => Some(
            leaf_lookups(leaf)
                .iter()
                .flat_map(|l| blocks_of(head, l))
                .map(|(i, j)| u64::from(head.meta[i].blocks[j].count))
                .sum(),
        ),
        _ => None,
    }
}

/// The index blocks a filter needs.
pub fn blocks_needed(head: &Head, w: &Where, out: &mut BTreeSet<BlockId>) {
    match w {
        Where::And(cs) | Where::Or(cs) => cs.iter().for_each(|c| blocks_needed(head, c, out)),
        leaf => {
            for l in leaf_lookups(leaf) {
                out.extend(blocks_of(head, &l));
            }
        }
    }
}

fn lookup_set(
    head: &Head,
    l: &Lookup<'_>,
    blocks: &HashMap<BlockId, Vec<BlockEntry>>,
) -> BTreeMap<u32, Loc> {
    let mut out = BTreeMap::new();
    for id in blocks_of(head, l) {
        for e in blocks.get(&id).into_iter().flatten() {
            let above = l.lo.as_ref().is_none_or(|lo| &e.key >= lo);
            let below = l.hi.as_ref().is_none_or(|hi| &e.key <= hi);
            if above && below {
                out.insert(e.loc.ordinal, e.loc);
            }
        }
    }
    out
}

/// The candidates of a filter, given the blocks `blocks_needed` named.
pub fn evaluate(head: &Head, w: &Where, blocks: &HashMap<BlockId, Vec<BlockEntry>>) -> Candidates {
    let union = |w: &Where| {
        let mut all = BTreeMap::new();
        for l in leaf_lookups(w) {
            all.extend(lookup_set(head, &l, blocks));
        }
        all
    };
    let complement = |set: BTreeMap<u32, Loc>, exact: bool| {
        if exact {
            Candidates::AllExcept(set.into_keys().collect())
        } else {
            Candidates::All
        }
    };
    match w {
        Where::And(cs) => cs
            .iter()
            .fold(Candidates::All, |acc, c| acc.and(evaluate(head, c, blocks))),
        Where::Or(cs) => cs
            .iter()
            .map(|c| evaluate(head, c, blocks))
            .reduce(Candidates::or)
            .unwrap_or(Candidates::All),
        Where::Compare { op, value, .. } => match op {
            CmpOp::Eq if lookup_key(value).is_none() => Candidates::All,
            CmpOp::Ne => complement(union(w), exact_key(value) && lookup_key(value).is_some()),
            _ => Candidates::Only(union(w)),
        },
        Where::In { negate, values, .. } => {
            if *negate {
                complement(
                    union(w),
                    values
                        .iter()
                        .all(|v| exact_key(v) && lookup_key(v).is_some()),
                )
            } else {
                Candidates::Only(union(w))
            }
        }
        Where::Contains { negate, value, .. } => {
            if *negate {
                complement(union(w), exact_key(value) && lookup_key(value).is_some())
            } else {
                Candidates::Only(union(w))
            }
        }
    }
}
