//! A store wrapper that writes down every request and how it ended, in order: the trace two
//! runs of one seed must agree on exactly.

use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

#[derive(Debug, Clone, Default)]
pub struct Trace(Arc<Mutex<Vec<String>>>);

impl Trace {
    pub fn push(&self, event: String) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(event);
    }

    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

fn outcome<T>(r: &Result<T>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(object_store::Error::NotFound { .. }) => "not found",
        Err(object_store::Error::AlreadyExists { .. }) => "exists",
        Err(_) => "error",
    }
}

#[derive(Debug)]
pub struct TraceStore {
    inner: Arc<dyn ObjectStore>,
    trace: Trace,
}

impl TraceStore {
    pub fn new(inner: Arc<dyn ObjectStore>, trace: Trace) -> Self {
        TraceStore { inner, trace }
    }
}

impl fmt::Display for TraceStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Trace({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for TraceStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let n = payload.content_length();
        self.trace.push(format!("put {location} {n}B"));
        let r = self.inner.put_opts(location, payload, opts).await;
        self.trace.push(format!("put {location}: {}", outcome(&r)));
        r
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.trace.push(format!("multipart {location}"));
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.trace
            .push(format!("get {location} {:?}", options.range));
        let r = self.inner.get_opts(location, options).await;
        self.trace.push(format!("get {location}: {}", outcome(&r)));
        r
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let trace = self.trace.clone();
        self.inner
            .delete_stream(locations)
            .inspect(move |r| match r {
                Ok(p) => trace.push(format!("deleted {p}")),
                Err(object_store::Error::NotFound { .. }) => trace.push("delete: not found".into()),
                Err(_) => trace.push("delete: error".into()),
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.trace.push(format!("list {prefix:?}"));
        let trace = self.trace.clone();
        self.inner
            .list(prefix)
            .inspect(move |r| match r {
                Ok(m) => trace.push(format!("listed {}", m.location)),
                Err(_) => trace.push("list failed".to_string()),
            })
            .boxed()
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.trace.push(format!("list {prefix:?} from {offset}"));
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.trace.push(format!("list/ {prefix:?}"));
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.trace.push(format!("copy {from} {to}"));
        self.inner.copy_opts(from, to, options).await
    }
}
