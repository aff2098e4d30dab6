//! Metering as operators see it: `silt admin usage` (from the catalog) and the per-tenant
//! series of `/metrics`.

use std::fmt::Write;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use serde_json::{json, Value};
use silt_gateway::UsageMeter;
use silt_sysdb::{SysDb, TenantUsage};

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
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            cells
                .iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let mut line = |row: &[&str]| {
        for (i, cell) in row.iter().enumerate() {
            // Names left-aligned, numbers right-aligned.
            let _ = if i == 0 {
                write!(out, "{cell:<w$}", w = widths[i])
            } else {
                write!(out, "  {cell:>w$}", w = widths[i])
            };
        }
        out.push('\n');
    };
    line(&header);
    for row in &cells {
        line(&row.iter().map(String::as_str).collect::<Vec<_>>());
    }
    out
}

/// Adds the per-tenant series to the public `/metrics` when anyone may read any tenant anyway
/// (auth off), and serves them on `--tenant-metrics-addr` for operators if given. Returns the
/// public metrics and the operators' server task.
pub async fn tenant_metrics(
    public: crate::metrics::Metrics,
    meter: &Arc<UsageMeter>,
    auth: bool,
    operators_addr: Option<&str>,
) -> anyhow::Result<(crate::metrics::Metrics, Option<tokio::task::JoinHandle<()>>)> {
    let public = if auth {
        public
    } else {
        public.usage(meter.clone())
    };
    let Some(addr) = operators_addr else {
        return Ok((public, None));
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr} (--tenant-metrics-addr)"))?;
    let app = crate::metrics::Metrics::default()
        .usage(meter.clone())
        .serve_on(Router::new());
    tracing::info!(%addr, "per-tenant metering series on /metrics");
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "the tenant metrics server stopped");
        }
    });
    Ok((public, Some(task)))
}

/// A label value in Prometheus' text format.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The per-tenant series: this gateway's activity counters since it started (sum them over
/// gateways), and the catalog's stored figures as of the meter's last refresh (the same on
/// every gateway: take one, or the max).
pub fn render_metrics(out: &mut String, meter: &UsageMeter) {
    let totals = meter.totals();
    type Pick = fn(&silt_sysdb::Activity) -> u64;
    let counters: [(&str, Pick); 4] = [
        ("silt_tenant_writes_total", |a| a.writes),
        ("silt_tenant_queries_total", |a| a.queries),
        ("silt_tenant_records_written_total", |a| a.records_written),
        ("silt_tenant_bytes_returned_total", |a| a.bytes_returned),
    ];
    for (name, pick) in counters {
        let _ = writeln!(out, "# TYPE {name} counter");
        for (tenant, activity) in &totals {
            let _ = writeln!(
                out,
                "{name}{{tenant=\"{}\"}} {}",
                label(tenant),
                pick(activity)
            );
        }
    }
    let storage = meter.storage();
    type Gauge = fn(&TenantUsage) -> u64;
    let gauges: [(&str, Gauge); 3] = [
        ("silt_tenant_collections", |u| u.collections),
        ("silt_tenant_records", |u| u.records),
        ("silt_tenant_records_pending", |u| u.records_pending),
    ];
    for (name, pick) in gauges {
        let _ = writeln!(out, "# TYPE {name} gauge");
        for u in &storage {
            let _ = writeln!(out, "{name}{{tenant=\"{}\"}} {}", label(&u.tenant), pick(u));
        }
    }
    let name = "silt_tenant_stored_bytes";
    let _ = writeln!(out, "# TYPE {name} gauge");
    for u in &storage {
        let tenant = label(&u.tenant);
        let _ = writeln!(
            out,
            "{name}{{tenant=\"{tenant}\",kind=\"log\"}} {}",
            u.log_bytes
        );
        let _ = writeln!(
            out,
            "{name}{{tenant=\"{tenant}\",kind=\"versions\"}} {}",
            u.version_bytes
        );
    }
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
        let mut out = String::new();
        render_metrics(&mut out, &meter);
        assert!(out.contains("silt_tenant_writes_total{tenant=\"acme\"} 1\n"));
        assert!(out.contains("silt_tenant_records_written_total{tenant=\"acme\"} 3\n"));
        assert!(out.contains("silt_tenant_writes_total{tenant=\"we\\\"ird\"} 1\n"));
        assert!(out.contains("# TYPE silt_tenant_stored_bytes gauge\n"));
    }
}
