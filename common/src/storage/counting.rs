//! Counts object-store requests and bytes by kind. The benchmark and the tests read these counts:
//! they are deterministic where times are not. The same requests, their latency and their
//! errors also go to `/metrics`, labelled with the component that made them.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::metrics;
use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

#[derive(Debug, Default)]
pub struct StoreStats {
    pub gets: AtomicU64,
    pub get_bytes: AtomicU64,
    pub puts: AtomicU64,
    pub put_bytes: AtomicU64,
    pub lists: AtomicU64,
    pub deletes: AtomicU64,
    pub copies: AtomicU64,
    /// PUTs started and not yet finished, and the most there ever were at once: shows whether
    /// writes to different keys overlap or queue behind each other.
    pub puts_in_flight: AtomicU64,
    pub max_puts_in_flight: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreStatsSnapshot {
    pub gets: u64,
    pub get_bytes: u64,
    pub puts: u64,
    pub put_bytes: u64,
    pub lists: u64,
    pub deletes: u64,
    pub copies: u64,
    pub max_puts_in_flight: u64,
}

impl StoreStats {
    pub fn snapshot(&self) -> StoreStatsSnapshot {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StoreStatsSnapshot {
            gets: l(&self.gets),
            get_bytes: l(&self.get_bytes),
            puts: l(&self.puts),
            put_bytes: l(&self.put_bytes),
            lists: l(&self.lists),
            deletes: l(&self.deletes),
            copies: l(&self.copies),
            max_puts_in_flight: l(&self.max_puts_in_flight),
        }
    }
}

impl StoreStatsSnapshot {
    /// Requests made between `earlier` and `self` (`max_puts_in_flight` is the peak so far).
    pub fn since(&self, earlier: &StoreStatsSnapshot) -> StoreStatsSnapshot {
        StoreStatsSnapshot {
            gets: self.gets - earlier.gets,
            get_bytes: self.get_bytes - earlier.get_bytes,
            puts: self.puts - earlier.puts,
            put_bytes: self.put_bytes - earlier.put_bytes,
            lists: self.lists - earlier.lists,
            deletes: self.deletes - earlier.deletes,
            copies: self.copies - earlier.copies,
            max_puts_in_flight: self.max_puts_in_flight,
        }
    }
}

#[derive(Debug)]
pub struct CountingStore {
    inner: Arc<dyn ObjectStore>,
    stats: Arc<StoreStats>,
    /// The `component` label of this store's series on `/metrics`.
    component: &'static str,
}

impl CountingStore {
    /// A store whose requests `/metrics` labels `component="other"` (tests, tools).
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        Self::for_component(inner, "other")
    }

    /// A store whose requests `/metrics` labels with `component` (log, query, compactor).
    pub fn for_component(inner: Arc<dyn ObjectStore>, component: &'static str) -> Self {
        metrics::register_store_errors(component);
        CountingStore {
            inner,
            stats: Arc::default(),
            component,
        }
    }

    pub fn stats(&self) -> Arc<StoreStats> {
        self.stats.clone()
    }
}

impl fmt::Display for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counting({})", self.inner)
    }
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// One request's series on `/metrics`: counted at once, timed and checked when it ends.
struct Observed {
    component: &'static str,
    op: &'static str,
    started: Option<Instant>,
}

impl Observed {
    fn start(component: &'static str, op: &'static str) -> Self {
        metrics::store_request(component, op);
        Observed {
            component,
            op,
            started: start_timer(),
        }
    }

    fn error(&self, e: &object_store::Error) {
        metrics::store_error(self.component, self.op, metrics::store_error_label(e));
    }

    fn finish<T>(self, result: &Result<T>) {
        if let Err(e) = result {
            self.error(e);
        }
    }
}

impl Drop for Observed {
    // Real time, as in `start_timer`.
    #[allow(clippy::disallowed_methods)]
    fn drop(&mut self) {
        if let Some(started) = self.started {
            metrics::store_latency(self.component, self.op, started.elapsed());
        }
    }
}

/// Marks one PUT as in flight for as long as it lives.
struct InFlight<'a>(&'a StoreStats);

impl<'a> InFlight<'a> {
    fn start(stats: &'a StoreStats) -> Self {
        let now = stats.puts_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        stats.max_puts_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(stats)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.puts_in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let bytes = payload.content_length() as u64;
        add(&self.stats.puts, 1);
        add(&self.stats.put_bytes, bytes);
        let observed = Observed::start(self.component, "put");
        metrics::store_bytes(self.component, "put", bytes);
        let _in_flight = InFlight::start(&self.stats);
        let result = self.inner.put_opts(location, payload, opts).await;
        observed.finish(&result);
        result
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        add(&self.stats.puts, 1);
        let observed = Observed::start(self.component, "put");
        let result = self.inner.put_multipart_opts(location, opts).await;
        observed.finish(&result);
        result
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        add(&self.stats.gets, 1);
        let observed = Observed::start(self.component, "get");
        let result = self.inner.get_opts(location, options).await;
        observed.finish(&result);
        let result = result?;
        if !result.meta.location.as_ref().is_empty() {
            let bytes = result.range.end - result.range.start;
            add(&self.stats.get_bytes, bytes);
            metrics::store_bytes(self.component, "get", bytes);
        }
        Ok(result)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        use futures::StreamExt;
        let stats = self.stats.clone();
        let component = self.component;
        let counted = locations
            .inspect(move |_| {
                add(&stats.deletes, 1);
                metrics::store_request(component, "delete");
            })
            .boxed();
        observe_stream(self.inner.delete_stream(counted), component, "delete")
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        add(&self.stats.lists, 1);
        let observed = Observed::start(self.component, "list");
        observe_listing(self.inner.list(prefix), observed)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        add(&self.stats.lists, 1);
        let observed = Observed::start(self.component, "list");
        observe_listing(self.inner.list_with_offset(prefix, offset), observed)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        add(&self.stats.lists, 1);
        let observed = Observed::start(self.component, "list");
        let result = self.inner.list_with_delimiter(prefix).await;
        observed.finish(&result);
        result
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        add(&self.stats.copies, 1);
        let observed = Observed::start(self.component, "copy");
        let result = self.inner.copy_opts(from, to, options).await;
        observed.finish(&result);
        result
    }
}

/// A listing's errors are counted as they come, and its latency when it is dropped.
fn observe_listing(
    stream: BoxStream<'static, Result<ObjectMeta>>,
    observed: Observed,
) -> BoxStream<'static, Result<ObjectMeta>> {
    use futures::StreamExt;
    stream
        .inspect(move |item| {
            if let Err(e) = item {
                observed.error(e);
            }
        })
        .boxed()
}

/// A delete batch: one latency observation for the batch (its paths are counted one by one),
/// and each failed path as an error.
fn observe_stream(
    stream: BoxStream<'static, Result<Path>>,
    component: &'static str,
    op: &'static str,
) -> BoxStream<'static, Result<Path>> {
    use futures::StreamExt;
    let timer = Observed {
        component,
        op,
        started: start_timer(),
    };
    stream
        .inspect(move |item| {
            if let Err(e) = item {
                timer.error(e);
            }
        })
        .boxed()
}

// Real time: this measures real requests' latency for operators; nothing decides on it.
#[allow(clippy::disallowed_methods)]
fn start_timer() -> Option<Instant> {
    metrics::enabled().then(Instant::now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::{StreamExt, TryStreamExt};
    use metrics_exporter_prometheus::PrometheusBuilder;
    use object_store::memory::InMemory;
    use object_store::ObjectStoreExt;

    /// The value of one sample line of `text` (`series` with its labels), 0 if absent.
    fn sample(text: &str, series: &str) -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0)
    }

    #[test]
    fn metrics_count_what_store_stats_count() {
        crate::metrics::set_enabled(true);
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[1.0])
            .unwrap()
            .build_recorder();
        let store = ::metrics::with_local_recorder(&recorder, || {
            futures::executor::block_on(async {
                let store = CountingStore::for_component(Arc::new(InMemory::new()), "t");
                let (a, b) = (Path::from("a"), Path::from("b"));
                store.put(&a, "abc".into()).await.unwrap();
                store.put(&b, "hello".into()).await.unwrap();
                store.get(&a).await.unwrap();
                assert!(store.get(&Path::from("missing")).await.is_err());
                let listed: Vec<_> = store.list(None).try_collect().await.unwrap();
                assert_eq!(listed.len(), 2);
                store.copy(&a, &Path::from("c")).await.unwrap();
                let deleted: Vec<_> = store
                    .delete_stream(futures::stream::iter([Ok(a.clone()), Ok(b.clone())]).boxed())
                    .collect()
                    .await;
                assert_eq!(deleted.len(), 2);
                store
            })
        });
        let stats = store.stats().snapshot();
        let handle = recorder.handle();
        handle.run_upkeep();
        let text = handle.render();
        let requests = |op: &str| {
            sample(
                &text,
                &format!("silt_object_store_requests_total{{component=\"t\",op=\"{op}\"}}"),
            )
        };
        assert_eq!(requests("put"), stats.puts);
        assert_eq!(requests("get"), stats.gets);
        assert_eq!(requests("list"), stats.lists);
        assert_eq!(requests("copy"), stats.copies);
        assert_eq!(requests("delete"), stats.deletes);
        assert_eq!((stats.puts, stats.gets, stats.deletes), (2, 2, 2));
        let bytes = |op: &str| {
            sample(
                &text,
                &format!("silt_object_store_bytes_total{{component=\"t\",op=\"{op}\"}}"),
            )
        };
        assert_eq!(bytes("put"), stats.put_bytes);
        assert_eq!(bytes("get"), stats.get_bytes);
        assert_eq!(stats.put_bytes, 8);
        // Every put and get was timed; the missing key is an error of its own kind.
        let timed = |op: &str| {
            sample(
                &text,
                &format!(
                    "silt_object_store_request_duration_seconds_count{{component=\"t\",op=\"{op}\"}}"
                ),
            )
        };
        assert_eq!(timed("put"), 2);
        assert_eq!(timed("get"), 2);
        let errors = |op: &str, error: &str| {
            sample(
                &text,
                &format!(
                    "silt_object_store_errors_total{{component=\"t\",op=\"{op}\",error=\"{error}\"}}"
                ),
            )
        };
        assert_eq!(errors("get", "not_found"), 1);
        assert_eq!(errors("put", "failed"), 0);
        assert!(text.contains(
            "silt_object_store_errors_total{component=\"t\",op=\"put\",error=\"failed\"} 0"
        ));
    }
}
