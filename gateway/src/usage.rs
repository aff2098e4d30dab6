//! Metering of each tenant's activity: writes, queries, records written and bytes returned.
//!
//! Handlers count in memory (one short mutex per request, no catalog round trip on the request
//! path); a background task adds the counts to the catalog's `tenant_usage` every flush
//! interval and once more at shutdown. The catalog adds them up (an additive UPSERT), so any
//! number of gateways sum correctly. A gateway that dies between flushes loses at most one
//! interval of counts: acceptable for metering, and the price of keeping the catalog off the
//! request path. A flush that fails is kept and retried with the next one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use silt_common::ErrorKind;
use silt_sysdb::{Activity, SysDb, TenantUsage};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{Interval, MissedTickBehavior};

use crate::error::{ApiError, ApiResult};

#[derive(Default)]
struct Counts {
    /// Not yet added to the catalog.
    pending: Activity,
    /// Since this process started (for `/metrics`, whose counters are per process).
    total: Activity,
}

/// Per-tenant activity counts of this gateway.
#[derive(Default)]
pub struct UsageMeter {
    tenants: Mutex<HashMap<String, Counts>>,
    /// The catalog's stored figures per tenant as of the last refresh (for `/metrics`).
    storage: Mutex<Vec<TenantUsage>>,
}

impl UsageMeter {
    fn tenants(&self) -> MutexGuard<'_, HashMap<String, Counts>> {
        // Counts are plain integers: a panic elsewhere cannot leave them inconsistent.
        self.tenants.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn count(&self, tenant: &str, delta: Activity) {
        let mut tenants = self.tenants();
        let counts = match tenants.get_mut(tenant) {
            Some(c) => c,
            None => tenants.entry(tenant.to_string()).or_default(),
        };
        counts.pending.add(&delta);
        counts.total.add(&delta);
    }

    /// A write request that logged `records` records.
    pub fn wrote(&self, tenant: &str, records: usize) {
        self.count(
            tenant,
            Activity {
                writes: 1,
                records_written: records as u64,
                ..Activity::default()
            },
        );
    }

    /// Answers a read with `body` as JSON, counting the query and the body's bytes (exactly
    /// what is sent: the same serialization `Json` would make, done here to measure it).
    pub fn read_answer(&self, tenant: &str, body: &Value) -> ApiResult<Response> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            ApiError::new(ErrorKind::Internal, format!("serializing the answer: {e}"))
        })?;
        self.count(
            tenant,
            Activity {
                queries: 1,
                bytes_returned: bytes.len() as u64,
                ..Activity::default()
            },
        );
        Ok(([(CONTENT_TYPE, "application/json")], bytes).into_response())
    }

    /// Each tenant's counts since this process started, by name.
    pub fn totals(&self) -> Vec<(String, Activity)> {
        let mut totals: Vec<_> = self
            .tenants()
            .iter()
            .map(|(t, c)| (t.clone(), c.total))
            .collect();
        totals.sort_by(|a, b| a.0.cmp(&b.0));
        totals
    }

    /// The stored figures of the last `refresh_storage`.
    pub fn storage(&self) -> Vec<TenantUsage> {
        self.storage
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Adds the pending counts to the catalog. On failure they stay pending (added to
    /// whatever is counted meanwhile) for the next flush.
    pub async fn flush(&self, sysdb: &SysDb) -> Result<(), silt_sysdb::SysDbError> {
        let deltas: Vec<(String, Activity)> = self
            .tenants()
            .iter_mut()
            .filter(|(_, c)| !c.pending.is_zero())
            .map(|(t, c)| (t.clone(), std::mem::take(&mut c.pending)))
            .collect();
        if let Err(e) = sysdb.add_tenant_activity(&deltas).await {
            let mut tenants = self.tenants();
            for (tenant, delta) in &deltas {
                tenants
                    .entry(tenant.clone())
                    .or_default()
                    .pending
                    .add(delta);
            }
            return Err(e);
        }
        Ok(())
    }

    /// Reads every tenant's stored figures from the catalog, for `/metrics`.
    pub async fn refresh_storage(&self, sysdb: &SysDb) -> Result<(), silt_sysdb::SysDbError> {
        let usage = sysdb.tenant_usage(None).await?;
        *self.storage.lock().unwrap_or_else(|p| p.into_inner()) = usage;
        Ok(())
    }
}

/// How often the meter talks to the catalog.
#[derive(Debug, Clone, Copy)]
pub struct UsageSchedule {
    /// Activity counts are added to the catalog this often.
    pub flush: Duration,
    /// Stored figures for `/metrics` are re-read this often (`None`: never; they cost one
    /// aggregate over the catalog's collections each time).
    pub storage_refresh: Option<Duration>,
}

/// The task that flushes a meter into the catalog.
pub struct UsageFlusher {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    meter: Arc<UsageMeter>,
    sysdb: SysDb,
}

impl UsageFlusher {
    /// Stops the periodic flushes and adds what is left: call it once the server has drained,
    /// so the last interval is not lost at shutdown. A flush in progress is let finish (an
    /// aborted one would drop the counts it had taken).
    pub async fn finish(self) -> Result<(), silt_sysdb::SysDbError> {
        let _ = self.stop.send(());
        let _ = self.task.await;
        self.meter.flush(&self.sysdb).await
    }
}

/// Flushes `meter` into the catalog on `schedule` until `UsageFlusher::finish`.
pub fn spawn_usage_flusher(
    meter: Arc<UsageMeter>,
    sysdb: SysDb,
    schedule: UsageSchedule,
) -> UsageFlusher {
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(flush_until(meter.clone(), sysdb.clone(), schedule, stopped));
    UsageFlusher {
        stop,
        task,
        meter,
        sysdb,
    }
}

fn ticker(every: Duration) -> Interval {
    let mut t = tokio::time::interval(every.max(Duration::from_millis(10)));
    t.set_missed_tick_behavior(MissedTickBehavior::Delay);
    t
}

/// The next tick of `ticker`, or never.
async fn tick(ticker: &mut Option<Interval>) {
    match ticker {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn flush_until(
    meter: Arc<UsageMeter>,
    sysdb: SysDb,
    schedule: UsageSchedule,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut flush = ticker(schedule.flush);
    let mut refresh = schedule.storage_refresh.map(ticker);
    loop {
        // A branch's work runs to its end before the next select: a stop never cuts a flush.
        tokio::select! {
            _ = &mut stopped => break,
            _ = flush.tick() => {
                if let Err(e) = meter.flush(&sysdb).await {
                    tracing::warn!(error = %e, "usage flush failed; the counts are kept for the next one");
                }
            }
            _ = tick(&mut refresh) => {
                if let Err(e) = meter.refresh_storage(&sysdb).await {
                    tracing::warn!(error = %e, "reading stored usage for /metrics failed");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_tenant_and_keeps_totals_after_a_drain() {
        let meter = UsageMeter::default();
        meter.wrote("a", 3);
        meter.wrote("a", 2);
        meter.wrote("b", 1);
        let answer = meter
            .read_answer("a", &serde_json::json!({"ids": ["x"]}))
            .unwrap();
        assert_eq!(answer.headers()[CONTENT_TYPE], "application/json");
        let totals = meter.totals();
        assert_eq!(
            totals,
            vec![
                (
                    "a".to_string(),
                    Activity {
                        writes: 2,
                        queries: 1,
                        records_written: 5,
                        bytes_returned: r#"{"ids":["x"]}"#.len() as u64,
                    }
                ),
                (
                    "b".to_string(),
                    Activity {
                        writes: 1,
                        records_written: 1,
                        ..Activity::default()
                    }
                ),
            ]
        );
        // Draining the pending counts (a flush) leaves the per-process totals alone.
        for c in meter.tenants().values_mut() {
            std::mem::take(&mut c.pending);
        }
        assert_eq!(meter.totals(), totals);
    }

    #[tokio::test]
    async fn flushes_of_several_gateways_add_up_in_the_catalog() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("catalog.db").display());
        let db = SysDb::connect(&url).await.unwrap();
        db.create_tenant("a").await.unwrap();
        let (one, two) = (UsageMeter::default(), UsageMeter::default());
        one.wrote("a", 3);
        two.wrote("a", 4);
        two.read_answer("a", &serde_json::json!(12)).unwrap();
        one.flush(&db).await.unwrap();
        two.flush(&db).await.unwrap();
        // A flush with nothing new adds nothing.
        one.flush(&db).await.unwrap();
        let usage = db.tenant_usage(Some("a")).await.unwrap();
        assert_eq!(
            usage[0].activity,
            Activity {
                writes: 2,
                queries: 1,
                records_written: 7,
                bytes_returned: 2,
            }
        );
        two.refresh_storage(&db).await.unwrap();
        assert!(two.storage().iter().any(|u| u.tenant == "a"));
    }
}
