//! Log-service integration tests on real storage (in-memory and a local directory): racing
//! writers, injected faults, corruption, group commit, garbage collection and backpressure.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::ObjectStoreExt;
use silt_common::keys::log_fragment;
use silt_common::record::OperationRecord;
use silt_common::storage::{CountingStore, DynStore, FaultPlan, FaultyStore};
use silt_common::{CollectionId, ErrorKind};
use silt_log_service::{encode_fragment, LogConfig, LogService, ObjectLog};
use silt_sysdb::{NewCollection, SysDb};

struct Env {
    _dir: tempfile::TempDir,
    sysdb: SysDb,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let sysdb = SysDb::connect(&format!("sqlite://{}/catalog.db", dir.path().display()))
        .await
        .unwrap();
    Env { _dir: dir, sysdb }
}

async fn new_collection(sysdb: &SysDb) -> CollectionId {
    let (c, _) = sysdb
        .create_collection(NewCollection {
            tenant: "default_tenant".into(),
            database: "default_database".into(),
            name: format!("c{}", uuid_like()),
            metadata: None,
            configuration: serde_json::json!({}),
            dimension: None,
            get_or_create: false,
        })
        .await
        .unwrap();
    c.id
}

fn uuid_like() -> String {
    CollectionId::new_random().to_string()[..8].to_string()
}

fn rec(id: String) -> OperationRecord {
    OperationRecord {
        id,
        operation: silt_common::record::Operation::Upsert,
        embedding: Some(vec![0.5; 4]),
        document: Some("doc".into()),
        metadata: None,
        uri: None,
    }
}

fn config() -> LogConfig {
    LogConfig {
        group_window: Duration::from_millis(2),
        ..LogConfig::default()
    }
}

fn stores() -> Vec<(&'static str, DynStore, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let local: DynStore = Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    vec![
        (
            "memory",
            Arc::new(InMemory::new()) as DynStore,
            tempfile::tempdir().unwrap(),
        ),
        ("local", local, dir),
    ]
}

/// Every acknowledged append appears exactly once, in one dense total order.
async fn check_exactly_once(log: &ObjectLog, c: CollectionId, acked: &[(u64, u64, Vec<String>)]) {
    let entries = log.read_tail(c, 0).await.unwrap();
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.offset, i as u64 + 1, "offsets must be dense from 1");
    }
    let ids: Vec<&str> = entries.iter().map(|e| e.record.id.as_str()).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "an append appears twice");
    for (first, last, batch) in acked {
        let at: Vec<&str> = entries[(*first - 1) as usize..*last as usize]
            .iter()
            .map(|e| e.record.id.as_str())
            .collect();
        assert_eq!(
            at,
            batch.iter().map(String::as_str).collect::<Vec<_>>(),
            "receipt offsets disagree with the log"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_writers_racing_on_one_collection_never_lose_or_duplicate() {
    for (kind, store, _dir) in stores() {
        let env = env().await;
        let c = new_collection(&env.sysdb).await;
        let a = ObjectLog::new(store.clone(), env.sysdb.clone(), config());
        let b = ObjectLog::new(store.clone(), env.sysdb.clone(), config());
        let mut tasks = Vec::new();
        for w in 0..8 {
            let log = if w % 2 == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(async move {
                let mut acked = Vec::new();
                for n in 0..150 {
                    let batch: Vec<String> = (0..2).map(|i| format!("w{w}-{n}-{i}")).collect();
                    let r = log
                        .append(c, batch.iter().cloned().map(rec).collect())
                        .await
                        .unwrap();
                    acked.push((r.first_offset, r.last_offset, batch));
                }
                acked
            }));
        }
        let mut acked = Vec::new();
        for t in tasks {
            acked.extend(t.await.unwrap());
        }
        assert_eq!(acked.len(), 8 * 150, "{kind}");
        // A third, fresh instance recovers the same log from storage alone.
        let fresh = ObjectLog::new(store.clone(), env.sysdb.clone(), config());
        check_exactly_once(&fresh, c, &acked).await;
        assert_eq!(
            fresh.read_tail(c, 0).await.unwrap().len(),
            8 * 150 * 2,
            "{kind}"
        );
        let position = env.sysdb.get_collection(c).await.unwrap().log_position;
        assert_eq!(position, 8 * 150 * 2, "{kind}: catalog log position");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn injected_faults_never_expose_half_writes() {
    let env = env().await;
    let c = new_collection(&env.sysdb).await;
    let base: DynStore = Arc::new(InMemory::new());
    let faulty: DynStore = Arc::new(FaultyStore::new(
        base.clone(),
        FaultPlan {
            get_latency: Duration::from_millis(1),
            put_latency: Duration::from_millis(2),
            fail_before: 0.15,
            fail_after_put: 0.15,
            seed: 7,
        },
    ));
    let log = ObjectLog::new(faulty, env.sysdb.clone(), config());
    let mut tasks = Vec::new();
    for w in 0..4 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut failed) = (Vec::new(), Vec::new());
            for n in 0..60 {
                let batch: Vec<String> = (0..3).map(|i| format!("w{w}-{n}-{i}")).collect();
                match log
                    .append(c, batch.iter().cloned().map(rec).collect())
                    .await
                {
                    Ok(r) => ok.push((r.first_offset, r.last_offset, batch)),
                    Err(e) => {
                        assert_eq!(e.kind, ErrorKind::Unavailable, "{e}");
                        failed.push(batch);
                    }
                }
            }
            (ok, failed)
        }));
    }
    let (mut ok, mut failed) = (Vec::new(), Vec::new());
    for t in tasks {
        let (o, f) = t.await.unwrap();
        ok.extend(o);
        failed.extend(f);
    }
    assert!(!failed.is_empty(), "the fault plan injected nothing");
    assert!(!ok.is_empty());
    let clean = ObjectLog::new(base, env.sysdb.clone(), config());
    check_exactly_once(&clean, c, &ok).await;
    let present: HashSet<String> = clean
        .read_tail(c, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.record.id)
        .collect();
    for batch in failed {
        let inside = batch.iter().filter(|id| present.contains(*id)).count();
        assert!(
            inside == 0 || inside == batch.len(),
            "a failed append is partially present"
        );
    }
}

#[tokio::test]
async fn corrupted_fragments_are_errors_not_data() {
    let env = env().await;
    let c = new_collection(&env.sysdb).await;
    let store: DynStore = Arc::new(InMemory::new());
    let mut bytes = encode_fragment(c, 1, &[rec("a".into()), rec("b".into())]);
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    store.put(&log_fragment(c, 1), bytes.into()).await.unwrap();
    let log = ObjectLog::new(store.clone(), env.sysdb.clone(), config());
    let err = log.read_tail(c, 0).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Internal);
    assert!(err.message.contains("corrupt"), "{}", err.message);
    // A truncated fragment, too.
    let c2 = new_collection(&env.sysdb).await;
    let bytes = encode_fragment(c2, 1, &[rec("a".into())]);
    store
        .put(
            &log_fragment(c2, 1),
            bytes[..bytes.len() - 3].to_vec().into(),
        )
        .await
        .unwrap();
    assert_eq!(
        log.read_tail(c2, 0).await.unwrap_err().kind,
        ErrorKind::Internal
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_share_puts_and_collections_do_not_wait_on_each_other() {
    let env = env().await;
    let counting = Arc::new(CountingStore::new(Arc::new(InMemory::new())));
    let stats = counting.stats();
    let log = ObjectLog::new(
        counting.clone(),
        env.sysdb.clone(),
        LogConfig {
            group_window: Duration::from_millis(10),
            ..LogConfig::default()
        },
    );
    let c = new_collection(&env.sysdb).await;
    log.read_tail(c, 0).await.unwrap(); // recover first, so only appends are counted
    let before = stats.snapshot();
    let mut tasks = Vec::new();
    for w in 0..64 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            log.append(c, vec![rec(format!("w{w}"))]).await.unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let puts = stats.snapshot().since(&before).puts;
    assert!(puts <= 8, "64 concurrent writes took {puts} PUTs");

    // One write to each of many collections: one PUT each, none waiting for another's.
    let ids: Vec<CollectionId> = futures_collect(&env.sysdb, 50).await;
    let before = stats.snapshot();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for id in ids.clone() {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            log.append(id, vec![rec("x".into())]).await.unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(stats.snapshot().since(&before).puts, 50);
    // 50 collections, each with a 10 ms window: serialised they would take ≥ 500 ms.
    assert!(
        start.elapsed() < Duration::from_millis(450),
        "collections waited on each other"
    );
}

async fn futures_collect(sysdb: &SysDb, n: usize) -> Vec<CollectionId> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(new_collection(sysdb).await);
    }
    out
}

#[tokio::test]
async fn garbage_collection_keeps_the_tail_and_drops_compacted_fragments() {
    let env = env().await;
    let c = new_collection(&env.sysdb).await;
    let store: DynStore = Arc::new(InMemory::new());
    let log = ObjectLog::new(
        store.clone(),
        env.sysdb.clone(),
        LogConfig {
            gc_grace: Duration::ZERO,
            group_window: Duration::ZERO,
            ..LogConfig::default()
        },
    );
    for n in 0..5 {
        log.append(c, vec![rec(format!("r{n}"))]).await.unwrap();
    }
    log.mark_compacted(c, 3).await.unwrap();
    let deleted = log
        .collect_garbage(Instant::now() + Duration::from_millis(1))
        .await
        .unwrap();
    assert_eq!(deleted, 3);
    assert!(store.head(&log_fragment(c, 1)).await.is_err());
    assert!(store.head(&log_fragment(c, 4)).await.is_ok());
    let tail: Vec<u64> = log
        .read_tail(c, 3)
        .await
        .unwrap()
        .iter()
        .map(|e| e.offset)
        .collect();
    assert_eq!(tail, vec![4, 5]);
}

#[tokio::test]
async fn a_full_tail_refuses_writes_with_backpressure() {
    let env = env().await;
    let c = new_collection(&env.sysdb).await;
    let log = ObjectLog::new(
        Arc::new(InMemory::new()),
        env.sysdb.clone(),
        LogConfig {
            max_tail_records: 5,
            group_window: Duration::ZERO,
            ..LogConfig::default()
        },
    );
    log.append(c, (0..4).map(|i| rec(format!("{i}"))).collect())
        .await
        .unwrap();
    let err = log
        .append(c, (0..2).map(|i| rec(format!("x{i}"))).collect())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Backpressure);
    log.mark_compacted(c, 4).await.unwrap();
    log.append(c, (0..2).map(|i| rec(format!("x{i}"))).collect())
        .await
        .unwrap();
}
