//! `/metrics` in Prometheus' text format: object-store requests and bytes by component and
//! kind, and the query cache's hits, misses and round trips. Counts, not times: the benchmark
//! reads them to attribute requests to one write batch or one query.

use std::fmt::Write;
use std::sync::Arc;

use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::Router;
use silt_common::storage::StoreStats;
use silt_gateway::UsageMeter;
use silt_query_service::QueryNode;

#[derive(Clone, Default)]
pub struct Metrics {
    stores: Vec<(&'static str, Arc<StoreStats>)>,
    query: Option<Arc<QueryNode>>,
    usage: Option<Arc<UsageMeter>>,
}

impl Metrics {
    /// Counts the object-store requests `component` (log, query, compactor) makes.
    pub fn store(mut self, component: &'static str, stats: Arc<StoreStats>) -> Self {
        self.stores.push((component, stats));
        self
    }

    pub fn query_node(mut self, node: Arc<QueryNode>) -> Self {
        self.query = Some(node);
        self
    }

    /// Per-tenant metering series (a gateway's).
    pub fn usage(mut self, meter: Arc<UsageMeter>) -> Self {
        self.usage = Some(meter);
        self
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let requests = "silt_object_store_requests_total";
        let bytes = "silt_object_store_bytes_total";
        let _ = writeln!(out, "# TYPE {requests} counter");
        for (component, stats) in &self.stores {
            let s = stats.snapshot();
            for (op, n) in [
                ("get", s.gets),
                ("put", s.puts),
                ("list", s.lists),
                ("delete", s.deletes),
                ("copy", s.copies),
            ] {
                let _ = writeln!(
                    out,
                    "{requests}{{component=\"{component}\",op=\"{op}\"}} {n}"
                );
            }
        }
        let _ = writeln!(out, "# TYPE {bytes} counter");
        for (component, stats) in &self.stores {
            let s = stats.snapshot();
            for (op, n) in [("get", s.get_bytes), ("put", s.put_bytes)] {
                let _ = writeln!(out, "{bytes}{{component=\"{component}\",op=\"{op}\"}} {n}");
            }
        }
        if let Some(node) = &self.query {
            let c = node.cache().stats();
            let load =
                |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
            for (name, n) in [
                ("silt_query_cache_hits_total", load(&c.hits)),
                ("silt_query_cache_misses_total", load(&c.misses)),
                ("silt_query_cache_round_trips_total", load(&c.round_trips)),
            ] {
                let _ = writeln!(out, "# TYPE {name} counter\n{name} {n}");
            }
            let name = "silt_query_tail_cache_bytes";
            let _ = writeln!(
                out,
                "# TYPE {name} gauge\n{name} {}",
                node.tail_cache_bytes()
            );
        }
        if let Some(meter) = &self.usage {
            crate::usage::render_metrics(&mut out, meter);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn renders_requests_by_component_and_kind() {
        let log = Arc::new(StoreStats::default());
        log.puts.store(7, Ordering::Relaxed);
        log.put_bytes.store(700, Ordering::Relaxed);
        let text = Metrics::default().store("log", log).render();
        assert!(text.contains("silt_object_store_requests_total{component=\"log\",op=\"put\"} 7\n"));
        assert!(text.contains("silt_object_store_requests_total{component=\"log\",op=\"get\"} 0\n"));
        assert!(text.contains("silt_object_store_bytes_total{component=\"log\",op=\"put\"} 700\n"));
    }
}
