//! Rendezvous (highest random weight) routing of collections to nodes. Every process that hashes
//! the same collection over the same live nodes gets the same order, so a collection's writes go
//! to one log node and its reads to one query node (whose cache then holds it); when a node
//! leaves, only its collections move, each to the next node in its own order.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use async_trait::async_trait;
use rendezvous_hash::{KeyValueNode, NodeHasher, RendezvousNodes};
use xxhash_rust::xxh3::Xxh3;

use crate::hashing::STABLE_SEED;
use crate::SiltResult;

/// A live node: its stable id and the address other nodes reach it at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub address: String,
}

/// xxh3 with a fixed seed: std's `DefaultHasher` may change between Rust releases, which would
/// move every collection to another node on an upgrade.
#[derive(Debug, Clone, Copy, Default)]
pub struct StableNodeHasher;

impl NodeHasher<String> for StableNodeHasher {
    fn hash<T: Hash>(&self, node: &String, item: &T) -> u64 {
        let mut h = Xxh3::with_seed(STABLE_SEED);
        item.hash(&mut h);
        node.hash(&mut h);
        h.finish()
    }
}

/// The live nodes of one role, ready to order by preference for a key.
pub struct Ring {
    nodes: RendezvousNodes<KeyValueNode<String, String>, StableNodeHasher>,
}

impl Ring {
    pub fn new(members: impl IntoIterator<Item = Member>) -> Self {
        let mut nodes = RendezvousNodes::new(StableNodeHasher);
        for m in members {
            nodes.insert(KeyValueNode::new(m.id, m.address));
        }
        Ring { nodes }
    }

    /// Every node, most preferred first, for `key` (a collection id's canonical text).
    pub fn candidates(&self, key: &str) -> Vec<Member> {
        self.nodes
            .calc_candidates(&key)
            .map(|n| Member {
                id: n.key.clone(),
                address: n.value.clone(),
            })
            .collect()
    }

    pub fn owner(&self, key: &str) -> Option<Member> {
        self.candidates(key).into_iter().next()
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

/// Where the live nodes of a role come from: the catalog's membership table in a cluster, a
/// fixed list in tests.
#[async_trait]
pub trait NodeSource: Send + Sync + 'static {
    /// The role's live nodes; may be cached for a short while.
    async fn ring(&self) -> SiltResult<Arc<Ring>>;
    /// The role's name, for error messages.
    fn role(&self) -> &str;
}

/// A fixed set of nodes.
pub struct StaticNodes {
    role: String,
    ring: Arc<Ring>,
}

impl StaticNodes {
    pub fn new(role: &str, members: Vec<Member>) -> Self {
        StaticNodes {
            role: role.to_string(),
            ring: Arc::new(Ring::new(members)),
        }
    }
}

#[async_trait]
impl NodeSource for StaticNodes {
    async fn ring(&self) -> SiltResult<Arc<Ring>> {
        Ok(self.ring.clone())
    }

    fn role(&self) -> &str {
        &self.role
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(n: usize) -> Vec<Member> {
        (0..n)
            .map(|i| Member {
                id: format!("query-{i}"),
                address: format!("http://127.0.0.1:{}", 7000 + i),
            })
            .collect()
    }

    fn ids(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("00000000-0000-4000-8000-{i:012x}"))
            .collect()
    }

    #[test]
    fn sample_assignments_are_pinned() {
        // If this fails, an upgrade would move collections between nodes and cold their caches.
        let ring = Ring::new(members(3));
        let owners: Vec<String> = ids(6)
            .iter()
            .map(|id| ring.owner(id).map(|m| m.id).unwrap_or_default())
            .collect();
        assert_eq!(owners, PINNED_OWNERS);
        let order: Vec<String> = ring
            .candidates("2b1e3c5e-0000-4000-8000-000000000001")
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(order, PINNED_ORDER);
    }

    const PINNED_OWNERS: [&str; 6] = [
        "query-2", "query-0", "query-2", "query-2", "query-0", "query-0",
    ];
    const PINNED_ORDER: [&str; 3] = ["query-0", "query-2", "query-1"];

    #[test]
    fn a_joining_node_takes_about_one_nth_and_only_moves_to_itself() {
        let keys = ids(20_000);
        let before = Ring::new(members(3));
        let after = Ring::new(members(4));
        let mut moved = 0;
        for k in &keys {
            let (a, b) = (before.owner(k).unwrap(), after.owner(k).unwrap());
            if a != b {
                assert_eq!(b.id, "query-3", "a key moved between two old nodes");
                moved += 1;
            }
        }
        let share = moved as f64 / keys.len() as f64;
        println!(
            "a fourth node took {moved} of {} keys ({:.1}%)",
            keys.len(),
            share * 100.0
        );
        assert!((0.22..0.28).contains(&share), "moved share {share}");
    }

    #[test]
    fn a_leaving_node_hands_each_key_to_its_next_candidate() {
        let keys = ids(2_000);
        let full = Ring::new(members(3));
        let reduced = Ring::new(members(3).into_iter().filter(|m| m.id != "query-1"));
        for k in &keys {
            let order = full.candidates(k);
            let expected = order.into_iter().find(|m| m.id != "query-1").unwrap();
            assert_eq!(reduced.owner(k).unwrap(), expected);
        }
    }
}
