//! The full-text part of a version: a tantivy index over the documents, bundled into one object
//! (`text.bin`) whose file table goes in the head.
//!
//! Two fields serve two needs: `text` is tokenized for BM25 ranking; `tri` holds every
//! character trigram, case-sensitive, so Chroma's `$contains` (a substring test, not a token
//! test) finds its candidates as the documents holding all trigrams of the needle. The query
//! verifies each candidate against the real document.

use silt_common::record::Record;
use silt_index::format::{Loc, TextFile};
use tantivy::schema::{IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, TEXT};
use tantivy::tokenizer::NgramTokenizer;
use tantivy::{doc, Index};

use crate::CompactError;

use silt_index::format::text_fields::{
    ORDINAL as FIELD_ORDINAL, PAYLOAD_LEN as FIELD_PAYLOAD_LEN,
    PAYLOAD_OFFSET as FIELD_PAYLOAD_OFFSET, TEXT as FIELD_TEXT, TRIGRAMS as FIELD_TRIGRAMS,
    TRIGRAM_TOKENIZER, VECTOR_OFFSET as FIELD_VECTOR_OFFSET,
};

fn text_error(e: impl std::fmt::Display) -> CompactError {
    CompactError::Index(format!("tantivy: {e}"))
}

/// `text.bin` and the table of the tantivy files inside it.
pub type TextBundle = (Vec<u8>, Vec<TextFile>);

pub fn schema() -> Schema {
    let mut b = Schema::builder();
    b.add_text_field(FIELD_TEXT, TEXT);
    b.add_text_field(
        FIELD_TRIGRAMS,
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TRIGRAM_TOKENIZER)
                .set_index_option(IndexRecordOption::Basic),
        ),
    );
    for f in [
        FIELD_ORDINAL,
        FIELD_VECTOR_OFFSET,
        FIELD_PAYLOAD_OFFSET,
        FIELD_PAYLOAD_LEN,
    ] {
        b.add_u64_field(f, FAST);
    }
    b.build()
}

pub fn register_tokenizers(index: &Index) -> Result<(), CompactError> {
    index.tokenizers().register(
        TRIGRAM_TOKENIZER,
        NgramTokenizer::new(3, 3, false).map_err(text_error)?,
    );
    Ok(())
}

/// Builds the text index; returns `text.bin` and its file table, or `None` when no record has
/// a document.
pub fn build(records: &[&Record], locs: &[Loc]) -> Result<Option<TextBundle>, CompactError> {
    if records.iter().all(|r| r.document.is_none()) {
        return Ok(None);
    }
    let dir = tempfile::tempdir().map_err(text_error)?;
    let schema = schema();
    let field = |name: &str| schema.get_field(name).map_err(text_error);
    let (text, tri) = (field(FIELD_TEXT)?, field(FIELD_TRIGRAMS)?);
    let (ord, vo, po, pl) = (
        field(FIELD_ORDINAL)?,
        field(FIELD_VECTOR_OFFSET)?,
        field(FIELD_PAYLOAD_OFFSET)?,
        field(FIELD_PAYLOAD_LEN)?,
    );
    let index = Index::create_in_dir(dir.path(), schema.clone()).map_err(text_error)?;
    register_tokenizers(&index)?;
    let mut writer = index
        .writer_with_num_threads::<tantivy::TantivyDocument>(1, 64 << 20)
        .map_err(text_error)?;
    for (r, loc) in records.iter().zip(locs) {
        let Some(d) = &r.document else { continue };
        writer
            .add_document(doc!(
                text => d.as_str(),
                tri => d.as_str(),
                ord => u64::from(loc.ordinal),
                vo => loc.vector_offset,
                po => loc.payload_offset,
                pl => u64::from(loc.payload_len),
            ))
            .map_err(text_error)?;
    }
    writer.commit().map_err(text_error)?;
    writer.wait_merging_threads().map_err(text_error)?;

    let mut bundle = Vec::new();
    let mut files = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir.path())
        .map_err(text_error)?
        .collect::<Result<_, _>>()
        .map_err(text_error)?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().to_string();
        if name.ends_with(".lock") {
            continue;
        }
        let bytes = std::fs::read(e.path()).map_err(text_error)?;
        files.push(TextFile {
            name,
            offset: bundle.len() as u64,
            len: bytes.len() as u64,
        });
        bundle.extend_from_slice(&bytes);
    }
    Ok(Some((bundle, files)))
}
