//! Reading a whole version at once: what the compactor does to build the next one. Queries read
//! by range instead (query-service).

use object_store::{ObjectStore, ObjectStoreExt};

use bytes::Bytes;
use object_store::path::Path;

use super::clusters::decode_cluster;
use super::coded::decode_coded_cluster;
use super::{
    bundle_head, is_bundle_key, version_dir_of, Head, CLUSTERS_FILE, HEAD_FILE, VECTORS_FILE,
};
use silt_common::codec::{f32s_from_le, DecodeError};
use silt_common::record::Record;

#[derive(Debug, thiserror::Error)]
pub enum VersionReadError {
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error("version object {key} is corrupt: {source}")]
    Corrupt { key: String, source: DecodeError },
}

pub async fn read_head(
    store: &dyn ObjectStore,
    manifest_key: &str,
) -> Result<Head, VersionReadError> {
    Ok(read_head_and_bundle(store, manifest_key).await?.0)
}

/// The head, and the whole object when the version is a bundle (its files are then ranges of
/// those bytes, already read).
async fn read_head_and_bundle(
    store: &dyn ObjectStore,
    manifest_key: &str,
) -> Result<(Head, Option<Bytes>), VersionReadError> {
    let bundled = is_bundle_key(manifest_key);
    let key = if bundled {
        Path::from(manifest_key)
    } else {
        version_dir_of(manifest_key).join(HEAD_FILE)
    };
    let corrupt = |source| VersionReadError::Corrupt {
        key: key.to_string(),
        source,
    };
    let bytes = store.get(&key).await?.bytes().await?;
    let head_bytes = if bundled {
        bundle_head(&bytes).map_err(corrupt)?
    } else {
        &bytes[..]
    };
    let head = Head::decode(head_bytes).map_err(corrupt)?;
    Ok((head, bundled.then_some(bytes)))
}

/// Every record of a version in ordinal order, with the cluster each one is in.
pub struct VersionContents {
    pub head: Head,
    pub records: Vec<Record>,
    pub cluster_of: Vec<u32>,
}

pub async fn read_all_records(
    store: &dyn ObjectStore,
    manifest_key: &str,
) -> Result<VersionContents, VersionReadError> {
    let (head, bundle) = read_head_and_bundle(store, manifest_key).await?;
    let dir = version_dir_of(manifest_key);
    let n = head.record_count() as usize;
    let dimension = head.dimension();
    let mut slots: Vec<Option<(Record, u32)>> = vec![None; n];
    if n > 0 {
        let file = |name: &'static str| read_file(store, &head, &dir, bundle.as_ref(), name);
        let (key, bytes) = file(CLUSTERS_FILE).await?;
        let corrupt = |source| VersionReadError::Corrupt {
            key: key.to_string(),
            source,
        };
        let vectors = match head.manifest.index.quantization {
            Some(_) => Some(file(VECTORS_FILE).await?),
            None => None,
        };
        let mut place = |ordinal: u32, record: Record, c: usize| {
            let slot = slots.get_mut(ordinal as usize).ok_or_else(|| {
                corrupt(DecodeError::Invalid(format!(
                    "ordinal {ordinal} out of range"
                )))
            })?;
            *slot = Some((record, c as u32));
            Ok::<_, VersionReadError>(())
        };
        for (c, cluster) in head.clusters.iter().enumerate() {
            let block = bytes
                .get(cluster.offset as usize..(cluster.offset + cluster.len) as usize)
                .ok_or_else(|| corrupt(DecodeError::Invalid("cluster outside the file".into())))?;
            let block = bytes.slice_ref(block);
            match &vectors {
                None => {
                    let rows = decode_cluster(block, dimension).map_err(corrupt)?;
                    for i in 0..rows.len() {
                        let payload = rows.payload(i).map_err(corrupt)?;
                        place(rows.ordinals[i], payload.into_record(rows.vector(i)), c)?;
                    }
                }
                Some((vectors_key, vectors)) => {
                    let rows = decode_coded_cluster(block, dimension).map_err(corrupt)?;
                    for i in 0..rows.len() {
                        let payload = rows.payload(i).map_err(corrupt)?;
                        let range = rows.vector_range(i);
                        let vector = vectors
                            .get(range.start as usize..range.end as usize)
                            .ok_or_else(|| VersionReadError::Corrupt {
                                key: vectors_key.to_string(),
                                source: DecodeError::Invalid("vector outside the file".into()),
                            })?;
                        place(
                            rows.ordinals[i],
                            payload.into_record(f32s_from_le(vector)),
                            c,
                        )?;
                    }
                }
            }
        }
    }
    let corrupt = |source| VersionReadError::Corrupt {
        key: manifest_key.to_string(),
        source,
    };
    let mut records = Vec::with_capacity(n);
    let mut cluster_of = Vec::with_capacity(n);
    for (ordinal, slot) in slots.into_iter().enumerate() {
        let (r, c) = slot.ok_or_else(|| {
            corrupt(DecodeError::Invalid(format!(
                "no record has ordinal {ordinal}"
            )))
        })?;
        records.push(r);
        cluster_of.push(c);
    }
    Ok(VersionContents {
        head,
        records,
        cluster_of,
    })
}

/// File `name` of the version: a slice of its bundle, or its own object.
async fn read_file(
    store: &dyn ObjectStore,
    head: &Head,
    dir: &Path,
    bundle: Option<&Bytes>,
    name: &'static str,
) -> Result<(Path, Bytes), VersionReadError> {
    let (key, base) = head.manifest.locate(dir, name);
    match bundle {
        Some(bundle) => {
            let size = head.manifest.file_size(name).unwrap_or(0);
            let range = base as usize..(base + size) as usize;
            if range.end > bundle.len() {
                return Err(VersionReadError::Corrupt {
                    key: key.to_string(),
                    source: DecodeError::Invalid(format!("{name} outside the bundle")),
                });
            }
            Ok((key, bundle.slice(range)))
        }
        None => {
            let bytes = store.get(&key).await?.bytes().await?;
            Ok((key, bytes))
        }
    }
}
