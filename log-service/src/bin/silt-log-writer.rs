//! Test driver for the process-kill test (tests/process_kill.rs): appends batches to one
//! collection from several tasks, forever, and prints a line for every acknowledged append.
//! The test kills it with SIGKILL at an arbitrary moment and checks what survived.
//!
//! Usage: silt-log-writer STORE_URI CATALOG_URL COLLECTION_ID WRITERS ID_PREFIX
//! Output: `ack FIRST LAST ID,ID,...` per acknowledged append. S3 settings come from
//! SILT_TEST_S3_ENDPOINT (test credentials) when STORE_URI starts with s3://.

use std::process::ExitCode;
use std::time::Duration;

use silt_common::record::{Operation, OperationRecord};
use silt_common::storage::{open_store, S3Settings};
use silt_common::CollectionId;
use silt_log_service::{LogConfig, LogService, ObjectLog};
use silt_sysdb::SysDb;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [store_uri, catalog_url, collection, writers, prefix] = args.as_slice() else {
        eprintln!("usage: silt-log-writer STORE_URI CATALOG_URL COLLECTION_ID WRITERS ID_PREFIX");
        return ExitCode::from(2);
    };
    match run(store_uri, catalog_url, collection, writers, prefix).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("silt-log-writer: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    store_uri: &str,
    catalog_url: &str,
    collection: &str,
    writers: &str,
    prefix: &str,
) -> Result<(), String> {
    let settings = S3Settings {
        endpoint: std::env::var("SILT_TEST_S3_ENDPOINT").ok(),
        region: Some("us-east-1".into()),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        request_timeout: None,
    };
    let store = open_store(store_uri, &settings).map_err(|e| e.to_string())?;
    let sysdb = SysDb::connect(catalog_url)
        .await
        .map_err(|e| e.to_string())?;
    let collection: CollectionId = collection.parse().map_err(|_| "bad collection id")?;
    let writers: usize = writers.parse().map_err(|_| "bad writer count")?;
    let log = ObjectLog::new(
        store,
        sysdb,
        LogConfig {
            group_window: Duration::from_millis(2),
            ..LogConfig::default()
        },
    );
    let mut tasks = Vec::new();
    for w in 0..writers {
        let log = log.clone();
        let prefix = prefix.to_string();
        tasks.push(tokio::spawn(async move {
            for n in 0u64.. {
                let ids: Vec<String> = (0..3).map(|i| format!("{prefix}w{w}-{n}-{i}")).collect();
                let records = ids.iter().map(|id| upsert(id)).collect();
                match log.append(collection, records).await {
                    Ok(r) => println!("ack {} {} {}", r.first_offset, r.last_offset, ids.join(",")),
                    Err(e) => eprintln!("append failed: {e}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn upsert(id: &str) -> OperationRecord {
    OperationRecord {
        id: id.to_string(),
        operation: Operation::Upsert,
        embedding: Some(vec![0.25; 8]),
        document: Some(format!("document {id}")),
        metadata: None,
        uri: None,
    }
}
