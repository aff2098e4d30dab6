//! `head.bin`: the one object a query reads before it knows which ranges it needs.

use bytes::Bytes;

use super::{BlockRef, Manifest, SparseDirRef, SparseKeyIndex};
use silt_common::codec::{DecodeError, Reader, Writer};

const MAGIC: &[u8] = b"SLTHEAD";
/// 2: a table of `sparse.bin`'s directory blocks follows the text files. Heads of format 1
/// (no sparse index) stay readable.
const FORMAT: u16 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterRef {
    /// Start of the cluster's block in `clusters.bin`, and its length.
    pub offset: u64,
    pub len: u64,
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaKeyIndex {
    pub key: String,
    /// Elements of array values are indexed apart from scalar values, so that an equality set
    /// is exact and can be complemented for `$ne` / `$nin` / `$not_contains`.
    pub array: bool,
    pub blocks: Vec<BlockRef>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextFile {
    pub name: String,
    pub offset: u64,
    pub len: u64,
}

#[derive(Debug, Clone)]
pub struct Head {
    pub manifest: Manifest,
    pub clusters: Vec<ClusterRef>,
    /// A serialized usearch index over the centroids (key = cluster number); empty when the
    /// version is flat (one cluster).
    pub centroids: Bytes,
    pub id_blocks: Vec<BlockRef>,
    pub meta: Vec<MetaKeyIndex>,
    /// Files of the tantivy index inside `text.bin`; empty when no record has a document.
    pub text: Vec<TextFile>,
    /// Directory blocks of `sparse.bin`, per key; empty when no record holds a sparse vector.
    pub sparse: Vec<SparseKeyIndex>,
}

fn put_blocks(w: &mut Writer, blocks: &[BlockRef]) {
    w.u32(blocks.len() as u32);
    for b in blocks {
        w.blob(&b.first);
        w.blob(&b.last);
        w.u64(b.offset);
        w.u32(b.len);
        w.u32(b.count);
    }
}

fn get_blocks(r: &mut Reader<'_>) -> Result<Vec<BlockRef>, DecodeError> {
    let n = r.u32()? as usize;
    let mut out = Vec::with_capacity(n.min(1 << 20));
    for _ in 0..n {
        out.push(BlockRef {
            first: r.blob()?.to_vec(),
            last: r.blob()?.to_vec(),
            offset: r.u64()?,
            len: r.u32()?,
            count: r.u32()?,
        });
    }
    Ok(out)
}

impl Head {
    pub fn encode(&self) -> Vec<u8> {
        self.encode_format(FORMAT)
    }

    /// Format 1 is written only by tests, to prove old heads stay readable.
    fn encode_format(&self, format: u16) -> Vec<u8> {
        let manifest = serde_json::to_vec(&self.manifest).unwrap_or_default();
        let mut w = Writer::with_capacity(1024 + self.centroids.len() + self.clusters.len() * 20);
        w.bytes(MAGIC);
        w.u16(format);
        w.blob(&manifest);
        w.u32(self.clusters.len() as u32);
        for c in &self.clusters {
            w.u64(c.offset);
            w.u64(c.len);
            w.u32(c.count);
        }
        w.blob(&self.centroids);
        put_blocks(&mut w, &self.id_blocks);
        w.u32(self.meta.len() as u32);
        for m in &self.meta {
            w.str(&m.key);
            w.u8(u8::from(m.array));
            put_blocks(&mut w, &m.blocks);
        }
        w.u32(self.text.len() as u32);
        for f in &self.text {
            w.str(&f.name);
            w.u64(f.offset);
            w.u64(f.len);
        }
        if format < 2 {
            return w.finish_with_crc();
        }
        w.u32(self.sparse.len() as u32);
        for k in &self.sparse {
            w.str(&k.key);
            w.u32(k.blocks.len() as u32);
            for b in &k.blocks {
                w.u32(b.first_dim);
                w.u32(b.last_dim);
                w.u64(b.offset);
                w.u32(b.len);
            }
        }
        w.finish_with_crc()
    }

    pub fn decode(bytes: &[u8]) -> Result<Head, DecodeError> {
        let mut r = Reader::checked(bytes)?;
        r.magic(MAGIC)?;
        let format = r.u16()?;
        if format != 1 && format != FORMAT {
            return Err(DecodeError::UnsupportedVersion(format));
        }
        let manifest = Manifest::decode(r.blob()?)?;
        let n = r.u32()? as usize;
        let mut clusters = Vec::with_capacity(n.min(1 << 20));
        for _ in 0..n {
            clusters.push(ClusterRef {
                offset: r.u64()?,
                len: r.u64()?,
                count: r.u32()?,
            });
        }
        let centroids = Bytes::copy_from_slice(r.blob()?);
        let id_blocks = get_blocks(&mut r)?;
        let n = r.u32()? as usize;
        let mut meta = Vec::with_capacity(n.min(1 << 16));
        for _ in 0..n {
            meta.push(MetaKeyIndex {
                key: r.str()?,
                array: r.u8()? != 0,
                blocks: get_blocks(&mut r)?,
            });
        }
        let n = r.u32()? as usize;
        let mut text = Vec::with_capacity(n.min(1 << 12));
        for _ in 0..n {
            text.push(TextFile {
                name: r.str()?,
                offset: r.u64()?,
                len: r.u64()?,
            });
        }
        let mut sparse = Vec::new();
        if format >= 2 {
            let n = r.u32()? as usize;
            sparse.reserve(n.min(1 << 12));
            for _ in 0..n {
                let key = r.str()?;
                let blocks = r.u32()? as usize;
                let mut refs = Vec::with_capacity(blocks.min(1 << 20));
                for _ in 0..blocks {
                    refs.push(SparseDirRef {
                        first_dim: r.u32()?,
                        last_dim: r.u32()?,
                        offset: r.u64()?,
                        len: r.u32()?,
                    });
                }
                sparse.push(SparseKeyIndex { key, blocks: refs });
            }
        }
        r.expect_end()?;
        Ok(Head {
            manifest,
            clusters,
            centroids,
            id_blocks,
            meta,
            text,
            sparse,
        })
    }

    /// The sparse index of metadata key `key`, if any record of the version holds one there.
    pub fn sparse_key(&self, key: &str) -> Option<&SparseKeyIndex> {
        self.sparse.iter().find(|k| k.key == key)
    }

    pub fn dimension(&self) -> usize {
        self.manifest.dimension.unwrap_or(0) as usize
    }

    pub fn record_count(&self) -> u64 {
        self.manifest.record_count
    }

    /// The cluster whose block holds `offset` of `clusters.bin` (a payload's offset, in every
    /// format).
    pub fn cluster_of(&self, offset: u64) -> Option<usize> {
        let i = self.clusters.partition_point(|c| c.offset <= offset);
        i.checked_sub(1)
    }

    /// Approximate memory held by the decoded head.
    pub fn size_hint(&self) -> usize {
        let blocks =
            |b: &[BlockRef]| -> usize { b.iter().map(|b| 48 + b.first.len() + b.last.len()).sum() };
        256 + self.centroids.len()
            + self.clusters.len() * 24
            + blocks(&self.id_blocks)
            + self
                .meta
                .iter()
                .map(|m| 32 + blocks(&m.blocks))
                .sum::<usize>()
            + self.text.len() * 48
            + self
                .sparse
                .iter()
                .map(|k| 32 + k.key.len() + k.blocks.len() * 24)
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{IndexParams, MANIFEST_FORMAT_VERSION};
    use silt_common::distance::Distance;

    fn head(sparse: Vec<SparseKeyIndex>) -> Head {
        Head {
            manifest: Manifest {
                format_version: MANIFEST_FORMAT_VERSION,
                collection_id: "c".into(),
                version: 1,
                compacted_offset: 3,
                record_count: 2,
                dimension: Some(2),
                distance: Distance::L2,
                files: Vec::new(),
                index: IndexParams {
                    kind: "flat".into(),
                    clusters: 1,
                    nprobe: 1,
                    trained_on: 2,
                    trained_spread: 0.0,
                    spread: 0.0,
                    quantization: None,
                },
            },
            clusters: vec![ClusterRef {
                offset: 0,
                len: 10,
                count: 2,
            }],
            centroids: Bytes::new(),
            id_blocks: Vec::new(),
            meta: Vec::new(),
            text: Vec::new(),
            sparse,
        }
    }

    #[test]
    fn sparse_tables_round_trip_and_format_1_heads_stay_readable() {
        let sparse = vec![SparseKeyIndex {
            key: "bm25".into(),
            blocks: vec![SparseDirRef {
                first_dim: 4,
                last_dim: 90,
                offset: 1000,
                len: 56,
            }],
        }];
        let h = head(sparse.clone());
        let back = Head::decode(&h.encode()).unwrap();
        assert_eq!(back.sparse, sparse);
        assert_eq!(back.sparse_key("bm25").unwrap().block_of(90), Some(0));
        let old = Head::decode(&h.encode_format(1)).unwrap();
        assert!(old.sparse.is_empty());
        assert_eq!(old.clusters, h.clusters);
        assert!(matches!(
            Head::decode(&h.encode_format(3)),
            Err(DecodeError::UnsupportedVersion(3))
        ));
    }
}
