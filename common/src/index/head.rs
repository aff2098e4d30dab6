//! `head.bin`: the one object a query reads before it knows which ranges it needs.

use bytes::Bytes;

use super::{BlockRef, Manifest};
use crate::codec::{DecodeError, Reader, Writer};

const MAGIC: &[u8] = b"SLTHEAD";
const FORMAT: u16 = 1;

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
        let manifest = serde_json::to_vec(&self.manifest).unwrap_or_default();
        let mut w = Writer::with_capacity(1024 + self.centroids.len() + self.clusters.len() * 20);
        w.bytes(MAGIC);
        w.u16(FORMAT);
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
        w.finish_with_crc()
    }

    pub fn decode(bytes: &[u8]) -> Result<Head, DecodeError> {
        let mut r = Reader::checked(bytes)?;
        r.magic(MAGIC)?;
        let format = r.u16()?;
        if format != FORMAT {
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
        r.expect_end()?;
        Ok(Head {
            manifest,
            clusters,
            centroids,
            id_blocks,
            meta,
            text,
        })
    }

    pub fn dimension(&self) -> usize {
        self.manifest.dimension.unwrap_or(0) as usize
    }

    pub fn record_count(&self) -> u64 {
        self.manifest.record_count
    }

    /// The cluster whose block holds `offset` of `clusters.bin`.
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
    }
}
