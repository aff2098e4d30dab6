//! Reading a whole version at once: what the compactor does to build the next one. Queries read
//! by range instead (query-service).

use object_store::{ObjectStore, ObjectStoreExt};

use bytes::Bytes;
use object_store::path::Path;

use super::clusters::decode_cluster;
use super::{bundle_head, is_bundle_key, version_dir_of, Head, CLUSTERS_FILE, HEAD_FILE};
use silt_common::codec::DecodeError;
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
    let (key, base) = head
        .manifest
        .locate(&version_dir_of(manifest_key), CLUSTERS_FILE);
    let corrupt = |source| VersionReadError::Corrupt {
        key: key.to_string(),
        source,
    };
    let n = head.record_count() as usize;
    let dimension = head.dimension();
    let mut slots: Vec<Option<(Record, u32)>> = vec![None; n];
    if n > 0 {
        let bytes = match bundle {
            Some(bundle) => {
                let size = head.manifest.file_size(CLUSTERS_FILE).unwrap_or(0);
                let range = base as usize..(base + size) as usize;
                if range.end > bundle.len() {
                    return Err(corrupt(DecodeError::Invalid(
                        "clusters outside the bundle".into(),
                    )));
                }
                bundle.slice(range)
            }
            None => store.get(&key).await?.bytes().await?,
        };
        for (c, cluster) in head.clusters.iter().enumerate() {
            let block = bytes
                .get(cluster.offset as usize..(cluster.offset + cluster.len) as usize)
                .ok_or_else(|| corrupt(DecodeError::Invalid("cluster outside the file".into())))?;
            let rows = decode_cluster(bytes.slice_ref(block), dimension).map_err(corrupt)?;
            for i in 0..rows.len() {
                let ordinal = rows.ordinals[i] as usize;
                let payload = rows.payload(i).map_err(corrupt)?;
                let slot = slots.get_mut(ordinal).ok_or_else(|| {
                    corrupt(DecodeError::Invalid(format!(
                        "ordinal {ordinal} out of range"
                    )))
                })?;
                *slot = Some((payload.into_record(rows.vector(i)), c as u32));
            }
        }
    }
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
