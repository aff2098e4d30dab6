//! Metering as operators see it: `silt admin usage` (from the catalog) and the per-tenant
//! series of `/metrics`.

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use metrics_exporter_prometheus::PrometheusBuilder;
use serde_json::{json, Value};
use silt_gateway::UsageMeter;
use silt_sysdb::{SysDb, TenantUsage};

use crate::table::{self, Align};

/// `silt admin usage [--tenant T] [--table]`: JSON (an object for one tenant, an array for
/// all), or a table for people.
pub async fn admin_usage(sysdb: &SysDb, tenant: Option<&str>, table: bool) -> anyhow::Result<()> {
    let usage = sysdb.tenant_usage(tenant).await?;
    if table {
        print!("{}", usage_table(&usage));
        return Ok(());
    }
    let out = match (tenant, usage.first()) {
        (Some(_), Some(one)) => usage_json(one),
        _ => Value::Array(usage.iter().map(usage_json).collect()),
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

pub fn usage_json(u: &TenantUsage) -> Value {
    json!({
        "tenant": u.tenant,
        "collections": u.collections,
        "records": u.records,
        "records_pending": u.records_pending,
        "stored_bytes": {
            "log": u.log_bytes,
            "versions": u.version_bytes,
            "total": u.log_bytes.saturating_add(u.version_bytes),
        },
        "writes": u.activity.writes,
        "queries": u.activity.queries,
        "records_written": u.activity.records_written,
        "bytes_returned": u.activity.bytes_returned,
    })
}

pub fn usage_table(rows: &[TenantUsage]) -> String {
    let header = [
        "tenant",
        "collections",
        "records",
        "pending",
        "log_bytes",
        "version_bytes",
        "writes",
        "queries",
        "records_written",
        "bytes_returned",
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|u| {
            let a = &u.activity;
            vec![
                u.tenant.clone(),
                u.collections.to_string(),
                u.records.to_string(),
                u.records_pending.to_string(),
                u.log_bytes.to_string(),
                u.version_bytes.to_string(),
                a.writes.to_string(),
                a.queries.to_string(),
                a.records_written.to_string(),
                a.bytes_returned.to_string(),
            ]
        })
        .collect();
    let mut align = vec![Align::Right; header.len()];
    align[0] = Align::Left;
    table::render(&header, &align, &cells)
}

/// The public `/metrics` (with the tenant-labelled series when anyone may read any tenant
/// anyway: auth off), and, if `operators_addr` is given, the operators' server of the
/// tenant-labelled series alone.
pub async fn tenant_metrics(
    meter: &Arc<UsageMeter>,
    auth: bool,
    operators_addr: Option<&str>,
) -> anyhow::Result<(crate::metrics::Metrics, Option<tokio::task::JoinHandle<()>>)> {
    let public = if auth {
        crate::metrics::Metrics::default()
    } else {
        crate::metrics::Metrics::with_tenants(meter.clone())
    };
    let Some(addr) = operators_addr else {
        return Ok((public, None));
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr} (--tenant-metrics-addr)"))?;
    let app = crate::metrics::Metrics::tenants_only(meter.clone()).serve_on(Router::new());
    tracing::info!(%addr, "per-tenant metering series on /metrics");
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "the tenant metrics server stopped");
        }
    });
    Ok((public, Some(task)))
}

/// The per-tenant metering series: this gateway's activity counters since it started (sum
/// them over gateways), and the catalog's stored figures as of the meter's last refresh (the
/// same on every gateway: take one, or the max). Rendered from the meter at each scrape, with
/// a recorder of their own, so they are there with recording off too (metering needs them)
/// and a tenant gone from the catalog is gone from them.
pub fn render_metrics(meter: &UsageMeter) -> String {
    let recorder = PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&recorder, || {
        let totals = meter.totals();
        type Pick = fn(&silt_sysdb::Activity) -> u64;
        let counters: [(&'static str, &'static str, Pick); 4] = [
            (
                "silt_tenant_writes_total",
                "Write requests (add, upsert, update, delete)",
                |a| a.writes,
            ),
            (
                "silt_tenant_queries_total",
                "Read requests (query, get, count)",
                |a| a.queries,
            ),
            (
                "silt_tenant_records_written_total",
                "Records written",
                |a| a.records_written,
            ),
            (
                "silt_tenant_bytes_returned_total",
                "Bytes of read answers",
                |a| a.bytes_returned,
            ),
        ];
        for (name, help, pick) in counters {
            metrics::describe_counter!(name, help);
            for (tenant, activity) in &totals {
                metrics::counter!(name, "tenant" => tenant.clone()).absolute(pick(activity));
            }
        }
        let storage = meter.storage();
        type Gauge = fn(&TenantUsage) -> u64;
        let gauges: [(&'static str, &'static str, Gauge); 3] = [
            (
                "silt_tenant_collections",
                "Collections (catalog, last refresh)",
                |u| u.collections,
            ),
            (
                "silt_tenant_records",
                "Records (catalog, last refresh)",
                |u| u.records,
            ),
            (
                "silt_tenant_records_pending",
                "Records awaiting compaction (catalog, last refresh)",
                |u| u.records_pending,
            ),
        ];
        for (name, help, pick) in gauges {
            metrics::describe_gauge!(name, help);
            for u in &storage {
                metrics::gauge!(name, "tenant" => u.tenant.clone()).set(pick(u) as f64);
            }
        }
        let name = "silt_tenant_stored_bytes";
        metrics::describe_gauge!(
            name,
            metrics::Unit::Bytes,
            "Bytes stored, by kind: log (unindexed writes) and versions (indexes)"
        );
        for u in &storage {
            let tenant = u.tenant.clone();
            metrics::gauge!(name, "tenant" => tenant.clone(), "kind" => "log")
                .set(u.log_bytes as f64);
            metrics::gauge!(name, "tenant" => tenant, "kind" => "versions")
                .set(u.version_bytes as f64);
        }
    });
    let handle = recorder.handle();
    handle.run_upkeep();
    handle.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_a_row_per_tenant_under_a_header() {
        let rows = [TenantUsage {
            tenant: "acme".into(),
            collections: 2,
            records: 12,
            version_bytes: 4096,
            ..TenantUsage::default()
        }];
        let table = usage_table(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("tenant  collections  records"));
        let fields: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            fields,
            ["acme", "2", "12", "0", "0", "4096", "0", "0", "0", "0"]
        );
        assert_eq!(usage_json(&rows[0])["stored_bytes"]["total"], 4096);
    }

    #[test]
    fn metrics_label_each_series_with_its_tenant() {
        let meter = UsageMeter::default();
        meter.wrote("acme", 3);
        meter.wrote("we\"ird", 1);
        let out = render_metrics(&meter);
        assert!(out.contains("silt_tenant_writes_total{tenant=\"acme\"} 1\n"));
        assert!(out.contains("silt_tenant_records_written_total{tenant=\"acme\"} 3\n"));
        assert!(out.contains("silt_tenant_writes_total{tenant=\"we\\\"ird\"} 1\n"));
        assert!(out.contains("# TYPE silt_tenant_writes_total counter\n"));
        // The catalog's figures are not invented before the meter has read them.
        assert!(!out.contains("silt_tenant_stored_bytes"));
    }
}
