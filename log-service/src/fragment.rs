//! The log fragment format, version 1. All integers little-endian.
//!
//! ```text
//! magic "SLTLOG" | format u16 | collection id [16] | first offset u64 | last offset u64 |
//! record count u32 | records (see OperationRecord::encode) | crc32 of everything before it
//! ```
//! A reader checks the checksum before it trusts a byte, then that the header agrees with the
//! key it read and with the records it holds.

use silt_common::codec::{DecodeError, Reader, Writer};
use silt_common::record::{LogEntry, OperationRecord};
use silt_common::CollectionId;

pub const FRAGMENT_FORMAT_VERSION: u16 = 1;
const MAGIC: &[u8] = b"SLTLOG";

#[derive(Debug, Clone, PartialEq)]
pub struct Fragment {
    pub collection: CollectionId,
    pub first_offset: u64,
    pub entries: Vec<LogEntry>,
}

impl Fragment {
    pub fn last_offset(&self) -> u64 {
        self.first_offset + self.entries.len() as u64 - 1
    }
}

/// Encodes `records` as offsets `first_offset..`; `records` must not be empty.
pub fn encode_fragment(
    collection: CollectionId,
    first_offset: u64,
    records: &[OperationRecord],
) -> Vec<u8> {
    let mut w = Writer::with_capacity(64 + records.len() * 256);
    w.bytes(MAGIC);
    w.u16(FRAGMENT_FORMAT_VERSION);
    w.bytes(collection.as_bytes());
    w.u64(first_offset);
    w.u64(first_offset + records.len() as u64 - 1);
    w.u32(records.len() as u32);
    for r in records {
        r.encode(&mut w);
    }
    w.finish_with_crc()
}

pub fn decode_fragment(bytes: &[u8], expected: CollectionId) -> Result<Fragment, DecodeError> {
    let mut r = Reader::checked(bytes)?;
    r.magic(MAGIC)?;
    let version = r.u16()?;
    if version != FRAGMENT_FORMAT_VERSION {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    let id = r.take(16)?;
    if id != expected.as_bytes() {
        return Err(DecodeError::Invalid(format!(
            "fragment belongs to another collection, expected {expected}"
        )));
    }
    let first_offset = r.u64()?;
    let last_offset = r.u64()?;
    let count = r.u32()? as u64;
    if count == 0 || last_offset.checked_sub(first_offset) != Some(count - 1) {
        return Err(DecodeError::Invalid(format!(
            "header says offsets {first_offset}..={last_offset} but {count} records"
        )));
    }
    let mut entries = Vec::with_capacity(count.min(1 << 16) as usize);
    for i in 0..count {
        entries.push(LogEntry {
            offset: first_offset + i,
            record: OperationRecord::decode(&mut r)?,
        });
    }
    r.expect_end()?;
    Ok(Fragment {
        collection: expected,
        first_offset,
        entries,
    })
}
