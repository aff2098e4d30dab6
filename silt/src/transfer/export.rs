//! `silt export`: collections read page by page over the HTTP API into Parquet files, locally
//! or on an object store, one file per collection (plus a manifest for more than one).

use silt_common::clock::{Clock, SystemClock};

use super::args::ExportArgs;
use super::client::ChromaClient;
use super::error::{Result, TransferError};
use super::layout::{CollectionHeader, FORMAT_VERSION};
use super::manifest::{file_name, Manifest, ManifestEntry, FORMAT, MANIFEST};
use super::objects::Place;
use super::parquet_io::ParquetSink;
use super::progress::Progress;
use super::select::{plan, Planned};

pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let client = ChromaClient::new(&args.url, args.key.clone())?;
    client.heartbeat().await?;
    let planned = plan(&client, &args.select).await?;
    if planned.is_empty() {
        return Err(
            TransferError::Usage(format!("{}: no collection matches", client.url())).into(),
        );
    }
    let single_file = args.out.ends_with(".parquet");
    if single_file && planned.len() != 1 {
        return Err(TransferError::Usage(format!(
            "{} collections match, but {} names one file: give a directory (or s3:// prefix) \
             to export several",
            planned.len(),
            args.out
        ))
        .into());
    }
    let (place, single_name) = match single_file {
        true => {
            let (place, name) = Place::open_parent(&args.out, &args.store)?;
            (place, Some(name))
        }
        false => (Place::open(&args.out, &args.store)?, None),
    };
    let progress = Progress::new(args.tuning.quiet, planned.len() as u64);
    let clock = SystemClock;
    let started = clock.instant();
    let mut entries = Vec::new();
    for p in &planned {
        let file = single_name
            .clone()
            .unwrap_or_else(|| file_name(&p.tenant, &p.database, &p.collection.name));
        let (records, bytes) =
            export_collection(&client, p, &place, &file, args.tuning.batch_size, &progress).await?;
        entries.push(ManifestEntry {
            tenant: p.tenant.clone(),
            database: p.database.clone(),
            name: p.collection.name.clone(),
            file,
            records,
            bytes,
        });
        progress.collection_done();
    }
    if single_name.is_none() {
        let manifest = Manifest {
            format: FORMAT.to_string(),
            format_version: FORMAT_VERSION,
            source: client.url().to_string(),
            collections: entries.clone(),
        };
        let text = serde_json::to_vec_pretty(&manifest).map_err(|e| TransferError::Format {
            path: place.describe(MANIFEST),
            reason: e.to_string(),
        })?;
        place.put(MANIFEST, text).await?;
    }
    progress.finish();
    let secs = (clock.instant() - started).as_secs_f64().max(1e-9);
    let records: u64 = entries.iter().map(|e| e.records).sum();
    let bytes: u64 = entries.iter().map(|e| e.bytes).sum();
    println!(
        "exported {} collections, {records} records, {bytes} bytes to {} in {secs:.1} s \
         ({:.0} records/s)",
        entries.len(),
        args.out,
        records as f64 / secs
    );
    Ok(())
}

async fn export_collection(
    client: &ChromaClient,
    p: &Planned,
    place: &Place,
    file: &str,
    batch: u64,
    progress: &Progress,
) -> Result<(u64, u64)> {
    let c = &p.collection;
    let total = client.count(&p.tenant, &p.database, &c.id).await?;
    progress.start_collection(&p.key(), total, 0);
    let header = CollectionHeader {
        format_version: FORMAT_VERSION,
        tenant: p.tenant.clone(),
        database: p.database.clone(),
        name: c.name.clone(),
        id: c.id.clone(),
        metadata: c.metadata.clone(),
        configuration: c.configuration_json.clone(),
        schema: c.schema.clone(),
        dimension: c.dimension,
    };
    let mut sink = ParquetSink::new(&header, place.writer(file).await?)?;
    let written = copy_pages(client, p, batch.max(1), &mut sink, progress).await;
    if let Err(e) = written {
        sink.abort().await;
        return Err(e);
    }
    let (rows, bytes) = sink.finish().await?;
    let now = client.count(&p.tenant, &p.database, &c.id).await?;
    if rows != total || now != total {
        return Err(TransferError::Verify(format!(
            "{}: {rows} records exported, but the collection counted {total} at the start and \
             {now} at the end (written to meanwhile?)",
            p.key()
        )));
    }
    Ok((rows, bytes))
}

async fn copy_pages(
    client: &ChromaClient,
    p: &Planned,
    batch: u64,
    sink: &mut ParquetSink,
    progress: &Progress,
) -> Result<()> {
    let mut offset = 0;
    loop {
        let page = client
            .get_page(&p.tenant, &p.database, &p.collection.id, offset, batch)
            .await?;
        let n = page.len() as u64;
        if n > 0 {
            sink.write(&page).await?;
        }
        offset += n;
        progress.records(n);
        if n < batch {
            return Ok(());
        }
    }
}
