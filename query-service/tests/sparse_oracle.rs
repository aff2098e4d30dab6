//! Sparse `$knn` through Search against a brute-force oracle: random records holding sparse
//! vectors, random add/upsert/update/delete (with key removals), compactions at random points so
//! every query sees a different mix of index version and log tail, and random filters. Every
//! answer must be exactly the oracle's top-k by `1 - q·d` among matching records that share a
//! dimension with the query.

use std::collections::{BTreeMap, HashMap};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use silt_common::materialize::Overlay;
use silt_common::record::{LogEntry, MetadataValue, Operation, OperationRecord, Record};
use silt_common::sparse_vector::SparseVector;
use silt_common::CollectionId;
use silt_query_service::{Consistency, QueryService, SearchPlan, SearchRequest};
use silt_sysdb::NewCollection;

mod harness;
use harness::{harness, Harness};

const KEY: &str = "sv";
const DIMS: u32 = 64;

fn random_sparse(rng: &mut StdRng, most: usize) -> SparseVector {
    let n = rng.random_range(1..=most);
    let mut indices: Vec<u32> = (0..n).map(|_| rng.random_range(0..DIMS)).collect();
    indices.sort_unstable();
    indices.dedup();
    let values = indices
        .iter()
        .map(|_| rng.random_range(-0.5f32..2.0))
        .collect();
    SparseVector {
        indices,
        values,
        tokens: None,
    }
}

fn random_op(rng: &mut StdRng, pool: usize) -> OperationRecord {
    let id = format!("r{}", rng.random_range(0..pool));
    let operation = match rng.random_range(0..10) {
        0..=3 => Operation::Add,
        4..=5 => Operation::Upsert,
        6..=7 => Operation::Update,
        _ => return OperationRecord::delete(id),
    };
    let mut meta = BTreeMap::new();
    if rng.random_bool(0.8) {
        meta.insert(
            "a".to_string(),
            Some(MetadataValue::Int(rng.random_range(0..5))),
        );
    }
    match rng.random_range(0..10) {
        0 => {
            meta.insert(KEY.to_string(), None);
        }
        1..=7 => {
            meta.insert(
                KEY.to_string(),
                Some(MetadataValue::SparseVector(random_sparse(rng, 8))),
            );
        }
        _ => {}
    }
    OperationRecord {
        id,
        operation,
        embedding: (operation != Operation::Update || rng.random_bool(0.3))
            .then(|| (0..4).map(|_| rng.random_range(-1.0f32..1.0)).collect()),
        document: None,
        metadata: Some(meta),
        uri: None,
    }
}

#[derive(Default)]
struct Oracle {
    base: Vec<Record>,
    tail: Vec<LogEntry>,
}

impl Oracle {
    fn fold(&mut self) {
        self.base = self.records();
        self.tail.clear();
    }

    fn records(&self) -> Vec<Record> {
        let by_id: HashMap<&str, &Record> = self.base.iter().map(|r| (r.id.as_str(), r)).collect();
        let overlay = Overlay::build(|id| by_id.get(id).copied(), &self.tail);
        overlay.merged(self.base.iter()).cloned().collect()
    }

    /// Brute force: every matching record's score, best first, ties by id.
    fn top(&self, q: &SparseVector, a: Option<i64>, k: usize) -> Vec<(String, f32)> {
        let mut all: Vec<(String, f32)> = self
            .records()
            .into_iter()
            .filter(|r| a.is_none_or(|a| r.metadata.get("a") == Some(&MetadataValue::Int(a))))
            .filter_map(|r| {
                let v = r.metadata.get(KEY)?.as_sparse()?;
                q.dot(v).map(|d| (r.id.clone(), 1.0 - d))
            })
            .collect();
        all.sort_by(|x, y| x.1.total_cmp(&y.1).then_with(|| x.0.cmp(&y.0)));
        all.truncate(k);
        all
    }
}

async fn check(h: &Harness, c: CollectionId, oracle: &Oracle, rng: &mut StdRng) {
    for _ in 0..6 {
        let q = random_sparse(rng, 12);
        let k = rng.random_range(1..30);
        let a = rng.random_bool(0.4).then(|| rng.random_range(0..5));
        let filter: Value = a.map_or(Value::Null, |a| json!({"a": {"$eq": a}}));
        let plan = SearchPlan::parse(&json!({
            "filter": filter,
            "rank": {"$knn": {"query": q.to_json(), "key": KEY, "limit": k}},
            "select": {"keys": ["#score"]},
        }))
        .unwrap();
        let got = h
            .query
            .search(SearchRequest {
                collection: c.into(),
                searches: vec![plan],
                consistency: Consistency::Strong,
            })
            .await
            .unwrap();
        let got: Vec<(String, f32)> = got[0]
            .iter()
            .map(|hit| (hit.record.id.clone(), hit.score))
            .collect();
        assert_eq!(got, oracle.top(&q, a, k), "query {q:?}, a {a:?}, k {k}");
    }
}

async fn run_seed(seed: u64, records: usize) {
    let h = harness().await;
    let mut rng = StdRng::seed_from_u64(seed);
    let (c, _) = h
        .sysdb
        .create_collection(NewCollection::in_default_database(
            &format!("sparse-{seed}"),
            json!({}),
        ))
        .await
        .unwrap();
    let c = c.id;
    let pool = records * 5 / 4;
    let mut oracle = Oracle::default();
    let mut written = 0;
    while written < records * 2 {
        let n = rng.random_range(1..(records / 4).max(2));
        let ops: Vec<OperationRecord> = (0..n).map(|_| random_op(&mut rng, pool)).collect();
        oracle.tail.extend(h.append(c, ops).await);
        written += n;
        if rng.random_bool(0.5) {
            h.compact(c).await;
            oracle.fold();
        }
        check(&h, c, &oracle, &mut rng).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sparse_knn_over_version_and_tail_matches_brute_force() {
    for seed in [1, 2, 3] {
        run_seed(seed, 400).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sparse_knn_over_a_large_version_matches_brute_force() {
    // Posting lists of many blocks, so pruning skips blocks and whole lists.
    run_seed(9, 5_000).await;
}
