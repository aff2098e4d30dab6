//! Benchmark data made from the repository alone: `silt bench data synthetic` generates a
//! clustered-Gaussian set with its ground truth; `silt bench data truth` computes the exact
//! ground truth of a directory built elsewhere (the WordNet set of
//! `scripts/build-wordnet-data.sh`). Both write the layout [`crate::dataset::Dataset`] reads:
//!
//! | file | content |
//! |---|---|
//! | `base.npy` | float32 [n, dim]: row i is the record on line i of `docs.jsonl` |
//! | `queries.npy` | float32 [queries, dim] |
//! | `docs.jsonl` | one object a line: `id`, `text` (the document), metadata fields |
//! | `gt.npy` | int32 [queries, k]: exact nearest rows, nearest first |
//! | `gt_*.npy` | the same among the rows matching each filter of `meta.json` |
//! | `meta.json` | metric, sizes, and the filters: label, Chroma `where`, ground-truth file |

pub mod rng;
pub mod synthetic;
pub mod truth;

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use silt_common::distance::Distance;
use silt_common::filter::Where;

use crate::dataset::read_docs;
use crate::npy::{read_f32, write_i32};
use truth::Truth;

/// A filter a dataset declares: the benchmark measures recall and latency under it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FilterSpec {
    /// How tables name it: its approximate selectivity ("10%", "1%"), so datasets line up.
    pub label: String,
    /// Chroma's `where`.
    #[serde(rename = "where")]
    pub r#where: Value,
    /// Ground-truth file in the dataset's directory.
    pub gt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_matching: Option<usize>,
}

impl FilterSpec {
    pub fn new(label: &str, r#where: Value, gt: &str) -> FilterSpec {
        FilterSpec {
            label: label.into(),
            r#where,
            gt: gt.into(),
            n_matching: None,
        }
    }
}

/// `meta.json`. Unknown fields (a build script's provenance notes) are kept by [`write_truth`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataMeta {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub source: String,
    /// `l2`, `cosine` or `ip`, as Chroma's `hnsw:space`.
    pub metric: String,
    #[serde(default)]
    pub n: usize,
    #[serde(default)]
    pub dim: usize,
    #[serde(default)]
    pub n_queries: usize,
    #[serde(default)]
    pub k_gt: usize,
    #[serde(default)]
    pub filters: Vec<FilterSpec>,
}

impl DataMeta {
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::write(dir.join("meta.json"), serde_json::to_vec_pretty(self)?)?;
        Ok(())
    }

    pub fn distance(&self) -> anyhow::Result<Distance> {
        Distance::parse(&self.metric)
            .with_context(|| format!("meta.json: unknown metric {:?}", self.metric))
    }
}

/// Writes `gt.npy` (set 0) and each filter's file (set f + 1).
fn write_truth_files(
    dir: &Path,
    specs: &[FilterSpec],
    sets: &[Vec<Vec<u32>>],
) -> anyhow::Result<()> {
    let names = std::iter::once("gt.npy").chain(specs.iter().map(|f| f.gt.as_str()));
    for (name, rows) in names.zip(sets) {
        // Every query sees the same rows, so the lists are min(k, matching rows) long alike.
        let cols = rows.first().map_or(0, Vec::len);
        write_i32(&dir.join(name), cols, rows)?;
    }
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct TruthReport {
    pub rows: usize,
    pub queries: usize,
    pub sets: usize,
    pub seconds: f64,
}

/// Computes `gt.npy` and every declared filter's ground truth for a directory that holds
/// `base.npy`, `queries.npy`, `docs.jsonl` and `meta.json` (metric and filters), and records
/// `k_gt` and each filter's `n_matching` in `meta.json`.
pub fn write_truth(dir: &Path, k: usize) -> anyhow::Result<TruthReport> {
    let started = Instant::now();
    let meta_path = dir.join("meta.json");
    let raw: Value = serde_json::from_slice(
        &std::fs::read(&meta_path).with_context(|| format!("reading {}", meta_path.display()))?,
    )?;
    let mut meta: DataMeta = serde_json::from_value(raw.clone()).context("meta.json")?;
    let distance = meta.distance()?;
    let base = read_f32(&dir.join("base.npy"))?;
    let queries = read_f32(&dir.join("queries.npy"))?;
    anyhow::ensure!(
        base.cols == queries.cols,
        "base.npy and queries.npy differ in dimension"
    );
    let (_, _, metadata) = read_docs(&dir.join("docs.jsonl"))?;
    anyhow::ensure!(
        metadata.len() == base.rows,
        "docs.jsonl and base.npy disagree"
    );
    let k = k.min(base.rows);
    let mut matches = Vec::new();
    for f in &mut meta.filters {
        let w = Where::parse(&f.r#where)
            .map_err(anyhow::Error::msg)?
            .with_context(|| format!("filter {}: empty", f.label))?;
        let m: Vec<bool> = metadata.iter().map(|md| w.matches(md)).collect();
        f.n_matching = Some(m.iter().filter(|&&x| x).count());
        matches.push(m);
    }
    let mut truth = Truth::new(&queries.data, base.cols, k, distance, meta.filters.len());
    const CHUNK: usize = 16_384;
    for first in (0..base.rows).step_by(CHUNK) {
        let end = (first + CHUNK).min(base.rows);
        let chunk: Vec<Vec<bool>> = matches.iter().map(|m| m[first..end].to_vec()).collect();
        truth.offer(&base.data[first * base.cols..end * base.cols], &chunk);
    }
    let sets = truth.finish();
    write_truth_files(dir, &meta.filters, &sets)?;
    meta.k_gt = k;
    meta.n = base.rows;
    meta.dim = base.cols;
    meta.n_queries = queries.rows;
    // Keep whatever else the builder recorded (model, package versions).
    let mut out = raw;
    if let (Value::Object(out), Value::Object(ours)) = (&mut out, serde_json::to_value(&meta)?) {
        out.extend(ours);
    }
    std::fs::write(&meta_path, serde_json::to_vec_pretty(&out)?)?;
    Ok(TruthReport {
        rows: base.rows,
        queries: queries.rows,
        sets: sets.len(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::synthetic::{generate, SyntheticOptions};

    #[test]
    fn truth_of_a_directory_equals_the_generators() {
        let dir = tempfile::tempdir().unwrap();
        generate(&SyntheticOptions {
            n: 2_000,
            dim: 8,
            queries: 10,
            clusters: 20,
            k: 15,
            out: dir.path().to_path_buf(),
            ..SyntheticOptions::default()
        })
        .unwrap();
        let files = [
            "gt.npy",
            "gt_bucket3.npy",
            "gt_centile0.npy",
            "gt_region.npy",
        ];
        let before: Vec<Vec<u8>> = files
            .iter()
            .map(|f| std::fs::read(dir.path().join(f)).unwrap())
            .collect();
        for f in files {
            std::fs::remove_file(dir.path().join(f)).unwrap();
        }
        let report = write_truth(dir.path(), 15).unwrap();
        assert_eq!((report.rows, report.queries, report.sets), (2_000, 10, 4));
        for (f, b) in files.iter().zip(before) {
            assert_eq!(std::fs::read(dir.path().join(f)).unwrap(), b, "{f}");
        }
    }
}
