//! `silt bench data synthetic`: a seeded clustered-Gaussian dataset in the layout
//! [`crate::dataset::Dataset`] reads. `clusters` centres ~ N(0, I); every base row and every
//! query picks a centre uniformly and adds N(0, spread² I) noise (queries are fresh draws, not
//! base rows); metric squared L2. Metadata: `cluster` (the generating centre), `bucket` (0–9)
//! and `centile` (0–99), both independent of the vector. Documents: 8 words `wNNNN` drawn
//! Zipf(1) from 5,000. Ground truth: the exact top-k of every query over all rows and over
//! each filter's rows, computed while the rows are written.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;
use serde_json::json;
use silt_common::distance::Distance;
use silt_common::filter::Where;
use silt_common::record::{Metadata, MetadataValue};

use super::rng::{Purpose, Rng, Zipf};
use super::truth::Truth;
use super::{write_truth_files, DataMeta, FilterSpec};
use crate::npy::F32Writer;

#[derive(Debug, Clone)]
pub struct SyntheticOptions {
    pub n: usize,
    pub dim: usize,
    pub queries: usize,
    pub clusters: usize,
    /// Noise standard deviation relative to the centres'. At 0.5 the clusters barely touch
    /// and any index finds everything; 1.0 makes recall a real test.
    pub spread: f32,
    pub seed: u64,
    /// Neighbours kept per query in the ground truth files.
    pub k: usize,
    pub out: PathBuf,
}

impl Default for SyntheticOptions {
    fn default() -> Self {
        SyntheticOptions {
            n: 200_000,
            dim: 128,
            queries: 1000,
            clusters: 1000,
            spread: 1.0,
            seed: 1234,
            k: 100,
            out: PathBuf::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SyntheticReport {
    pub rows: usize,
    pub dim: usize,
    pub queries: usize,
    /// Drawing the vectors and metadata and writing every file but the ground truth.
    pub generate_s: f64,
    /// Brute-force ground truth, all sets.
    pub truth_s: f64,
    pub total_s: f64,
    pub threads: usize,
}

const WORDS: usize = 5000;
const WORDS_PER_DOC: usize = 8;
/// Rows drawn, written and offered to the ground truth at a time (at 384-d, 25 MB).
const CHUNK: usize = 16_384;

struct RowMeta {
    cluster: u32,
    bucket: u8,
    centile: u8,
    words: [u16; WORDS_PER_DOC],
}

/// The filters every synthetic set declares: ~10% and ~1% independent of the vectors, and ~1%
/// concentrated in one region of the space (a tenth of the clusters, then one bucket).
fn filters(clusters: usize) -> Vec<FilterSpec> {
    let mut out = vec![
        FilterSpec::new("10%", json!({"bucket": 3}), "gt_bucket3.npy"),
        FilterSpec::new("1%", json!({"centile": 0}), "gt_centile0.npy"),
    ];
    if clusters >= 10 {
        out.push(FilterSpec::new(
            "1% in-region",
            json!({"$and": [{"bucket": 3}, {"cluster": {"$lt": clusters / 10}}]}),
            "gt_region.npy",
        ));
    }
    out
}

/// Draws row `row` of `purpose` into `out` (one vector); the same stream always gives the same
/// row.
fn draw(
    o: &SyntheticOptions,
    centres: &[f32],
    zipf: &Zipf,
    purpose: Purpose,
    row: usize,
    out: &mut [f32],
) -> RowMeta {
    let mut rng = Rng::stream(o.seed, purpose, row as u64);
    let cluster = rng.below(o.clusters as u64) as usize;
    rng.normals(out);
    let centre = &centres[cluster * o.dim..(cluster + 1) * o.dim];
    for (x, c) in out.iter_mut().zip(centre) {
        *x = c + o.spread * *x;
    }
    let bucket = rng.below(10) as u8;
    let centile = rng.below(100) as u8;
    let mut words = [0u16; WORDS_PER_DOC];
    for w in &mut words {
        *w = zipf.draw(&mut rng) as u16;
    }
    RowMeta {
        cluster: cluster as u32,
        bucket,
        centile,
        words,
    }
}

/// Draws rows `first..first + out.len() / dim` on every core.
fn draw_rows(
    o: &SyntheticOptions,
    centres: &[f32],
    zipf: &Zipf,
    purpose: Purpose,
    first: usize,
    out: &mut [f32],
) -> Vec<RowMeta> {
    let rows = out.len() / o.dim;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = rows.div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = out
            .chunks_mut(per_thread * o.dim)
            .enumerate()
            .map(|(t, part)| {
                s.spawn(move || {
                    part.chunks_exact_mut(o.dim)
                        .enumerate()
                        .map(|(i, v)| {
                            draw(o, centres, zipf, purpose, first + t * per_thread + i, v)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

fn doc_line(row: usize, m: &RowMeta) -> String {
    let text: Vec<String> = m.words.iter().map(|w| format!("w{w:04}")).collect();
    format!(
        "{{\"id\": \"s{row:07}\", \"text\": \"{}\", \"cluster\": {}, \"bucket\": {}, \"centile\": {}}}\n",
        text.join(" "),
        m.cluster,
        m.bucket,
        m.centile
    )
}

fn metadata(m: &RowMeta) -> Metadata {
    [
        ("cluster", m.cluster as i64),
        ("bucket", m.bucket as i64),
        ("centile", m.centile as i64),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), MetadataValue::Int(v)))
    .collect()
}

pub fn generate(o: &SyntheticOptions) -> anyhow::Result<SyntheticReport> {
    anyhow::ensure!(
        o.n > 0 && o.dim > 0 && o.queries > 0,
        "--n, --dim and --queries must be positive"
    );
    anyhow::ensure!(o.clusters > 0, "--clusters must be positive");
    anyhow::ensure!(
        o.n <= i32::MAX as usize,
        "--n above {} does not fit the ground truth's int32",
        i32::MAX
    );
    let started = Instant::now();
    let dir = &o.out;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let zipf = Zipf::new(WORDS);
    let mut centres = vec![0f32; o.clusters * o.dim];
    for (c, v) in centres.chunks_exact_mut(o.dim).enumerate() {
        Rng::stream(o.seed, Purpose::Centre, c as u64).normals(v);
    }
    let mut queries = vec![0f32; o.queries * o.dim];
    draw_rows(o, &centres, &zipf, Purpose::Query, 0, &mut queries);
    crate::npy::write_f32(&dir.join("queries.npy"), o.queries, o.dim, &queries)?;

    let specs = filters(o.clusters);
    let wheres: Vec<Where> = specs
        .iter()
        .map(|f| Where::parse(&f.r#where)?.ok_or_else(|| "empty filter".to_string()))
        .collect::<Result<_, String>>()
        .map_err(anyhow::Error::msg)?;
    let k = o.k.min(o.n);
    let mut truth = Truth::new(&queries, o.dim, k, Distance::L2, specs.len());
    let mut base = F32Writer::create(&dir.join("base.npy"), o.n, o.dim)?;
    let docs_file = std::fs::File::create(dir.join("docs.jsonl"))?;
    let mut docs = std::io::BufWriter::with_capacity(1 << 20, docs_file);
    let mut matching = vec![0usize; specs.len()];
    let mut truth_s = 0.0;
    let mut vectors = vec![0f32; CHUNK.min(o.n) * o.dim];
    for first in (0..o.n).step_by(CHUNK) {
        let rows = CHUNK.min(o.n - first);
        let chunk = &mut vectors[..rows * o.dim];
        let meta = draw_rows(o, &centres, &zipf, Purpose::Base, first, chunk);
        base.write(chunk)?;
        let mut matches: Vec<Vec<bool>> = specs.iter().map(|_| Vec::with_capacity(rows)).collect();
        for (i, m) in meta.iter().enumerate() {
            docs.write_all(doc_line(first + i, m).as_bytes())?;
            let md = metadata(m);
            for (f, w) in wheres.iter().enumerate() {
                let hit = w.matches(&md);
                matching[f] += usize::from(hit);
                matches[f].push(hit);
            }
        }
        let t = Instant::now();
        truth.offer(chunk, &matches);
        truth_s += t.elapsed().as_secs_f64();
    }
    base.finish()?;
    docs.flush()?;

    let t = Instant::now();
    let sets = truth.finish();
    truth_s += t.elapsed().as_secs_f64();
    let specs: Vec<FilterSpec> = specs
        .into_iter()
        .zip(matching)
        .map(|(f, n)| FilterSpec {
            n_matching: Some(n),
            ..f
        })
        .collect();
    write_truth_files(dir, &specs, &sets)?;
    let meta = DataMeta {
        name: name_of(dir),
        source: format!(
            "silt bench data synthetic --n {} --dim {} --queries {} --clusters {} --spread {} --seed {} -k {}",
            o.n, o.dim, o.queries, o.clusters, o.spread, o.seed, o.k
        ),
        metric: "l2".into(),
        n: o.n,
        dim: o.dim,
        n_queries: o.queries,
        k_gt: k,
        filters: specs,
    };
    meta.write(dir)?;
    let total_s = started.elapsed().as_secs_f64();
    Ok(SyntheticReport {
        rows: o.n,
        dim: o.dim,
        queries: o.queries,
        generate_s: total_s - truth_s,
        truth_s,
        total_s,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
    })
}

fn name_of(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Dataset;

    fn small(out: &Path) -> SyntheticOptions {
        SyntheticOptions {
            n: 3_000,
            dim: 12,
            queries: 20,
            clusters: 30,
            k: 20,
            out: out.to_path_buf(),
            ..SyntheticOptions::default()
        }
    }

    #[test]
    fn same_seed_same_bytes_and_the_loader_reads_every_filter() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        generate(&small(a.path())).unwrap();
        generate(&small(b.path())).unwrap();
        for f in [
            "base.npy",
            "queries.npy",
            "docs.jsonl",
            "gt.npy",
            "gt_bucket3.npy",
            "gt_centile0.npy",
            "gt_region.npy",
        ] {
            assert_eq!(
                std::fs::read(a.path().join(f)).unwrap(),
                std::fs::read(b.path().join(f)).unwrap(),
                "{f}"
            );
        }
        let ds = Dataset::load(a.path(), 10).unwrap();
        assert_eq!(
            (ds.base.rows, ds.base.cols, ds.queries.rows),
            (3_000, 12, 20)
        );
        assert_eq!(ds.distance, Distance::L2);
        let labels: Vec<&str> = ds.filters.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(labels, ["10%", "1%", "1% in-region"]);
        // Selectivities near their labels (3,000 rows: binomial noise of a few tenths of a %).
        assert!((0.08..0.12).contains(&ds.filters[0].selectivity));
        assert!((0.003..0.02).contains(&ds.filters[1].selectivity));
        // Shipped truth: each filtered list holds only matching rows, nearest first.
        for f in &ds.filters {
            let w = Where::parse(&f.r#where).unwrap().unwrap();
            for (q, rows) in f.truth.iter().enumerate() {
                assert!(rows.iter().all(|&r| w.matches(&ds.metadata[r])));
                let d: Vec<f32> = rows
                    .iter()
                    .map(|&r| Distance::L2.compute(ds.queries.row(q), 0.0, ds.base.row(r)))
                    .collect();
                assert!(
                    d.windows(2).all(|p| p[0] <= p[1] * (1.0 + 1e-5)),
                    "{}: {d:?}",
                    f.name
                );
            }
        }
    }

    #[test]
    fn rows_are_drawn_around_their_cluster_centre() {
        let dir = tempfile::tempdir().unwrap();
        let o = SyntheticOptions {
            spread: 0.1,
            ..small(dir.path())
        };
        generate(&o).unwrap();
        let ds = Dataset::load(dir.path(), 10).unwrap();
        // With a small spread, rows of the same cluster are far closer than rows of others.
        let cluster = |i: usize| match ds.metadata[i].get("cluster") {
            Some(MetadataValue::Int(c)) => *c,
            _ => panic!("no cluster"),
        };
        let same = (1..ds.base.rows)
            .find(|&j| cluster(j) == cluster(0))
            .unwrap();
        let other = (1..ds.base.rows)
            .find(|&j| cluster(j) != cluster(0))
            .unwrap();
        let d = |j| Distance::L2.compute(ds.base.row(0), 0.0, ds.base.row(j));
        assert!(d(same) * 10.0 < d(other), "{} vs {}", d(same), d(other));
    }
}
