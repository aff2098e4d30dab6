//! The read path against a brute-force oracle: random records, random operations (with
//! compactions at random points, so queries see version + tail in every mix), random filters.
//! Every get, count and exact-regime KNN answer must equal the oracle's; approximate KNN answers
//! must hold only true matches, with true distances, in order.

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use silt_common::distance::{norm, Distance};
use silt_common::filter::{Where, WhereDocument};
use silt_common::materialize::Overlay;
use silt_common::record::{LogEntry, MetadataValue, Operation, OperationRecord, Record};
use silt_common::CollectionId;
use silt_query_service::{Consistency, Filters, GetRequest, Include, KnnRequest, QueryService};
use silt_sysdb::NewCollection;

mod harness;
use harness::{harness, Harness};

const WORDS: &[&str] = &[
    "apple", "banana", "cherry", "delta", "echo", "Foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima", "über", "naïve", "a", "an",
];
const DIM: usize = 8;

/// The collection as the system defines it: versions folded at each compaction, plus the tail.
#[derive(Default)]
struct Oracle {
    base: Vec<Record>,
    tail: Vec<LogEntry>,
}

impl Oracle {
    fn fold(&mut self) {
        let by_id: HashMap<&str, &Record> = self.base.iter().map(|r| (r.id.as_str(), r)).collect();
        let overlay = Overlay::build(|id| by_id.get(id).copied(), &self.tail);
        let next: Vec<Record> = overlay.merged(self.base.iter()).cloned().collect();
        self.base = next;
        self.tail.clear();
    }

    fn records(&self) -> Vec<Record> {
        let by_id: HashMap<&str, &Record> = self.base.iter().map(|r| (r.id.as_str(), r)).collect();
        let overlay = Overlay::build(|id| by_id.get(id).copied(), &self.tail);
        overlay.merged(self.base.iter()).cloned().collect()
    }
}

fn random_metadata(
    rng: &mut StdRng,
) -> Option<std::collections::BTreeMap<String, Option<MetadataValue>>> {
    if rng.random_bool(0.1) {
        return None;
    }
    let mut m = std::collections::BTreeMap::new();
    if rng.random_bool(0.8) {
        m.insert(
            "a".into(),
            Some(MetadataValue::Int(rng.random_range(0..10))),
        );
    }
    if rng.random_bool(0.7) {
        m.insert(
            "b".into(),
            Some(MetadataValue::Float((rng.random_range(0..40) as f64) / 4.0)),
        );
    }
    if rng.random_bool(0.7) {
        let w = WORDS[rng.random_range(0..6)];
        m.insert("s".into(), Some(MetadataValue::Str(w.into())));
    }
    if rng.random_bool(0.5) {
        m.insert("t".into(), Some(MetadataValue::Bool(rng.random_bool(0.5))));
    }
    if rng.random_bool(0.4) {
        let n = rng.random_range(1..4);
        let v = (0..n)
            .map(|_| WORDS[rng.random_range(0..6)].to_string())
            .collect();
        m.insert("arr".into(), Some(MetadataValue::StrArray(v)));
    }
    if rng.random_bool(0.1) {
        // Removing a key (meaningful for update/upsert).
        m.insert("a".into(), None);
    }
    Some(m)
}

fn random_document(rng: &mut StdRng) -> Option<String> {
    if rng.random_bool(0.15) {
        return None;
    }
    let n = rng.random_range(1..6);
    Some(
        (0..n)
            .map(|_| WORDS[rng.random_range(0..WORDS.len())])
            .collect::<Vec<_>>()
            .join(" "),
    )
}

fn random_op(rng: &mut StdRng, pool: usize) -> OperationRecord {
    let id = format!("id-{}", rng.random_range(0..pool));
    let operation = match rng.random_range(0..10) {
        0..=4 => Operation::Add,
        5..=6 => Operation::Upsert,
        7..=8 => Operation::Update,
        _ => Operation::Delete,
    };
    if operation == Operation::Delete {
        return OperationRecord::delete(id);
    }
    let embedding = (operation != Operation::Update || rng.random_bool(0.5))
        .then(|| (0..DIM).map(|_| rng.random_range(-1.0f32..1.0)).collect());
    OperationRecord {
        id,
        operation,
        embedding,
        document: random_document(rng),
        metadata: random_metadata(rng),
        uri: None,
    }
}

fn random_where(rng: &mut StdRng, depth: usize) -> Value {
    if depth < 2 && rng.random_bool(0.3) {
        let op = if rng.random_bool(0.5) { "$and" } else { "$or" };
        let n = rng.random_range(2..4);
        return json!({ op: (0..n).map(|_| random_where(rng, depth + 1)).collect::<Vec<_>>() });
    }
    match rng.random_range(0..9) {
        0 => json!({"a": rng.random_range(0..10)}),
        1 => json!({"a": {"$ne": rng.random_range(0..10)}}),
        2 => {
            let op = ["$gt", "$gte", "$lt", "$lte"][rng.random_range(0..4)];
            json!({"b": {op: (rng.random_range(0..40) as f64) / 4.0}})
        }
        3 => {
            let op = ["$gt", "$gte", "$lt", "$lte"][rng.random_range(0..4)];
            json!({"a": {op: rng.random_range(0..10)}})
        }
        4 => json!({"s": {"$in": [WORDS[rng.random_range(0..6)], WORDS[rng.random_range(0..6)]]}}),
        5 => json!({"s": {"$nin": [WORDS[rng.random_range(0..6)]]}}),
        6 => json!({"t": rng.random_bool(0.5)}),
        7 => json!({"arr": {"$contains": WORDS[rng.random_range(0..6)]}}),
        _ => json!({"arr": {"$not_contains": WORDS[rng.random_range(0..6)]}}),
    }
}

fn random_needle(rng: &mut StdRng) -> String {
    let w = WORDS[rng.random_range(0..WORDS.len())];
    let chars: Vec<char> = w.chars().collect();
    let start = rng.random_range(0..chars.len());
    let end = rng.random_range(start + 1..=chars.len());
    let mut s: String = chars[start..end].iter().collect();
    if rng.random_bool(0.2) {
        s.push(' ');
        s.push_str(WORDS[rng.random_range(0..WORDS.len())]);
    }
    s
}

fn random_where_document(rng: &mut StdRng, depth: usize) -> Value {
    if depth < 1 && rng.random_bool(0.25) {
        let op = if rng.random_bool(0.5) { "$and" } else { "$or" };
        return json!({ op: [random_where_document(rng, 1), random_where_document(rng, 1)] });
    }
    match rng.random_range(0..6) {
        0..=2 => json!({"$contains": random_needle(rng)}),
        3 => json!({"$not_contains": random_needle(rng)}),
        4 => json!({"$regex": format!("^{}", random_needle(rng))}),
        _ => json!({"$not_regex": "[aeiou]{2}"}),
    }
}

fn random_filters(rng: &mut StdRng, pool: usize) -> Filters {
    Filters {
        ids: rng.random_bool(0.15).then(|| {
            (0..rng.random_range(1..6))
                .map(|_| format!("id-{}", rng.random_range(0..pool)))
                .collect()
        }),
        r#where: if rng.random_bool(0.6) {
            Where::parse(&random_where(rng, 0)).unwrap()
        } else {
            None
        },
        where_document: if rng.random_bool(0.4) {
            WhereDocument::parse(&random_where_document(rng, 0)).unwrap()
        } else {
            None
        },
    }
}

fn matches(f: &Filters, r: &Record) -> bool {
    f.ids.as_ref().is_none_or(|ids| ids.contains(&r.id))
        && f.r#where.as_ref().is_none_or(|w| w.matches(&r.metadata))
        && f.where_document
            .as_ref()
            .is_none_or(|w| w.matches(r.document.as_deref()))
}

const ALL: Include = Include {
    embeddings: true,
    documents: true,
    metadatas: true,
    uris: true,
};

async fn check_queries(
    h: &Harness,
    c: CollectionId,
    oracle: &Oracle,
    distance: Distance,
    rng: &mut StdRng,
    pool: usize,
    rounds: usize,
) {
    let records = oracle.records();
    assert_eq!(
        h.query.count(c.into(), Consistency::Strong).await.unwrap(),
        records.len() as u64,
        "count"
    );
    let exact_regime = records.len() <= silt_compactor::FLAT_MAX_RECORDS;
    for _ in 0..rounds {
        let filters = random_filters(rng, pool);
        let expected: Vec<&Record> = records.iter().filter(|r| matches(&filters, r)).collect();

        let offset = if rng.random_bool(0.3) {
            rng.random_range(0..20)
        } else {
            0
        };
        let limit = rng.random_bool(0.5).then(|| rng.random_range(1..30));
        let got = h
            .query
            .get(GetRequest {
                collection: c.into(),
                filters: filters.clone(),
                limit,
                offset,
                include: ALL,
                consistency: Consistency::Strong,
            })
            .await
            .unwrap();
        let want: Vec<&Record> = expected
            .iter()
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .copied()
            .collect();
        assert_eq!(
            got.iter().collect::<Vec<_>>(),
            want,
            "get with {filters:?} offset {offset} limit {limit:?}"
        );

        let query: Vec<f32> = (0..DIM).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        let k = rng.random_range(1..15);
        let got = h
            .query
            .knn(KnnRequest {
                collection: c.into(),
                filters: filters.clone(),
                query_embeddings: vec![query.clone()],
                n_results: k,
                include: ALL,
                consistency: Consistency::Strong,
            })
            .await
            .unwrap()
            .remove(0);
        let qn = norm(&query);
        let mut truth: Vec<(f32, &Record)> = expected
            .iter()
            .map(|r| (distance.compute(&query, qn, &r.embedding), *r))
            .collect();
        truth.sort_by(|a, b| a.0.total_cmp(&b.0));
        let selective_small = filters.ids.is_some();
        if exact_regime || selective_small {
            let want: Vec<(&str, f32)> = truth
                .iter()
                .take(k)
                .map(|(d, r)| (r.id.as_str(), *d))
                .collect();
            let got_ids: Vec<(&str, f32)> = got
                .iter()
                .map(|s| (s.record.id.as_str(), s.distance))
                .collect();
            assert_eq!(got_ids, want, "knn k={k} with {filters:?}");
        } else {
            let by_id: HashMap<&str, (f32, &Record)> = truth
                .iter()
                .map(|(d, r)| (r.id.as_str(), (*d, *r)))
                .collect();
            assert!(got.len() <= k);
            assert!(
                got.len() == k.min(expected.len()),
                "knn returned {} of {}",
                got.len(),
                k.min(expected.len())
            );
            for w in got.windows(2) {
                assert!(w[0].distance <= w[1].distance);
            }
            for s in &got {
                let (d, r) = by_id
                    .get(s.record.id.as_str())
                    .expect("knn returned a non-match");
                assert_eq!(&s.record, *r);
                assert!((s.distance - d).abs() < 1e-5);
            }
        }
    }
}

/// Clusters of the collection's current version (0 when it has none).
async fn clusters(h: &Harness, c: CollectionId) -> usize {
    match h.sysdb.get_collection(c).await.unwrap().manifest {
        Some(key) => silt_index::format::read_head(h.store.as_ref(), &key)
            .await
            .unwrap()
            .clusters
            .len(),
        None => 0,
    }
}

/// Returns the most clusters any version had.
async fn run_seed(seed: u64, records: usize, distance: Distance) -> usize {
    let h = harness().await;
    let mut rng = StdRng::seed_from_u64(seed);
    let space = distance.as_str();
    let (c, _) = h
        .sysdb
        .create_collection(NewCollection::in_default_database(
            &format!("oracle-{seed}"),
            json!({"hnsw": {"space": space}}),
        ))
        .await
        .unwrap();
    let c = c.id;
    let pool = records * 5 / 4;
    let mut oracle = Oracle::default();
    let mut written = 0;
    let mut most_clusters = 0;
    while written < records * 2 {
        let n = rng.random_range(1..(records / 4).max(2));
        let ops: Vec<OperationRecord> = (0..n).map(|_| random_op(&mut rng, pool)).collect();
        oracle.tail.extend(h.append(c, ops).await);
        written += n;
        if rng.random_bool(0.5) {
            h.compact(c).await;
            oracle.fold();
        }
        most_clusters = most_clusters.max(clusters(&h, c).await);
        check_queries(&h, c, &oracle, distance, &mut rng, pool, 12).await;
        check_bm25(&h, c, &oracle).await;
    }
    most_clusters
}

/// BM25 over the indexed documents: only documents holding the term, best first, none the tail
/// has changed since, and every such document when fewer than the limit.
async fn check_bm25(h: &Harness, c: CollectionId, oracle: &Oracle) {
    let touched: std::collections::HashSet<&str> =
        oracle.tail.iter().map(|e| e.record.id.as_str()).collect();
    let has = |r: &Record, w: &str| {
        r.document
            .as_deref()
            .is_some_and(|d| d.split(' ').any(|t| t.eq_ignore_ascii_case(w)))
    };
    for word in ["cherry", "Foxtrot", "über"] {
        let got = h.query.bm25(c, word, 1_000_000).await.unwrap();
        for w in got.windows(2) {
            assert!(w[0].1 >= w[1].1, "scores descend");
        }
        let mut got_ids: Vec<&str> = got.iter().map(|(r, _)| r.id.as_str()).collect();
        got_ids.sort_unstable();
        let mut want: Vec<&str> = oracle
            .base
            .iter()
            .filter(|r| has(r, word) && !touched.contains(r.id.as_str()))
            .map(|r| r.id.as_str())
            .collect();
        want.sort_unstable();
        assert_eq!(got_ids, want, "bm25 {word:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_collections_match_the_oracle_exactly() {
    for (seed, distance) in [
        (1, Distance::L2),
        (2, Distance::Cosine),
        (3, Distance::Ip),
        (4, Distance::L2),
    ] {
        assert_eq!(
            run_seed(seed, 300, distance).await,
            1,
            "small versions are flat"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clustered_collections_return_only_true_matches_in_order() {
    let clusters = run_seed(7, 12_000, Distance::Cosine).await;
    assert!(
        clusters > 1,
        "the collection never reached a clustered version"
    );
}
