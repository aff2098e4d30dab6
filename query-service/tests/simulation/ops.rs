//! One seed's run: the operations, their checks against the model, and the final settle.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use silt_common::clock::Clock;
use silt_common::keys::collection_prefix;
use silt_common::record::{MetadataValue, Operation, OperationRecord};
use silt_common::storage::{Crash, FaultPlan};
use silt_common::SiltResult;
use silt_compactor::Outcome as Compacted;
use silt_index::format::version_dir_of;
use silt_log_service::{AppendReceipt, LogService};
use silt_query_service::Include;

use crate::model::{Model, MAX_OPEN};

/// Possible states past which the simulation reads everything to tell them apart.
const MAX_CANDIDATES: usize = 64;
use crate::pause::{summary, Paused};
use crate::world::{World, GRACE, LOG_NODES};

const STEPS: usize = 70;
pub const IDS: usize = 16;
pub const DIM: usize = 4;
pub const ALL: Include = Include {
    embeddings: true,
    documents: true,
    metadatas: true,
    uris: true,
};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    pub writes_acked: u64,
    pub writes_failed: u64,
    pub checked_reads: u64,
    pub failed_reads: u64,
    pub compactions: u64,
    pub failed_compactions: u64,
    pub crashes: u64,
    pub restarts: u64,
    pub gc_deleted: u64,
    pub injected_failures: u64,
    pub paused_writes: u64,
    pub evictions: u64,
}

impl Stats {
    pub fn add(&mut self, o: &Stats) {
        self.writes_acked += o.writes_acked;
        self.writes_failed += o.writes_failed;
        self.checked_reads += o.checked_reads;
        self.failed_reads += o.failed_reads;
        self.compactions += o.compactions;
        self.failed_compactions += o.failed_compactions;
        self.crashes += o.crashes;
        self.restarts += o.restarts;
        self.gc_deleted += o.gc_deleted;
        self.injected_failures += o.injected_failures;
        self.paused_writes += o.paused_writes;
        self.evictions += o.evictions;
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "writes {} acknowledged / {} failed, {} reads checked ({} failed), {} versions registered ({} compactions failed), {} crashes, {} node restarts, {} objects collected, {} store requests failed by injection, {} writes paused in their PUT, {} idle collections evicted from a log node",
            self.writes_acked,
            self.writes_failed,
            self.checked_reads,
            self.failed_reads,
            self.compactions,
            self.failed_compactions,
            self.crashes,
            self.restarts,
            self.gc_deleted,
            self.injected_failures,
            self.paused_writes,
            self.evictions
        )
    }
}

pub struct Outcome {
    pub stats: Stats,
    /// Every store request and simulation step, in order.
    pub trace: Vec<String>,
}

pub struct Sim {
    pub w: World,
    pub rng: StdRng,
    pub model: Model,
    pub stats: Stats,
    pub step: usize,
    /// The log node calls go to this step.
    pub node: usize,
    pub paused: Option<Paused>,
}

/// The seed's fault plan: some seeds calm, most faulty, a few very faulty.
fn plan(seed: u64, rng: &mut StdRng) -> FaultPlan {
    let level = [0.0, 0.02, 0.05, 0.12][rng.random_range(0..4)];
    FaultPlan {
        fail_before: level,
        fail_after_put: level / 2.0,
        fail_list_delete: level / 2.0,
        seed: seed ^ 0x5eed_fa17,
        ..FaultPlan::default()
    }
}

pub async fn run_seed(seed: u64) -> Result<Outcome, String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let plan = plan(seed, &mut rng);
    let w = World::new(seed, plan).await;
    let mut sim = Sim {
        w,
        rng,
        model: Model::new(),
        stats: Stats::default(),
        step: 0,
        node: 0,
        paused: None,
    };
    let result = sim.run().await;
    let trace = sim.w.trace.take();
    sim.stats.injected_failures = trace
        .iter()
        .filter(|e| e.ends_with(": error") || e.ends_with("delete: error"))
        .count() as u64;
    match result {
        Ok(()) => Ok(Outcome {
            stats: sim.stats,
            trace,
        }),
        Err(e) => {
            // SILT_SIM_TRACE=1 shows the store requests between the steps too.
            let all = std::env::var_os("SILT_SIM_TRACE").is_some();
            let steps: Vec<&String> = trace.iter().filter(|e| all || e.starts_with('#')).collect();
            let recent = steps[steps.len().saturating_sub(if all { 150 } else { 25 })..]
                .iter()
                .map(|s| format!("  {s}"))
                .collect::<Vec<_>>()
                .join("\n");
            Err(format!("{e}\nlast steps:\n{recent}"))
        }
    }
}

impl Sim {
    pub fn note(&self, event: String) {
        self.w.trace.push(format!("#{} {event}", self.step));
    }

    async fn run(&mut self) -> Result<(), String> {
        for step in 0..STEPS {
            self.step = step;
            // Long jumps let grace periods pass; more of them while a writer is paused, so
            // that what it was about to write is compacted and collected before it resumes.
            let jumps = if self.paused.is_some() { 0.4 } else { 0.1 };
            let ms = if self.rng.random_bool(jumps) {
                self.rng.random_range(1_000..8_000)
            } else {
                self.rng.random_range(0..400)
            };
            self.w.clock.advance(Duration::from_millis(ms));
            self.resume(false).await;
            let random = self.rng.random_range(0..LOG_NODES);
            self.pick_node(random);
            // Too many undecided writes make the model's candidates explode: calm down until
            // a write is acknowledged.
            self.w
                .faulty
                .set_faults_enabled(self.model.open_writes() < MAX_OPEN);
            if self.model.candidate_count() > MAX_CANDIDATES && self.paused.is_none() {
                // Writes nobody has read since leave many possible states, each a copy: one
                // read without faults tells them apart (it is checked like any other).
                self.w.faulty.set_faults_enabled(false);
                self.note("calm read: too many possible states".into());
                self.read_everything().await?;
            }
            // While a writer is paused, half the steps are what makes it stale: the other
            // node writing its offsets, compactions covering them, collections deleting them.
            if self.paused.is_some() && self.rng.random_bool(0.5) {
                match self.rng.random_range(0..3) {
                    0 => self.write().await,
                    1 => self.compact().await?,
                    _ => self.collect().await?,
                }
                continue;
            }
            match self.rng.random_range(0..100) {
                0..=29 => self.write().await,
                30..=34 => self.pause_write().await,
                35..=64 => self.read().await?,
                65..=76 => self.compact().await?,
                77..=83 => self.collect().await?,
                84..=87 => {
                    let i = self.rng.random_range(0..LOG_NODES);
                    self.note(format!("restart log node {i}"));
                    self.abandon_pause(Some(i));
                    self.w.restart_log(i);
                    self.stats.restarts += 1;
                }
                88..=89 => {
                    self.note("restart query node".into());
                    self.w.restart_query().await;
                    self.stats.restarts += 1;
                }
                _ => self.crash().await?,
            }
        }
        self.settle().await
    }

    /// Runs `op` until it finishes or the store "crashes" under it; `None` for a crash, after
    /// which the whole process is rebuilt.
    async fn guarded<T>(&mut self, op: impl Future<Output = T>) -> Option<T> {
        let faulty = self.w.faulty.clone();
        let r = tokio::select! {
            biased;
            _ = faulty.crashed() => None,
            r = op => Some(r),
        };
        if r.is_none() {
            self.note("crash: the process stops and restarts".into());
            self.process_died().await;
        }
        r
    }

    async fn crash(&mut self) -> Result<(), String> {
        let after = self.rng.random_range(0..6);
        if self.model.open_writes() >= MAX_OPEN {
            // Calm, as for injected failures: a crash could leave yet another write undecided.
            self.write().await;
            return Ok(());
        }
        let how = if self.rng.random_bool(0.5) {
            Crash::BeforeRequest
        } else {
            Crash::AfterRequest
        };
        self.note(format!("arm crash at request {after} ({how:?})"));
        self.w.faulty.crash_after(after, how);
        // Writes and compactions only: they make their requests one after another, so "the
        // n-th request" is the same one in every run. A read asks for the version and the
        // tail concurrently, and which comes first depends on when the catalog (on its own
        // threads) answers.
        let r = if self.rng.random_bool(0.5) {
            self.write().await;
            Ok(())
        } else {
            self.compact().await
        };
        // Disarm if the operation finished first.
        self.w.faulty.restart();
        r
    }

    fn random_op(&mut self) -> OperationRecord {
        let rng = &mut self.rng;
        let id = format!("id-{:02}", rng.random_range(0..IDS));
        let operation = match rng.random_range(0..10) {
            0..=3 => Operation::Add,
            4..=5 => Operation::Upsert,
            6..=7 => Operation::Update,
            _ => Operation::Delete,
        };
        if operation == Operation::Delete {
            return OperationRecord::delete(id);
        }
        // Small integers: distances are exact in f32, so KNN ties are exact too.
        let embedding = (operation != Operation::Update || rng.random_bool(0.5))
            .then(|| (0..DIM).map(|_| rng.random_range(-4i8..4) as f32).collect());
        let mut metadata = std::collections::BTreeMap::new();
        if rng.random_bool(0.7) {
            let v = rng.random_range(0..5);
            metadata.insert("n".to_string(), Some(MetadataValue::Int(v)));
        }
        if rng.random_bool(0.2) {
            metadata.insert("n".to_string(), None);
        }
        if rng.random_bool(0.3) {
            let s = ["x", "y"][rng.random_range(0..2)].to_string();
            metadata.insert("s".to_string(), Some(MetadataValue::Str(s)));
        }
        OperationRecord {
            id,
            operation,
            embedding,
            document: rng
                .random_bool(0.5)
                .then(|| format!("doc {}", rng.random_range(0..100))),
            metadata: (!metadata.is_empty()).then_some(metadata),
            uri: None,
        }
    }

    pub async fn process_died(&mut self) {
        self.stats.crashes += 1;
        self.abandon_pause(None);
        self.w.restart_all().await;
    }

    pub fn random_batch(&mut self) -> Vec<OperationRecord> {
        let n = self.rng.random_range(1..=4);
        (0..n).map(|_| self.random_op()).collect()
    }

    pub async fn write(&mut self) {
        let batch = self.random_batch();
        let (logs, c) = (self.w.logs.clone(), self.w.collection);
        let r = self.guarded(logs.append(c, batch.clone())).await;
        self.written(batch, r);
    }

    /// Records a write's answer (`None`: the process crashed under it) in the model.
    pub fn written(&mut self, batch: Vec<OperationRecord>, r: Option<SiltResult<AppendReceipt>>) {
        let summary = summary(&batch);
        match r {
            Some(Ok(receipt)) => {
                self.note(format!("write {summary}: ok {receipt:?}"));
                self.stats.writes_acked += 1;
                self.model.acknowledged(&batch);
            }
            Some(Err(e)) => {
                self.note(format!("write {summary}: {}", e.kind.name()));
                self.stats.writes_failed += 1;
                self.model.failed(batch);
            }
            None => {
                self.note(format!("write {summary}: crashed"));
                self.stats.writes_failed += 1;
                self.model.failed(batch);
            }
        }
    }

    async fn compact(&mut self) -> Result<(), String> {
        if self.rng.random_bool(0.4) {
            return self.scheduled_round().await;
        }
        let c = self.w.collection;
        let r = select_crash(&self.w.faulty, self.w.compactor.compact(c)).await;
        match r {
            None => {
                self.note("compact: crashed".into());
                self.process_died().await;
            }
            Some(Ok(outcome)) => {
                self.note(format!("compact: {outcome:?}"));
                if matches!(outcome, Compacted::Registered { .. }) {
                    self.stats.compactions += 1;
                }
            }
            Some(Err(e)) => {
                self.note(format!("compact: failed ({e})"));
                self.stats.failed_compactions += 1;
            }
        }
        Ok(())
    }

    /// One round of the scheduler: compacts the collection only once its tail is long or old
    /// enough by the simulated clock, or not while it backs off after failures.
    async fn scheduled_round(&mut self) -> Result<(), String> {
        let r = select_crash(&self.w.faulty, self.w.compactor.run_once()).await;
        match r {
            None => {
                self.note("scheduled round: crashed".into());
                self.process_died().await;
            }
            Some(Ok(n)) => {
                self.note(format!("scheduled round: {n} registered"));
                self.stats.compactions += n as u64;
            }
            Some(Err(e)) => {
                self.note(format!("scheduled round: failed ({e})"));
                self.stats.failed_compactions += 1;
            }
        }
        Ok(())
    }

    async fn collect(&mut self) -> Result<(), String> {
        let now = self.w.clock.instant();
        for i in 0..LOG_NODES {
            let log = self.w.logs.node(i);
            let evicted = log.evict_idle();
            self.stats.evictions += evicted as u64;
            let r = log.collect_garbage(now).await;
            self.note(format!(
                "log {i} gc: {r:?}, {evicted} idle collections evicted"
            ));
            if let Ok(n) = r {
                self.stats.gc_deleted += n as u64;
            }
        }
        let now_ms = self.w.clock.now_ms();
        let r = self.w.compactor.collect_garbage(now_ms).await;
        self.note(format!("compactor gc: {r:?}"));
        if let Ok(n) = r {
            self.stats.gc_deleted += n as u64;
        }
        Ok(())
    }

    /// Faults off: everything must compact, read back as the model says, and after the grace
    /// period only the current version's directory may remain.
    async fn settle(&mut self) -> Result<(), String> {
        self.step = STEPS;
        self.w.faulty.set_faults_enabled(false);
        self.resume(true).await;
        self.w.faulty.restart();
        let c = self.w.collection;
        for round in 0.. {
            let outcome = self
                .w
                .compactor
                .compact(c)
                .await
                .map_err(|e| format!("settle: a compaction without faults failed: {e}"))?;
            self.note(format!("settle compact: {outcome:?}"));
            if outcome == Compacted::NothingToDo {
                break;
            }
            if round > 3 {
                return Err("settle: compaction never caught up".into());
            }
        }
        for _ in 0..2 {
            self.w.clock.advance(GRACE * 2);
            self.collect().await?;
        }
        self.read_everything().await?;
        // Only the current version is left: superseded versions and abandoned attempts (of
        // crashed or failed compactions) were collected.
        let collection = self
            .w
            .sysdb
            .get_collection(c)
            .await
            .map_err(|e| e.to_string())?;
        let current = collection.manifest.as_deref().map(version_dir_of);
        let prefix = object_store::path::Path::from(collection_prefix(c));
        let keys: Vec<String> = futures::TryStreamExt::try_collect::<Vec<_>>(
            object_store::ObjectStore::list(self.w.memory.as_ref(), Some(&prefix)),
        )
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|m| m.location.to_string())
        .collect();
        let stray: Vec<&String> = keys
            .iter()
            .filter(|k| k.contains("/v/"))
            .filter(|k| {
                current
                    .as_ref()
                    .is_none_or(|dir| !k.starts_with(&format!("{dir}/")))
            })
            .collect();
        if !stray.is_empty() {
            return Err(format!(
                "settle: objects of no current version remain after the grace period: {stray:?}"
            ));
        }
        // Everything is compacted: after the grace period no log fragment holding only
        // compacted records may remain, whichever node (dead or alive) wrote it.
        let mut kept = Vec::new();
        for key in keys.iter().filter(|k| k.contains("/log/")) {
            let path = object_store::path::Path::from(key.as_str());
            let bytes = object_store::ObjectStoreExt::get(self.w.memory.as_ref(), &path)
                .await
                .map_err(|e| e.to_string())?
                .bytes()
                .await
                .map_err(|e| e.to_string())?;
            let fragment = silt_log_service::decode_fragment(&bytes, c)
                .map_err(|e| format!("settle: {key}: {e}"))?;
            if fragment.last_offset() <= collection.compacted_offset {
                kept.push(format!(
                    "{}..={}",
                    fragment.first_offset,
                    fragment.last_offset()
                ));
            }
        }
        if !kept.is_empty() {
            return Err(format!(
                "settle: compacted log fragments remain after the grace period (compacted offset {}): {kept:?}",
                collection.compacted_offset
            ));
        }
        Ok(())
    }
}

/// Runs a read or compaction until it finishes or the store crashes under it.
pub async fn select_crash<T>(
    faulty: &silt_common::storage::FaultyStore,
    op: impl Future<Output = T>,
) -> Option<T> {
    tokio::select! {
        biased;
        _ = faulty.crashed() => None,
        r = op => Some(r),
    }
}
