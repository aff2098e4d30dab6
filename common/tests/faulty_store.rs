//! `FaultyStore`'s controls as the simulation uses them: fates that depend on the request and
//! not on arrival order, a crash from the n-th request on (before or after it takes effect),
//! a held PUT, and failing listings and deletes.

use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use silt_common::storage::{Crash, FaultPlan, FaultyStore};

fn store(plan: FaultPlan) -> (Arc<InMemory>, Arc<FaultyStore>) {
    let memory = Arc::new(InMemory::new());
    (memory.clone(), Arc::new(FaultyStore::new(memory, plan)))
}

fn key(i: usize) -> Path {
    Path::from(format!("k/{i:03}"))
}

/// Which of 200 PUTs failed, issued in `order`.
async fn failed_puts(order: impl Iterator<Item = usize>) -> Vec<usize> {
    let (_, s) = store(FaultPlan {
        fail_before: 0.3,
        seed: 42,
        ..FaultPlan::default()
    });
    let mut failed = Vec::new();
    for i in order {
        if s.put(&key(i), vec![1u8].into()).await.is_err() {
            failed.push(i);
        }
    }
    failed.sort_unstable();
    failed
}

#[tokio::test]
async fn fates_follow_the_request_not_the_order() {
    let forward = failed_puts(0..200).await;
    let backward = failed_puts((0..200).rev()).await;
    assert_eq!(forward, backward);
    // About 30% fail: the plan is honoured, not all or nothing.
    assert!((30..90).contains(&forward.len()), "{}", forward.len());
}

#[tokio::test]
async fn a_crash_stops_the_nth_request_and_everything_after() {
    for (how, lands) in [(Crash::BeforeRequest, false), (Crash::AfterRequest, true)] {
        let (memory, s) = store(FaultPlan::default());
        s.crash_after(2, how);
        s.put(&key(0), vec![0u8].into()).await.unwrap();
        s.put(&key(1), vec![1u8].into()).await.unwrap();
        let stopped =
            tokio::time::timeout(Duration::from_millis(100), s.put(&key(2), vec![2u8].into()))
                .await;
        assert!(stopped.is_err(), "the third request must never answer");
        tokio::time::timeout(Duration::from_millis(100), s.crashed())
            .await
            .expect("the crash is reported");
        assert_eq!(memory.head(&key(2)).await.is_ok(), lands, "{how:?}");
        // Everything after the crash hangs too, listings included...
        let listing = tokio::time::timeout(
            Duration::from_millis(100),
            s.list(None).try_collect::<Vec<_>>(),
        )
        .await;
        assert!(listing.is_err());
        // ...until a new process starts.
        s.restart();
        assert!(s.get(&key(0)).await.is_ok());
    }
}

#[tokio::test]
async fn a_held_put_waits_for_its_release() {
    let (memory, s) = store(FaultPlan::default());
    let hold = s.hold_next_put();
    let put = tokio::spawn({
        let s = s.clone();
        async move { s.put(&key(7), vec![7u8].into()).await }
    });
    hold.reached().await;
    // Other requests go on meanwhile; the held one has not reached the store.
    s.put(&key(8), vec![8u8].into()).await.unwrap();
    assert!(memory.head(&key(7)).await.is_err());
    hold.release();
    put.await.unwrap().unwrap();
    assert!(memory.head(&key(7)).await.is_ok());
}

#[tokio::test]
async fn listings_and_deletes_can_fail() {
    let (memory, s) = store(FaultPlan {
        fail_list_delete: 1.0,
        ..FaultPlan::default()
    });
    memory.put(&key(1), vec![1u8].into()).await.unwrap();
    assert!(s.list(None).try_collect::<Vec<_>>().await.is_err());
    let deleted: Vec<_> = s
        .delete_stream(futures::stream::iter([Ok(key(1))]).boxed())
        .collect()
        .await;
    assert!(deleted[0].is_err());
    assert!(memory.head(&key(1)).await.is_ok());
    // Calm: the same requests go through.
    s.set_faults_enabled(false);
    assert_eq!(s.list(None).try_collect::<Vec<_>>().await.unwrap().len(), 1);
}
