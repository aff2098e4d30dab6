//! The full-text index of a version, read in place from `text.bin` through the range cache: a
//! read-only tantivy `Directory` whose files are byte ranges of the bundle. tantivy reads
//! synchronously, so every search runs on a blocking thread that waits on the cache.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use object_store::path::Path;
use silt_common::filter::WhereDocument;
use silt_index::format::{text_fields, Loc, TextFile};
use tantivy::collector::{DocSetCollector, TopDocs};
use tantivy::directory::error::LockError;
use tantivy::directory::error::{DeleteError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    DirectoryLock, FileHandle, Lock, OwnedBytes, WatchCallback, WatchHandle, WritePtr,
};
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{Directory, DocAddress, HasLen, Index, IndexReader, ReloadPolicy, Searcher, Term};
use tokio::runtime::Handle;

use super::candidates::Candidates;
use super::ReadError;
use crate::range_cache::{RangeCache, RangeRequest};

/// tantivy asks for many small ranges; reading aligned chunks turns them into few cached GETs.
const CHUNK: u64 = 256 << 10;

thread_local! {
    /// Set while a blocking thread runs text work for a query: raised when that query is
    /// dropped, so the work stops reading instead of fetching for nobody.
    static CANCELLED: std::cell::RefCell<Option<Arc<AtomicBool>>> = const { std::cell::RefCell::new(None) };
}

fn cancelled() -> bool {
    CANCELLED.with(|c| {
        c.borrow()
            .as_ref()
            .is_some_and(|f| f.load(Ordering::Relaxed))
    })
}

/// Raises its flag when dropped: when the query awaiting the blocking work goes away.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs `work` on a blocking thread. A blocking task cannot be aborted, so if the awaiting
/// query is dropped (its caller gave up), the work's next read through the cache fails
/// instead, and tantivy returns with that error.
pub(crate) async fn run_blocking<T: Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> Result<T, ReadError> + Send + 'static,
) -> Result<T, ReadError> {
    let flag = Arc::new(AtomicBool::new(false));
    let _cancel = CancelOnDrop(flag.clone());
    tokio::task::spawn_blocking(move || {
        CANCELLED.with(|c| *c.borrow_mut() = Some(flag));
        let out = work();
        CANCELLED.with(|c| *c.borrow_mut() = None);
        out
    })
    .await
    .map_err(|e| ReadError::Corrupt(format!("{what} task: {e}")))?
}

#[derive(Clone)]
struct Bundle {
    cache: RangeCache,
    /// The object holding `text.bin`, and where `text.bin` starts in it (0 unless the whole
    /// version is one object).
    path: Path,
    base: u64,
    size: u64,
    runtime: Handle,
}

impl Bundle {
    fn read(&self, range: Range<u64>) -> std::io::Result<Vec<u8>> {
        if range.is_empty() {
            return Ok(Vec::new());
        }
        if cancelled() {
            return Err(std::io::Error::other("the query was cancelled"));
        }
        let first = range.start / CHUNK;
        let last = (range.end - 1) / CHUNK;
        let requests: Vec<RangeRequest> = (first..=last)
            .map(|c| {
                let start = c * CHUNK;
                let end = (start + CHUNK).min(self.size);
                RangeRequest::range(self.path.clone(), self.base + start..self.base + end)
            })
            .collect();
        let chunks = self
            .runtime
            .block_on(self.cache.fetch(&requests))
            .map_err(std::io::Error::other)?;
        let mut out = Vec::with_capacity((range.end - range.start) as usize);
        for (c, bytes) in (first..=last).zip(chunks) {
            let base = c * CHUNK;
            let from = range.start.max(base) - base;
            let to = range.end.min(base + bytes.len() as u64) - base;
            out.extend_from_slice(
                bytes.get(from as usize..to as usize).ok_or_else(|| {
                    std::io::Error::other(format!("text index chunk {c} is short"))
                })?,
            );
        }
        Ok(out)
    }
}

#[derive(Debug)]
struct BundleFile {
    bundle: Arc<BundleDebug>,
    offset: u64,
    len: u64,
}

/// `Bundle` behind a `Debug` impl, which tantivy's handle trait wants.
struct BundleDebug(Bundle);

impl std::fmt::Debug for BundleDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bundle({})", self.0.path)
    }
}

impl HasLen for BundleFile {
    fn len(&self) -> usize {
        self.len as usize
    }
}

impl FileHandle for BundleFile {
    fn read_bytes(&self, range: Range<usize>) -> std::io::Result<OwnedBytes> {
        let start = self.offset + range.start as u64;
        let end = self.offset + (range.end as u64).min(self.len);
        Ok(OwnedBytes::new(self.bundle.0.read(start..end)?))
    }
}

#[derive(Clone, Debug)]
struct BundleDirectory {
    bundle: Arc<BundleDebug>,
    files: Arc<HashMap<PathBuf, (u64, u64)>>,
}

impl BundleDirectory {
    fn file(&self, path: &FsPath) -> Result<BundleFile, OpenReadError> {
        let (offset, len) = self
            .files
            .get(path)
            .copied()
            .ok_or_else(|| OpenReadError::FileDoesNotExist(path.to_path_buf()))?;
        Ok(BundleFile {
            bundle: self.bundle.clone(),
            offset,
            len,
        })
    }
}

fn read_only() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        "index versions are read-only",
    )
}

impl Directory for BundleDirectory {
    fn get_file_handle(&self, path: &FsPath) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        Ok(Arc::new(self.file(path)?))
    }

    fn delete(&self, path: &FsPath) -> Result<(), DeleteError> {
        Err(DeleteError::IoError {
            io_error: Arc::new(read_only()),
            filepath: path.to_path_buf(),
        })
    }

    fn exists(&self, path: &FsPath) -> Result<bool, OpenReadError> {
        Ok(self.files.contains_key(path))
    }

    fn open_write(&self, path: &FsPath) -> Result<WritePtr, OpenWriteError> {
        Err(OpenWriteError::IoError {
            io_error: Arc::new(read_only()),
            filepath: path.to_path_buf(),
        })
    }

    fn atomic_read(&self, path: &FsPath) -> Result<Vec<u8>, OpenReadError> {
        let f = self.file(path)?;
        f.bundle
            .0
            .read(f.offset..f.offset + f.len)
            .map_err(|e| OpenReadError::IoError {
                io_error: Arc::new(e),
                filepath: path.to_path_buf(),
            })
    }

    fn atomic_write(&self, _path: &FsPath, _data: &[u8]) -> std::io::Result<()> {
        Err(read_only())
    }

    fn sync_directory(&self) -> std::io::Result<()> {
        Ok(())
    }

    fn watch(&self, _watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        Ok(WatchHandle::empty())
    }

    /// Nothing ever writes a version's index, so readers need no lock file.
    fn acquire_lock(&self, _lock: &Lock) -> Result<DirectoryLock, LockError> {
        Ok(DirectoryLock::from(Box::new(())))
    }
}

pub struct TextIndex {
    reader: IndexReader,
    text: Field,
    trigrams: Field,
    index: Index,
}

fn text_error(e: impl std::fmt::Display) -> ReadError {
    ReadError::Corrupt(format!("text index: {e}"))
}

impl TextIndex {
    /// Opens the index (reads its meta and segment footers). Call on a blocking thread.
    pub fn open(
        cache: RangeCache,
        path: Path,
        base: u64,
        size: u64,
        files: &[TextFile],
        runtime: Handle,
    ) -> Result<TextIndex, ReadError> {
        let bundle = Arc::new(BundleDebug(Bundle {
            cache,
            path,
            base,
            size,
            runtime,
        }));
        let files = files
            .iter()
            .map(|f| (PathBuf::from(&f.name), (f.offset, f.len)))
            .collect();
        let dir = BundleDirectory {
            bundle,
            files: Arc::new(files),
        };
        let index = Index::open(dir).map_err(text_error)?;
        let schema = index.schema();
        let field = |name: &str| schema.get_field(name).map_err(text_error);
        let (text, trigrams) = (field(text_fields::TEXT)?, field(text_fields::TRIGRAMS)?);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(text_error)?;
        Ok(TextIndex {
            reader,
            text,
            trigrams,
            index,
        })
    }

    fn locations(
        &self,
        searcher: &Searcher,
        docs: impl Iterator<Item = DocAddress>,
    ) -> Result<Vec<(DocAddress, Loc)>, ReadError> {
        let mut by_segment: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for d in docs {
            by_segment.entry(d.segment_ord).or_default().push(d.doc_id);
        }
        let mut out = Vec::new();
        for (segment, docs) in by_segment {
            let fast = searcher.segment_reader(segment).fast_fields();
            let col = |name: &str| fast.u64(name).map_err(text_error);
            let (ord, vo, po, pl) = (
                col(text_fields::ORDINAL)?,
                col(text_fields::VECTOR_OFFSET)?,
                col(text_fields::PAYLOAD_OFFSET)?,
                col(text_fields::PAYLOAD_LEN)?,
            );
            for d in docs {
                let addr = DocAddress::new(segment, d);
                out.push((
                    addr,
                    Loc {
                        ordinal: ord.first(d).unwrap_or_default() as u32,
                        vector_offset: vo.first(d).unwrap_or_default(),
                        payload_offset: po.first(d).unwrap_or_default(),
                        payload_len: pl.first(d).unwrap_or_default() as u32,
                    },
                ));
            }
        }
        Ok(out)
    }

    /// Records whose document can match: every document holding all trigrams of a `$contains`
    /// needle. Negations, regexes and needles under three characters give no narrowing.
    pub fn candidates(&self, w: &WhereDocument) -> Result<Candidates, ReadError> {
        Ok(match w {
            WhereDocument::And(cs) => {
                let mut acc = Candidates::All;
                for c in cs {
                    acc = acc.and(self.candidates(c)?);
                }
                acc
            }
            WhereDocument::Or(cs) => {
                let mut acc: Option<Candidates> = None;
                for c in cs {
                    let next = self.candidates(c)?;
                    acc = Some(match acc {
                        Some(a) => a.or(next),
                        None => next,
                    });
                }
                acc.unwrap_or(Candidates::All)
            }
            WhereDocument::Contains {
                text,
                negate: false,
            } => match trigram_query(self.trigrams, text) {
                Some(q) => {
                    let searcher = self.reader.searcher();
                    let docs = searcher.search(&q, &DocSetCollector).map_err(text_error)?;
                    let locs = self.locations(&searcher, docs.into_iter())?;
                    Candidates::Only(locs.into_iter().map(|(_, l)| (l.ordinal, l)).collect())
                }
                None => Candidates::All,
            },
            _ => Candidates::All,
        })
    }

    /// BM25 ranking of the version's documents for a free-text query, best first.
    pub fn bm25(&self, query: &str, limit: usize) -> Result<Vec<(f32, Loc)>, ReadError> {
        let parser = QueryParser::for_index(&self.index, vec![self.text]);
        let (q, _errors) = parser.parse_query_lenient(query);
        let searcher = self.reader.searcher();
        let top = searcher
            .search(&q, &TopDocs::with_limit(limit.max(1)).order_by_score())
            .map_err(text_error)?;
        let scores: HashMap<DocAddress, f32> = top.iter().map(|(s, d)| (*d, *s)).collect();
        let mut out: Vec<(f32, Loc)> = self
            .locations(&searcher, top.iter().map(|(_, d)| *d))?
            .into_iter()
            .map(|(d, l)| (scores.get(&d).copied().unwrap_or(0.0), l))
            .collect();
        out.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.ordinal.cmp(&b.1.ordinal)));
        Ok(out)
    }
}

impl TextIndex {
    /// What BM25 scoring of documents outside the index needs from it: a searcher (its
    /// statistics), the text field, and the field's tokenizer (`full_text.rs`).
    pub(crate) fn bm25_parts(
        &self,
    ) -> Result<(Searcher, Field, tantivy::tokenizer::TextAnalyzer), ReadError> {
        let analyzer = self
            .index
            .tokenizer_for_field(self.text)
            .map_err(text_error)?;
        Ok((self.reader.searcher(), self.text, analyzer))
    }
}

fn trigram_query(field: Field, needle: &str) -> Option<Box<dyn Query>> {
    let chars: Vec<char> = needle.chars().collect();
    if chars.len() < 3 {
        return None;
    }
    let mut grams: Vec<String> = chars.windows(3).map(|w| w.iter().collect()).collect();
    grams.sort();
    grams.dedup();
    let clauses: Vec<(Occur, Box<dyn Query>)> = grams
        .into_iter()
        .map(|g| {
            let q: Box<dyn Query> = Box::new(TermQuery::new(
                Term::from_field_text(field, &g),
                IndexRecordOption::Basic,
            ));
            (Occur::Must, q)
        })
        .collect();
    Some(Box::new(BooleanQuery::new(clauses)))
}
