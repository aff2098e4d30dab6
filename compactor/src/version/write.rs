//! Laying out one version's objects from its records (in ordinal order) and their clusters.

use std::collections::BTreeMap;

use silt_common::record::Record;
use silt_index::format::{
    encode_blocks, encode_cluster, encode_coded_cluster, encode_sparse, finish_bundle,
    lay_out_bundle, metric_of, sort_keys, BlockEntry, ClusterRef, FileEntry, Head, IndexParams,
    Loc, Manifest, MetaKeyIndex, BUNDLE_FILE, BUNDLE_MAX_BYTES, CLUSTERS_FILE, HEAD_FILE, IDS_FILE,
    LOCATIONS_FILE, MANIFEST_FILE, MANIFEST_FORMAT_VERSION, META_FILE, SPARSE_FILE, TEXT_FILE,
    VECTORS_FILE,
};

use super::text;
use crate::CompactError;

pub struct VersionSpec<'a> {
    pub collection_id: String,
    pub version: u64,
    pub compacted_offset: u64,
    pub dimension: Option<u32>,
    pub distance: silt_common::distance::Distance,
    pub records: &'a [&'a Record],
    /// Cluster of each record, by ordinal.
    pub assignment: &'a [u32],
    pub clusters: usize,
    /// The serialized centroid index; empty for a flat version.
    pub centroids: Vec<u8>,
    pub params: IndexParams,
}

pub struct BuiltVersion {
    /// Data files first, `head.bin` and `manifest.json` last: a reader that finds the head finds
    /// everything it points to. A small flat version is one file, `version.bin`.
    pub files: Vec<(String, Vec<u8>)>,
    pub manifest: Manifest,
    /// The file the catalog points at: `manifest.json`, or the bundle.
    pub catalog_file: &'static str,
}

pub fn write_version(spec: VersionSpec<'_>) -> Result<BuiltVersion, CompactError> {
    let dimension = spec.dimension.unwrap_or(0) as usize;
    let mut members: Vec<Vec<(u32, &Record)>> = vec![Vec::new(); spec.clusters.max(1)];
    for (ordinal, (r, &c)) in spec.records.iter().zip(spec.assignment).enumerate() {
        let c = (c as usize).min(members.len() - 1);
        members[c].push((ordinal as u32, r));
    }

    let mut clusters_bin = Vec::new();
    let mut vectors_bin = Vec::new();
    let mut clusters = Vec::with_capacity(members.len());
    let mut locs = vec![Loc::default(); spec.records.len()];
    let quantized = spec
        .params
        .quantization
        .map(|q| (q.rotation(dimension), metric_of(spec.distance), q.bits));
    for m in &members {
        let offset = clusters_bin.len() as u64;
        let cluster_locs = match &quantized {
            Some((rotation, metric, bits)) => encode_coded_cluster(
                m,
                rotation,
                *metric,
                *bits,
                &mut clusters_bin,
                &mut vectors_bin,
            )
            .map_err(|e| CompactError::Index(format!("quantizing a cluster: {e}")))?,
            None => encode_cluster(m, dimension, &mut clusters_bin),
        };
        for loc in cluster_locs {
            locs[loc.ordinal as usize] = loc;
        }
        clusters.push(ClusterRef {
            offset,
            len: clusters_bin.len() as u64 - offset,
            count: m.len() as u32,
        });
    }

    let mut id_entries: Vec<BlockEntry> = spec
        .records
        .iter()
        .zip(&locs)
        .map(|(r, loc)| BlockEntry {
            key: r.id.as_bytes().to_vec(),
            loc: *loc,
        })
        .collect();
    id_entries.sort_by(|a, b| a.key.cmp(&b.key));
    let mut ids_bin = Vec::new();
    let id_blocks = encode_blocks(&id_entries, &mut ids_bin);

    let mut by_key: BTreeMap<(&str, bool), Vec<BlockEntry>> = BTreeMap::new();
    for (r, loc) in spec.records.iter().zip(&locs) {
        for (k, v) in &r.metadata {
            let entries = by_key.entry((k.as_str(), v.is_array())).or_default();
            for key in sort_keys(v) {
                entries.push(BlockEntry { key, loc: *loc });
            }
        }
    }
    let mut meta_bin = Vec::new();
    let mut meta = Vec::with_capacity(by_key.len());
    for ((k, array), mut entries) in by_key {
        entries.sort_by(|a, b| a.key.cmp(&b.key).then(a.loc.ordinal.cmp(&b.loc.ordinal)));
        meta.push(MetaKeyIndex {
            key: k.to_string(),
            array,
            blocks: encode_blocks(&entries, &mut meta_bin),
        });
    }

    let mut locations_bin = Vec::with_capacity(locs.len() * Loc::ENCODED_LEN);
    for loc in &locs {
        loc.encode(&mut locations_bin);
    }

    let text = text::build(spec.records, &locs)?;

    let mut files: Vec<(String, Vec<u8>)> = vec![
        (CLUSTERS_FILE.to_string(), clusters_bin),
        (IDS_FILE.to_string(), ids_bin),
        (META_FILE.to_string(), meta_bin),
        (LOCATIONS_FILE.to_string(), locations_bin),
    ];
    if quantized.is_some() {
        files.push((VECTORS_FILE.to_string(), vectors_bin));
    }
    let mut text_files = Vec::new();
    if let Some((bundle, table)) = text {
        files.push((TEXT_FILE.to_string(), bundle));
        text_files = table;
    }
    // Every key holding sparse vectors is indexed (a schema declaring which keys to index
    // would narrow this; without one, Chroma's clients can only rank by keys they wrote).
    let mut sparse_keys = Vec::new();
    if let Some(sparse) = encode_sparse(spec.records.iter().map(|r| &r.metadata)) {
        files.push((SPARSE_FILE.to_string(), sparse.bytes));
        sparse_keys = sparse.keys;
    }
    let mut manifest = Manifest {
        format_version: MANIFEST_FORMAT_VERSION,
        collection_id: spec.collection_id,
        version: spec.version,
        compacted_offset: spec.compacted_offset,
        record_count: spec.records.len() as u64,
        dimension: spec.dimension,
        distance: spec.distance,
        files: files
            .iter()
            .map(|(name, bytes)| FileEntry {
                name: name.clone(),
                size: bytes.len() as u64,
                offset: None,
            })
            .collect(),
        index: spec.params,
    };
    let mut head = Head {
        manifest: manifest.clone(),
        clusters,
        centroids: spec.centroids.into(),
        id_blocks,
        meta,
        text: text_files,
        sparse: sparse_keys,
    };
    let data_bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    if head.centroids.is_empty() && data_bytes + head.size_hint() <= BUNDLE_MAX_BYTES {
        // Small and flat: one object, one PUT, one GET for a cold query.
        let (laid_out, entries) = lay_out_bundle(files);
        manifest.files = entries;
        head.manifest = manifest.clone();
        let bundle = finish_bundle(laid_out, &head.encode());
        return Ok(BuiltVersion {
            files: vec![(BUNDLE_FILE.to_string(), bundle)],
            manifest,
            catalog_file: BUNDLE_FILE,
        });
    }
    files.push((HEAD_FILE.to_string(), head.encode()));
    let manifest_json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| CompactError::Index(format!("manifest: {e}")))?;
    files.push((MANIFEST_FILE.to_string(), manifest_json));
    Ok(BuiltVersion {
        files,
        manifest,
        catalog_file: MANIFEST_FILE,
    })
}
