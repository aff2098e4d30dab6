//! The persisted format of an index version: a JSON manifest that describes the version and a
//! records file that holds every record. Both are immutable once written.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::codec::{DecodeError, Reader, Writer};
use crate::distance::Distance;
use crate::record::Record;

pub const MANIFEST_FORMAT_VERSION: u32 = 1;
pub const MANIFEST_FILE: &str = "manifest.json";
pub const RECORDS_FILE: &str = "records.bin";

const RECORDS_MAGIC: &[u8] = b"SLTREC";
const RECORDS_FORMAT_VERSION: u16 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub collection_id: String,
    pub version: u64,
    /// Last log offset folded into this version.
    pub compacted_offset: u64,
    pub record_count: u64,
    pub dimension: Option<u32>,
    pub distance: Distance,
    pub files: Vec<FileEntry>,
    /// Index parameters; `{"kind": "flat"}` for an exhaustive scan.
    pub index: Value,
}

impl Manifest {
    pub fn decode(bytes: &[u8]) -> Result<Manifest, DecodeError> {
        let m: Manifest =
            serde_json::from_slice(bytes).map_err(|e| DecodeError::Invalid(e.to_string()))?;
        if m.format_version != MANIFEST_FORMAT_VERSION {
            return Err(DecodeError::UnsupportedVersion(m.format_version as u16));
        }
        Ok(m)
    }
}

/// Encodes records; all embeddings must have `dimension` components.
pub fn encode_records<'a>(
    dimension: u32,
    records: impl ExactSizeIterator<Item = &'a Record>,
) -> Vec<u8> {
    let mut w = Writer::with_capacity(64 + records.len() * (dimension as usize * 4 + 64));
    w.bytes(RECORDS_MAGIC);
    w.u16(RECORDS_FORMAT_VERSION);
    w.u32(dimension);
    w.u64(records.len() as u64);
    for r in records {
        r.encode(&mut w);
    }
    w.finish_with_crc()
}

pub fn decode_records(bytes: &[u8]) -> Result<Vec<Record>, DecodeError> {
    let mut r = Reader::checked(bytes)?;
    r.magic(RECORDS_MAGIC)?;
    let version = r.u16()?;
    if version != RECORDS_FORMAT_VERSION {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    let dimension = r.u32()? as usize;
    let count = r.u64()?;
    let mut out = Vec::with_capacity(count.min(1 << 20) as usize);
    for _ in 0..count {
        let record = Record::decode(&mut r)?;
        if record.embedding.len() != dimension {
            return Err(DecodeError::Invalid(format!(
                "record {:?} has dimension {}, segment says {dimension}",
                record.id,
                record.embedding.len()
            )));
        }
        out.push(record);
    }
    r.expect_end()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Metadata, MetadataValue};

    #[test]
    fn records_round_trip_and_corruption_is_detected() {
        let mut metadata = Metadata::new();
        metadata.insert("n".into(), MetadataValue::Float(0.5));
        let records = vec![
            Record {
                id: "a".into(),
                embedding: vec![1.0, 2.0],
                document: Some("doc".into()),
                metadata,
                uri: Some("s3://x".into()),
            },
            Record {
                id: "b".into(),
                embedding: vec![3.0, 4.0],
                document: None,
                metadata: Metadata::new(),
                uri: None,
            },
        ];
        let bytes = encode_records(2, records.iter());
        assert_eq!(decode_records(&bytes).unwrap(), records);
        let mut bad = bytes.clone();
        bad[20] ^= 1;
        assert!(decode_records(&bad).is_err());
        assert!(decode_records(&bytes[..bytes.len() - 1]).is_err());
    }
}

/// Where a version's files live: the manifest key's directory.
pub fn version_dir_of(manifest_key: &str) -> object_store::path::Path {
    let dir = manifest_key.rsplit_once('/').map_or("", |(d, _)| d);
    object_store::path::Path::from(dir)
}

#[derive(Debug, thiserror::Error)]
pub enum VersionReadError {
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error("version object {key} is corrupt: {source}")]
    Corrupt { key: String, source: DecodeError },
}

/// Reads a whole version: its manifest, then its records file.
pub async fn read_version(
    store: &dyn object_store::ObjectStore,
    manifest_key: &str,
) -> Result<(Manifest, Vec<Record>), VersionReadError> {
    use object_store::ObjectStoreExt;
    let key = object_store::path::Path::from(manifest_key);
    let bytes = store.get(&key).await?.bytes().await?;
    let corrupt = |source| VersionReadError::Corrupt {
        key: manifest_key.to_string(),
        source,
    };
    let manifest = Manifest::decode(&bytes).map_err(corrupt)?;
    let records_key = version_dir_of(manifest_key).join(RECORDS_FILE);
    let bytes = store.get(&records_key).await?.bytes().await?;
    let records = decode_records(&bytes).map_err(|source| VersionReadError::Corrupt {
        key: records_key.to_string(),
        source,
    })?;
    if records.len() as u64 != manifest.record_count {
        return Err(VersionReadError::Corrupt {
            key: records_key.to_string(),
            source: DecodeError::Invalid(format!(
                "{} records, manifest says {}",
                records.len(),
                manifest.record_count
            )),
        });
    }
    Ok((manifest, records))
}
