//! Sorted (key, location) entries cut into blocks of a few KiB. The head keeps each block's
//! first and last key, so a lookup fetches only the blocks whose key span can hold a match.

use super::Loc;
use silt_common::codec::{DecodeError, Reader};

const TARGET_BLOCK_BYTES: usize = 8 << 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockEntry {
    pub key: Vec<u8>,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRef {
    pub first: Vec<u8>,
    pub last: Vec<u8>,
    pub offset: u64,
    pub len: u32,
    pub count: u32,
}

impl BlockRef {
    /// Whether some key in `[lo, hi]` (inclusive; `None` is unbounded) can be in this block.
    pub fn overlaps(&self, lo: Option<&[u8]>, hi: Option<&[u8]>) -> bool {
        lo.is_none_or(|lo| self.last.as_slice() >= lo)
            && hi.is_none_or(|hi| self.first.as_slice() <= hi)
    }
}

/// Appends `entries` (sorted by key) to `out` as blocks; returns their references, with offsets
/// relative to the start of `out`.
pub fn encode_blocks(entries: &[BlockEntry], out: &mut Vec<u8>) -> Vec<BlockRef> {
    let mut refs = Vec::new();
    let mut start = 0;
    while start < entries.len() {
        let mut end = start;
        let mut size = 0;
        while end < entries.len() && (size < TARGET_BLOCK_BYTES || end == start) {
            size += 4 + entries[end].key.len() + Loc::ENCODED_LEN;
            end += 1;
        }
        let offset = out.len() as u64;
        out.extend_from_slice(&((end - start) as u32).to_le_bytes());
        for e in &entries[start..end] {
            out.extend_from_slice(&(e.key.len() as u32).to_le_bytes());
            out.extend_from_slice(&e.key);
            e.loc.encode(out);
        }
        refs.push(BlockRef {
            first: entries[start].key.clone(),
            last: entries[end - 1].key.clone(),
            offset,
            len: (out.len() as u64 - offset) as u32,
            count: (end - start) as u32,
        });
        start = end;
    }
    refs
}

pub fn decode_block(b: &[u8]) -> Result<Vec<BlockEntry>, DecodeError> {
    let mut r = Reader::new(b);
    let count = r.u32()? as usize;
    let mut out = Vec::with_capacity(count.min(1 << 16));
    for _ in 0..count {
        let klen = r.u32()? as usize;
        let key = r.take(klen)?.to_vec();
        let loc = Loc::decode(r.take(Loc::ENCODED_LEN)?)
            .ok_or_else(|| DecodeError::Invalid("short location".into()))?;
        out.push(BlockEntry { key, loc });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_round_trip_and_bound_their_keys() {
        let entries: Vec<BlockEntry> = (0..5000u32)
            .map(|i| BlockEntry {
                key: format!("k{i:06}").into_bytes(),
                loc: Loc {
                    ordinal: i,
                    vector_offset: u64::from(i) * 3,
                    payload_offset: 7,
                    payload_len: i,
                },
            })
            .collect();
        let mut out = vec![9, 9];
        let refs = encode_blocks(&entries, &mut out);
        assert!(refs.len() > 1);
        let mut back = Vec::new();
        for r in &refs {
            let s = &out[r.offset as usize..(r.offset + u64::from(r.len)) as usize];
            let block = decode_block(s).unwrap();
            assert_eq!(block.first().unwrap().key, r.first);
            assert_eq!(block.last().unwrap().key, r.last);
            back.extend(block);
        }
        assert_eq!(back, entries);
        let hits: Vec<_> = refs
            .iter()
            .filter(|r| r.overlaps(Some(b"k001000"), Some(b"k001000")))
            .collect();
        assert_eq!(hits.len(), 1);
    }
}
