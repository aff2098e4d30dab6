//! The internal client against real HTTP servers on 127.0.0.1: calls reach the key's rendezvous
//! owner; a dead owner's calls go to the next node; a hung node costs one attempt timeout;
//! writes are not repeated when their delivery is unknown; errors keep their kind.

// Measures real time: these tests time real sockets.
#![allow(clippy::disallowed_methods)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use silt_common::routing::{Member, NodeSource, StaticNodes};
use silt_common::rpc::{answer, from_bytes, to_bytes, Delivery, RpcClient, RpcConfig};
use silt_common::{ErrorKind, SiltError};
use tokio::task::JoinHandle;

#[derive(Clone)]
struct Behaviour {
    name: String,
    hits: Arc<AtomicUsize>,
    hang: bool,
}

async fn echo(State(b): State<Behaviour>, body: Bytes) -> Response {
    b.hits.fetch_add(1, Ordering::SeqCst);
    if b.hang {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let asked: String = from_bytes(&body).unwrap_or_default();
    if asked == "missing" {
        return answer::<String>(Err(SiltError::not_found("no such thing")));
    }
    answer(Ok(b.name.clone()))
}

struct TestNode {
    member: Member,
    hits: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

async fn start(name: &str, hang: bool) -> TestNode {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route("/echo", post(echo))
        .with_state(Behaviour {
            name: name.to_string(),
            hits: hits.clone(),
            hang,
        });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    TestNode {
        member: Member {
            id: name.to_string(),
            address,
        },
        hits,
        task,
    }
}

fn client(nodes: &[&TestNode], attempt_timeout: Duration) -> (RpcClient, Arc<StaticNodes>) {
    let source = Arc::new(StaticNodes::new(
        "test",
        nodes.iter().map(|n| n.member.clone()).collect(),
    ));
    let config = RpcConfig {
        attempt_timeout,
        deadline: attempt_timeout * 4,
        ..RpcConfig::default()
    };
    (RpcClient::new(source.clone(), config).unwrap(), source)
}

async fn ask(rpc: &RpcClient, key: &str, delivery: Delivery) -> Result<String, SiltError> {
    let bytes = rpc
        .call(key, "/echo", to_bytes(&key.to_string()), delivery)
        .await?;
    Ok(from_bytes(&bytes).unwrap())
}

fn keys(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("00000000-0000-4000-8000-{i:012x}"))
        .collect()
}

#[tokio::test]
async fn calls_go_to_the_owner_and_fail_over_when_it_dies() {
    let nodes = [
        start("a", false).await,
        start("b", false).await,
        start("c", false).await,
    ];
    let (rpc, source) = client(&nodes.iter().collect::<Vec<_>>(), Duration::from_secs(5));
    let ring = source.ring().await.unwrap();
    for key in keys(60) {
        let owner = ring.owner(&key).unwrap();
        assert_eq!(
            ask(&rpc, &key, Delivery::AtMostOnce).await.unwrap(),
            owner.id
        );
    }
    let total: usize = nodes.iter().map(|n| n.hits.load(Ordering::SeqCst)).sum();
    assert_eq!(
        total, 60,
        "one request per call, no retries while all are up"
    );

    // Kill "a": its port is closed, so its keys go to their second choice, for writes too.
    nodes[0].task.abort();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let orphaned: Vec<String> = keys(60)
        .into_iter()
        .filter(|k| ring.owner(k).unwrap().id == "a")
        .collect();
    assert!(!orphaned.is_empty());
    for key in &orphaned {
        let second = ring.candidates(key)[1].id.clone();
        assert_eq!(ask(&rpc, key, Delivery::AtMostOnce).await.unwrap(), second);
    }
}

#[tokio::test]
async fn a_hung_node_costs_one_attempt_timeout_and_writes_are_not_repeated() {
    let hung = start("hung", true).await;
    let healthy = start("ok", false).await;
    let (rpc, source) = client(&[&hung, &healthy], Duration::from_millis(300));
    let ring = source.ring().await.unwrap();
    let key = keys(200)
        .into_iter()
        .find(|k| ring.owner(k).unwrap().id == "hung")
        .unwrap();

    let started = Instant::now();
    let err = ask(&rpc, &key, Delivery::AtMostOnce).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        healthy.hits.load(Ordering::SeqCst),
        0,
        "a write of unknown outcome was repeated"
    );

    let (rpc, _) = client(&[&hung, &healthy], Duration::from_millis(300));
    assert_eq!(ask(&rpc, &key, Delivery::Idempotent).await.unwrap(), "ok");
    // The hung node is now suspect: the next read goes straight to the healthy one.
    let started = Instant::now();
    assert_eq!(ask(&rpc, &key, Delivery::Idempotent).await.unwrap(), "ok");
    assert!(started.elapsed() < Duration::from_millis(250));
}

#[tokio::test]
async fn errors_answered_by_a_node_keep_their_kind_and_are_not_retried() {
    let nodes = [start("a", false).await, start("b", false).await];
    let (rpc, _) = client(&nodes.iter().collect::<Vec<_>>(), Duration::from_secs(5));
    let err = ask(&rpc, "missing", Delivery::Idempotent)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert_eq!(err.message, "no such thing");
    let total: usize = nodes.iter().map(|n| n.hits.load(Ordering::SeqCst)).sum();
    assert_eq!(total, 1);
}

#[tokio::test]
async fn no_live_node_is_unavailable_not_a_hang() {
    let (rpc, _) = client(&[], Duration::from_secs(5));
    let err = ask(&rpc, "k", Delivery::Idempotent).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable);
}
