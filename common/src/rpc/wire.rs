//! The internal codec. Each message type says how it is written with the shared `Writer` and
//! read back with `Reader`; a message is a format byte followed by its fields.

use crate::codec::{DecodeError, Reader, Writer};
use crate::record::{LogEntry, OperationRecord, Record};

const WIRE_FORMAT: u8 = 1;

pub trait Wire: Sized {
    fn encode(&self, w: &mut Writer);
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

pub fn to_bytes<T: Wire>(value: &T) -> Vec<u8> {
    let mut w = Writer::default();
    w.u8(WIRE_FORMAT);
    value.encode(&mut w);
    w.into_inner()
}

pub fn from_bytes<T: Wire>(bytes: &[u8]) -> Result<T, DecodeError> {
    let mut r = Reader::new(bytes);
    let format = r.u8()?;
    if format != WIRE_FORMAT {
        return Err(DecodeError::UnsupportedVersion(u16::from(format)));
    }
    let value = T::decode(&mut r)?;
    r.expect_end()?;
    Ok(value)
}

impl Wire for () {
    fn encode(&self, _: &mut Writer) {}
    fn decode(_: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(())
    }
}

impl Wire for u64 {
    fn encode(&self, w: &mut Writer) {
        w.u64(*self);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u64()
    }
}

impl Wire for String {
    fn encode(&self, w: &mut Writer) {
        w.str(self);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.str()
    }
}

impl Wire for f32 {
    fn encode(&self, w: &mut Writer) {
        w.u32(self.to_bits());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(f32::from_bits(r.u32()?))
    }
}

impl<T: Wire> Wire for Option<T> {
    fn encode(&self, w: &mut Writer) {
        match self {
            None => w.u8(0),
            Some(v) => {
                w.u8(1);
                v.encode(w);
            }
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.u8()? {
            0 => Ok(None),
            1 => Ok(Some(T::decode(r)?)),
            t => Err(DecodeError::Invalid(format!("bad option tag {t}"))),
        }
    }
}

impl<T: Wire> Wire for Vec<T> {
    fn encode(&self, w: &mut Writer) {
        w.u64(self.len() as u64);
        for v in self {
            v.encode(w);
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let n = r.u64()?;
        // Every element takes at least one byte: a length beyond what is left is corrupt, and
        // must not make us reserve memory for it.
        if n > r.remaining() as u64 {
            return Err(DecodeError::Invalid(format!(
                "list of {n} in {} bytes",
                r.remaining()
            )));
        }
        (0..n).map(|_| T::decode(r)).collect()
    }
}

impl<A: Wire, B: Wire> Wire for (A, B) {
    fn encode(&self, w: &mut Writer) {
        self.0.encode(w);
        self.1.encode(w);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok((A::decode(r)?, B::decode(r)?))
    }
}

impl Wire for OperationRecord {
    fn encode(&self, w: &mut Writer) {
        OperationRecord::encode(self, w);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        OperationRecord::decode(r)
    }
}

impl Wire for LogEntry {
    fn encode(&self, w: &mut Writer) {
        w.u64(self.offset);
        self.record.encode(w);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(LogEntry {
            offset: r.u64()?,
            record: OperationRecord::decode(r)?,
        })
    }
}

impl Wire for Record {
    fn encode(&self, w: &mut Writer) {
        Record::encode(self, w);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Record::decode(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Metadata, MetadataValue, Operation};

    #[test]
    fn messages_round_trip_and_garbage_is_rejected() {
        let mut metadata = Metadata::new();
        metadata.insert("i".into(), MetadataValue::Int(2));
        metadata.insert("f".into(), MetadataValue::Float(2.0));
        let record = Record {
            id: "r".into(),
            embedding: vec![0.5, -1.0],
            document: None,
            metadata,
            uri: Some("u".into()),
        };
        let entry = LogEntry {
            offset: 7,
            record: OperationRecord {
                id: "x".into(),
                operation: Operation::Update,
                embedding: None,
                document: Some("d".into()),
                metadata: None,
                uri: None,
            },
        };
        let msg = (vec![record.clone()], Some(vec![entry.clone()]));
        let bytes = to_bytes(&msg);
        let back: (Vec<Record>, Option<Vec<LogEntry>>) = from_bytes(&bytes).unwrap();
        assert_eq!(back.0, vec![record]);
        assert_eq!(back.1, Some(vec![entry]));
        assert!(
            from_bytes::<(Vec<Record>, Option<Vec<LogEntry>>)>(&bytes[..bytes.len() - 1]).is_err()
        );
        let mut huge = to_bytes(&Vec::<u64>::new());
        huge[1..9].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(from_bytes::<Vec<u64>>(&huge).is_err());
    }
}
