//! The persisted format of an index version: immutable objects in one version
//! directory, laid out so that a query reads only the byte ranges it needs.
//!
//! - `manifest.json` describes the version (files, sizes, counts, dimension, distance, index
//!   parameters) for operators and tools.
//! - `head.bin` is everything a query needs to plan its reads: the manifest, the cluster table,
//!   the centroid index (usearch), and the block indexes of `ids.bin` and `meta.bin`. One GET.
//! - `clusters.bin` holds the records, cluster by cluster: each cluster is one contiguous block
//!   (ordinals, then vectors, then the rest of each record), so probing a cluster is one range.
//!   When the manifest names a quantization (format 4, clustered versions), a block holds
//!   quantized codes instead of vectors (coded.rs) and the f32 vectors are in `vectors.bin`,
//!   off the cold path: read to re-rank a few candidates and to return embeddings.
//! - `ids.bin` maps ids to record locations; `meta.bin` maps metadata values to record
//!   locations, both as sorted blocks; `locations.bin` maps ordinals to locations.
//! - `text.bin` bundles the files of a tantivy index over the documents.
//! - `sparse.bin` holds an inverted index per metadata key with sparse vectors (posting lists
//!   by dimension, with per-block weight bounds); its directory blocks are listed in the head.
//!
//! A small flat version is instead ONE object, `version.bin`, holding all of the above end to
//! end (bundle.rs); the catalog then points at it rather than at `manifest.json`.
//!
//! A record's ordinal is its position in the collection's logical order (insertion order), which
//! is the order `get` returns; clusters are the physical order.

mod blocks;
mod bundle;
mod clusters;
mod coded;
mod head;
mod read;
mod sortkey;
mod sparse;
mod sparse_topk;

pub use blocks::{decode_block, encode_blocks, BlockEntry, BlockRef};
pub use bundle::{
    bundle_head, finish_bundle, is_bundle_key, lay_out_bundle, BUNDLE_FILE, BUNDLE_MAX_BYTES,
};
pub use clusters::{
    decode_cluster, decode_payload, encode_cluster, encode_payload, f32s_from_le, ClusterRows,
    Payload,
};
pub use coded::{
    decode_coded_cluster, encode_coded_cluster, metric_of, scored_len, CodedRows, Quantization,
    RERANK_PAGE_BYTES,
};
pub use head::{ClusterRef, Head, MetaKeyIndex, TextFile};
pub use read::{read_all_records, read_head, VersionContents, VersionReadError};
pub use sortkey::{number_key, sort_keys, SortKey, TAG_BOOL, TAG_NUMBER, TAG_STR};
pub use sparse::{
    decode_directory_block, decode_postings, encode_sparse, BlockMeta, DirEntry, PostingList,
    SparseDirRef, SparseFile, SparseKeyIndex,
};
pub use sparse_topk::{top_k as sparse_top_k, Term as SparseTerm};

/// 4: the index parameters may name a quantization (cluster blocks of codes, `vectors.bin`).
/// 3: file entries may carry an offset (the version is one bundle object). Versions written
/// with formats 2 and 3 (f32 vectors in the cluster blocks) stay readable.
pub const MANIFEST_FORMAT_VERSION: u32 = 4;
const READABLE_MANIFEST_FORMATS: [u32; 3] = [2, 3, 4];
pub const MANIFEST_FILE: &str = "manifest.json";
pub const HEAD_FILE: &str = "head.bin";
pub const CLUSTERS_FILE: &str = "clusters.bin";
pub const VECTORS_FILE: &str = "vectors.bin";
pub const IDS_FILE: &str = "ids.bin";
pub const META_FILE: &str = "meta.bin";
pub const LOCATIONS_FILE: &str = "locations.bin";
pub const TEXT_FILE: &str = "text.bin";
pub const SPARSE_FILE: &str = "sparse.bin";

/// Where one record lives: its vector (in `Manifest::vectors_file`) and the rest of it (id,
/// document, metadata, uri, in `clusters.bin`), which a query fetches only for the records it
/// returns or must verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Loc {
    pub ordinal: u32,
    pub vector_offset: u64,
    pub payload_offset: u64,
    pub payload_len: u32,
}

impl Loc {
    pub const ENCODED_LEN: usize = 4 + 8 + 8 + 4;

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.ordinal.to_le_bytes());
        out.extend_from_slice(&self.vector_offset.to_le_bytes());
        out.extend_from_slice(&self.payload_offset.to_le_bytes());
        out.extend_from_slice(&self.payload_len.to_le_bytes());
    }

    pub fn decode(b: &[u8]) -> Option<Loc> {
        if b.len() < Self::ENCODED_LEN {
            return None;
        }
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(a)
        };
        Some(Loc {
            ordinal: u32_at(0),
            vector_offset: u64_at(4),
            payload_offset: u64_at(12),
            payload_len: u32_at(20),
        })
    }
}

/// Index parameters recorded in the manifest.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IndexParams {
    /// "flat" (one cluster, scanned whole) or "ivf" (clusters found through a centroid index).
    pub kind: String,
    pub clusters: u32,
    /// Clusters probed by a query at the default settings.
    pub nprobe: u32,
    /// Records when the centroids were last trained; the compactor re-clusters when the
    /// collection has drifted far from it (docs/decisions/…-incremental-clustering.md).
    pub trained_on: u64,
    /// Mean squared distance of a record to its centroid right after training, and now.
    pub trained_spread: f32,
    pub spread: f32,
    /// Set when the cluster blocks hold quantized codes (format 4); absent, they hold f32.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantization: Option<Quantization>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub size: u64,
    /// Where the file starts inside the version's bundle object, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub collection_id: String,
    pub version: u64,
    /// Last log offset folded into this version.
    pub compacted_offset: u64,
    pub record_count: u64,
    pub dimension: Option<u32>,
    pub distance: silt_common::distance::Distance,
    pub files: Vec<FileEntry>,
    pub index: IndexParams,
}

impl Manifest {
    pub fn decode(bytes: &[u8]) -> Result<Manifest, silt_common::codec::DecodeError> {
        use silt_common::codec::DecodeError;
        let v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| DecodeError::Invalid(e.to_string()))?;
        let format = v
            .get("format_version")
            .and_then(|f| f.as_u64())
            .unwrap_or(0);
        if !READABLE_MANIFEST_FORMATS.contains(&(format as u32)) {
            return Err(DecodeError::UnsupportedVersion(format as u16));
        }
        serde_json::from_value(v).map_err(|e| DecodeError::Invalid(e.to_string()))
    }

    /// The file holding the records' f32 vectors.
    pub fn vectors_file(&self) -> &'static str {
        if self.index.quantization.is_some() {
            VECTORS_FILE
        } else {
            CLUSTERS_FILE
        }
    }

    pub fn file_size(&self, name: &str) -> Option<u64> {
        self.files.iter().find(|f| f.name == name).map(|f| f.size)
    }

    /// Whether the version is one bundle object.
    pub fn is_bundled(&self) -> bool {
        self.files.iter().any(|f| f.offset.is_some())
    }

    /// Where file `name` of the version in `dir` lives: the object and the file's first byte
    /// in it (the bundle and an offset, or the file's own object and 0).
    pub fn locate(
        &self,
        dir: &object_store::path::Path,
        name: &str,
    ) -> (object_store::path::Path, u64) {
        match self
            .files
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| f.offset)
        {
            Some(offset) => (dir.clone().join(BUNDLE_FILE), offset),
            None => (dir.clone().join(name), 0),
        }
    }
}

/// Where a version's files live: the manifest key's directory.
pub fn version_dir_of(manifest_key: &str) -> object_store::path::Path {
    let dir = manifest_key.rsplit_once('/').map_or("", |(d, _)| d);
    object_store::path::Path::from(dir)
}

/// Field names of the tantivy index in `text.bin`, shared by its writer and its readers.
pub mod text_fields {
    /// Tokenized for BM25.
    pub const TEXT: &str = "text";
    /// Every character trigram, case-sensitive: candidates for substring tests.
    pub const TRIGRAMS: &str = "tri";
    pub const TRIGRAM_TOKENIZER: &str = "silt_trigram";
    /// The record's ordinal and location, as fast fields.
    pub const ORDINAL: &str = "ord";
    pub const VECTOR_OFFSET: &str = "vo";
    pub const PAYLOAD_OFFSET: &str = "po";
    pub const PAYLOAD_LEN: &str = "pl";
}
