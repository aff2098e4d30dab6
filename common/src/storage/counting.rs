//! Counts object-store requests and bytes by kind. The benchmark and the tests read these counts:
//! they are deterministic where times are not.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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
}

impl CountingStore {
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        CountingStore {
            inner,
            stats: Arc::default(),
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
        add(&self.stats.puts, 1);
        add(&self.stats.put_bytes, payload.content_length() as u64);
        let _in_flight = InFlight::start(&self.stats);
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        add(&self.stats.puts, 1);
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        add(&self.stats.gets, 1);
        let result = self.inner.get_opts(location, options).await?;
        if !result.meta.location.as_ref().is_empty() {
            add(&self.stats.get_bytes, result.range.end - result.range.start);
        }
        Ok(result)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let stats = self.stats.clone();
        use futures::StreamExt;
        let counted = locations.inspect(move |_| add(&stats.deletes, 1)).boxed();
        self.inner.delete_stream(counted)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        add(&self.stats.lists, 1);
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        add(&self.stats.lists, 1);
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        add(&self.stats.lists, 1);
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        add(&self.stats.copies, 1);
        self.inner.copy_opts(from, to, options).await
    }
}
