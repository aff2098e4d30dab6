//! Injects latency and failures into object-store requests, for fault-injection tests and for
//! benchmarks of cold reads against an S3-like latency. Decisions are drawn from a seed and the
//! request itself, so a failing run can be replayed. A test can also stop the store answering from a chosen request
//! on (`crash_after`): what a process that dies in the middle of an operation sees.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use tokio::sync::watch;
use xxhash_rust::xxh3::xxh3_64_with_seed;

#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    pub get_latency: Duration,
    pub put_latency: Duration,
    /// Probability that a request fails before reaching the store.
    pub fail_before: f64,
    /// Probability that a PUT reaches the store and then reports failure anyway (the caller
    /// cannot tell whether it landed: the hard case for idempotence).
    pub fail_after_put: f64,
    /// Probability that a listing, or the delete of one object, fails before reaching the
    /// store.
    pub fail_list_delete: f64,
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

/// Where a simulated crash stops a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crash {
    /// The request never reaches the store.
    BeforeRequest,
    /// The request takes effect (a PUT lands, a delete deletes) but never answers.
    AfterRequest,
}

#[derive(Debug, Default)]
struct CrashState {
    /// Requests still answered before the crash, and where it stops the next one.
    armed: Option<(u64, Crash)>,
    crashed: bool,
}

/// What decides each request's fate; shared with the streams that `list` and `delete_stream`
/// return, which outlive the call.
#[derive(Debug)]
struct Faults {
    plan: FaultPlan,
    /// How many times each (kind, object) was asked for: a request's fate is drawn from the
    /// seed, the request and this count, not from the order requests arrive in, so a replay
    /// makes the same decisions even where concurrent requests interleave differently.
    asked: Mutex<HashMap<String, u64>>,
    enabled: AtomicBool,
    crash: Mutex<CrashState>,
    crashed: watch::Sender<bool>,
    /// The next PUT waits here until released (`hold_next_put`).
    hold: Mutex<Option<Arc<Hold>>>,
}

/// A PUT held back, as a paused process or a stuck connection would hold it.
#[derive(Debug)]
pub struct Hold {
    reached: watch::Sender<bool>,
    released: watch::Sender<bool>,
}

impl Hold {
    /// Resolves once the held PUT has arrived and is waiting.
    pub async fn reached(&self) {
        let mut rx = self.reached.subscribe();
        let _ = rx.wait_for(|r| *r).await;
    }

    /// Lets the held PUT go on (its fate is decided then, like any other request's).
    pub fn release(&self) {
        self.released.send_replace(true);
    }
}

/// What happens to one request.
enum Fate {
    Go,
    Fail,
    Hang,
    HangAfter,
}

impl Faults {
    fn roll(&self, p: f64, op: &str, location: &str) -> bool {
        if p <= 0.0 || !self.enabled.load(Ordering::Relaxed) {
            return false;
        }
        let request = format!("{op} {location}");
        let n = {
            let mut asked = self.asked.lock().unwrap_or_else(|e| e.into_inner());
            let n = asked.entry(request.clone()).or_default();
            *n += 1;
            *n
        };
        let h = xxh3_64_with_seed(format!("{request} #{n}").as_bytes(), self.plan.seed);
        // The top 53 bits as a uniform number in [0, 1).
        ((h >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// Whether deletes must go one by one through `fate`: only when they can fail or crash.
    fn gates_deletes(&self) -> bool {
        let crash = self.crash.lock().unwrap_or_else(|e| e.into_inner());
        self.plan.fail_list_delete > 0.0 || crash.armed.is_some() || crash.crashed
    }

    /// Decides a request's fate. A crash takes precedence: a dead process sends nothing.
    fn fate(&self, fail: f64, op: &str, location: &str) -> Fate {
        {
            let mut crash = self.crash.lock().unwrap_or_else(|e| e.into_inner());
            if crash.crashed {
                return Fate::Hang;
            }
            match crash.armed {
                Some((0, how)) => {
                    crash.armed = None;
                    crash.crashed = true;
                    self.crashed.send_replace(true);
                    return match how {
                        Crash::BeforeRequest => Fate::Hang,
                        Crash::AfterRequest => Fate::HangAfter,
                    };
                }
                Some((n, how)) => crash.armed = Some((n - 1, how)),
                None => {}
            }
        }
        if self.roll(fail, op, location) {
            Fate::Fail
        } else {
            Fate::Go
        }
    }

    /// Waits the latency, then returns whether the request may go on; never returns for a
    /// request the crash stopped before it reached the store.
    async fn before(&self, latency: Duration, fail: f64, op: &str, location: &str) -> Result<bool> {
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        match self.fate(fail, op, location) {
            Fate::Go => Ok(true),
            Fate::Fail => Err(injected(op)),
            Fate::Hang => std::future::pending().await,
            Fate::HangAfter => Ok(false),
        }
    }
}

#[derive(Debug)]
pub struct FaultyStore {
    inner: Arc<dyn ObjectStore>,
    faults: Arc<Faults>,
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn ObjectStore>, plan: FaultPlan) -> Self {
        let faults = Arc::new(Faults {
            plan,
            asked: Mutex::default(),
            enabled: AtomicBool::new(true),
            crash: Mutex::default(),
            crashed: watch::Sender::new(false),
            hold: Mutex::default(),
        });
        FaultyStore { inner, faults }
    }

    /// Turns the plan's random failures off (a calm period) or back on. Latency still applies.
    pub fn set_faults_enabled(&self, enabled: bool) {
        self.faults.enabled.store(enabled, Ordering::Relaxed);
    }

    /// The process using this store dies at its `requests`-th request from now (0: the next):
    /// that request and every later one never answer, until `restart`.
    pub fn crash_after(&self, requests: u64, how: Crash) {
        let mut crash = self.faults.crash.lock().unwrap_or_else(|e| e.into_inner());
        crash.armed = Some((requests, how));
    }

    /// Resolves once a crash armed by `crash_after` has happened.
    pub async fn crashed(&self) {
        let mut rx = self.faults.crashed.subscribe();
        // The sender lives in `self`, so the channel cannot close while this waits.
        let _ = rx.wait_for(|crashed| *crashed).await;
    }

    /// Holds the next PUT, whatever its key, until the returned handle releases it.
    pub fn hold_next_put(&self) -> Arc<Hold> {
        let hold = Arc::new(Hold {
            reached: watch::Sender::new(false),
            released: watch::Sender::new(false),
        });
        *self.faults.hold.lock().unwrap_or_else(|e| e.into_inner()) = Some(hold.clone());
        hold
    }

    /// A new process on the same store: requests answer again and nothing is armed. Requests
    /// the crash stopped stay stopped; they belonged to the dead process.
    pub fn restart(&self) {
        let mut crash = self.faults.crash.lock().unwrap_or_else(|e| e.into_inner());
        *crash = CrashState::default();
        self.faults.crashed.send_replace(false);
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
        let hold = self
            .faults
            .hold
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(hold) = hold {
            hold.reached.send_replace(true);
            let mut released = hold.released.subscribe();
            let _ = released.wait_for(|r| *r).await;
        }
        let plan = &self.faults.plan;
        let answers = self
            .faults
            .before(plan.put_latency, plan.fail_before, "put", location.as_ref())
            .await?;
        if let Some(disk) = &plan.disk {
            disk.reserve(location, payload.content_length())?;
        }
        let result = self.inner.put_opts(location, payload, opts).await?;
        if !answers {
            return std::future::pending().await;
        }
        if self
            .faults
            .roll(plan.fail_after_put, "put (after write)", location.as_ref())
        {
            return Err(injected("put (after write)"));
        }
        Ok(result)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        let plan = &self.faults.plan;
        let answers = self
            .faults
            .before(
                plan.put_latency,
                plan.fail_before,
                "put_multipart",
                location.as_ref(),
            )
            .await?;
        let upload = self.inner.put_multipart_opts(location, opts).await;
        if !answers {
            return std::future::pending().await;
        }
        upload
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let plan = &self.faults.plan;
        if !self
            .faults
            .before(plan.get_latency, plan.fail_before, "get", location.as_ref())
            .await?
        {
            return std::future::pending().await;
        }
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        if !self.faults.gates_deletes() {
            // Passed through whole (S3 deletes in batches), as before deletes could fail.
            let deleted = self.inner.delete_stream(locations);
            return match self.faults.plan.disk.clone() {
                None => deleted,
                Some(disk) => deleted
                    .inspect(move |r| {
                        if let Ok(path) = r {
                            disk.free(path);
                        }
                    })
                    .boxed(),
            };
        }
        // One object at a time, so that each delete meets its own fate.
        let (inner, faults) = (self.inner.clone(), self.faults.clone());
        locations
            .then(move |location| {
                let (inner, faults) = (inner.clone(), faults.clone());
                async move {
                    let location = location?;
                    let plan = &faults.plan;
                    let answers = faults
                        .before(
                            Duration::ZERO,
                            plan.fail_list_delete,
                            "delete",
                            location.as_ref(),
                        )
                        .await?;
                    let one = futures::stream::iter([Ok(location)]).boxed();
                    let deleted = inner.delete_stream(one).next().await;
                    if !answers {
                        return std::future::pending().await;
                    }
                    let deleted = deleted.unwrap_or_else(|| Err(injected("delete (no answer)")));
                    if let (Ok(path), Some(disk)) = (&deleted, &plan.disk) {
                        disk.free(path);
                    }
                    deleted
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.gated_list(prefix, None)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.gated_list(prefix, Some(offset))
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let plan = &self.faults.plan;
        if !self
            .faults
            .before(
                plan.get_latency,
                plan.fail_before,
                "list",
                prefix.map_or("", |p| p.as_ref()),
            )
            .await?
        {
            return std::future::pending().await;
        }
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        let plan = &self.faults.plan;
        let answers = self
            .faults
            .before(plan.put_latency, plan.fail_before, "copy", from.as_ref())
            .await?;
        let copied = self.inner.copy_opts(from, to, options).await;
        if !answers {
            return std::future::pending().await;
        }
        copied
    }
}

impl FaultyStore {
    /// A listing that meets its fate when first polled, as a request to S3 would (without the
    /// plan's latency, which models GETs and PUTs).
    fn gated_list(
        &self,
        prefix: Option<&Path>,
        offset: Option<&Path>,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let (inner, faults) = (self.inner.clone(), self.faults.clone());
        let (prefix, offset) = (prefix.cloned(), offset.cloned());
        futures::stream::once(async move {
            let plan = &faults.plan;
            match faults
                .before(
                    Duration::ZERO,
                    plan.fail_list_delete,
                    "list",
                    prefix.as_ref().map_or("", |p| p.as_ref()),
                )
                .await
            {
                // A listing that would answer after the crash never answers at all.
                Ok(true) => match &offset {
                    Some(offset) => inner.list_with_offset(prefix.as_ref(), offset),
                    None => inner.list(prefix.as_ref()),
                },
                Ok(false) => futures::stream::pending().boxed(),
                Err(e) => futures::stream::iter([Err(e)]).boxed(),
            }
        })
        .flatten()
        .boxed()
    }
}
