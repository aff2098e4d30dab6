//! Streaming Parquet files of the export layout: a writer that hands each finished row group
//! to an upload as soon as it is encoded, and a reader that yields pages of records.

use std::sync::{Arc, Mutex};

use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::error::{Result, TransferError};
use super::layout::{self, CollectionHeader, COLLECTION_KEY, RECORDS_KEY};
use super::objects::ObjectWriter;
use super::records::Records;

/// Rows per row group: a few MB of 384-d embeddings, so a reader can work group by group and
/// the writer holds at most one group in memory.
const ROW_GROUP_ROWS: usize = 8192;

/// Bytes the Parquet encoder has produced and the upload has not taken yet.
#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .map(|mut b| std::mem::take(&mut *b))
            .unwrap_or_default()
    }
}

impl std::io::Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut inner = self
            .0
            .lock()
            .map_err(|_| std::io::Error::other("export buffer poisoned"))?;
        inner.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub struct ParquetSink {
    writer: ArrowWriter<SharedBuffer>,
    buffer: SharedBuffer,
    upload: ObjectWriter,
    rows: u64,
    bytes: u64,
}

impl ParquetSink {
    pub fn new(header: &CollectionHeader, upload: ObjectWriter) -> Result<ParquetSink> {
        let header_json = serde_json::to_string(header).map_err(|e| TransferError::Format {
            path: header.name.clone(),
            reason: e.to_string(),
        })?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_key_value_metadata(Some(vec![KeyValue::new(
                COLLECTION_KEY.to_string(),
                header_json,
            )]))
            .build();
        let buffer = SharedBuffer::default();
        let writer = ArrowWriter::try_new(buffer.clone(), layout::schema(), Some(properties))?;
        Ok(ParquetSink {
            writer,
            buffer,
            upload,
            rows: 0,
            bytes: 0,
        })
    }

    pub async fn write(&mut self, records: &Records) -> Result<()> {
        self.writer.write(&layout::to_batch(records)?)?;
        self.rows += records.len() as u64;
        self.drain().await
    }

    async fn drain(&mut self) -> Result<()> {
        let bytes = self.buffer.take();
        if !bytes.is_empty() {
            self.bytes += bytes.len() as u64;
            self.upload.write(&bytes).await?;
        }
        Ok(())
    }

    /// Writes the footer (with the record count) and completes the upload; returns the rows
    /// and bytes written.
    pub async fn finish(mut self) -> Result<(u64, u64)> {
        self.writer.append_key_value_metadata(KeyValue::new(
            RECORDS_KEY.to_string(),
            self.rows.to_string(),
        ));
        self.writer.finish()?;
        self.drain().await?;
        self.upload.finish().await?;
        Ok((self.rows, self.bytes))
    }

    pub async fn abort(self) {
        self.upload.abort().await;
    }
}

/// A file of the export layout, read page by page.
pub struct ParquetSource {
    pub header: CollectionHeader,
    /// The record count the writer put in the footer.
    pub records: u64,
    reader: ParquetRecordBatchReader,
    /// The rest of a page that `skip` cut in two.
    pending: Option<Records>,
    path: String,
}

impl ParquetSource {
    pub fn open(file: std::fs::File, path: &str, batch: usize) -> Result<ParquetSource> {
        let format = |reason: String| TransferError::Format {
            path: path.to_string(),
            reason,
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
        let kv = builder
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .cloned()
            .unwrap_or_default();
        let value = |key: &str| {
            kv.iter()
                .find(|e| e.key == key)
                .and_then(|e| e.value.clone())
        };
        let header: CollectionHeader = value(COLLECTION_KEY)
            .ok_or_else(|| {
                format(format!(
                    "no {COLLECTION_KEY} entry: not written by silt export"
                ))
            })
            .and_then(|text| serde_json::from_str(&text).map_err(|e| format(e.to_string())))?;
        if header.format_version > layout::FORMAT_VERSION {
            return Err(format(format!(
                "format version {} is newer than this silt reads ({})",
                header.format_version,
                layout::FORMAT_VERSION
            )));
        }
        let records = builder.metadata().file_metadata().num_rows().max(0) as u64;
        let reader = builder.with_batch_size(batch.max(1)).build()?;
        Ok(ParquetSource {
            header,
            records,
            reader,
            pending: None,
            path: path.to_string(),
        })
    }

    /// Skips the first `n` records (those a previous run already imported).
    pub fn skip(&mut self, mut n: u64) -> Result<()> {
        while n > 0 {
            let Some(page) = self.next_page()? else {
                return Ok(());
            };
            let len = page.len() as u64;
            if len > n {
                self.pending = Some(page.split_off(n as usize));
                return Ok(());
            }
            n -= len;
        }
        Ok(())
    }

    pub fn next_page(&mut self) -> Result<Option<Records>> {
        if let Some(rest) = self.pending.take() {
            return Ok(Some(rest));
        }
        match self.reader.next() {
            None => Ok(None),
            Some(batch) => {
                layout::from_batch(&batch?)
                    .map(Some)
                    .map_err(|reason| TransferError::Format {
                        path: self.path.clone(),
                        reason,
                    })
            }
        }
    }
}
