//! Builds the base object store from a URI: a local directory (`file:///dir` or a plain path),
//! `memory://`, or `s3://bucket[/prefix]` with an optional endpoint for S3-compatible servers.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, S3ConditionalPut};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ClientOptions, RetryConfig};
use thiserror::Error;

use super::aws_credentials::AwsChainCredentials;
use super::DynStore;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot create data directory {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid object store URI {uri:?}: {reason}")]
    Uri { uri: String, reason: String },
    #[error("object store configuration: {0}")]
    Config(#[from] object_store::Error),
}

/// S3 client settings. Without static keys here, credentials come from AWS's default chain:
/// environment variables, the shared profile, web identity, container or instance metadata.
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub request_timeout: Option<Duration>,
}

pub fn open_store(uri: &str, s3: &S3Settings) -> Result<DynStore, StoreError> {
    if uri == "memory://" {
        return Ok(Arc::new(InMemory::new()));
    }
    if let Some(rest) = uri.strip_prefix("s3://") {
        return open_s3(uri, rest, s3);
    }
    let dir = uri.strip_prefix("file://").unwrap_or(uri);
    if dir.is_empty() || uri.contains("://") && !uri.starts_with("file://") {
        return Err(StoreError::Uri {
            uri: uri.to_string(),
            reason: "expected a directory, file:///dir, memory:// or s3://bucket/prefix".into(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|source| StoreError::Directory {
        path: dir.to_string(),
        source,
    })?;
    // Deleting the last object of a directory removes the directory too: otherwise every
    // collected version and log leaves an empty directory behind for ever.
    Ok(Arc::new(
        LocalFileSystem::new_with_prefix(dir)?.with_automatic_cleanup(true),
    ))
}

fn open_s3(uri: &str, rest: &str, s3: &S3Settings) -> Result<DynStore, StoreError> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(StoreError::Uri {
            uri: uri.to_string(),
            reason: "missing bucket name".into(),
        });
    }
    let timeout = s3.request_timeout.unwrap_or(Duration::from_secs(10));
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_conditional_put(S3ConditionalPut::ETagMatch)
        .with_client_options(
            ClientOptions::new()
                .with_timeout(timeout)
                .with_connect_timeout(Duration::from_secs(3)),
        )
        .with_retry(RetryConfig {
            max_retries: 4,
            retry_timeout: timeout * 3,
            ..Default::default()
        });
    if let Some(endpoint) = &s3.endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false);
    }
    if let Some(region) = &s3.region {
        builder = builder.with_region(region);
    }
    match (&s3.access_key_id, &s3.secret_access_key) {
        (Some(key), Some(secret)) => {
            builder = builder
                .with_access_key_id(key)
                .with_secret_access_key(secret);
        }
        (None, None) => {
            let region = s3.region.clone().or_else(region_from_env);
            builder = builder.with_credentials(Arc::new(AwsChainCredentials::new(region)));
        }
        _ => {
            return Err(StoreError::Uri {
                uri: uri.to_string(),
                reason: "give both the S3 access key id and the secret, or neither".into(),
            })
        }
    }
    let store = builder.build()?;
    if prefix.trim_matches('/').is_empty() {
        Ok(Arc::new(store))
    } else {
        Ok(Arc::new(PrefixStore::new(store, Path::from(prefix))))
    }
}

fn region_from_env() -> Option<String> {
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}
