//! Golden file: pins the bytes of code block format version 1. Regenerate (only with a
//! deliberate format change, which also bumps BLOCK_FORMAT_VERSION) by
//! `SILT_UPDATE_GOLDEN=1 cargo test -p silt-index --test golden`.
//!
//! The input uses only exact arithmetic on the seeded generator (no transcendental functions),
//! so the bytes are the same on every IEEE-754 platform.

use std::path::PathBuf;

use silt_index::quantize::rng::SplitMix64;
use silt_index::quantize::{estimate, CodeBlock, Metric, Query, Rotation, BLOCK_FORMAT_VERSION};

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn input() -> (Rotation, Vec<Vec<f32>>) {
    let mut rng = SplitMix64::new(2026);
    let vectors = (0..5)
        .map(|_| {
            (0..10)
                .map(|_| (rng.next_f64() * 2.0 - 1.0) as f32)
                .collect()
        })
        .collect();
    (Rotation::new(7, 10), vectors)
}

fn check(name: &str, metric: Metric, bits: u8) {
    let (rotation, vectors) = input();
    let refs: Vec<&[f32]> = vectors.iter().map(|v| v.as_slice()).collect();
    let block = CodeBlock::encode(&refs, metric, bits, &rotation).unwrap();
    let bytes = block.to_bytes();
    let path = golden_path(name);
    if std::env::var_os("SILT_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &bytes).unwrap();
    }
    let golden = std::fs::read(&path).unwrap();
    assert_eq!(golden[4], BLOCK_FORMAT_VERSION);
    assert_eq!(
        bytes, golden,
        "{name}: encoding changed; bump the format version"
    );
    // The checked-in bytes decode to the same block, and score like it.
    let decoded = CodeBlock::read(&golden).unwrap();
    assert_eq!(decoded, block);
    let query = Query::new(&rotation, metric, &vectors[0]).unwrap();
    assert_eq!(
        estimate(&decoded, &query).unwrap(),
        estimate(&block, &query).unwrap()
    );
}

#[test]
fn l2_four_bits() {
    check("code_block_v1_l2_b4.bin", Metric::L2, 4);
}

#[test]
fn cosine_one_bit() {
    check("code_block_v1_cosine_b1.bin", Metric::Cosine, 1);
}

/// The cluster block of format-4 versions (codes, payloads) and its rows in `vectors.bin`.
#[test]
fn coded_cluster_block_v2() {
    use silt_common::record::{Metadata, Record};
    use silt_index::format::{decode_coded_cluster, encode_coded_cluster};

    let (rotation, vectors) = input();
    let records: Vec<Record> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            id: format!("r{i}"),
            embedding: v.clone(),
            document: (i != 2).then(|| format!("document {i}")),
            metadata: Metadata::new(),
            uri: None,
        })
        .collect();
    let members: Vec<(u32, &Record)> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (10 + i as u32, r))
        .collect();
    let (mut clusters, mut vectors_bin) = (Vec::new(), Vec::new());
    let locs = encode_coded_cluster(
        &members,
        &rotation,
        Metric::L2,
        4,
        &mut clusters,
        &mut vectors_bin,
    )
    .unwrap();
    let mut bytes = clusters.clone();
    bytes.extend_from_slice(&vectors_bin);
    let path = golden_path("cluster_block_v2_l2_b4.bin");
    if std::env::var_os("SILT_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &bytes).unwrap();
    }
    let golden = std::fs::read(&path).unwrap();
    assert_eq!(
        bytes, golden,
        "cluster block v2 changed: that is a new manifest format"
    );
    let rows = decode_coded_cluster(bytes::Bytes::from(clusters), 10).unwrap();
    for (i, r) in records.iter().enumerate() {
        assert_eq!(rows.ordinals[i], 10 + i as u32);
        assert_eq!(rows.payload(i).unwrap().id, r.id);
        assert_eq!(locs[i].vector_offset, rows.vector_range(i).start);
    }
}
