//! What the log-service integration tests share: the object stores they run on, a throwaway
//! catalog, and record builders.

#![allow(dead_code)] // each test file uses its own part of this module

use std::collections::HashSet;
use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use silt_common::record::{LogEntry, Operation, OperationRecord};
use silt_common::storage::{open_store, DynStore, S3Settings};
use silt_common::CollectionId;
use silt_log_service::{LogService, ObjectLog};
use silt_sysdb::{NewCollection, SysDb};

/// The object stores every contract test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Memory,
    LocalDir,
    /// The S3-compatible server named by `SILT_TEST_S3_ENDPOINT` (scripts/test.sh starts moto).
    S3,
}

/// A store for one test, with whatever must live as long as it does.
pub struct TestStore {
    pub store: DynStore,
    /// The URI a separate process can open the same store with.
    pub uri: String,
    _dir: tempfile::TempDir,
}

pub fn s3_settings() -> S3Settings {
    let endpoint = std::env::var("SILT_TEST_S3_ENDPOINT").expect(
        "SILT_TEST_S3_ENDPOINT is not set: run ./scripts/test.sh, which starts an S3 server",
    );
    S3Settings {
        endpoint: Some(endpoint),
        region: Some("us-east-1".into()),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        request_timeout: None,
    }
}

pub fn s3_bucket() -> String {
    std::env::var("SILT_TEST_S3_BUCKET").unwrap_or_else(|_| "silt-test".into())
}

impl Backend {
    pub fn open(self) -> TestStore {
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, uri): (DynStore, String) = match self {
            Backend::Memory => (Arc::new(InMemory::new()), "memory://".into()),
            Backend::LocalDir => {
                let path = dir.path().join("objects");
                std::fs::create_dir_all(&path).expect("objects dir");
                (
                    Arc::new(LocalFileSystem::new_with_prefix(&path).expect("local store")),
                    path.display().to_string(),
                )
            }
            Backend::S3 => {
                // A fresh prefix per test: tests share one bucket and run in parallel.
                let uri = format!("s3://{}/t-{}", s3_bucket(), CollectionId::new_random());
                (open_store(&uri, &s3_settings()).expect("S3 store"), uri)
            }
        };
        TestStore {
            store,
            uri,
            _dir: dir,
        }
    }
}

/// Runs one async contract test on every backend: memory and local directory always, S3 when
/// the test command provides a server (the S3 case fails, not skips, without one).
#[macro_export]
macro_rules! on_every_store {
    ($test:ident) => {
        mod $test {
            use super::support::Backend;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn memory() {
                super::$test(Backend::Memory).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn local_dir() {
                super::$test(Backend::LocalDir).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            #[ignore = "needs an S3 server in SILT_TEST_S3_ENDPOINT; ./scripts/test.sh starts one"]
            async fn s3() {
                super::$test(Backend::S3).await
            }
        }
    };
}

pub struct Catalog {
    pub dir: tempfile::TempDir,
    pub url: String,
    pub sysdb: SysDb,
}

pub async fn catalog() -> Catalog {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/catalog.db", dir.path().display());
    let sysdb = SysDb::connect(&url).await.expect("catalog");
    Catalog { dir, url, sysdb }
}

pub async fn new_collection(sysdb: &SysDb) -> CollectionId {
    let (c, _) = sysdb
        .create_collection(NewCollection::in_default_database(
            &format!("c-{}", CollectionId::new_random()),
            serde_json::json!({}),
        ))
        .await
        .expect("create collection");
    c.id
}

pub fn rec(id: String) -> OperationRecord {
    OperationRecord {
        id,
        operation: Operation::Upsert,
        embedding: Some(vec![0.5; 4]),
        document: Some("doc".into()),
        metadata: None,
        uri: None,
    }
}

/// An acknowledged append: its receipt's first and last offsets, and the ids it carried.
pub type Acked = (u64, u64, Vec<String>);

/// Every acknowledged append appears exactly once, at its receipt's offsets, in one dense total
/// order. Returns the whole log for further checks.
pub async fn check_exactly_once(
    log: &ObjectLog,
    c: CollectionId,
    acked: &[Acked],
) -> Vec<LogEntry> {
    let entries = log.read_tail(c, 0, 0).await.expect("read the log back");
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.offset, i as u64 + 1, "offsets must be dense from 1");
    }
    let ids: Vec<&str> = entries.iter().map(|e| e.record.id.as_str()).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "an append appears twice");
    for (first, last, batch) in acked {
        assert_eq!(
            ids[(*first - 1) as usize..*last as usize],
            batch.iter().map(String::as_str).collect::<Vec<_>>(),
            "receipt offsets disagree with the log"
        );
    }
    entries
}
