//! `sparse.bin`: an inverted index per metadata key holding sparse vectors. For each key, one
//! posting list per dimension (record ordinal, weight, by ordinal) cut into blocks that carry
//! their largest and smallest weight, so a top-k by dot product can skip what cannot make the
//! answer (`sparse_topk.rs`); then the key's directory (dimension → where its list is), in
//! blocks whose ranges the head lists (`SparseKeyIndex`), like `meta.bin`'s.
//!
//! ```text
//! posting list = block count (u32) · per block: first ordinal, last ordinal, count (u32 each),
//!                max weight, min weight (f32) · then per block: ordinals (u32 × count),
//!                weights (f32 × count)
//! directory entry = dimension (u32) · list offset (u64) · list length (u32) · postings (u32) ·
//!                   max weight · min weight (f32)                      (28 bytes, little endian)
//! ```
//!
//! The format is versioned by the head's format (2 introduced it); the bytes are pinned by a
//! golden test.

use std::collections::BTreeMap;

use silt_common::codec::DecodeError;
use silt_common::record::Metadata;

/// Postings per block: small enough that a block's bound is tight, large enough that the
/// block table stays a few percent of the list.
pub const POSTINGS_PER_BLOCK: usize = 128;
/// Directory entries per directory block (about 7 KiB).
pub const DIRECTORY_BLOCK_ENTRIES: usize = 256;
const BLOCK_HEADER_LEN: usize = 20;
pub const DIRECTORY_ENTRY_LEN: usize = 28;

/// One directory block of a key, as the head lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparseDirRef {
    pub first_dim: u32,
    pub last_dim: u32,
    pub offset: u64,
    pub len: u32,
}

/// The directory blocks of one key's index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparseKeyIndex {
    pub key: String,
    pub blocks: Vec<SparseDirRef>,
}

impl SparseKeyIndex {
    /// The directory block that can hold `dim`.
    pub fn block_of(&self, dim: u32) -> Option<usize> {
        let i = self.blocks.partition_point(|b| b.last_dim < dim);
        self.blocks.get(i).filter(|b| b.first_dim <= dim).map(|_| i)
    }
}

/// Where one dimension's posting list is, and what it holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DirEntry {
    pub dim: u32,
    pub offset: u64,
    pub len: u32,
    /// Records holding the dimension (its document frequency, for BM25's IDF).
    pub count: u32,
    pub max: f32,
    pub min: f32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockMeta {
    pub first: u32,
    pub last: u32,
    /// Index of the block's first posting in the list.
    pub start: usize,
    pub max: f32,
    pub min: f32,
}

/// One dimension's postings, decoded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PostingList {
    pub blocks: Vec<BlockMeta>,
    pub ordinals: Vec<u32>,
    pub weights: Vec<f32>,
}

impl PostingList {
    pub fn len(&self) -> usize {
        self.ordinals.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ordinals.is_empty()
    }

    /// End of block `b`'s postings.
    pub fn block_end(&self, b: usize) -> usize {
        self.blocks
            .get(b + 1)
            .map_or(self.ordinals.len(), |n| n.start)
    }

    /// Builds a list from postings in ordinal order (tests and the writer).
    pub fn from_postings(postings: &[(u32, f32)]) -> PostingList {
        let mut list = PostingList::default();
        for chunk in postings.chunks(POSTINGS_PER_BLOCK) {
            list.blocks.push(BlockMeta {
                first: chunk[0].0,
                last: chunk[chunk.len() - 1].0,
                start: list.ordinals.len(),
                max: chunk.iter().map(|p| p.1).fold(f32::MIN, f32::max),
                min: chunk.iter().map(|p| p.1).fold(f32::MAX, f32::min),
            });
            list.ordinals.extend(chunk.iter().map(|p| p.0));
            list.weights.extend(chunk.iter().map(|p| p.1));
        }
        list
    }
}

/// A key's postings by dimension: (ordinal, weight) in ordinal order.
type Postings = BTreeMap<u32, Vec<(u32, f32)>>;

/// `sparse.bin` and the head's table of it; `None` when no record holds a sparse vector.
pub struct SparseFile {
    pub bytes: Vec<u8>,
    pub keys: Vec<SparseKeyIndex>,
}

/// Builds the index from records given in ordinal order.
pub fn encode_sparse<'a>(records: impl Iterator<Item = &'a Metadata>) -> Option<SparseFile> {
    let mut by_key: BTreeMap<&str, Postings> = BTreeMap::new();
    for (ordinal, metadata) in records.enumerate() {
        for (key, value) in metadata {
            let Some(v) = value.as_sparse() else { continue };
            let dims = by_key.entry(key.as_str()).or_default();
            for (&dim, &w) in v.indices.iter().zip(&v.values) {
                dims.entry(dim).or_default().push((ordinal as u32, w));
            }
        }
    }
    if by_key.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    let mut keys = Vec::with_capacity(by_key.len());
    for (key, dims) in by_key {
        let mut entries = Vec::with_capacity(dims.len());
        for (dim, postings) in dims {
            let offset = out.len() as u64;
            encode_postings(&postings, &mut out);
            entries.push(DirEntry {
                dim,
                offset,
                len: (out.len() as u64 - offset) as u32,
                count: postings.len() as u32,
                max: postings.iter().map(|p| p.1).fold(f32::MIN, f32::max),
                min: postings.iter().map(|p| p.1).fold(f32::MAX, f32::min),
            });
        }
        let mut blocks = Vec::new();
        for chunk in entries.chunks(DIRECTORY_BLOCK_ENTRIES) {
            let offset = out.len() as u64;
            for e in chunk {
                out.extend_from_slice(&e.dim.to_le_bytes());
                out.extend_from_slice(&e.offset.to_le_bytes());
                out.extend_from_slice(&e.len.to_le_bytes());
                out.extend_from_slice(&e.count.to_le_bytes());
                out.extend_from_slice(&e.max.to_le_bytes());
                out.extend_from_slice(&e.min.to_le_bytes());
            }
            blocks.push(SparseDirRef {
                first_dim: chunk[0].dim,
                last_dim: chunk[chunk.len() - 1].dim,
                offset,
                len: (out.len() as u64 - offset) as u32,
            });
        }
        keys.push(SparseKeyIndex {
            key: key.to_string(),
            blocks,
        });
    }
    Some(SparseFile { bytes: out, keys })
}

fn encode_postings(postings: &[(u32, f32)], out: &mut Vec<u8>) {
    let list = PostingList::from_postings(postings);
    out.extend_from_slice(&(list.blocks.len() as u32).to_le_bytes());
    for (b, meta) in list.blocks.iter().enumerate() {
        out.extend_from_slice(&meta.first.to_le_bytes());
        out.extend_from_slice(&meta.last.to_le_bytes());
        out.extend_from_slice(&((list.block_end(b) - meta.start) as u32).to_le_bytes());
        out.extend_from_slice(&meta.max.to_le_bytes());
        out.extend_from_slice(&meta.min.to_le_bytes());
    }
    for o in &list.ordinals {
        out.extend_from_slice(&o.to_le_bytes());
    }
    for w in &list.weights {
        out.extend_from_slice(&w.to_le_bytes());
    }
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn f32_at(b: &[u8], i: usize) -> f32 {
    f32::from_bits(u32_at(b, i))
}

fn truncated(needed: usize, available: usize) -> DecodeError {
    DecodeError::Truncated {
        at: 0,
        needed,
        available,
    }
}

pub fn decode_directory_block(b: &[u8]) -> Result<Vec<DirEntry>, DecodeError> {
    if !b.len().is_multiple_of(DIRECTORY_ENTRY_LEN) {
        return Err(DecodeError::Invalid(format!(
            "sparse directory block of {} bytes is not whole entries",
            b.len()
        )));
    }
    Ok(b.chunks_exact(DIRECTORY_ENTRY_LEN)
        .map(|e| {
            let mut offset = [0u8; 8];
            offset.copy_from_slice(&e[4..12]);
            DirEntry {
                dim: u32_at(e, 0),
                offset: u64::from_le_bytes(offset),
                len: u32_at(e, 12),
                count: u32_at(e, 16),
                max: f32_at(e, 20),
                min: f32_at(e, 24),
            }
        })
        .collect())
}

pub fn decode_postings(b: &[u8]) -> Result<PostingList, DecodeError> {
    if b.len() < 4 {
        return Err(truncated(4, b.len()));
    }
    let blocks = u32_at(b, 0) as usize;
    let headers_end = blocks
        .checked_mul(BLOCK_HEADER_LEN)
        .and_then(|n| n.checked_add(4))
        .filter(|&n| n <= b.len())
        .ok_or_else(|| truncated(4 + blocks.saturating_mul(BLOCK_HEADER_LEN), b.len()))?;
    let mut list = PostingList::default();
    let mut total = 0usize;
    for i in 0..blocks {
        let h = 4 + i * BLOCK_HEADER_LEN;
        let count = u32_at(b, h + 8) as usize;
        list.blocks.push(BlockMeta {
            first: u32_at(b, h),
            last: u32_at(b, h + 4),
            start: total,
            max: f32_at(b, h + 12),
            min: f32_at(b, h + 16),
        });
        total = total.saturating_add(count);
    }
    if b.len() != headers_end.saturating_add(total.saturating_mul(8)) {
        return Err(DecodeError::Invalid(format!(
            "posting list of {} bytes does not hold its {total} postings",
            b.len()
        )));
    }
    let weights_at = headers_end + total * 4;
    list.ordinals = (0..total).map(|i| u32_at(b, headers_end + i * 4)).collect();
    list.weights = (0..total).map(|i| f32_at(b, weights_at + i * 4)).collect();
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use silt_common::record::MetadataValue;
    use silt_common::sparse_vector::SparseVector;

    const GOLDEN: &[u8] = include_bytes!("golden/sparse_v1.bin");

    fn meta(pairs: &[(&str, &[(u32, f32)])]) -> Metadata {
        pairs
            .iter()
            .map(|(k, dims)| {
                let v = SparseVector {
                    indices: dims.iter().map(|d| d.0).collect(),
                    values: dims.iter().map(|d| d.1).collect(),
                    tokens: None,
                };
                (k.to_string(), MetadataValue::SparseVector(v))
            })
            .collect()
    }

    fn sample() -> Vec<Metadata> {
        let mut records = vec![
            meta(&[("a", &[(1, 0.5), (7, 2.0)]), ("b", &[(3, -1.0)])]),
            meta(&[("a", &[(7, 1.5)])]),
            meta(&[]),
            meta(&[("a", &[(1, 0.25), (9, 4.0)])]),
        ];
        records[2].insert("n".into(), MetadataValue::Int(3));
        records
    }

    #[test]
    fn sparse_v1_bytes_are_pinned() {
        let file = encode_sparse(sample().iter()).unwrap();
        if std::env::var("SILT_BLESS").is_ok() {
            std::fs::write(
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/src/format/golden/sparse_v1.bin"
                ),
                &file.bytes,
            )
            .unwrap();
        }
        assert_eq!(file.bytes, GOLDEN);
        let keys: Vec<&str> = file.keys.iter().map(|k| k.key.as_str()).collect();
        assert_eq!(keys, ["a", "b"]);
    }

    #[test]
    fn lists_decode_to_what_was_written() {
        let records = sample();
        let file = encode_sparse(records.iter()).unwrap();
        let a = &file.keys[0];
        assert_eq!(a.block_of(7), Some(0));
        assert_eq!(a.block_of(10), None);
        let d = &a.blocks[0];
        let dir = decode_directory_block(
            &file.bytes[d.offset as usize..(d.offset + u64::from(d.len)) as usize],
        )
        .unwrap();
        let dims: Vec<(u32, u32)> = dir.iter().map(|e| (e.dim, e.count)).collect();
        assert_eq!(dims, [(1, 2), (7, 2), (9, 1)]);
        let seven = dir[1];
        assert_eq!((seven.max, seven.min), (2.0, 1.5));
        let list = decode_postings(
            &file.bytes[seven.offset as usize..(seven.offset + u64::from(seven.len)) as usize],
        )
        .unwrap();
        assert_eq!(list.ordinals, [0, 1]);
        assert_eq!(list.weights, [2.0, 1.5]);
        assert!(encode_sparse([meta(&[])].iter()).is_none());
    }

    #[test]
    fn long_lists_are_cut_into_blocks_with_their_bounds() {
        let postings: Vec<(u32, f32)> = (0..300).map(|i| (i * 2, i as f32)).collect();
        let mut bytes = Vec::new();
        encode_postings(&postings, &mut bytes);
        let list = decode_postings(&bytes).unwrap();
        assert_eq!(list.blocks.len(), 3);
        assert_eq!(list.blocks[1].first, 256);
        assert_eq!(list.blocks[1].max, 255.0);
        assert_eq!(list.block_end(2), 300);
        assert_eq!(list, PostingList::from_postings(&postings));
        assert!(decode_postings(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode_directory_block(&[0u8; 27]).is_err());
    }
}
