//! The one HTTP client every role uses to call another role. A call names the collection it is
//! about; the client tries the role's live nodes in that collection's rendezvous order, skipping
//! nodes that just failed, within a per-attempt timeout and an overall deadline.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::routing::{Member, NodeSource};
use crate::{ErrorKind, SiltError, SiltResult};

use super::errors::{decode_error, CONTENT_TYPE};

#[derive(Debug, Clone)]
pub struct RpcConfig {
    /// Time to establish a connection; a dead node's port refuses at once, a partitioned one
    /// hits this.
    pub connect_timeout: Duration,
    /// Time one node gets to answer one call.
    pub attempt_timeout: Duration,
    /// Time a whole call may take, across failovers.
    pub deadline: Duration,
    /// Nodes tried per call.
    pub max_attempts: usize,
    /// How long a node that failed is tried only after the others.
    pub suspect_for: Duration,
}

impl Default for RpcConfig {
    fn default() -> Self {
        RpcConfig {
            connect_timeout: Duration::from_secs(1),
            attempt_timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(30),
            max_attempts: 3,
            suspect_for: Duration::from_secs(5),
        }
    }
}

/// Whether a call may be repeated on another node after an attempt whose outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Reads: any failure moves on to the next node.
    Idempotent,
    /// Writes: move on only when the request cannot have reached the node (the connection was
    /// refused); otherwise report Unavailable and let the client decide, so an append is never
    /// applied twice behind the caller's back.
    AtMostOnce,
}

pub struct RpcClient {
    http: reqwest::Client,
    nodes: Arc<dyn NodeSource>,
    config: RpcConfig,
    suspects: Mutex<HashMap<String, Instant>>,
}

impl RpcClient {
    pub fn new(nodes: Arc<dyn NodeSource>, config: RpcConfig) -> SiltResult<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            // Below the servers' idle keep-alive limit (`--header-timeout-ms`, 10 s by default),
            // so a pooled connection is dropped here before the server closes it under a
            // request.
            .pool_idle_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .no_proxy()
            .build()
            .map_err(|e| SiltError::internal(format!("building the internal HTTP client: {e}")))?;
        Ok(RpcClient {
            http,
            nodes,
            config,
            suspects: Mutex::default(),
        })
    }

    /// Nodes for `key`, preferred first, with recently failed ones moved to the back.
    // Real time: these deadlines bound waits on real sockets, which no simulated clock moves.
    #[allow(clippy::disallowed_methods)]
    async fn candidates(&self, key: &str) -> SiltResult<Vec<Member>> {
        let ring = self.nodes.ring().await?;
        let all = ring.candidates(key);
        if all.is_empty() {
            return Err(SiltError::unavailable(format!(
                "no live {} node is registered",
                self.nodes.role()
            )));
        }
        let now = Instant::now();
        let mut suspects = self.suspects.lock().unwrap_or_else(|p| p.into_inner());
        suspects.retain(|_, until| *until > now);
        let (healthy, suspect): (Vec<_>, Vec<_>) =
            all.into_iter().partition(|m| !suspects.contains_key(&m.id));
        Ok(healthy.into_iter().chain(suspect).collect())
    }

    // Real time: these deadlines bound waits on real sockets, which no simulated clock moves.
    #[allow(clippy::disallowed_methods)]
    fn suspect(&self, node: &Member) {
        let until = Instant::now() + self.config.suspect_for;
        self.suspects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(node.id.clone(), until);
    }

    /// POSTs `body` to `path` on the node that owns `key`, failing over as `delivery` allows.
    /// Returns the answer's body; an error answered by a node is returned as that error.
    // Real time: these deadlines bound waits on real sockets, which no simulated clock moves.
    #[allow(clippy::disallowed_methods)]
    pub async fn call(
        &self,
        key: &str,
        path: &str,
        body: Vec<u8>,
        delivery: Delivery,
    ) -> SiltResult<bytes::Bytes> {
        let started = Instant::now();
        let result = self.call_with_failover(key, path, body, delivery).await;
        crate::metrics::rpc_call(self.nodes.role(), path, started.elapsed(), &result);
        result
    }

    // Real time, as in `call`.
    #[allow(clippy::disallowed_methods)]
    async fn call_with_failover(
        &self,
        key: &str,
        path: &str,
        body: Vec<u8>,
        delivery: Delivery,
    ) -> SiltResult<bytes::Bytes> {
        let started = Instant::now();
        // Shared, so a failover resends the same buffer instead of copying it.
        let body = bytes::Bytes::from(body);
        let candidates = self.candidates(key).await?;
        let mut last_failure = String::new();
        for node in candidates.iter().take(self.config.max_attempts.max(1)) {
            let left = self.config.deadline.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            let attempt =
                crate::trace::forward(self.http.post(format!("{}{}", node.address, path)))
                    .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                    .header(
                        super::TIMEOUT_HEADER,
                        self.config
                            .attempt_timeout
                            .min(left)
                            .as_millis()
                            .to_string(),
                    )
                    .timeout(self.config.attempt_timeout.min(left))
                    .body(body.clone())
                    .send()
                    .await;
            let failure = match attempt {
                Ok(response) => {
                    let status = response.status().as_u16();
                    match response.bytes().await {
                        Ok(bytes) if status == 200 => return Ok(bytes),
                        Ok(bytes) => return Err(decode_error(status, &bytes)),
                        Err(e) => e,
                    }
                }
                Err(e) => e,
            };
            self.suspect(node);
            last_failure = format!(
                "{} node {} ({}): {failure}",
                self.nodes.role(),
                node.id,
                node.address
            );
            tracing::warn!(node = %node.id, address = %node.address, path, error = %failure, "internal call failed");
            if delivery == Delivery::AtMostOnce && !failure.is_connect() {
                return Err(SiltError::new(
                    ErrorKind::Unavailable,
                    format!("{last_failure}; the write may or may not have been applied"),
                ));
            }
        }
        Err(SiltError::unavailable(if last_failure.is_empty() {
            format!(
                "no {} node answered within {:?}",
                self.nodes.role(),
                self.config.deadline
            )
        } else {
            last_failure
        }))
    }
}
