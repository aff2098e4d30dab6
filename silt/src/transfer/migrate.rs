//! `silt migrate`: every selected tenant, database and collection of one server (Chroma or
//! Silt) copied into another over the public API, resumable through a checkpoint file.
//!
//! Pages are read by offset in the source's order and written with upsert, and the checkpoint
//! moves only after the destination acknowledged a page: a run killed at any point and started
//! again re-sends at most the page in flight, which upsert makes harmless.

use silt_common::clock::{Clock, SystemClock};

use super::args::MigrateArgs;
use super::client::ChromaClient;
use super::destination::{Destination, Spec};
use super::error::{Result, TransferError};
use super::progress::Progress;
use super::select::{plan, Planned};
use super::state::StateFile;
use super::verify::{counts_equal, Sample};

pub async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let from = ChromaClient::new(&args.from, args.from_key.clone())?;
    let to = ChromaClient::new(&args.to, args.to_key.clone())?;
    from.heartbeat().await?;
    to.heartbeat().await?;
    let mut state = StateFile::open(args.state.as_deref(), from.url(), to.url())?;
    let planned = plan(&from, &args.select).await?;
    if planned.is_empty() {
        return Err(TransferError::Usage(format!("{}: no collection matches", from.url())).into());
    }
    let batch = effective_batch(&to, args.tuning.batch_size).await;
    let progress = Progress::new(args.tuning.quiet, planned.len() as u64);
    let clock = SystemClock;
    let started = clock.instant();
    let mut copied = 0u64;
    let mut compared = 0usize;
    for p in &planned {
        let outcome = copy_collection(&from, &to, &mut state, p, batch, &args, &progress).await?;
        copied += outcome.copied;
        compared += outcome.compared;
        progress.collection_done();
    }
    progress.finish();
    let secs = (clock.instant() - started).as_secs_f64().max(1e-9);
    println!(
        "migrated {} collections from {} to {}: {copied} records copied in {secs:.1} s \
         ({:.0} records/s); counts equal, {compared} sampled records identical",
        planned.len(),
        from.url(),
        to.url(),
        copied as f64 / secs,
    );
    Ok(())
}

/// The page size: what was asked, within what the destination takes in one write.
pub async fn effective_batch(to: &ChromaClient, asked: u64) -> u64 {
    let max = to.max_batch_size().await.unwrap_or(asked);
    asked.clamp(1, max.max(1))
}

struct Outcome {
    copied: u64,
    compared: usize,
}

async fn copy_collection(
    from: &ChromaClient,
    to: &ChromaClient,
    state: &mut StateFile,
    p: &Planned,
    batch: u64,
    args: &MigrateArgs,
    progress: &Progress,
) -> Result<Outcome> {
    let key = p.key();
    let source = &p.collection;
    if let Some(known) = state.data.collections.get(&key) {
        if !known.source_id.is_empty() && known.source_id != source.id {
            return Err(TransferError::State {
                path: key,
                reason: format!(
                    "the source collection was {} when the checkpoint was written and is {} \
                     now (deleted and created again?); start again without this state file",
                    known.source_id, source.id
                ),
            });
        }
    }
    let dest = Destination::prepare(
        to,
        state,
        &key,
        Spec {
            tenant: &p.tenant,
            database: &p.database,
            name: &source.name,
            metadata: &source.metadata,
            configuration: &source.configuration_json,
            schema: &source.schema,
        },
    )
    .await?;
    state.entry(&key).source_id = source.id.clone();
    let total = from.count(&p.tenant, &p.database, &source.id).await?;
    let entry = state.entry(&key).clone();
    progress.start_collection(&key, total, if entry.done { total } else { entry.offset });
    let mut sample = Sample::new(args.tuning.verify_sample);
    let mut copied = 0;
    if !entry.done {
        let mut offset = entry.offset;
        loop {
            let page = from
                .get_page(&p.tenant, &p.database, &source.id, offset, batch)
                .await?;
            if page.ids.is_empty() {
                break;
            }
            dest.write(&page).await?;
            let n = page.len() as u64;
            offset += n;
            copied += n;
            state.entry(&key).offset = offset;
            state.save()?;
            sample.offer(&page);
            progress.records(n);
            if n < batch {
                break;
            }
        }
        state.entry(&key).done = true;
        state.save()?;
    }
    // Also for a collection finished by an earlier run: records written to the source since
    // then are picked up by id.
    copied += fill_gaps(from, p, &dest, batch, &mut sample).await?;
    let source_now = from.count(&p.tenant, &p.database, &source.id).await?;
    counts_equal(&key, source_now, dest.count().await?)?;
    let compared = sample.check(&dest, &key).await?;
    Ok(Outcome { copied, compared })
}

/// Reading by offset assumes the source keeps its order while it is read. A server that
/// reorders records meanwhile (a Silt source compacting, writes arriving) can make pages skip
/// some: when the counts disagree, the ids missing at the destination are copied by id.
async fn fill_gaps(
    from: &ChromaClient,
    p: &Planned,
    dest: &Destination,
    batch: u64,
    sample: &mut Sample,
) -> Result<u64> {
    let source = &p.collection;
    let total = from.count(&p.tenant, &p.database, &source.id).await?;
    if dest.count().await? >= total {
        return Ok(0);
    }
    let have: std::collections::HashSet<String> = dest
        .client
        .all_ids(&dest.tenant, &dest.database, &dest.id, batch)
        .await?
        .into_iter()
        .collect();
    let missing: Vec<String> = from
        .all_ids(&p.tenant, &p.database, &source.id, batch)
        .await?
        .into_iter()
        .filter(|id| !have.contains(id))
        .collect();
    let mut copied = 0;
    for ids in missing.chunks(batch as usize) {
        let page = from
            .get_ids(&p.tenant, &p.database, &source.id, ids)
            .await?;
        dest.write(&page).await?;
        sample.offer(&page);
        copied += page.len() as u64;
    }
    Ok(copied)
}
