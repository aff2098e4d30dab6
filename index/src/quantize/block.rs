//! A cluster's code block: what a version stores for a cluster instead of its f32 vectors.
//!
//! Format version 1, little-endian:
//! ```text
//! header (40 B)  magic "SRBQ" | version u8 | bits u8 | metric u8 | 0 u8
//!                dimension u32 | padded D u32 | count u32 | 0 u32 | rotation seed u64
//!                rounding f32 | 0 u32
//! centroid       D × f32: the members' mean (of unit vectors for cosine), rotated
//! factors        4 arrays of count × f32: add | rescale | offset | error
//! codes          count × bits × D/64 × u64: each vector's bit planes, sign (top) plane first
//! ```
//! A vector therefore costs D·B/8 + 16 bytes. Bit planes keep every kernel a sweep of 64-bit
//! words (popcount or byte-masked sums) for any B, and the sign plane first lets a 1-bit pass
//! read a prefix of each vector. `rounding` is the largest ‖r‖/cosine in the block: it scales
//! the query's 8-bit rounding error into each estimate's bound.

use super::code::{quantize, Factors};
use super::metric::{dot, normalized, Metric};
use super::rotation::{Rotation, MAX_DIMENSION};

pub const BLOCK_FORMAT_VERSION: u8 = 1;
const MAGIC: &[u8; 4] = b"SRBQ";
const HEADER: usize = 40;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EncodeError {
    #[error("bits per dimension must be 1..=8, got {0}")]
    Bits(u8),
    #[error("vector {index} has {got} dimensions, the rotation {expected}")]
    Dimension {
        index: usize,
        got: usize,
        expected: usize,
    },
    #[error("dimension {0} is above the supported {MAX_DIMENSION}")]
    TooLarge(usize),
    #[error("vector {0} has a NaN or infinite coordinate")]
    NonFinite(usize),
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FormatError {
    #[error("not a code block (bad magic)")]
    Magic,
    #[error("code block format {0} is not supported (this build reads {BLOCK_FORMAT_VERSION})")]
    Version(u8),
    #[error("code block is invalid: {0}")]
    Invalid(&'static str),
    #[error("code block has {got} bytes, its header says {expected}")]
    Length { got: usize, expected: usize },
}

#[derive(Debug, Clone, PartialEq)]
pub struct CodeBlock {
    pub(crate) bits: u8,
    pub(crate) metric: Metric,
    pub(crate) dimension: usize,
    pub(crate) padded: usize,
    pub(crate) seed: u64,
    pub(crate) rounding: f32,
    pub(crate) centroid: Vec<f32>,
    pub(crate) add: Vec<f32>,
    pub(crate) rescale: Vec<f32>,
    pub(crate) offset: Vec<f32>,
    pub(crate) error: Vec<f32>,
    pub(crate) codes: Vec<u64>,
}

impl CodeBlock {
    /// Quantizes a cluster's vectors relative to their mean, in `rotation`'s space.
    pub fn encode(
        vectors: &[&[f32]],
        metric: Metric,
        bits: u8,
        rotation: &Rotation,
    ) -> Result<Self, EncodeError> {
        if !(1..=8).contains(&bits) {
            return Err(EncodeError::Bits(bits));
        }
        let (dimension, padded) = (rotation.dimension(), rotation.padded());
        if dimension > super::MAX_DIMENSION {
            return Err(EncodeError::TooLarge(dimension));
        }
        for (index, v) in vectors.iter().enumerate() {
            if v.len() != dimension {
                return Err(EncodeError::Dimension {
                    index,
                    got: v.len(),
                    expected: dimension,
                });
            }
            if v.iter().any(|x| !x.is_finite()) {
                return Err(EncodeError::NonFinite(index));
            }
        }
        // Cosine ranks unit vectors by inner product: quantize the directions.
        let members: Vec<Vec<f32>> = vectors
            .iter()
            .map(|v| match metric {
                Metric::Cosine => normalized(v),
                Metric::L2 | Metric::Ip => v.to_vec(),
            })
            .collect();
        let mut mean = vec![0.0f64; dimension];
        for v in &members {
            for (m, x) in mean.iter_mut().zip(v) {
                *m += f64::from(*x);
            }
        }
        let n = members.len().max(1) as f64;
        let mean: Vec<f32> = mean.iter().map(|m| (m / n) as f32).collect();
        let centroid = rotation.apply(&mean);

        let count = members.len();
        let words = padded / 64;
        let mut block = CodeBlock {
            bits,
            metric,
            dimension,
            padded,
            seed: rotation.seed(),
            rounding: 0.0,
            centroid,
            add: Vec::with_capacity(count),
            rescale: Vec::with_capacity(count),
            offset: Vec::with_capacity(count),
            error: Vec::with_capacity(count),
            codes: vec![0u64; count * bits as usize * words],
        };
        for (i, v) in members.iter().enumerate() {
            let rotated = rotation.apply(v);
            let residual: Vec<f32> = rotated
                .iter()
                .zip(&block.centroid)
                .map(|(x, c)| x - c)
                .collect();
            let norm = dot(&residual, &residual).sqrt();
            let code = quantize(&residual, bits);
            let f = Factors::new(&code, norm, padded, metric == Metric::L2);
            block.add.push(f.add);
            block.rescale.push(f.rescale);
            block.offset.push(f.offset);
            block.error.push(f.error);
            block.rounding = block.rounding.max(Factors::rounding_scale(&code, norm));
            let planes = &mut block.codes[i * bits as usize * words..][..bits as usize * words];
            for (c, u) in code.codes.iter().enumerate() {
                for p in 0..bits as usize {
                    let bit = u64::from(u >> (bits as usize - 1 - p) & 1);
                    planes[p * words + c / 64] |= bit << (c % 64);
                }
            }
        }
        Ok(block)
    }

    pub fn len(&self) -> usize {
        self.add.len()
    }

    pub fn is_empty(&self) -> bool {
        self.add.is_empty()
    }

    pub fn bits(&self) -> u8 {
        self.bits
    }

    pub fn metric(&self) -> Metric {
        self.metric
    }

    pub fn dimension(&self) -> usize {
        self.dimension
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Every vector's bit planes (bits × D/64 words each), for the kernels.
    pub fn codes(&self) -> &[u64] {
        &self.codes
    }

    /// The encoded size of a block of `count` vectors.
    pub fn encoded_len(count: usize, bits: u8, padded: usize) -> usize {
        HEADER + 4 * padded + count * Self::bytes_per_vector(bits, padded)
    }

    /// Codes plus factors: D·B/8 + 16.
    pub fn bytes_per_vector(bits: u8, padded: usize) -> usize {
        padded * bits as usize / 8 + 16
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        out.reserve(Self::encoded_len(self.len(), self.bits, self.padded));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[BLOCK_FORMAT_VERSION, self.bits, self.metric.code(), 0]);
        for v in [self.dimension, self.padded, self.len(), 0] {
            out.extend_from_slice(&(v as u32).to_le_bytes());
        }
        out.extend_from_slice(&self.seed.to_le_bytes());
        out.extend_from_slice(&self.rounding.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        for array in [
            &self.centroid,
            &self.add,
            &self.rescale,
            &self.offset,
            &self.error,
        ] {
            for x in array.iter() {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        for w in &self.codes {
            out.extend_from_slice(&w.to_le_bytes());
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }

    /// Decodes a block (copying: codes are an eighth of the f32 vectors they replace, and owned
    /// aligned words keep every kernel free of unaligned-access concerns).
    pub fn read(b: &[u8]) -> Result<Self, FormatError> {
        if b.len() < HEADER || &b[..4] != MAGIC {
            return Err(if b.len() >= 4 && &b[..4] != MAGIC {
                FormatError::Magic
            } else {
                FormatError::Length {
                    got: b.len(),
                    expected: HEADER,
                }
            });
        }
        if b[4] != BLOCK_FORMAT_VERSION {
            return Err(FormatError::Version(b[4]));
        }
        let bits = b[5];
        if !(1..=8).contains(&bits) {
            return Err(FormatError::Invalid("bits per dimension outside 1..=8"));
        }
        let metric = Metric::from_code(b[6]).ok_or(FormatError::Invalid("unknown metric"))?;
        let u32_at = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let (dimension, padded, count) =
            (u32_at(8) as usize, u32_at(12) as usize, u32_at(16) as usize);
        if dimension > MAX_DIMENSION || padded != super::padded_dimension(dimension) {
            return Err(FormatError::Invalid(
                "dimension and padded dimension disagree",
            ));
        }
        let mut seed = [0u8; 8];
        seed.copy_from_slice(&b[24..32]);
        let rounding = f32::from_bits(u32_at(32));
        let expected = Self::encoded_len(count, bits, padded);
        if b.len() != expected {
            return Err(FormatError::Length {
                got: b.len(),
                expected,
            });
        }
        let mut at = HEADER;
        let mut f32s = |n: usize| {
            let v: Vec<f32> = b[at..at + 4 * n]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            at += 4 * n;
            v
        };
        let centroid = f32s(padded);
        let (add, rescale, offset, error) = (f32s(count), f32s(count), f32s(count), f32s(count));
        let start = HEADER + 4 * (padded + 4 * count);
        let codes = b[start..]
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect();
        Ok(CodeBlock {
            bits,
            metric,
            dimension,
            padded,
            seed: u64::from_le_bytes(seed),
            rounding,
            centroid,
            add,
            rescale,
            offset,
            error,
            codes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quantize::rng::SplitMix64;

    fn block(n: usize, d: usize, bits: u8, metric: Metric) -> CodeBlock {
        let mut rng = SplitMix64::new(5);
        let vs: Vec<Vec<f32>> = (0..n)
            .map(|_| (0..d).map(|_| rng.normal() as f32).collect())
            .collect();
        let refs: Vec<&[f32]> = vs.iter().map(|v| v.as_slice()).collect();
        CodeBlock::encode(&refs, metric, bits, &Rotation::new(11, d)).unwrap()
    }

    #[test]
    fn round_trips_and_has_the_documented_size() {
        for (n, d, bits, metric) in [
            (0, 8, 4, Metric::L2),
            (1, 100, 1, Metric::Ip),
            (33, 128, 4, Metric::Cosine),
            (7, 384, 8, Metric::L2),
        ] {
            let b = block(n, d, bits, metric);
            let bytes = b.to_bytes();
            let padded = crate::quantize::padded_dimension(d);
            assert_eq!(
                bytes.len(),
                40 + 4 * padded + n * (padded * bits as usize / 8 + 16)
            );
            assert_eq!(CodeBlock::read(&bytes).unwrap(), b);
        }
    }

    #[test]
    fn rejects_damaged_blocks() {
        let bytes = block(3, 64, 4, Metric::L2).to_bytes();
        assert!(matches!(
            CodeBlock::read(&bytes[..bytes.len() - 1]),
            Err(FormatError::Length { .. })
        ));
        assert!(matches!(
            CodeBlock::read(&bytes[..10]),
            Err(FormatError::Length { .. })
        ));
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert_eq!(CodeBlock::read(&bad), Err(FormatError::Magic));
        let mut bad = bytes.clone();
        bad[4] = 2;
        assert_eq!(CodeBlock::read(&bad), Err(FormatError::Version(2)));
        let mut bad = bytes.clone();
        bad[5] = 9;
        assert!(matches!(
            CodeBlock::read(&bad),
            Err(FormatError::Invalid(_))
        ));
        let mut bad = bytes;
        bad[12] = 0;
        assert!(matches!(
            CodeBlock::read(&bad),
            Err(FormatError::Invalid(_))
        ));
    }

    #[test]
    fn rejects_bad_input() {
        let r = Rotation::new(1, 4);
        let v = [1.0, 2.0, 3.0];
        assert!(matches!(
            CodeBlock::encode(&[&v], Metric::L2, 4, &r),
            Err(EncodeError::Dimension { .. })
        ));
        let v = [1.0, f32::NAN, 3.0, 4.0];
        assert_eq!(
            CodeBlock::encode(&[&v], Metric::L2, 4, &r),
            Err(EncodeError::NonFinite(0))
        );
        assert_eq!(
            CodeBlock::encode(&[], Metric::L2, 0, &r),
            Err(EncodeError::Bits(0))
        );
    }
}
