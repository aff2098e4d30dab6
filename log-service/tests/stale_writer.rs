//! The stale-writer hole and its fence. A log writer stops between choosing an offset and its
//! create-only PUT (here: its PUT is held back, as a paused process or a stuck connection would
//! hold it). Meanwhile another node writes that offset, a compaction covers it and garbage
//! collection deletes the fragment, so the key is free again. When the stale PUT finally lands
//! it succeeds, below the compacted offset; the catalog's fence must refuse to acknowledge it,
//! and nothing it wrote may ever be read.

// These logs run on the system clock, so garbage collection is timed by it here too.
#![allow(clippy::disallowed_methods)]

mod support;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use silt_common::keys::log_fragment;
use silt_common::storage::DynStore;
use silt_common::{CollectionId, ErrorKind};
use silt_log_service::{LogConfig, LogService, ObjectLog};
use silt_sysdb::{SysDb, VersionRecord};
use support::{catalog, new_collection, rec};
use tokio::sync::{watch, Notify};

/// A store whose log PUTs wait while `hold` is set (`arrived` is notified when one starts
/// waiting), and whose next log PUT, once `lose_answer` is set, is written but answered as the
/// store client's retry of it would be: the key exists.
#[derive(Debug)]
struct HeldPuts {
    inner: DynStore,
    hold: watch::Sender<bool>,
    arrived: Notify,
    lose_answer: AtomicBool,
}

impl HeldPuts {
    fn new(inner: DynStore) -> Arc<Self> {
        Arc::new(HeldPuts {
            inner,
            hold: watch::channel(false).0,
            arrived: Notify::new(),
            lose_answer: AtomicBool::new(false),
        })
    }
}

impl fmt::Display for HeldPuts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HeldPuts({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for HeldPuts {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        if *self.hold.borrow() && location.as_ref().contains("/log/") {
            self.arrived.notify_one();
            let mut released = self.hold.subscribe();
            // The sender lives as long as the store, so this only ends on release.
            let _ = released.wait_for(|hold| !*hold).await;
        }
        if location.as_ref().contains("/log/") && self.lose_answer.swap(false, Ordering::SeqCst) {
            self.inner.put_opts(location, payload, opts).await?;
            return Err(object_store::Error::AlreadyExists {
                path: location.to_string(),
                source: "the retry of a PUT whose answer was lost".into(),
            });
        }
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

fn config() -> LogConfig {
    LogConfig {
        group_window: Duration::ZERO,
        ..LogConfig::default()
    }
    .with_gc_grace(Duration::ZERO)
}

/// What a compactor does once it has built a version covering the log up to `offset`.
async fn compact(sysdb: &SysDb, log: &ObjectLog, c: CollectionId, version: u64, offset: u64) {
    let registered = sysdb
        .register_version(
            version - 1,
            &VersionRecord {
                collection_id: c,
                version,
                manifest: format!("v{version}"),
                compacted_offset: offset,
                record_count: offset,
                superseded_at_ms: None,
            },
        )
        .await
        .expect("register a version");
    assert!(registered);
    log.mark_compacted(c, offset).await.expect("mark compacted");
    log.collect_garbage(Instant::now() + Duration::from_millis(1))
        .await
        .expect("collect garbage");
}

async fn ids_after(log: &ObjectLog, c: CollectionId, after: u64, known: u64) -> Vec<String> {
    log.read_tail(c, after, known)
        .await
        .expect("read the tail")
        .into_iter()
        .map(|e| e.record.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stale_writer_below_the_compacted_offset_is_fenced_and_never_read() {
    let env = catalog().await;
    let c = new_collection(&env.sysdb).await;
    let store: DynStore = Arc::new(InMemory::new());
    let held = HeldPuts::new(store.clone());
    let stale = ObjectLog::new(held.clone(), env.sysdb.clone(), config());
    let other = ObjectLog::new(store.clone(), env.sysdb.clone(), config());

    // The stale writer owns the collection and has a fresh view of its tail.
    let first = stale.append(c, vec![rec("a1".into())]).await.unwrap();
    assert_eq!(first.first_offset, 1);

    // Its next PUT (offset 2) is held, as if the process had been stopped right before it.
    held.hold.send_replace(true);
    let arrived = held.arrived.notified();
    let pending = {
        let stale = stale.clone();
        tokio::spawn(async move {
            stale
                .append(c, (1..=3).map(|i| rec(format!("stale{i}"))).collect())
                .await
        })
    };
    tokio::time::timeout(Duration::from_secs(10), arrived)
        .await
        .expect("the stale writer's PUT reached the store");

    // Another node takes over: it writes offsets 2 and 3, a compaction covers them and the
    // fragments below are collected, so key 2 is free again.
    let b1 = other.append(c, vec![rec("b1".into())]).await.unwrap();
    let b2 = other.append(c, vec![rec("b2".into())]).await.unwrap();
    assert_eq!((b1.first_offset, b2.first_offset), (2, 3));
    compact(&env.sysdb, &other, c, 1, 3).await;
    assert!(
        store.head(&log_fragment(c, 2)).await.is_err(),
        "garbage collection freed the stale writer's key"
    );

    // The stale writer resumes: its PUT succeeds, and the catalog refuses it.
    held.hold.send_replace(false);
    let err = pending
        .await
        .unwrap()
        .expect_err("a write below the compacted offset must not be acknowledged");
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
    assert!(err.message.contains("fenced"), "{}", err.message);
    assert!(
        store.head(&log_fragment(c, 2)).await.is_ok(),
        "the stale PUT did land (this test must exercise the fence, not a failed PUT)"
    );

    // Nothing of it is visible: not on the stale node, not on the other, not on a fresh one.
    let collection = env.sysdb.get_collection(c).await.unwrap();
    assert_eq!(
        (collection.compacted_offset, collection.log_position),
        (3, 3),
        "the fenced write did not move the log position"
    );
    let fresh = ObjectLog::new(store.clone(), env.sysdb.clone(), config());
    for log in [&stale, &other, &fresh] {
        assert!(ids_after(log, c, 3, 3).await.is_empty());
    }

    // The log goes on densely from the compacted offset, whoever writes next.
    let s = stale.append(c, vec![rec("a2".into())]).await.unwrap();
    let o = other.append(c, vec![rec("b3".into())]).await.unwrap();
    assert_eq!((s.first_offset, o.first_offset), (4, 5));
    let position = env.sysdb.get_collection(c).await.unwrap().log_position;
    assert_eq!(position, 5);
    for log in [&stale, &other, &fresh] {
        assert_eq!(ids_after(log, c, 3, position).await, ["a2", "b3"]);
    }

    // The fenced fragment is garbage: collected once the grace period has passed.
    stale
        .collect_garbage(Instant::now() + Duration::from_millis(1))
        .await
        .unwrap();
    assert!(store.head(&log_fragment(c, 2)).await.is_err());
    assert_eq!(ids_after(&fresh, c, 3, position).await, ["a2", "b3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_writer_that_outlived_the_grace_period_resyncs_instead_of_writing_below() {
    // The same writer, paused outside its PUT (before it chose an offset): it re-reads the log
    // instead of trusting its memory, so its write lands above the compacted offset and is
    // acknowledged.
    let env = catalog().await;
    let c = new_collection(&env.sysdb).await;
    let store: DynStore = Arc::new(InMemory::new());
    let cfg = LogConfig {
        group_window: Duration::ZERO,
        ..LogConfig::default()
    }
    .with_gc_grace(Duration::from_millis(200));
    let paused = ObjectLog::new(store.clone(), env.sysdb.clone(), cfg.clone());
    let other = ObjectLog::new(store.clone(), env.sysdb.clone(), cfg);
    paused.append(c, vec![rec("a1".into())]).await.unwrap();
    other.append(c, vec![rec("b1".into())]).await.unwrap();
    other.append(c, vec![rec("b2".into())]).await.unwrap();
    compact(&env.sysdb, &other, c, 1, 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    other
        .collect_garbage(Instant::now() + Duration::from_secs(1))
        .await
        .unwrap();
    let r = paused.append(c, vec![rec("a2".into())]).await.unwrap();
    assert_eq!(r.first_offset, 4);
    assert_eq!(ids_after(&paused, c, 3, 4).await, ["a2"]);
}

#[tokio::test]
async fn a_put_retried_after_its_answer_was_lost_is_written_once() {
    // The S3 client retries a PUT whose answer was lost (a reset, a 5xx after the write); the
    // retry finds the key taken by the first attempt. That is this writer's own fragment, not
    // another writer's: adopting it and writing the records again would log them twice.
    let env = catalog().await;
    let c = new_collection(&env.sysdb).await;
    let store: DynStore = Arc::new(InMemory::new());
    let lossy = HeldPuts::new(store.clone());
    let log = ObjectLog::new(lossy.clone(), env.sysdb.clone(), config());
    lossy.lose_answer.store(true, Ordering::SeqCst);
    let r = log
        .append(c, vec![rec("a".into()), rec("b".into())])
        .await
        .unwrap();
    assert_eq!((r.first_offset, r.last_offset), (1, 2));
    assert!(
        !lossy.lose_answer.load(Ordering::SeqCst),
        "the answer was lost"
    );
    let next = log.append(c, vec![rec("c".into())]).await.unwrap();
    assert_eq!(next.first_offset, 3);
    let fresh = ObjectLog::new(store, env.sysdb.clone(), config());
    assert_eq!(ids_after(&fresh, c, 0, 3).await, ["a", "b", "c"]);
    assert_eq!(env.sysdb.get_collection(c).await.unwrap().log_position, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_stale_writer_does_not_adopt_the_first_ones_fenced_fragment() {
    // Two nodes held the same view (next offset 2) and were both stopped inside their PUTs. The
    // first lands a long fragment at the collected key 2 and is fenced. The second then finds
    // key 2 taken: adopting that fragment would put its next offset (7) past the real log's end
    // (4), leaving a gap no reader could cross. It must re-read the log and write at 4.
    let env = catalog().await;
    let c = new_collection(&env.sysdb).await;
    let store: DynStore = Arc::new(InMemory::new());
    let (held_a, held_c) = (HeldPuts::new(store.clone()), HeldPuts::new(store.clone()));
    let a = ObjectLog::new(held_a.clone(), env.sysdb.clone(), config());
    let second = ObjectLog::new(held_c.clone(), env.sysdb.clone(), config());
    let other = ObjectLog::new(store.clone(), env.sysdb.clone(), config());
    a.append(c, vec![rec("a1".into())]).await.unwrap();
    assert_eq!(ids_after(&second, c, 0, 1).await, ["a1"]); // its view: next offset 2

    let mut pending = Vec::new();
    for (held, log, ids) in [
        (
            &held_a,
            &a,
            (1..=5).map(|i| format!("stale{i}")).collect::<Vec<_>>(),
        ),
        (&held_c, &second, vec!["late".to_string()]),
    ] {
        held.hold.send_replace(true);
        let arrived = held.arrived.notified();
        let log = log.clone();
        pending.push(tokio::spawn(async move {
            log.append(c, ids.into_iter().map(rec).collect()).await
        }));
        tokio::time::timeout(Duration::from_secs(10), arrived)
            .await
            .expect("the PUT reached the store");
    }
    other.append(c, vec![rec("b1".into())]).await.unwrap();
    other.append(c, vec![rec("b2".into())]).await.unwrap();
    compact(&env.sysdb, &other, c, 1, 3).await;
    assert!(store.head(&log_fragment(c, 2)).await.is_err());

    held_a.hold.send_replace(false);
    let late = pending.remove(1);
    let fenced = pending.remove(0).await.unwrap().unwrap_err();
    assert!(fenced.message.contains("fenced"), "{}", fenced.message);
    held_c.hold.send_replace(false);
    let receipt = late
        .await
        .unwrap()
        .expect("the second writer re-reads and commits");
    assert_eq!((receipt.first_offset, receipt.last_offset), (4, 4));

    let next = other.append(c, vec![rec("b3".into())]).await.unwrap();
    assert_eq!(next.first_offset, 5);
    let fresh = ObjectLog::new(store, env.sysdb.clone(), config());
    for log in [&a, &second, &other, &fresh] {
        assert_eq!(ids_after(log, c, 3, 5).await, ["late", "b3"]);
    }
}
