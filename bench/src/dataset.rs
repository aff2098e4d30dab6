//! Benchmark datasets on disk: `base.npy`, `queries.npy`, `gt.npy`,
//! `docs.jsonl` (id, text, metadata fields), and filtered ground truth. Filters whose ground
//! truth is not shipped are computed here by brute force, once per run.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use anyhow::Context;
use serde_json::{json, Value};
use silt_common::distance::Distance;
use silt_common::filter::Where;
use silt_common::record::{Metadata, MetadataValue};

use crate::data::truth::Truth;
use crate::data::FilterSpec;
use crate::npy::{read_f32, read_i32, Matrix};

pub struct FilterCase {
    pub name: String,
    pub r#where: Value,
    /// Fraction of records that match.
    pub selectivity: f64,
    /// Exact top-k row numbers per query.
    pub truth: Vec<Vec<usize>>,
}

pub struct Dataset {
    pub name: String,
    pub distance: Distance,
    pub base: Matrix<f32>,
    pub queries: Matrix<f32>,
    pub truth: Vec<Vec<usize>>,
    pub ids: Vec<String>,
    pub docs: Vec<String>,
    pub metadata: Vec<Metadata>,
    pub filters: Vec<FilterCase>,
}

fn truth_rows(m: &Matrix<i32>, k: usize) -> Vec<Vec<usize>> {
    (0..m.rows)
        .map(|i| m.row(i).iter().take(k).map(|&x| x as usize).collect())
        .collect()
}

/// `docs.jsonl`: per line an object with `id`, `text` and metadata fields (values Chroma can
/// store; others are skipped). Returns ids, documents and metadata in file order.
pub fn read_docs(path: &Path) -> anyhow::Result<(Vec<String>, Vec<String>, Vec<Metadata>)> {
    let (mut ids, mut docs, mut metadata) = (Vec::new(), Vec::new(), Vec::new());
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    for line in std::io::BufReader::new(file).lines() {
        let v: Value = serde_json::from_str(&line?)?;
        let obj = v.as_object().context("docs.jsonl line is not an object")?;
        ids.push(
            obj.get("id")
                .and_then(Value::as_str)
                .context("id")?
                .to_string(),
        );
        docs.push(
            obj.get("text")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        );
        let mut m = Metadata::new();
        for (key, value) in obj {
            if key == "id" || key == "text" {
                continue;
            }
            if let Ok(Some(mv)) = MetadataValue::from_json(value) {
                m.insert(key.clone(), mv);
            }
        }
        metadata.push(m);
    }
    Ok((ids, docs, metadata))
}

impl Dataset {
    pub fn load(dir: &Path, k: usize) -> anyhow::Result<Dataset> {
        let base = read_f32(&dir.join("base.npy"))?;
        let queries = read_f32(&dir.join("queries.npy"))?;
        let gt = read_i32(&dir.join("gt.npy"))?;
        let (ids, docs, metadata) = read_docs(&dir.join("docs.jsonl"))?;
        anyhow::ensure!(ids.len() == base.rows, "docs.jsonl and base.npy disagree");
        let meta: Value = std::fs::read(dir.join("meta.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        let distance = match meta.get("metric").and_then(Value::as_str) {
            Some("l2") => Distance::L2,
            Some("ip") => Distance::Ip,
            _ => Distance::Cosine,
        };
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let mut ds = Dataset {
            name,
            distance,
            truth: truth_rows(&gt, k),
            base,
            queries,
            ids,
            docs,
            metadata,
            filters: Vec::new(),
        };
        // Filters the directory declares (`silt bench data`, scripts/build-wordnet-data.sh).
        let declared: Vec<FilterSpec> = meta
            .get("filters")
            .and_then(|f| serde_json::from_value(f.clone()).ok())
            .unwrap_or_default();
        if !declared.is_empty() {
            for f in declared {
                let shipped = dir.join(&f.gt);
                let shipped = shipped.exists().then_some(shipped);
                ds.add_filter(&f.label, f.r#where, shipped.as_deref(), k)?;
            }
            return Ok(ds);
        }
        // Older directories without declared filters: the shipped ~10% ground truth, and a ~1%
        // filter chosen and computed here.
        if dir.join("gt_pos_verb.npy").exists() {
            ds.add_filter(
                "10%",
                json!({"pos": "verb"}),
                Some(&dir.join("gt_pos_verb.npy")),
                k,
            )?;
        } else if dir.join("gt_bucket3.npy").exists() {
            ds.add_filter(
                "10%",
                json!({"bucket": 3}),
                Some(&dir.join("gt_bucket3.npy")),
                k,
            )?;
        }
        if let Some(w) = ds.one_percent_filter() {
            ds.add_filter("1%", w, None, k)?;
        }
        Ok(ds)
    }

    fn one_percent_filter(&self) -> Option<Value> {
        if self.metadata.first()?.contains_key("lexfile") {
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for m in &self.metadata {
                if let Some(MetadataValue::Str(s)) = m.get("lexfile") {
                    *counts.entry(s.clone()).or_default() += 1;
                }
            }
            let target = self.metadata.len() / 100;
            let (best, _) = counts.iter().min_by_key(|(_, &c)| c.abs_diff(target))?;
            return Some(json!({"lexfile": best}));
        }
        if self.metadata.first()?.contains_key("bucket") {
            let clusters = self
                .metadata
                .iter()
                .filter_map(|m| match m.get("cluster") {
                    Some(MetadataValue::Int(c)) => Some(*c),
                    _ => None,
                })
                .max()
                .unwrap_or(0)
                + 1;
            return Some(json!({"$and": [{"bucket": 3}, {"cluster": {"$lt": clusters / 10}}]}));
        }
        None
    }

    fn add_filter(
        &mut self,
        name: &str,
        w: Value,
        shipped: Option<&Path>,
        k: usize,
    ) -> anyhow::Result<()> {
        let parsed = Where::parse(&w)
            .map_err(anyhow::Error::msg)?
            .context("empty filter")?;
        let rows: Vec<usize> = (0..self.base.rows)
            .filter(|&i| parsed.matches(&self.metadata[i]))
            .collect();
        let truth = match shipped {
            Some(p) => truth_rows(&read_i32(p)?, k),
            None => self.exact_truth(&rows, k),
        };
        self.filters.push(FilterCase {
            name: name.to_string(),
            r#where: w,
            selectivity: rows.len() as f64 / self.base.rows as f64,
            truth,
        });
        Ok(())
    }

    /// Exact top-k among `rows`, by brute force on every core.
    fn exact_truth(&self, rows: &[usize], k: usize) -> Vec<Vec<usize>> {
        let cols = self.base.cols;
        let selected: Vec<f32> = rows
            .iter()
            .flat_map(|&i| self.base.row(i))
            .copied()
            .collect();
        let mut truth = Truth::new(&self.queries.data, cols, k, self.distance, 0);
        truth.offer(&selected, &[]);
        let sets = truth.finish();
        sets.into_iter()
            .next()
            .unwrap_or_default()
            .into_iter()
            .map(|found| found.into_iter().map(|i| rows[i as usize]).collect())
            .collect()
    }

    /// Bytes of the raw data: vectors, documents, metadata as JSON.
    pub fn raw_bytes(&self) -> u64 {
        let vectors = (self.base.rows * self.base.cols * 4) as u64;
        let docs: u64 = self.docs.iter().map(|d| d.len() as u64).sum();
        let ids: u64 = self.ids.iter().map(|d| d.len() as u64).sum();
        let meta: u64 = self
            .metadata
            .iter()
            .map(|m| silt_common::record::metadata_to_json(m).to_string().len() as u64)
            .sum();
        vectors + docs + ids + meta
    }
}
