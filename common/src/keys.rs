//! Object-key layout. A short hash of the collection id comes first so that keys spread across
//! S3 prefixes; offsets and versions are zero-padded so lexicographic order is numeric order.

use object_store::path::Path;

use crate::hashing::stable_hash;
use crate::CollectionId;

/// Two hex bytes of prefix: 65,536 prefixes is far beyond what S3 partitions need.
pub fn collection_prefix(collection: CollectionId) -> String {
    let h = stable_hash(collection.as_bytes());
    format!("{:04x}/{}", h & 0xffff, collection)
}

pub fn log_dir(collection: CollectionId) -> Path {
    Path::from(format!("{}/log", collection_prefix(collection)))
}

pub fn log_fragment(collection: CollectionId, first_offset: u64) -> Path {
    Path::from(format!(
        "{}/log/{:020}",
        collection_prefix(collection),
        first_offset
    ))
}

/// Parses the first offset back out of a fragment key.
pub fn parse_log_fragment(path: &Path) -> Option<u64> {
    path.filename()?.parse().ok()
}

pub fn versions_dir(collection: CollectionId) -> Path {
    Path::from(format!("{}/v", collection_prefix(collection)))
}

/// A version's files live in a directory unique to the attempt that built it, so a compactor
/// that dies half-way never leaves objects that block the next attempt at the same version.
pub fn version_dir(collection: CollectionId, version: u64, attempt: &str) -> Path {
    Path::from(format!(
        "{}/v/{:010}-{}",
        collection_prefix(collection),
        version,
        attempt
    ))
}

pub fn version_file(dir: &Path, file: &str) -> Path {
    dir.clone().join(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragment_keys_sort_numerically_and_round_trip() {
        let c: CollectionId = "2b1e3c5e-0000-4000-8000-000000000001".parse().unwrap();
        let a = log_fragment(c, 9);
        let b = log_fragment(c, 10);
        assert!(a.as_ref() < b.as_ref());
        assert_eq!(parse_log_fragment(&b), Some(10));
        assert!(a.as_ref().starts_with(&collection_prefix(c)));
    }
}
