//! One cluster's block in `clusters.bin`:
//! `count u32 | ordinals u32×n | payload ends u32×n | vectors f32×n×dim | payloads`.
//! Vectors are contiguous so a probe scans them without decoding anything else; a payload
//! (id, document, metadata, uri) is decoded only for a record the query returns or verifies.

use bytes::Bytes;

use super::Loc;
use silt_common::codec::{DecodeError, Reader, Writer};
use silt_common::distance::Distance;
use silt_common::record::{parse_stored_metadata, stored_metadata, Metadata, Record};

/// A record without its embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    pub id: String,
    pub document: Option<String>,
    pub metadata: Metadata,
    pub uri: Option<String>,
}

impl Payload {
    pub fn into_record(self, embedding: Vec<f32>) -> Record {
        Record {
            id: self.id,
            embedding,
            document: self.document,
            metadata: self.metadata,
            uri: self.uri,
        }
    }
}

pub fn encode_payload(r: &Record) -> Vec<u8> {
    let mut w = Writer::with_capacity(32 + r.id.len());
    w.str(&r.id);
    w.opt_str(r.document.as_deref());
    w.opt_str(stored_metadata(&r.metadata).as_deref());
    w.opt_str(r.uri.as_deref());
    w.into_inner()
}

pub fn decode_payload(b: &[u8]) -> Result<Payload, DecodeError> {
    let mut r = Reader::new(b);
    let id = r.str()?;
    let document = r.opt_str()?;
    let metadata = parse_stored_metadata(r.opt_str()?)?;
    let uri = r.opt_str()?;
    Ok(Payload {
        id,
        document,
        metadata,
        uri,
    })
}

/// Writes the payload ends (each payload's end offset in the payload section) of a block.
pub(crate) fn write_payload_ends(payloads: &[Vec<u8>], out: &mut Vec<u8>) {
    let mut end = 0u32;
    for p in payloads {
        end += p.len() as u32;
        out.extend_from_slice(&end.to_le_bytes());
    }
}

/// A cluster block's payload section, in every block format: decoded one record at a time.
#[derive(Debug, Clone)]
pub(crate) struct Payloads {
    ends: Vec<u32>,
    bytes: Bytes,
}

impl Payloads {
    pub(crate) fn new(ends: Vec<u32>, bytes: Bytes) -> Result<Self, DecodeError> {
        if ends.last().is_some_and(|&e| e as usize > bytes.len()) {
            return Err(DecodeError::Invalid(
                "cluster block payloads truncated".into(),
            ));
        }
        Ok(Payloads { ends, bytes })
    }

    pub(crate) fn get(&self, i: usize) -> Result<Payload, DecodeError> {
        let start = if i == 0 { 0 } else { self.ends[i - 1] } as usize;
        let end = self.ends[i] as usize;
        let bytes = self.bytes.get(start..end).ok_or(DecodeError::Invalid(
            "payload outside its cluster block".into(),
        ))?;
        decode_payload(bytes)
    }
}

/// Reads `n` little-endian u32s (ordinals, payload ends).
pub(crate) fn read_u32s(r: &mut Reader<'_>, n: usize) -> Result<Vec<u32>, DecodeError> {
    (0..n).map(|_| r.u32()).collect()
}

/// Appends one cluster's block to `out`; returns each record's location (absolute in `out`).
pub fn encode_cluster(members: &[(u32, &Record)], dimension: usize, out: &mut Vec<u8>) -> Vec<Loc> {
    let start = out.len() as u64;
    let n = members.len();
    let payloads: Vec<Vec<u8>> = members.iter().map(|(_, r)| encode_payload(r)).collect();
    out.extend_from_slice(&(n as u32).to_le_bytes());
    for (ordinal, _) in members {
        out.extend_from_slice(&ordinal.to_le_bytes());
    }
    write_payload_ends(&payloads, out);
    let vectors_at = out.len() as u64;
    for (_, r) in members {
        for x in &r.embedding {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    let payloads_at = out.len() as u64;
    let mut locs = Vec::with_capacity(n);
    let mut at = payloads_at;
    for (i, p) in payloads.iter().enumerate() {
        locs.push(Loc {
            ordinal: members[i].0,
            vector_offset: vectors_at + (i * dimension * 4) as u64,
            payload_offset: at,
            payload_len: p.len() as u32,
        });
        at += p.len() as u64;
        out.extend_from_slice(p);
    }
    debug_assert_eq!(
        start + 4 + 8 * n as u64 + (n * dimension * 4) as u64,
        payloads_at
    );
    locs
}

/// A decoded cluster block: vectors ready to scan, payloads decoded on demand.
#[derive(Debug, Clone)]
pub struct ClusterRows {
    pub ordinals: Vec<u32>,
    /// The vectors as stored (little-endian f32): scanned in place, decoded only for results.
    vectors: Bytes,
    dimension: usize,
    payloads: Payloads,
}

impl ClusterRows {
    pub fn len(&self) -> usize {
        self.ordinals.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ordinals.is_empty()
    }

    fn vector_bytes(&self, i: usize) -> &[u8] {
        let size = self.dimension * 4;
        &self.vectors[i * size..(i + 1) * size]
    }

    /// Row `i`'s vector, decoded.
    pub fn vector(&self, i: usize) -> Vec<f32> {
        f32s_from_le(self.vector_bytes(i))
    }

    /// Distance from `query` to row `i`'s vector, without decoding it.
    pub fn distance(&self, i: usize, distance: Distance, query: &[f32], query_norm: f32) -> f32 {
        distance.compute_le(query, query_norm, self.vector_bytes(i))
    }

    pub fn payload(&self, i: usize) -> Result<Payload, DecodeError> {
        self.payloads.get(i)
    }
}

pub fn decode_cluster(block: Bytes, dimension: usize) -> Result<ClusterRows, DecodeError> {
    let mut r = Reader::new(&block);
    let n = r.u32()? as usize;
    let ordinals = read_u32s(&mut r, n)?;
    let payload_ends = read_u32s(&mut r, n)?;
    let start = r.position();
    r.take(n * dimension * 4)?;
    let at = r.position();
    Ok(ClusterRows {
        ordinals,
        vectors: block.slice(start..at),
        dimension,
        payloads: Payloads::new(payload_ends, block.slice(at..))?,
    })
}

pub use silt_common::codec::f32s_from_le;
