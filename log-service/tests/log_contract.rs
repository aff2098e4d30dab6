//! The log-service contract, run on every object store it must work on: in-memory, a local
//! directory and a real S3-compatible server. Racing writers, injected faults, corruption, group
//! commit, garbage collection and backpressure.

// These logs run on the system clock, so garbage collection is timed by it here too.
#![allow(clippy::disallowed_methods)]

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::memory::InMemory;
use object_store::ObjectStoreExt;
use silt_common::keys::log_fragment;
use silt_common::storage::{CountingStore, DynStore, FaultPlan, FaultyStore};
use silt_common::{CollectionId, ErrorKind};
use silt_log_service::{encode_fragment, LogConfig, LogService, ObjectLog};
use support::{catalog, check_exactly_once, new_collection, rec, Backend};

fn config() -> LogConfig {
    LogConfig {
        group_window: Duration::from_millis(2),
        ..LogConfig::default()
    }
}

on_every_store!(two_writers_racing_on_one_collection_never_lose_or_duplicate);
async fn two_writers_racing_on_one_collection_never_lose_or_duplicate(backend: Backend) {
    const WRITERS: usize = 8;
    const APPENDS: usize = 250;
    let store = backend.open().store;
    let env = catalog().await;
    let c = new_collection(&env.sysdb).await;
    let a = ObjectLog::new(store.clone(), env.sysdb.clone(), config());
    let b = ObjectLog::new(store.clone(), env.sysdb.clone(), config());
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let log = if w % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for n in 0..APPENDS {
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
    assert_eq!(acked.len(), WRITERS * APPENDS);
    // A third, fresh instance recovers the same log from storage alone.
    let fresh = ObjectLog::new(store.clone(), env.sysdb.clone(), config());
    check_exactly_once(&fresh, c, &acked).await;
    let total = (WRITERS * APPENDS * 2) as u64;
    assert_eq!(fresh.read_tail(c, 0, 0).await.unwrap().len() as u64, total);
    let position = env.sysdb.get_collection(c).await.unwrap().log_position;
    assert_eq!(position, total, "catalog log position");
}

on_every_store!(injected_faults_never_expose_half_writes);
async fn injected_faults_never_expose_half_writes(backend: Backend) {
    let base = backend.open().store;
    let env = catalog().await;
    let c = new_collection(&env.sysdb).await;
    let faulty: DynStore = Arc::new(FaultyStore::new(
        base.clone(),
        FaultPlan {
            get_latency: Duration::from_millis(1),
            put_latency: Duration::from_millis(2),
            fail_before: 0.15,
            fail_after_put: 0.15,
            seed: 7,
            ..FaultPlan::default()
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
        .read_tail(c, 0, 0)
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

on_every_store!(corrupted_fragments_are_errors_not_data);
async fn corrupted_fragments_are_errors_not_data(backend: Backend) {
    let store = backend.open().store;
    let env = catalog().await;
    let c = new_collection(&env.sysdb).await;
    let mut bytes = encode_fragment(c, 1, &[rec("a".into()), rec("b".into())]);
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    store.put(&log_fragment(c, 1), bytes.into()).await.unwrap();
    // Committed, as a writer would: a log the catalog says is empty is not read at all.
    env.sysdb.advance_log_position(c, 2).await.unwrap();
    let log = ObjectLog::new(store.clone(), env.sysdb.clone(), config());
    let err = log.read_tail(c, 0, 0).await.unwrap_err();
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
    env.sysdb.advance_log_position(c2, 1).await.unwrap();
    assert_eq!(
        log.read_tail(c2, 0, 0).await.unwrap_err().kind,
        ErrorKind::Internal
    );
}

on_every_store!(concurrent_writers_share_puts_and_collections_do_not_wait_on_each_other);
async fn concurrent_writers_share_puts_and_collections_do_not_wait_on_each_other(backend: Backend) {
    let env = catalog().await;
    // Every PUT takes 20 ms more, as on a real S3: the counting layer sits above the latency,
    // so it sees how many PUTs overlap.
    let slow: DynStore = Arc::new(FaultyStore::new(
        backend.open().store,
        FaultPlan {
            put_latency: Duration::from_millis(20),
            ..FaultPlan::default()
        },
    ));
    let counting = Arc::new(CountingStore::new(slow));
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
    log.read_tail(c, 0, 0).await.unwrap(); // recover first, so only appends are counted
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
    let one_collection = stats.snapshot().since(&before);
    assert!(
        one_collection.puts <= 8,
        "64 concurrent writes took {} PUTs",
        one_collection.puts
    );
    assert_eq!(
        one_collection.max_puts_in_flight, 1,
        "one collection commits one group at a time"
    );

    // One write to each of many collections: one PUT each, and the PUTs overlap instead of
    // queueing behind each other.
    let mut ids: Vec<CollectionId> = Vec::new();
    for _ in 0..50 {
        ids.push(new_collection(&env.sysdb).await);
    }
    let before = stats.snapshot();
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
    let many = stats.snapshot().since(&before);
    assert_eq!(many.puts, 50);
    assert!(
        many.max_puts_in_flight >= 10,
        "writes to different collections queued: at most {} PUTs overlapped",
        many.max_puts_in_flight
    );
}

on_every_store!(garbage_collection_keeps_the_tail_and_drops_compacted_fragments);
async fn garbage_collection_keeps_the_tail_and_drops_compacted_fragments(backend: Backend) {
    let store = backend.open().store;
    let env = catalog().await;
    let c = new_collection(&env.sysdb).await;
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
    // As the compactor does: register a version covering offsets 1..=3, then tell the log.
    let registered = env
        .sysdb
        .register_version(
            0,
            &silt_sysdb::VersionRecord {
                collection_id: c,
                version: 1,
                manifest: "v1".into(),
                compacted_offset: 3,
                record_count: 3,
                superseded_at_ms: None,
            },
        )
        .await
        .unwrap();
    assert!(registered);
    log.mark_compacted(c, 3).await.unwrap();
    let deleted = log
        .collect_garbage(Instant::now() + Duration::from_millis(1))
        .await
        .unwrap();
    assert_eq!(deleted, 3);
    assert!(store.head(&log_fragment(c, 1)).await.is_err());
    assert!(store.head(&log_fragment(c, 4)).await.is_ok());
    let offsets_after = |log: ObjectLog, after: u64| async move {
        let tail = log.read_tail(c, after, 0).await.unwrap();
        tail.iter().map(|e| e.offset).collect::<Vec<u64>>()
    };
    assert_eq!(offsets_after(log, 3).await, vec![4, 5]);
    // A new owner, knowing only the catalog and the store, finds the same tail.
    let fresh = ObjectLog::new(store, env.sysdb.clone(), config());
    assert_eq!(offsets_after(fresh, 3).await, vec![4, 5]);
}

#[tokio::test]
async fn a_full_tail_refuses_writes_with_backpressure() {
    let env = catalog().await;
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
    assert!(err.message.contains("unindexed log"), "{}", err.message);
    log.mark_compacted(c, 4).await.unwrap();
    log.append(c, (0..2).map(|i| rec(format!("x{i}"))).collect())
        .await
        .unwrap();
}

on_every_store!(a_node_that_missed_another_nodes_writes_catches_up_on_read);
async fn a_node_that_missed_another_nodes_writes_catches_up_on_read(backend: Backend) {
    // Routing moved the collection from `b` to `a` and back: `b` still holds a fresh tail
    // without `a`'s writes. A reader that passes the catalog's log position still sees them.
    let store = backend.open().store;
    let env = catalog().await;
    let c = new_collection(&env.sysdb).await;
    let a = ObjectLog::new(store.clone(), env.sysdb.clone(), config());
    let b = ObjectLog::new(store.clone(), env.sysdb.clone(), config());
    b.append(c, vec![rec("from-b".into())]).await.unwrap();
    assert_eq!(b.read_tail(c, 0, 0).await.unwrap().len(), 1);
    let receipt = a
        .append(c, vec![rec("from-a-1".into()), rec("from-a-2".into())])
        .await
        .unwrap();
    assert_eq!((receipt.first_offset, receipt.last_offset), (2, 3));
    let position = env.sysdb.get_collection(c).await.unwrap().log_position;
    assert_eq!(position, 3);
    let ids: Vec<String> = b
        .read_tail(c, 0, position)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.record.id)
        .collect();
    assert_eq!(ids, ["from-b", "from-a-1", "from-a-2"]);
    // And its next append lands after them, not on top of them.
    let next = b.append(c, vec![rec("from-b-2".into())]).await.unwrap();
    assert_eq!(next.first_offset, 4);
}
