//! `silt import`: Parquet files written by `silt export` (one file, or a directory / object
//! store prefix with its manifest) upserted page by page into a server, resumable through the
//! same checkpoint file as `silt migrate`.

use silt_common::clock::{Clock, SystemClock};

use super::args::ImportArgs;
use super::client::ChromaClient;
use super::destination::{Destination, Spec};
use super::error::{Result, TransferError};
use super::manifest::{Manifest, FORMAT, MANIFEST};
use super::migrate::effective_batch;
use super::objects::Place;
use super::parquet_io::ParquetSource;
use super::progress::Progress;
use super::select::selected;
use super::state::StateFile;
use super::verify::{counts_equal, Sample};

pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let client = ChromaClient::new(&args.url, args.key.clone())?;
    client.heartbeat().await?;
    let (place, files) = files(&args).await?;
    if args.rename.is_some() && files.len() != 1 {
        return Err(TransferError::Usage(format!(
            "--as names one collection, but {} holds {}",
            args.from,
            files.len()
        ))
        .into());
    }
    let mut state = StateFile::open(args.state.as_deref(), &args.from, client.url())?;
    let batch = effective_batch(&client, args.tuning.batch_size).await;
    let progress = Progress::new(args.tuning.quiet, files.len() as u64);
    let clock = SystemClock;
    let started = clock.instant();
    let (mut copied, mut compared) = (0, 0);
    for file in &files {
        let (c, s) =
            import_file(&client, &place, file, &args, &mut state, batch, &progress).await?;
        copied += c;
        compared += s;
        progress.collection_done();
    }
    progress.finish();
    let secs = (clock.instant() - started).as_secs_f64().max(1e-9);
    println!(
        "imported {} collections into {}: {copied} records in {secs:.1} s ({:.0} records/s); \
         counts equal, {compared} sampled records identical",
        files.len(),
        client.url(),
        copied as f64 / secs
    );
    Ok(())
}

/// The place to read from and the files to import, in order.
async fn files(args: &ImportArgs) -> Result<(Place, Vec<String>)> {
    if args.from.ends_with(".parquet") {
        let (place, name) = Place::open_parent(&args.from, &args.store)?;
        return Ok((place, vec![name]));
    }
    let place = Place::open(&args.from, &args.store)?;
    let text = place.read(MANIFEST).await?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .ok()
        .filter(|m: &Manifest| m.format == FORMAT)
        .ok_or_else(|| TransferError::Format {
            path: place.describe(MANIFEST),
            reason: "not a manifest written by silt export".into(),
        })?;
    let files: Vec<String> = manifest
        .collections
        .into_iter()
        .filter(|e| selected(&args.collections, &e.name))
        .map(|e| e.file)
        .collect();
    if files.is_empty() {
        return Err(TransferError::Usage(format!(
            "{}: no collection matches",
            args.from
        )));
    }
    Ok((place, files))
}

async fn import_file(
    client: &ChromaClient,
    place: &Place,
    file: &str,
    args: &ImportArgs,
    state: &mut StateFile,
    batch: u64,
    progress: &Progress,
) -> Result<(u64, usize)> {
    let path = place.describe(file);
    let local = place.local_file(file).await?;
    let opened = local.open().map_err(|source| TransferError::Io {
        path: path.clone(),
        source,
    })?;
    let mut source = ParquetSource::open(opened, &path, batch as usize)?;
    let header = source.header.clone();
    let tenant = args.tenant.clone().unwrap_or(header.tenant.clone());
    let database = args.database.clone().unwrap_or(header.database.clone());
    let name = args.rename.clone().unwrap_or(header.name.clone());
    let key = format!("{tenant}/{database}/{name}");
    let dest = Destination::prepare(
        client,
        state,
        &key,
        Spec {
            tenant: &tenant,
            database: &database,
            name: &name,
            metadata: &header.metadata,
            configuration: &header.configuration,
            schema: &header.schema,
        },
    )
    .await?;
    state.entry(&key).source_id = file.to_string();
    let entry = state.entry(&key).clone();
    progress.start_collection(
        &key,
        source.records,
        if entry.done {
            source.records
        } else {
            entry.offset
        },
    );
    let mut sample = Sample::new(args.tuning.verify_sample);
    let mut copied = 0;
    if !entry.done {
        source.skip(entry.offset)?;
        let mut offset = entry.offset;
        while let Some(page) = source.next_page()? {
            dest.write(&page).await?;
            let n = page.len() as u64;
            offset += n;
            copied += n;
            state.entry(&key).offset = offset;
            state.save()?;
            sample.offer(&page);
            progress.records(n);
        }
        state.entry(&key).done = true;
        state.save()?;
    }
    counts_equal(&key, source.records, dest.count().await?)?;
    let compared = sample.check(&dest, &key).await?;
    Ok((copied, compared))
}
