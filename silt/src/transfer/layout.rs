//! The Parquet layout of an exported collection (docs/decisions/2026-11-30-export-format.md):
//! one row per record, columns
//!
//! | column    | type                      | null when                  |
//! |-----------|---------------------------|----------------------------|
//! | id        | string                    | never                      |
//! | embedding | list<float32> (non-null items) | the record has none   |
//! | document  | string                    | the record has none        |
//! | uri       | string                    | the record has none        |
//! | metadata  | string: a JSON object     | the record has none        |
//!
//! and, in the file's key-value metadata, `silt.collection` (JSON: tenant, database, name, id,
//! metadata, configuration, dimension) and, once the file is complete, `silt.records`.

use std::sync::Arc;

use arrow_array::builder::{Float32Builder, ListBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Float32Type;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use super::records::Records;

pub const COLLECTION_KEY: &str = "silt.collection";
pub const RECORDS_KEY: &str = "silt.records";
pub const FORMAT_VERSION: u32 = 1;

/// What a file says about the collection it holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CollectionHeader {
    pub format_version: u32,
    pub tenant: String,
    pub database: String,
    pub name: String,
    /// The collection's id on the server it was exported from (for the record only).
    pub id: String,
    pub metadata: Option<Value>,
    pub configuration: Option<Value>,
    /// Absent in files written before schemas were exported.
    #[serde(default)]
    pub schema: Option<Value>,
    pub dimension: Option<u32>,
}

fn item_field() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Float32, false))
}

pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("embedding", DataType::List(item_field()), true),
        Field::new("document", DataType::Utf8, true),
        Field::new("uri", DataType::Utf8, true),
        Field::new("metadata", DataType::Utf8, true),
    ]))
}

/// One page of records as a record batch of the layout's schema.
pub fn to_batch(records: &Records) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let n = records.len();
    let mut ids = StringBuilder::with_capacity(n, n * 16);
    for id in &records.ids {
        ids.append_value(id);
    }
    let dim = records
        .embeddings
        .iter()
        .flatten()
        .map(Vec::len)
        .next()
        .unwrap_or(0);
    let mut embeddings = ListBuilder::with_capacity(Float32Builder::with_capacity(n * dim), n)
        .with_field(item_field());
    for e in &records.embeddings {
        match e {
            Some(v) => {
                embeddings.values().append_slice(v);
                embeddings.append(true);
            }
            None => embeddings.append(false),
        }
    }
    let documents = strings(records.documents.iter().map(|d| d.as_deref()));
    let uris = strings(records.uris.iter().map(|u| u.as_deref()));
    let metadatas = strings(
        records
            .metadatas
            .iter()
            .map(|m| m.as_deref().map(RawValue::get)),
    );
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(ids.finish()),
            Arc::new(embeddings.finish()),
            documents,
            uris,
            metadatas,
        ],
    )
}

fn strings<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    let mut b = StringBuilder::new();
    for v in values {
        b.append_option(v);
    }
    Arc::new(b.finish())
}

/// A record batch read from a file back into records; refuses columns of other types.
pub fn from_batch(batch: &RecordBatch) -> Result<Records, String> {
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .ok_or_else(|| format!("no {name:?} column"))
    };
    let strings = |name: &str| -> Result<Vec<Option<String>>, String> {
        let array = column(name)?;
        let array = array
            .as_string_opt::<i32>()
            .ok_or_else(|| format!("column {name:?} is {}, not string", array.data_type()))?;
        Ok(array.iter().map(|v| v.map(str::to_string)).collect())
    };
    let ids = strings("id")?
        .into_iter()
        .map(|id| id.ok_or_else(|| "a record without an id".to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let list = column("embedding")?;
    let list = list.as_list_opt::<i32>().ok_or_else(|| {
        format!(
            "column \"embedding\" is {}, not list<float32>",
            list.data_type()
        )
    })?;
    let mut embeddings = Vec::with_capacity(list.len());
    if list.len() != ids.len() {
        return Err("columns of different lengths".to_string());
    }
    for (i, id) in ids.iter().enumerate() {
        if list.is_null(i) {
            embeddings.push(None);
            continue;
        }
        let values = list.value(i);
        let floats = values
            .as_primitive_opt::<Float32Type>()
            .ok_or_else(|| "column \"embedding\" does not hold float32".to_string())?;
        if floats.null_count() > 0 {
            return Err(format!("record {:?}: a null inside its embedding", id));
        }
        embeddings.push(Some(floats.values().to_vec()));
    }
    let metadatas = strings("metadata")?
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            m.map(|text| {
                RawValue::from_string(text)
                    .map_err(|e| format!("record {:?}: metadata is not JSON: {e}", ids[i]))
            })
            .transpose()
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Records {
        embeddings,
        documents: strings("document")?,
        uris: strings("uri")?,
        metadatas,
        ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_survives_the_batch_round_trip() -> Result<(), String> {
        let records = Records {
            ids: vec!["a".into(), "b".into()],
            embeddings: vec![Some(vec![-0.0, f32::MIN_POSITIVE, 1.5]), None],
            documents: vec![Some(String::new()), None],
            uris: vec![None, Some("s3://x/y".into())],
            metadatas: vec![
                Some(
                    RawValue::from_string(r#"{"f":1.0,"i":1}"#.into())
                        .map_err(|e| e.to_string())?,
                ),
                None,
            ],
        };
        let batch = to_batch(&records).map_err(|e| e.to_string())?;
        let back = from_batch(&batch)?;
        assert_eq!(back.ids, records.ids);
        assert!(records.differences(0, &back, 0).is_empty());
        assert!(records.differences(1, &back, 1).is_empty());
        assert_eq!(
            back.metadatas[0].as_ref().map(|m| m.get()),
            Some(r#"{"f":1.0,"i":1}"#)
        );
        Ok(())
    }
}
