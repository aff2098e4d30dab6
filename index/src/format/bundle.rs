//! `version.bin`: a small version as ONE object. A collection of a few hundred records would
//! otherwise cost seven PUTs per compaction and two GETs per cold query; bundled, it costs one
//! of each. The data files are laid end to end (their offsets are in the manifest's file
//! entries), then `head.bin`, then a fixed footer that says where the head is:
//!
//! ```text
//! [clusters.bin][ids.bin][meta.bin][locations.bin][text.bin][head.bin][footer: 24 bytes]
//! footer = head offset (u64 LE) · head length (u64 LE) · "SLTBNDL1"
//! ```
//!
//! A reader GETs the whole object (it is small by construction, `BUNDLE_MAX_BYTES`), finds the
//! head through the footer, and serves every later range of the version from those bytes.

use super::FileEntry;
use silt_common::codec::DecodeError;

pub const BUNDLE_FILE: &str = "version.bin";
const FOOTER_MAGIC: &[u8; 8] = b"SLTBNDL1";
const FOOTER_LEN: usize = 24;

/// Largest version written as one object. A flat version's cold query reads all of its vectors
/// anyway; the rest (payloads, text index) is usually smaller. At the ~90 MB/s a single S3
/// stream sustains, 4 MiB costs about one more round trip — what a second GET would cost —
/// while saving six PUTs per compaction and one GET per cold query.
pub const BUNDLE_MAX_BYTES: usize = 4 << 20;

/// Whether the catalog's key of a version names a bundle (otherwise it names a directory's
/// `manifest.json`).
pub fn is_bundle_key(manifest_key: &str) -> bool {
    manifest_key
        .rsplit_once('/')
        .map_or(manifest_key, |(_, name)| name)
        == BUNDLE_FILE
}

/// Lays `files` end to end and returns the bundle's bytes without its head, with each file's
/// entry (name, size, offset). The caller encodes the head from those entries and finishes
/// with `finish_bundle`.
pub fn lay_out_bundle(files: Vec<(String, Vec<u8>)>) -> (Vec<u8>, Vec<FileEntry>) {
    let total: usize = files.iter().map(|(_, b)| b.len()).sum();
    let mut out = Vec::with_capacity(total + 4096);
    let mut entries = Vec::with_capacity(files.len());
    for (name, bytes) in files {
        entries.push(FileEntry {
            name,
            size: bytes.len() as u64,
            offset: Some(out.len() as u64),
        });
        out.extend_from_slice(&bytes);
    }
    (out, entries)
}

/// Appends the encoded head and the footer.
pub fn finish_bundle(mut laid_out: Vec<u8>, head: &[u8]) -> Vec<u8> {
    let offset = laid_out.len() as u64;
    laid_out.extend_from_slice(head);
    laid_out.extend_from_slice(&offset.to_le_bytes());
    laid_out.extend_from_slice(&(head.len() as u64).to_le_bytes());
    laid_out.extend_from_slice(FOOTER_MAGIC);
    laid_out
}

/// The encoded head inside a whole bundle.
pub fn bundle_head(bundle: &[u8]) -> Result<&[u8], DecodeError> {
    let truncated = || DecodeError::Truncated {
        at: 0,
        needed: FOOTER_LEN,
        available: bundle.len(),
    };
    let footer_at = bundle.len().checked_sub(FOOTER_LEN).ok_or_else(truncated)?;
    let footer = &bundle[footer_at..];
    if &footer[16..] != FOOTER_MAGIC {
        return Err(DecodeError::BadMagic {
            expected: FOOTER_MAGIC,
        });
    }
    let u64_at = |i: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&footer[i..i + 8]);
        u64::from_le_bytes(a)
    };
    let (offset, len) = (u64_at(0), u64_at(8));
    let end = offset.checked_add(len).filter(|&e| e == footer_at as u64);
    match end {
        Some(_) => Ok(&bundle[offset as usize..footer_at]),
        None => Err(DecodeError::Invalid(format!(
            "bundle footer points at {offset}+{len}, but the head must end at {footer_at}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_footer_finds_the_head_and_damage_is_an_error() {
        let (laid, entries) = lay_out_bundle(vec![
            ("a.bin".into(), b"hello".to_vec()),
            ("b.bin".into(), b"world!".to_vec()),
        ]);
        assert_eq!(entries[0].offset, Some(0));
        assert_eq!(entries[1].offset, Some(5));
        let bundle = finish_bundle(laid, b"HEAD");
        assert_eq!(bundle_head(&bundle), Ok(&b"HEAD"[..]));
        assert_eq!(&bundle[5..11], b"world!");

        let mut bad_magic = bundle.clone();
        let n = bad_magic.len();
        bad_magic[n - 1] ^= 1;
        assert!(matches!(
            bundle_head(&bad_magic),
            Err(DecodeError::BadMagic { .. })
        ));
        let mut bad_offset = bundle.clone();
        bad_offset[n - 24] ^= 1;
        assert!(matches!(
            bundle_head(&bad_offset),
            Err(DecodeError::Invalid(_))
        ));
        assert!(bundle_head(b"short").is_err());
        assert!(is_bundle_key("ab/c/v/0000000001-x/version.bin"));
        assert!(!is_bundle_key("ab/c/v/0000000001-x/manifest.json"));
    }
}
