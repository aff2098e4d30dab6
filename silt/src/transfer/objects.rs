//! Where export files go and import files come from: a local directory or an object-store
//! prefix (s3://bucket/prefix), both through `object_store`, so a backup streams to S3 with a
//! multipart upload exactly as it streams to a local file.

use std::path::PathBuf;

use bytes::Bytes;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStoreExt, WriteMultipart};
use silt_common::storage::{open_store, DynStore, S3Settings};

use super::args::StoreFlags;
use super::error::{Result, TransferError};

/// A directory-like place: a local directory or an object-store prefix.
pub struct Place {
    uri: String,
    store: DynStore,
    prefix: Path,
    /// The directory itself when the place is local (files are then read in place).
    local: Option<PathBuf>,
}

impl Place {
    pub fn open(uri: &str, flags: &StoreFlags) -> Result<Place> {
        let uri = uri.trim_end_matches('/').to_string();
        if let Some(rest) = uri.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let settings = S3Settings {
                endpoint: flags.s3_endpoint.clone(),
                region: flags.s3_region.clone(),
                // Parts of a large file take longer than the catalog's small objects.
                request_timeout: Some(std::time::Duration::from_secs(120)),
                ..S3Settings::default()
            };
            let store = open_store(&format!("s3://{bucket}"), &settings)?;
            return Ok(Place {
                store,
                prefix: Path::from(prefix),
                local: None,
                uri,
            });
        }
        if uri.contains("://") && !uri.starts_with("file://") {
            return Err(TransferError::Usage(format!(
                "{uri:?}: expected a local path, file:///path or s3://bucket/prefix"
            )));
        }
        let dir = if uri.is_empty() {
            "."
        } else {
            uri.strip_prefix("file://").unwrap_or(&uri)
        };
        let store = open_store(dir, &S3Settings::default())?;
        Ok(Place {
            store,
            prefix: Path::default(),
            local: Some(PathBuf::from(dir)),
            uri,
        })
    }

    /// The place holding `uri` as a file, and the file's name.
    pub fn open_parent(uri: &str, flags: &StoreFlags) -> Result<(Place, String)> {
        let (parent, name) = match uri.rsplit_once('/') {
            Some((parent, name))
                if !parent.is_empty() && !parent.ends_with(':') && !parent.ends_with(":/") =>
            {
                (parent.to_string(), name.to_string())
            }
            Some(("", name)) => ("/".to_string(), name.to_string()),
            _ if uri.contains("://") => {
                return Err(TransferError::Usage(format!("{uri:?}: no file name")))
            }
            _ => (".".to_string(), uri.to_string()),
        };
        Ok((Place::open(&parent, flags)?, name))
    }

    fn path(&self, name: &str) -> Path {
        name.split('/')
            .filter(|s| !s.is_empty())
            .fold(self.prefix.clone(), |p, part| p.join(part))
    }

    pub fn describe(&self, name: &str) -> String {
        format!("{}/{name}", self.uri)
    }

    pub async fn writer(&self, name: &str) -> Result<ObjectWriter> {
        let upload = self.store.put_multipart(&self.path(name)).await?;
        Ok(ObjectWriter {
            upload: WriteMultipart::new_with_chunk_size(upload, 8 << 20),
        })
    }

    pub async fn put(&self, name: &str, bytes: Vec<u8>) -> Result<()> {
        self.store.put(&self.path(name), bytes.into()).await?;
        Ok(())
    }

    pub async fn read(&self, name: &str) -> Result<Bytes> {
        Ok(self.store.get(&self.path(name)).await?.bytes().await?)
    }

    /// A local file to read `name` from: the file itself for a local place, otherwise a
    /// temporary copy downloaded piece by piece (Parquet's reader wants random access).
    pub async fn local_file(&self, name: &str) -> Result<LocalFile> {
        if let Some(dir) = &self.local {
            return Ok(LocalFile::InPlace(dir.join(name)));
        }
        let io = |source| TransferError::Io {
            path: self.describe(name),
            source,
        };
        let tmp = tempfile::NamedTempFile::new().map_err(io)?;
        let mut file = tokio::fs::File::from_std(tmp.reopen().map_err(io)?);
        let mut stream = self.store.get(&self.path(name)).await?.into_stream();
        while let Some(chunk) = stream.next().await {
            tokio::io::AsyncWriteExt::write_all(&mut file, &chunk?)
                .await
                .map_err(io)?;
        }
        tokio::io::AsyncWriteExt::flush(&mut file)
            .await
            .map_err(io)?;
        Ok(LocalFile::Temporary(tmp))
    }
}

pub enum LocalFile {
    InPlace(PathBuf),
    Temporary(tempfile::NamedTempFile),
}

impl LocalFile {
    pub fn open(&self) -> std::io::Result<std::fs::File> {
        match self {
            LocalFile::InPlace(p) => std::fs::File::open(p),
            LocalFile::Temporary(t) => t.reopen(),
        }
    }
}

/// A streaming upload; nothing is visible at the destination until `finish`.
pub struct ObjectWriter {
    upload: WriteMultipart,
}

impl ObjectWriter {
    pub async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        // At most a few parts in flight: memory stays bounded however large the file.
        self.upload.wait_for_capacity(4).await?;
        self.upload.write(bytes);
        Ok(())
    }

    pub async fn finish(self) -> Result<()> {
        self.upload.finish().await?;
        Ok(())
    }

    pub async fn abort(self) {
        // Best effort: an upload left unfinished is also never visible.
        let _ = self.upload.abort().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_uri_splits_into_place_and_name() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|source| TransferError::Io {
            path: "tempdir".into(),
            source,
        })?;
        let uri = format!("{}/sub/c.parquet", dir.path().display());
        let (place, name) = Place::open_parent(
            &uri,
            &StoreFlags {
                s3_endpoint: None,
                s3_region: None,
            },
        )?;
        assert_eq!(name, "c.parquet");
        assert_eq!(place.describe(&name), uri);
        assert!(Place::open(
            "ftp://x/y",
            &StoreFlags {
                s3_endpoint: None,
                s3_region: None
            }
        )
        .is_err());
        Ok(())
    }
}
