//! A log writer process killed with SIGKILL in the middle of many appends: after a restart,
//! every acknowledged append is readable exactly once at the offsets it was acknowledged with,
//! and every unacknowledged batch is either wholly present or wholly absent.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use silt_log_service::{LogConfig, LogService, ObjectLog};
use support::{catalog, check_exactly_once, new_collection, rec, Acked, Backend};

const WRITER: &str = env!("CARGO_BIN_EXE_silt-log-writer");

fn parse_ack(line: &str) -> Option<Acked> {
    let mut parts = line.strip_prefix("ack ")?.split(' ');
    Some((
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.split(',').map(str::to_string).collect(),
    ))
}

async fn kill_mid_append_and_recover(backend: Backend) {
    let store = backend.open();
    let env = catalog().await;
    let c = new_collection(&env.sysdb).await;

    for round in 0..3 {
        let mut child = Command::new(WRITER)
            .args([
                &store.uri,
                &env.url,
                &c.to_string(),
                "6",
                &format!("r{round}"),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the writer");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Kill at a point that differs per round, well inside a stream of appends.
        let kill_after = 150 + round * 70;
        let mut acks = Vec::new();
        while acks.len() < kill_after {
            let line = rx
                .recv_timeout(Duration::from_secs(60))
                .expect("the writer stopped acknowledging appends");
            acks.extend(parse_ack(&line));
        }
        child.kill().expect("SIGKILL the writer");
        child.wait().expect("reap the writer");
        reader.join().expect("stdout reader");
        // Lines already printed were acknowledged before the kill.
        acks.extend(rx.try_iter().filter_map(|l| parse_ack(&l)));

        let fresh = ObjectLog::new(store.store.clone(), env.sysdb.clone(), LogConfig::default());
        // Dense offsets, no duplicate, every acknowledged append at its acknowledged offsets.
        let entries = check_exactly_once(&fresh, c, &acks).await;
        let ids: Vec<&str> = entries.iter().map(|e| e.record.id.as_str()).collect();
        // Batches are named r{round}w{writer}-{n}-{i}: each must be whole (3 records) or absent.
        let mut per_batch: HashMap<&str, usize> = HashMap::new();
        for id in ids.iter().filter(|id| !id.starts_with("restart-")) {
            let batch = id.rsplit_once('-').map_or(*id, |(b, _)| b);
            *per_batch.entry(batch).or_default() += 1;
        }
        assert!(
            per_batch.values().all(|n| *n == 3),
            "round {round}: a batch is partially present"
        );
        // The restarted owner continues right after the true tail.
        let receipt = fresh
            .append(c, vec![rec(format!("restart-{round}"))])
            .await
            .expect("append after restart");
        assert_eq!(receipt.first_offset, entries.len() as u64 + 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_dir() {
    kill_mid_append_and_recover(Backend::LocalDir).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs an S3 server in SILT_TEST_S3_ENDPOINT; ./scripts/test.sh starts one"]
async fn s3() {
    kill_mid_append_and_recover(Backend::S3).await
}
