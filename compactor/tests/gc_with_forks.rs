//! Garbage collection with copy-on-write forks: a fork shares its parent's index version by
//! its manifest key, so the collector must keep every object a live fork references — after
//! the parent supersedes the version, and after the parent is deleted and purged — and still
//! delete everything once parent and fork are both gone. The fork's records are read back
//! through a query node with a cold cache after each round and compared with an oracle kept
//! by the test. Grace periods are passed over by handing `collect_garbage` a later `now`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::memory::InMemory;
use object_store::path::Path;
use serde_json::json;
use silt_common::clock::{Clock, SystemClock};
use silt_common::keys::collection_prefix;
use silt_common::record::{Operation, OperationRecord};
use silt_common::storage::DynStore;
use silt_common::CollectionId;
use silt_compactor::{Compactor, CompactorConfig, Outcome};
use silt_index::format::version_dir_of;
use silt_log_service::{LogConfig, LogService, ObjectLog};
use silt_query_service::{
    CacheConfig, Consistency, Filters, GetRequest, Include, QueryConfig, QueryNode, QueryService,
};
use silt_sysdb::{NewCollection, SysDb};

const GRACE: Duration = Duration::from_secs(60);
const DIM: usize = 8;
/// Above the flat limit (2,048), so the shared version is a directory of several files.
const RECORDS: usize = 3_000;

type Oracle = BTreeMap<String, Vec<f32>>;

fn vector(seed: usize) -> Vec<f32> {
    (0..DIM)
        .map(|d| ((seed * 7919 + d * 104_729) % 1000) as f32 / 500.0 - 1.0)
        .collect()
}

fn put(id: &str, seed: usize) -> OperationRecord {
    OperationRecord {
        id: id.to_string(),
        operation: Operation::Upsert,
        embedding: Some(vector(seed)),
        document: None,
        metadata: None,
        uri: None,
    }
}

struct World {
    _dir: tempfile::TempDir,
    store: DynStore,
    sysdb: SysDb,
    log: Arc<ObjectLog>,
    compactor: Compactor,
}

impl World {
    /// Every object is gone: nothing the collector should have deleted is left behind.
    async fn assert_store_empty(&self) {
        let left: Vec<_> = self.store.list(None).try_collect().await.unwrap();
        assert!(
            left.is_empty(),
            "{:?}",
            left.iter().map(|m| &m.location).collect::<Vec<_>>()
        );
    }

    async fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let sysdb = SysDb::connect(&format!("sqlite://{}/catalog.db", dir.path().display()))
            .await
            .unwrap();
        let store: DynStore = Arc::new(InMemory::new());
        let log = Arc::new(ObjectLog::new(
            store.clone(),
            sysdb.clone(),
            LogConfig {
                group_window: Duration::ZERO,
                ..LogConfig::default()
            }
            .with_gc_grace(GRACE),
        ));
        let compactor = Compactor::new(
            store.clone(),
            sysdb.clone(),
            log.clone(),
            CompactorConfig {
                min_tail_records: 1,
                gc_grace: GRACE,
                ..CompactorConfig::default()
            },
        );
        World {
            _dir: dir,
            store,
            sysdb,
            log,
            compactor,
        }
    }

    /// Upserts (`Some(seed)`) and deletes (`None`) on `c`, mirrored into `oracle`.
    async fn write(&self, c: CollectionId, oracle: &mut Oracle, ops: &[(String, Option<usize>)]) {
        let records = ops
            .iter()
            .map(|(id, seed)| match seed {
                Some(seed) => {
                    oracle.insert(id.clone(), vector(*seed));
                    put(id, *seed)
                }
                None => {
                    oracle.remove(id);
                    OperationRecord::delete(id.clone())
                }
            })
            .collect();
        self.log.append(c, records).await.unwrap();
    }

    async fn compact(&self, c: CollectionId) {
        let outcome = self.compactor.compact(c).await.unwrap();
        assert!(matches!(outcome, Outcome::Registered { .. }), "{outcome:?}");
    }

    /// Forks `parent` as the gateway does: the catalog rows, then the parent's unindexed tail
    /// (after the shared version, up to the fork point) appended to the fork's own log.
    async fn fork(&self, parent: CollectionId, name: &str) -> CollectionId {
        let start = self.sysdb.begin_fork(parent, name).await.unwrap();
        let tail: Vec<OperationRecord> = self
            .log
            .read_tail(parent, start.tail_after, start.tail_until)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.offset <= start.tail_until)
            .map(|e| e.record)
            .collect();
        if !tail.is_empty() {
            let receipt = self.log.append(start.fork.id, tail).await.unwrap();
            assert_eq!(receipt.first_offset, start.tail_after + 1);
            assert_eq!(receipt.last_offset, start.tail_until);
        }
        self.sysdb.finish_fork(start.fork.id).await.unwrap().id
    }

    async fn delete(&self, c: CollectionId) {
        let name = self.sysdb.get_collection(c).await.unwrap().name;
        self.sysdb
            .delete_collection("default_tenant", "default_database", &name)
            .await
            .unwrap();
    }

    /// A GC round far enough in the future that every grace period has passed.
    async fn collect(&self) -> usize {
        let later = SystemClock.now_ms() + 2 * GRACE.as_millis() as i64;
        self.compactor.collect_garbage(later).await.unwrap()
    }

    async fn keys_under(&self, prefix: &Path) -> Vec<Path> {
        let metas: Vec<_> = self.store.list(Some(prefix)).try_collect().await.unwrap();
        metas.into_iter().map(|m| m.location).collect()
    }

    /// Every record of `c` as a new query node (nothing cached) reads it, log tail included.
    async fn read_all(&self, c: CollectionId) -> Oracle {
        let node = QueryNode::new(
            self.store.clone(),
            self.sysdb.clone(),
            self.log.clone(),
            QueryConfig {
                cache: CacheConfig {
                    memory_bytes: 16 << 20,
                    disk_dir: None,
                    disk_bytes: 0,
                },
                ..QueryConfig::default()
            },
        )
        .await
        .unwrap();
        node.get(GetRequest {
            collection: c.into(),
            filters: Filters::default(),
            limit: None,
            offset: 0,
            include: Include {
                embeddings: true,
                documents: false,
                metadatas: false,
                uris: false,
            },
            consistency: Consistency::Strong,
        })
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.embedding))
        .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_keeps_the_shared_version_until_its_last_reference_goes() {
    let w = World::new().await;
    let (p, _) = w
        .sysdb
        .create_collection(NewCollection::in_default_database(
            "parent",
            json!({"hnsw": {"space": "l2"}}),
        ))
        .await
        .unwrap();
    let p = p.id;
    let mut parent = Oracle::new();
    let bulk: Vec<_> = (0..RECORDS)
        .map(|i| (format!("r{i:05}"), Some(i)))
        .collect();
    for chunk in bulk.chunks(1000) {
        w.write(p, &mut parent, chunk).await;
    }
    w.compact(p).await;
    // An unindexed tail at the fork point: updates, a delete and new records.
    let tail: Vec<_> = (0..10)
        .map(|i| (format!("r{i:05}"), Some(RECORDS + i)))
        .chain([("r00010".to_string(), None)])
        .chain((0..5).map(|i| (format!("t{i}"), Some(10 * RECORDS + i))))
        .collect();
    w.write(p, &mut parent, &tail).await;

    let shared = w.sysdb.get_collection(p).await.unwrap().manifest.unwrap();
    let shared_dir = version_dir_of(&shared);
    let shared_files = w.keys_under(&shared_dir).await;
    assert!(
        shared_files.len() > 1,
        "a multi-file version: {shared_files:?}"
    );

    let f = w.fork(p, "fork").await;
    let mut fork = parent.clone();
    assert_eq!(
        w.read_all(f).await,
        fork,
        "the fork is the parent at the fork point"
    );
    assert_eq!(
        w.sysdb.get_collection(f).await.unwrap().manifest,
        Some(shared.clone()),
        "the version is shared, not copied"
    );

    // Each side changes alone.
    let parent_ops: Vec<_> = (100..200)
        .map(|i| (format!("r{i:05}"), None))
        .chain([("p-new".to_string(), Some(1))])
        .collect();
    w.write(p, &mut parent, &parent_ops).await;
    let fork_ops: Vec<_> = (0..50)
        .map(|i| (format!("f{i}"), Some(20 * RECORDS + i)))
        .chain((200..250).map(|i| (format!("r{i:05}"), None)))
        .collect();
    w.write(f, &mut fork, &fork_ops).await;
    assert_eq!(w.read_all(p).await, parent);
    assert_eq!(w.read_all(f).await, fork);

    // The parent supersedes the shared version: its row goes, the fork's keeps the files.
    w.compact(p).await;
    w.collect().await;
    assert_eq!(w.keys_under(&shared_dir).await, shared_files);
    assert_eq!(w.read_all(f).await, fork);
    assert_eq!(w.read_all(p).await, parent);

    // A second fork, deleted and purged, takes nothing the others use with it.
    let g = w.fork(f, "short-lived").await;
    w.delete(g).await;
    w.collect().await;
    w.collect().await;
    assert_eq!(w.keys_under(&shared_dir).await, shared_files);
    assert_eq!(w.read_all(f).await, fork);

    // The parent is deleted and purged: everything under its prefix goes but the version
    // directory the fork still reads.
    let parent_prefix = shared_dir.parts().take(2).collect::<Path>();
    assert!(w.keys_under(&parent_prefix).await.len() > shared_files.len());
    w.delete(p).await;
    w.collect().await;
    assert_eq!(w.keys_under(&parent_prefix).await, shared_files);
    assert_eq!(
        w.read_all(f).await,
        fork,
        "the fork reads every record after the purge"
    );

    // The fork compacts past the shared version: its last reference goes, and so do the files.
    w.compact(f).await;
    assert_eq!(w.read_all(f).await, fork);
    w.collect().await;
    assert!(w.keys_under(&parent_prefix).await.is_empty());
    assert_eq!(w.read_all(f).await, fork);

    // Once the fork is gone too, nothing is left.
    w.delete(f).await;
    w.collect().await;
    w.assert_store_empty().await;
}

/// The same when the parent and its fork are deleted together and purged in the same round:
/// the version they share is deleted once neither references it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_shared_by_two_deleted_collections_is_collected() {
    let w = World::new().await;
    let (p, _) = w
        .sysdb
        .create_collection(NewCollection::in_default_database("parent", json!({})))
        .await
        .unwrap();
    let p = p.id;
    let mut oracle = Oracle::new();
    let ops: Vec<_> = (0..100).map(|i| (format!("r{i}"), Some(i))).collect();
    w.write(p, &mut oracle, &ops).await;
    w.compact(p).await;
    let f = w.fork(p, "fork").await;
    assert_eq!(w.read_all(f).await, oracle);
    w.delete(f).await;
    w.delete(p).await;
    // Whichever is purged first keeps the version (the other still references it); the
    // second deletes it, and the shared-garbage record the first left is cleared.
    w.collect().await;
    w.assert_store_empty().await;
    assert!(w.sysdb.shared_version_garbage(10).await.unwrap().is_empty());
}

/// A fork whose creation never finished (its gateway died while copying the parent's tail) is
/// deleted by the collector after the grace period, with whatever it wrote, and the parent
/// loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_fork_is_collected_without_touching_its_parent() {
    let w = World::new().await;
    let (p, _) = w
        .sysdb
        .create_collection(NewCollection::in_default_database("parent", json!({})))
        .await
        .unwrap();
    let p = p.id;
    let mut oracle = Oracle::new();
    let ops: Vec<_> = (0..100).map(|i| (format!("r{i}"), Some(i))).collect();
    w.write(p, &mut oracle, &ops).await;
    w.compact(p).await;
    let tail: Vec<_> = (100..110).map(|i| (format!("r{i}"), Some(i))).collect();
    w.write(p, &mut oracle, &tail).await;

    // The catalog rows and half of the tail, then nothing more.
    let start = w.sysdb.begin_fork(p, "half-made").await.unwrap();
    let f = start.fork.id;
    let half: Vec<OperationRecord> = (100..105).map(|i| put(&format!("r{i}"), i)).collect();
    w.log.append(f, half).await.unwrap();
    let parent_keys = w.keys_under(&Path::from(collection_prefix(p))).await;

    w.collect().await; // abandoned: soft-deleted
    assert!(w.sysdb.get_collection(f).await.is_err());
    w.collect().await; // purged
    assert!(w
        .keys_under(&Path::from(collection_prefix(f)))
        .await
        .is_empty());
    let after: Vec<Path> = w.keys_under(&Path::from(collection_prefix(p))).await;
    let versions = |keys: &[Path]| -> Vec<Path> {
        keys.iter()
            .filter(|k| k.as_ref().contains("/v/"))
            .cloned()
            .collect()
    };
    assert_eq!(versions(&after), versions(&parent_keys));
    assert_eq!(w.read_all(p).await, oracle);
    assert_eq!(w.sysdb.fork_count(p).await.unwrap(), 0);
}
