//! `/metrics` in Prometheus' text format. Each crate names, describes and records its own
//! series through the `metrics` facade (`silt_common::metrics`, `silt_gateway::metrics`, ...);
//! this module installs the one recorder of the process, renders it on every role's `/metrics`,
//! and adds the per-tenant metering series.
//!
//! Tenant-labelled series are all named `silt_tenant_*`. They are on the public `/metrics` only
//! when anyone may read any tenant anyway (auth off); with auth they are served only on
//! `--tenant-metrics-addr` (`crate::usage::tenant_metrics`).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use silt_gateway::UsageMeter;

/// The prefix of every tenant-labelled series.
pub const TENANT_PREFIX: &str = "silt_tenant_";

/// Request and call latencies: half a millisecond (a cached query) to half a minute.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Compactions: a small collection's take milliseconds, a bulk load's minutes.
const COMPACTION_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];
/// How often histograms are folded into their buckets between scrapes, so that memory does not
/// grow with the number of observations when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process's recorder; `None` when recording is off.
static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's recorder (once; later calls keep the first choice) and describes
/// every series. With `enabled` false nothing is recorded: the facade's calls are no-ops.
pub fn install(enabled: bool) -> Result<(), BuildError> {
    if RECORDER.get().is_some() {
        return Ok(());
    }
    let handle = if enabled {
        let handle = PrometheusBuilder::new()
            .set_buckets(LATENCY_BUCKETS)?
            .set_buckets_for_metric(
                Matcher::Full(silt_compactor::metrics::DURATION.to_string()),
                COMPACTION_BUCKETS,
            )?
            .install_recorder()?;
        silt_common::metrics::set_enabled(true);
        describe_all();
        let upkeep = handle.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(UPKEEP_EVERY);
            loop {
                ticker.tick().await;
                upkeep.run_upkeep();
            }
        });
        Some(handle)
    } else {
        tracing::info!("metrics recording is off (--metrics false)");
        None
    };
    let _ = RECORDER.set(handle);
    Ok(())
}

fn describe_all() {
    silt_common::metrics::describe();
    silt_gateway::metrics::describe();
    silt_query_service::metrics::describe();
    silt_log_service::metrics::describe();
    silt_compactor::metrics::describe();
    silt_sysdb::metrics::describe();
}

/// Which series a `/metrics` endpoint shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shown {
    /// Everything but the tenant-labelled series.
    Public,
    /// Everything.
    All,
    /// Only the tenant-labelled series (the operators' listener).
    Tenants,
}

#[derive(Clone)]
pub struct Metrics {
    shown: Shown,
    usage: Option<Arc<UsageMeter>>,
}

impl Default for Metrics {
    /// The recorded series without the tenant-labelled ones.
    fn default() -> Self {
        Metrics {
            shown: Shown::Public,
            usage: None,
        }
    }
}

impl Metrics {
    /// Also shows the tenant-labelled series, with `meter`'s metering series.
    pub fn with_tenants(meter: Arc<UsageMeter>) -> Self {
        Metrics {
            shown: Shown::All,
            usage: Some(meter),
        }
    }

    /// Only the tenant-labelled series, with `meter`'s metering series.
    pub fn tenants_only(meter: Arc<UsageMeter>) -> Self {
        Metrics {
            shown: Shown::Tenants,
            usage: Some(meter),
        }
    }

    pub fn render(&self) -> String {
        let recorded = match RECORDER.get() {
            Some(Some(handle)) => {
                handle.run_upkeep();
                handle.render()
            }
            _ => String::new(),
        };
        let mut out = match self.shown {
            Shown::All => recorded,
            Shown::Public => families(&recorded, |name| !name.starts_with(TENANT_PREFIX)),
            Shown::Tenants => families(&recorded, |name| name.starts_with(TENANT_PREFIX)),
        };
        if let Some(meter) = &self.usage {
            out.push_str(&crate::usage::render_metrics(meter));
        }
        out
    }

    /// Adds `GET /metrics` to `app`.
    pub fn serve_on(self, app: Router) -> Router {
        app.route(
            "/metrics",
            get(move || {
                let text = self.render();
                async move { ([(CONTENT_TYPE, "text/plain; version=0.0.4")], text) }
            }),
        )
    }
}

/// The series name a line of the text format is about (`None`: a blank line).
fn series_of(line: &str) -> Option<&str> {
    let rest = line
        .strip_prefix("# HELP ")
        .or_else(|| line.strip_prefix("# TYPE "))
        .unwrap_or(line);
    let end = rest.find(['{', ' ']).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|name| !name.is_empty())
}

/// The lines of `text` whose series `keep` accepts (blank separators follow their family).
fn families(text: &str, keep: impl Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut keeping = true;
    for line in text.lines() {
        if let Some(name) = series_of(line) {
            keeping = keep(name);
        }
        if keeping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str =
        "# HELP silt_a_total a\n# TYPE silt_a_total counter\nsilt_a_total{op=\"get\"} 7\n\n\
# TYPE silt_tenant_writes_total counter\nsilt_tenant_writes_total{tenant=\"acme\"} 1\n\n\
# TYPE silt_b_seconds histogram\nsilt_b_seconds_bucket{le=\"1\"} 2\nsilt_b_seconds_count 2\n\n";

    #[test]
    fn the_public_view_leaves_out_only_the_tenant_families() {
        let public = families(TEXT, |n| !n.starts_with(TENANT_PREFIX));
        assert!(!public.contains("tenant"));
        assert!(public.contains("silt_a_total{op=\"get\"} 7\n"));
        assert!(public.contains("silt_b_seconds_count 2\n"));
        let tenants = families(TEXT, |n| n.starts_with(TENANT_PREFIX));
        assert_eq!(
            tenants,
            "# TYPE silt_tenant_writes_total counter\nsilt_tenant_writes_total{tenant=\"acme\"} 1\n\n"
        );
    }

    #[test]
    fn series_names_are_read_from_samples_and_comments() {
        assert_eq!(series_of("# HELP silt_x_total help"), Some("silt_x_total"));
        assert_eq!(series_of("silt_x_total{a=\"b\"} 1"), Some("silt_x_total"));
        assert_eq!(series_of("silt_y 1"), Some("silt_y"));
        assert_eq!(series_of(""), None);
    }
}
