//! Little-endian binary encoding helpers for the persisted formats (log fragments, segments).
//! Readers never panic on short or malformed input: every read returns a `DecodeError`.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("truncated: needed {needed} bytes at position {at}, {available} available")]
    Truncated {
        at: usize,
        needed: usize,
        available: usize,
    },
    #[error("bad magic: expected {expected:?}")]
    BadMagic { expected: &'static [u8] },
    #[error("unsupported format version {0}")]
    UnsupportedVersion(u16),
    #[error("checksum mismatch: stored {stored:08x}, computed {computed:08x}")]
    Checksum { stored: u32, computed: u32 },
    #[error("invalid content: {0}")]
    Invalid(String),
}

#[derive(Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn with_capacity(n: usize) -> Self {
        Writer {
            buf: Vec::with_capacity(n),
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Length-prefixed (u32) byte string.
    pub fn blob(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.bytes(b);
    }

    pub fn str(&mut self, s: &str) {
        self.blob(s.as_bytes());
    }

    /// Presence byte, then the string if present.
    pub fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
        }
    }

    /// Length-prefixed (u32 count) f32 vector.
    pub fn f32s(&mut self, v: &[f32]) {
        self.u32(v.len() as u32);
        for x in v {
            self.buf.extend_from_slice(&x.to_le_bytes());
        }
    }

    /// Appends a CRC32 of everything written so far.
    pub fn finish_with_crc(mut self) -> Vec<u8> {
        let crc = crc32fast::hash(&self.buf);
        self.u32(crc);
        self.buf
    }

    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }
}

pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Verifies the trailing CRC32 and returns a reader over the covered bytes.
    pub fn checked(buf: &'a [u8]) -> Result<Self, DecodeError> {
        if buf.len() < 4 {
            return Err(DecodeError::Truncated {
                at: 0,
                needed: 4,
                available: buf.len(),
            });
        }
        let (body, tail) = buf.split_at(buf.len() - 4);
        let stored = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
        let computed = crc32fast::hash(body);
        if stored != computed {
            return Err(DecodeError::Checksum { stored, computed });
        }
        Ok(Reader::new(body))
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                at: self.pos,
                needed: n,
                available: self.remaining(),
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub fn magic(&mut self, expected: &'static [u8]) -> Result<(), DecodeError> {
        if self.take(expected.len())? != expected {
            return Err(DecodeError::BadMagic { expected });
        }
        Ok(())
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    pub fn blob(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    pub fn str(&mut self) -> Result<String, DecodeError> {
        let b = self.blob()?;
        String::from_utf8(b.to_vec()).map_err(|e| DecodeError::Invalid(e.to_string()))
    }

    pub fn opt_str(&mut self) -> Result<Option<String>, DecodeError> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.str()?)),
            t => Err(DecodeError::Invalid(format!("bad presence tag {t}"))),
        }
    }

    pub fn f32s(&mut self) -> Result<Vec<f32>, DecodeError> {
        let n = self.u32()? as usize;
        let bytes = self.take(
            n.checked_mul(4)
                .ok_or_else(|| DecodeError::Invalid("vector length overflows".to_string()))?,
        )?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    pub fn expect_end(&self) -> Result<(), DecodeError> {
        if self.remaining() != 0 {
            return Err(DecodeError::Invalid(format!(
                "{} trailing bytes",
                self.remaining()
            )));
        }
        Ok(())
    }
}

/// Little-endian f32 bytes (as the persisted formats store vectors), decoded.
pub fn f32s_from_le(raw: &[u8]) -> Vec<f32> {
    raw.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_crc() {
        let mut w = Writer::default();
        w.u64(7);
        w.str("héllo");
        w.opt_str(None);
        w.f32s(&[1.5, -2.0]);
        let bytes = w.finish_with_crc();
        let mut r = Reader::checked(&bytes).unwrap();
        assert_eq!(r.u64().unwrap(), 7);
        assert_eq!(r.str().unwrap(), "héllo");
        assert_eq!(r.opt_str().unwrap(), None);
        assert_eq!(r.f32s().unwrap(), vec![1.5, -2.0]);
        r.expect_end().unwrap();
    }

    #[test]
    fn any_flipped_bit_or_truncation_is_detected() {
        let mut w = Writer::default();
        w.str("payload");
        let bytes = w.finish_with_crc();
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert!(Reader::checked(&bad).is_err(), "flip at {i} undetected");
        }
        for n in 0..bytes.len() {
            assert!(Reader::checked(&bytes[..n]).is_err(), "truncation to {n}");
        }
    }

    #[test]
    fn oversized_lengths_are_errors_not_panics() {
        let mut w = Writer::default();
        w.u32(u32::MAX);
        let bytes = w.into_inner();
        assert!(Reader::new(&bytes).f32s().is_err());
        assert!(Reader::new(&bytes).blob().is_err());
    }
}
