//! Pins the bytes of log fragment format version 1: any change to the encoding must be a new
//! format version, never a silent change of these bytes.

use silt_common::record::{MetadataValue, Operation, OperationRecord};
use silt_common::CollectionId;
use silt_log_service::{decode_fragment, encode_fragment};

const GOLDEN: &[u8] = include_bytes!("golden/fragment_v1.bin");

fn sample() -> (CollectionId, Vec<OperationRecord>) {
    let c: CollectionId = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b".parse().unwrap();
    let mut meta = std::collections::BTreeMap::new();
    meta.insert("k".to_string(), Some(MetadataValue::Int(7)));
    meta.insert("gone".to_string(), None);
    let records = vec![
        OperationRecord {
            id: "a".into(),
            operation: Operation::Add,
            embedding: Some(vec![1.0, -0.5]),
            document: Some("doc".into()),
            metadata: Some(meta),
            uri: None,
        },
        OperationRecord::delete("b".into()),
    ];
    (c, records)
}

#[test]
fn fragment_v1_bytes_are_pinned() {
    let (c, records) = sample();
    let bytes = encode_fragment(c, 41, &records);
    if std::env::var("SILT_BLESS").is_ok() {
        std::fs::write(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/fragment_v1.bin"),
            &bytes,
        )
        .unwrap();
    }
    assert_eq!(bytes, GOLDEN);
    let decoded = decode_fragment(GOLDEN, c).unwrap();
    assert_eq!(decoded.first_offset, 41);
    assert_eq!(decoded.last_offset(), 42);
    assert_eq!(
        decoded
            .entries
            .iter()
            .map(|e| e.record.clone())
            .collect::<Vec<_>>(),
        records
    );
}

/// A sparse vector in metadata travels as Chroma's JSON inside the same fragment format: no new
/// format version, and these bytes must not change either.
#[test]
fn fragment_v1_with_a_sparse_vector_is_pinned() {
    const SPARSE_GOLDEN: &[u8] = include_bytes!("golden/fragment_v1_sparse.bin");
    let c: CollectionId = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b".parse().unwrap();
    let sparse = silt_common::sparse_vector::SparseVector {
        indices: vec![3, 17, 4_000_000_000],
        values: vec![0.5, -1.25, 0.1],
        tokens: Some(vec!["a".into(), "b".into(), "c".into()]),
    };
    let mut meta = std::collections::BTreeMap::new();
    meta.insert("sv".to_string(), Some(MetadataValue::SparseVector(sparse)));
    let records = vec![OperationRecord {
        id: "s".into(),
        operation: Operation::Upsert,
        embedding: Some(vec![0.25]),
        document: None,
        metadata: Some(meta),
        uri: None,
    }];
    let bytes = encode_fragment(c, 7, &records);
    if std::env::var("SILT_BLESS").is_ok() {
        std::fs::write(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/golden/fragment_v1_sparse.bin"
            ),
            &bytes,
        )
        .unwrap();
    }
    assert_eq!(bytes, SPARSE_GOLDEN);
    let decoded = decode_fragment(SPARSE_GOLDEN, c).unwrap();
    assert_eq!(decoded.entries[0].record, records[0]);
}
