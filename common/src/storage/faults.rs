//! Injects latency and failures into object-store requests, for fault-injection tests and for
//! benchmarks of cold reads against an S3-like latency. Decisions come from a seeded RNG so a
//! failing run can be replayed.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Mutex;

#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    pub get_latency: Duration,
    pub put_latency: Duration,
    /// Probability that a request fails before reaching the store.
    pub fail_before: f64,
    /// Probability that a PUT reaches the store and then reports failure anyway (the caller
    /// cannot tell whether it landed: the hard case for idempotence).
    pub fail_after_put: f64,
    pub seed: u64,
    /// A disk of bounded size under the store: a PUT that does not fit fails as a full disk
    /// does, and deletes give the space back.
    pub disk: Option<Arc<DiskSpace>>,
}

/// The space of a small disk, shared by every store wrapper over it, that a test can fill and
/// free (`set_capacity`) while the system runs.
#[derive(Debug, Default)]
pub struct DiskSpace {
    state: std::sync::Mutex<DiskState>,
}

#[derive(Debug, Default)]
struct DiskState {
    capacity: usize,
    used: std::collections::HashMap<Path, usize>,
    writes: u64,
}

impl DiskSpace {
    pub fn new(capacity: usize) -> Arc<DiskSpace> {
        let space = DiskSpace::default();
        space.set_capacity(capacity);
        Arc::new(space)
    }

    /// What an operator does when they free (or a test when it takes) space.
    pub fn set_capacity(&self, capacity: usize) {
        self.lock().capacity = capacity;
    }

    /// Bytes held by objects written through the wrappers and not deleted.
    pub fn used(&self) -> usize {
        self.lock().used.values().sum()
    }

    /// Objects written so far (deleted ones included).
    pub fn writes(&self) -> u64 {
        self.lock().writes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DiskState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn reserve(&self, location: &Path, bytes: usize) -> Result<()> {
        let mut state = self.lock();
        let used: usize = state.used.values().sum();
        if used + bytes > state.capacity {
            return Err(object_store::Error::Generic {
                store: "FaultyStore",
                source: format!("writing {location}: No space left on device (os error 28)").into(),
            });
        }
        state.used.insert(location.clone(), bytes);
        state.writes += 1;
        Ok(())
    }

    fn free(&self, location: &Path) {
        self.lock().used.remove(location);
    }
}

#[derive(Debug)]
pub struct FaultyStore {
    inner: Arc<dyn ObjectStore>,
    plan: FaultPlan,
    rng: Mutex<StdRng>,
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn ObjectStore>, plan: FaultPlan) -> Self {
        let rng = Mutex::new(StdRng::seed_from_u64(plan.seed));
        FaultyStore { inner, plan, rng }
    }

    async fn roll(&self, p: f64) -> bool {
        p > 0.0 && self.rng.lock().await.random_bool(p.min(1.0))
    }

    async fn before(&self, latency: Duration, op: &str) -> Result<()> {
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if self.roll(self.plan.fail_before).await {
            return Err(injected(op));
        }
        Ok(())
    }
}

fn injected(op: &str) -> object_store::Error {
    object_store::Error::Generic {
        store: "FaultyStore",
        source: format!("injected failure in {op}").into(),
    }
}

impl fmt::Display for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Faulty({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for FaultyStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.before(self.plan.put_latency, "put").await?;
        if let Some(disk) = &self.plan.disk {
            disk.reserve(location, payload.content_length())?;
        }
        let result = self.inner.put_opts(location, payload, opts).await?;
        if self.roll(self.plan.fail_after_put).await {
            return Err(injected("put (after write)"));
        }
        Ok(result)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.before(self.plan.put_latency, "put_multipart").await?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.before(self.plan.get_latency, "get").await?;
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let deleted = self.inner.delete_stream(locations);
        match self.plan.disk.clone() {
            None => deleted,
            Some(disk) => Box::pin(futures::StreamExt::inspect(deleted, move |r| {
                if let Ok(path) = r {
                    disk.free(path);
                }
            })),
        }
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.before(self.plan.get_latency, "list").await?;
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.before(self.plan.put_latency, "copy").await?;
        self.inner.copy_opts(from, to, options).await
    }
}
