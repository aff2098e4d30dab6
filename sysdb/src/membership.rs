//! Membership through the catalog: a node heartbeats its row; callers read the rows of a role
//! whose heartbeat is recent, briefly cached, as the ring to route over. No coordinator is
//! needed: a node that stops heartbeating drops out after `timeout`.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use silt_common::routing::{Member, NodeSource, Ring};
use silt_common::{SiltError, SiltResult};
use tokio::task::JoinHandle;

use crate::{SysDb, SysDbError};

#[derive(Debug, Clone)]
pub struct MembershipConfig {
    /// How often a node records that it is alive.
    pub heartbeat: Duration,
    /// A node silent for this long is no longer routed to.
    pub timeout: Duration,
    /// How long a reader reuses the live-node list it read.
    pub refresh: Duration,
}

impl Default for MembershipConfig {
    fn default() -> Self {
        MembershipConfig {
            heartbeat: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
            refresh: Duration::from_secs(1),
        }
    }
}

/// This process's row in the membership table, kept alive by a background task.
pub struct Registration {
    id: String,
    sysdb: SysDb,
    task: JoinHandle<()>,
    heartbeat: Heartbeat,
}

/// When this node last heartbeat successfully, for readiness: a node whose heartbeats fail
/// drops out of routing after the membership timeout, so it should stop calling itself ready.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    sysdb: SysDb,
    last_ok_ms: Arc<AtomicI64>,
    timeout: Duration,
}

impl Heartbeat {
    /// Whether the last successful heartbeat is recent enough for other nodes to route here.
    pub fn is_current(&self) -> bool {
        let age = self.sysdb.now_ms() - self.last_ok_ms.load(Ordering::Relaxed);
        age <= self.timeout.as_millis() as i64
    }
}

impl Registration {
    /// Registers the node (one heartbeat before returning, so it is routable at once) and keeps
    /// heartbeating until `leave` or the process ends.
    pub async fn join(
        sysdb: SysDb,
        role: &str,
        address: &str,
        config: &MembershipConfig,
    ) -> Result<Registration, SysDbError> {
        let id = format!("{role}-{}", sysdb.entropy.uuid().simple());
        let started = sysdb.now_ms();
        sysdb.heartbeat_node(&id, role, address, started).await?;
        let heartbeat = Heartbeat {
            sysdb: sysdb.clone(),
            last_ok_ms: Arc::new(AtomicI64::new(sysdb.now_ms())),
            timeout: config.timeout,
        };
        let task = {
            let last_ok_ms = heartbeat.last_ok_ms.clone();
            let (sysdb, id, role, address) = (
                sysdb.clone(),
                id.clone(),
                role.to_string(),
                address.to_string(),
            );
            let every = config.heartbeat;
            let prune_after = config.timeout * 60;
            tokio::spawn(async move {
                let mut ticker = tokio::time::interval(every);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                for beat in 0u64.. {
                    ticker.tick().await;
                    match sysdb.heartbeat_node(&id, &role, &address, started).await {
                        Ok(()) => last_ok_ms.store(sysdb.now_ms(), Ordering::Relaxed),
                        Err(e) => tracing::warn!(error = %e, "heartbeat failed; will retry"),
                    }
                    if beat % 60 != 59 {
                        continue;
                    }
                    // Rows of nodes that died without leaving are removed by whoever is alive.
                    let cutoff = sysdb.now_ms() - prune_after.as_millis() as i64;
                    if let Err(e) = sysdb.prune_nodes(cutoff).await {
                        tracing::debug!(error = %e, "pruning dead nodes failed");
                    }
                }
            })
        };
        tracing::info!(node = %id, role, address, "joined the cluster");
        Ok(Registration {
            id,
            sysdb,
            task,
            heartbeat,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn heartbeat(&self) -> Heartbeat {
        self.heartbeat.clone()
    }

    /// Stops heartbeating and removes the row, so routing stops at once instead of after the
    /// timeout.
    pub async fn leave(self) {
        self.task.abort();
        if let Err(e) = self.sysdb.remove_node(&self.id).await {
            tracing::warn!(error = %e, "could not deregister; the node drops out after the timeout");
        }
    }
}

/// The live nodes of one role, read from the catalog at most once per `refresh`.
pub struct LiveNodes {
    sysdb: SysDb,
    role: String,
    config: MembershipConfig,
    cached: tokio::sync::Mutex<Option<(Instant, Arc<Ring>)>>,
    watch: crate::metrics::MembershipWatch,
}

impl LiveNodes {
    pub fn new(sysdb: SysDb, role: &str, config: MembershipConfig) -> Self {
        LiveNodes {
            sysdb,
            role: role.to_string(),
            config,
            cached: tokio::sync::Mutex::new(None),
            watch: Default::default(),
        }
    }
}

#[async_trait]
impl NodeSource for LiveNodes {
    async fn ring(&self) -> SiltResult<Arc<Ring>> {
        let mut cached = self.cached.lock().await;
        if let Some((at, ring)) = cached.as_ref() {
            if self.sysdb.clock.instant().saturating_duration_since(*at) < self.config.refresh {
                return Ok(ring.clone());
            }
        }
        let max_age = self.config.timeout.as_millis() as i64;
        match self.sysdb.live_nodes(&self.role, max_age).await {
            Ok(rows) => {
                self.watch
                    .saw(&self.role, rows.iter().map(|n| n.id.as_str()));
                let ring = Arc::new(Ring::new(rows.into_iter().map(|n| Member {
                    id: n.id,
                    address: n.address,
                })));
                *cached = Some((self.sysdb.clock.instant(), ring.clone()));
                Ok(ring)
            }
            // A catalog blip should not stop routing: the last list is better than none.
            Err(e) => match cached.as_ref() {
                Some((_, ring)) => {
                    tracing::warn!(error = %e, role = %self.role, "membership refresh failed; using the last list");
                    Ok(ring.clone())
                }
                None => Err(SiltError::from(e)),
            },
        }
    }

    fn role(&self) -> &str {
        &self.role
    }
}
