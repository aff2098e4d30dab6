//! Cluster block v2, for versions whose manifest names a quantization: the block a query probes
//! holds quantized codes instead of f32 vectors, and the f32 vectors move to `vectors.bin`,
//! read only to re-rank the few candidates the codes cannot settle and to return embeddings.
//!
//! In `clusters.bin`, little-endian:
//! `count u32 | vectors_at u64 | ordinals u32×n | payload ends u32×n | code len u32 |
//!  code block (quantize::CodeBlock) | payloads`.
//! In `vectors.bin`, from `vectors_at`: the cluster's f32 vectors in the block's row order.
//! They are read in pages of about `RERANK_PAGE_BYTES`, so a re-rank's reads have stable keys
//! in the range cache whatever the query, and a warm collection serves them from memory. The
//! page size is the reader's choice, not part of the format.
//!
//! Everything before the payloads has a length fixed by the count, dimension and bits
//! (`scored_len`), so a reader can fetch a block's scored prefix and its payload section as
//! two ranges: an unfiltered query scores the prefixes of many clusters and reads the payload
//! sections of only the few clusters its results come from.

use std::ops::Range;

use bytes::Bytes;

use super::clusters::{encode_payload, read_u32s, write_payload_ends, Payload, Payloads};
use super::Loc;
use crate::quantize::{padded_dimension, CodeBlock, EncodeError, Metric, Rotation};
use silt_common::codec::{DecodeError, Reader};
use silt_common::distance::Distance;
use silt_common::record::Record;

/// Bytes per page of `vectors.bin` read by a re-rank (whole rows, at least one): small, since
/// a cold query's candidates are scattered (8 rows at 384 dimensions, 32 at 128).
pub const RERANK_PAGE_BYTES: usize = 12 << 10;

/// How a version's vectors are quantized, recorded in its manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Quantization {
    /// Bits per dimension of the codes.
    pub bits: u8,
    /// Seed of the rotation every code block and query of the version is rotated by.
    pub seed: u64,
}

impl Quantization {
    pub fn rotation(&self, dimension: usize) -> Rotation {
        Rotation::new(self.seed, dimension)
    }
}

pub fn metric_of(distance: Distance) -> Metric {
    match distance {
        Distance::L2 => Metric::L2,
        Distance::Ip => Metric::Ip,
        Distance::Cosine => Metric::Cosine,
    }
}

/// Bytes of a block of `count` records before its payloads: the part a query scores.
pub fn scored_len(count: usize, dimension: usize, bits: u8) -> u64 {
    (4 + 8 + 8 * count + 4 + CodeBlock::encoded_len(count, bits, padded_dimension(dimension)))
        as u64
}

/// Appends one cluster's block to `clusters` and its vectors to `vectors`; returns each
/// record's location (payload in `clusters`, vector in `vectors`).
pub fn encode_coded_cluster(
    members: &[(u32, &Record)],
    rotation: &Rotation,
    metric: Metric,
    bits: u8,
    clusters: &mut Vec<u8>,
    vectors: &mut Vec<u8>,
) -> Result<Vec<Loc>, EncodeError> {
    let n = members.len();
    let refs: Vec<&[f32]> = members
        .iter()
        .map(|(_, r)| r.embedding.as_slice())
        .collect();
    let code = CodeBlock::encode(&refs, metric, bits, rotation)?.to_bytes();
    let payloads: Vec<Vec<u8>> = members.iter().map(|(_, r)| encode_payload(r)).collect();
    let vectors_at = vectors.len() as u64;
    let row_bytes = rotation.dimension() * 4;

    clusters.extend_from_slice(&(n as u32).to_le_bytes());
    clusters.extend_from_slice(&vectors_at.to_le_bytes());
    for (ordinal, _) in members {
        clusters.extend_from_slice(&ordinal.to_le_bytes());
    }
    write_payload_ends(&payloads, clusters);
    clusters.extend_from_slice(&(code.len() as u32).to_le_bytes());
    clusters.extend_from_slice(&code);
    let mut locs = Vec::with_capacity(n);
    for (i, p) in payloads.iter().enumerate() {
        locs.push(Loc {
            ordinal: members[i].0,
            vector_offset: vectors_at + (i * row_bytes) as u64,
            payload_offset: clusters.len() as u64,
            payload_len: p.len() as u32,
        });
        clusters.extend_from_slice(p);
    }
    for (_, r) in members {
        for x in &r.embedding {
            vectors.extend_from_slice(&x.to_le_bytes());
        }
    }
    Ok(locs)
}

/// A decoded v2 cluster block: codes ready to score, payloads decoded on demand (when the
/// block was read with its payload section).
#[derive(Debug, Clone)]
pub struct CodedRows {
    pub ordinals: Vec<u32>,
    pub codes: CodeBlock,
    vectors_at: u64,
    row_bytes: u64,
    page_rows: usize,
    /// Where the payload section starts in the block, and its length.
    payloads_at: u64,
    payloads_len: u64,
    payloads: PayloadSection,
}

/// A block's payloads: read with it, or still to be read (only their ends are known).
#[derive(Debug, Clone)]
enum PayloadSection {
    Read(Payloads),
    Pending(Vec<u32>),
}

impl CodedRows {
    pub fn len(&self) -> usize {
        self.ordinals.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ordinals.is_empty()
    }

    /// Row `i`'s payload, when the block was read with its payload section.
    pub fn payload(&self, i: usize) -> Result<Payload, DecodeError> {
        match &self.payloads {
            PayloadSection::Read(p) => p.get(i),
            PayloadSection::Pending(_) => Err(DecodeError::Invalid(
                "cluster block read without its payloads".into(),
            )),
        }
    }

    /// Adds the payload section, read apart from the scored prefix this was decoded from.
    pub fn attach_payloads(&mut self, section: Bytes) -> Result<(), DecodeError> {
        if let PayloadSection::Pending(ends) = &mut self.payloads {
            let ends = std::mem::take(ends);
            self.payloads = PayloadSection::Read(Payloads::new(ends, section)?);
        }
        Ok(())
    }

    /// Byte range of the payload section, relative to the block's start.
    pub fn payload_section(&self) -> Range<u64> {
        self.payloads_at..self.payloads_at + self.payloads_len
    }

    /// Byte range of row `i`'s vector in `vectors.bin`.
    pub fn vector_range(&self, i: usize) -> Range<u64> {
        let at = self.vectors_at + i as u64 * self.row_bytes;
        at..at + self.row_bytes
    }

    /// The page of `vectors.bin` holding row `i`'s vector.
    pub fn page_of(&self, i: usize) -> usize {
        i / self.page_rows
    }

    /// Byte range of page `page` in `vectors.bin`.
    pub fn page_range(&self, page: usize) -> Range<u64> {
        let first = page * self.page_rows;
        let last = ((page + 1) * self.page_rows).min(self.len());
        self.vectors_at + first as u64 * self.row_bytes
            ..self.vectors_at + last as u64 * self.row_bytes
    }

    /// Row `i`'s vector (little-endian f32) inside its page's bytes.
    pub fn vector_in_page<'a>(&self, page: &'a [u8], i: usize) -> Result<&'a [u8], DecodeError> {
        let at = (i % self.page_rows) * self.row_bytes as usize;
        page.get(at..at + self.row_bytes as usize)
            .ok_or(DecodeError::Invalid("vector outside its page".into()))
    }
}

/// Decodes a whole block, or only its scored prefix (`scored_len` bytes): then payloads are
/// read from the payload section apart (`attach_payloads`).
pub fn decode_coded_cluster(block: Bytes, dimension: usize) -> Result<CodedRows, DecodeError> {
    let mut r = Reader::new(&block);
    let n = r.u32()? as usize;
    let vectors_at = r.u64()?;
    let ordinals = read_u32s(&mut r, n)?;
    let payload_ends = read_u32s(&mut r, n)?;
    let code_len = r.u32()? as usize;
    let codes = CodeBlock::read(r.take(code_len)?)
        .map_err(|e| DecodeError::Invalid(format!("code block: {e}")))?;
    if codes.len() != n
        || codes.dimension() != dimension
        || r.position() as u64 != scored_len(n, dimension, codes.bits())
    {
        return Err(DecodeError::Invalid(
            "code block disagrees with its cluster".into(),
        ));
    }
    let payloads_at = r.position() as u64;
    let payloads_len = payload_ends.last().map_or(0, |&e| u64::from(e));
    let payloads = if r.position() == block.len() && n > 0 {
        PayloadSection::Pending(payload_ends)
    } else {
        PayloadSection::Read(Payloads::new(payload_ends, block.slice(r.position()..))?)
    };
    Ok(CodedRows {
        ordinals,
        codes,
        vectors_at,
        row_bytes: (dimension * 4) as u64,
        page_rows: (RERANK_PAGE_BYTES / (dimension * 4).max(1)).max(1),
        payloads_at,
        payloads_len,
        payloads,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use silt_common::record::Metadata;

    fn record(i: usize, d: usize) -> Record {
        Record {
            id: format!("id{i}"),
            embedding: (0..d)
                .map(|j| ((i * 31 + j * 7) % 17) as f32 - 8.0)
                .collect(),
            document: i.is_multiple_of(2).then(|| format!("doc {i}")),
            metadata: Metadata::new(),
            uri: None,
        }
    }

    #[test]
    fn blocks_round_trip_and_locations_point_at_vectors_and_payloads() {
        let d = 100;
        let rotation = Rotation::new(9, d);
        let records: Vec<Record> = (0..150).map(|i| record(i, d)).collect();
        let members: Vec<(u32, &Record)> = records
            .iter()
            .enumerate()
            .map(|(i, r)| (i as u32 * 2, r))
            .collect();
        let (mut clusters, mut vectors) = (vec![0xAA; 3], vec![0xBB; 8]);
        let locs = encode_coded_cluster(
            &members,
            &rotation,
            Metric::L2,
            4,
            &mut clusters,
            &mut vectors,
        )
        .unwrap();
        let rows = decode_coded_cluster(Bytes::copy_from_slice(&clusters[3..]), d).unwrap();
        assert_eq!(rows.len(), 150);
        assert_eq!(rows.codes.len(), 150);
        for (i, loc) in locs.iter().enumerate() {
            assert_eq!(rows.ordinals[i], loc.ordinal);
            let at = loc.payload_offset as usize;
            let p = crate::format::decode_payload(&clusters[at..at + loc.payload_len as usize])
                .unwrap();
            assert_eq!(p, rows.payload(i).unwrap());
            assert_eq!(p.id, records[i].id);
            let page = rows.page_range(rows.page_of(i));
            let page = &vectors[page.start as usize..page.end as usize];
            let v = rows.vector_in_page(page, i).unwrap();
            let at = loc.vector_offset as usize;
            assert_eq!(v, &vectors[at..at + d * 4]);
            assert_eq!(silt_common::codec::f32s_from_le(v), records[i].embedding);
        }
        // 30 rows of 400 bytes a page; the last page is short: it ends at the last row.
        assert_eq!(rows.page_of(149), 4);
        assert_eq!(rows.page_range(4), 8 + 120 * 400..8 + 150 * 400);
        // The scored prefix alone: codes score, payloads come from the section read apart.
        let prefix = scored_len(150, d, 4) as usize;
        let light =
            decode_coded_cluster(Bytes::copy_from_slice(&clusters[3..3 + prefix]), d).unwrap();
        assert_eq!(light.codes, rows.codes);
        assert!(light.payload(0).is_err());
        let section = light.payload_section();
        assert_eq!(section.start as usize, prefix);
        assert_eq!(section.end as usize, clusters.len() - 3);
        let section = Bytes::copy_from_slice(&clusters[3 + prefix..]);
        let mut light = light;
        light.attach_payloads(section).unwrap();
        for i in [0, 77, 149] {
            assert_eq!(light.payload(i).unwrap(), rows.payload(i).unwrap());
        }
        assert!(
            decode_coded_cluster(Bytes::copy_from_slice(&clusters[3..3 + prefix - 1]), d).is_err()
        );
        assert!(decode_coded_cluster(Bytes::copy_from_slice(&clusters[3..200]), d).is_err());
        assert!(decode_coded_cluster(Bytes::copy_from_slice(&clusters[3..]), d + 1).is_err());
    }
}
