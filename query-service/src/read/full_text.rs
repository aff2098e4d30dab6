//! Full-text ranking over version + tail, for Search (`$knn` with a text query on
//! `#document`): tantivy's BM25 over the version's documents, and the same formula for the
//! documents the log tail wrote, scored with the version's statistics (document count, average
//! length, document frequencies) so both kinds of score compare. Without a version text index,
//! the tail's own statistics stand in.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use silt_common::record::{LogEntry, Record};
use silt_common::SiltResult;
use tantivy::fieldnorm::FieldNormReader;
use tantivy::query::Bm25Weight;
use tantivy::tokenizer::{
    LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer, TokenStream,
};
use tantivy::Term;

use super::{
    add_record, open_text, tail_ids, take_record, text, Batch, Lookups, OpenedVersion, ReadError,
    TailBase, TailView,
};
use crate::range_cache::RangeCache;
use crate::request::Filters;

/// The `limit` best documents for `query` among the records `admits` accepts, best first,
/// with their BM25 scores (higher is better). Records without a document are not ranked.
pub(crate) async fn full_text(
    cache: &RangeCache,
    version: Option<&Arc<OpenedVersion>>,
    tail: &[LogEntry],
    query: &str,
    limit: usize,
    admits: &(dyn Fn(&Record) -> bool + Sync),
) -> SiltResult<Vec<(Record, f32)>> {
    let v = version.filter(|v| v.head.record_count() > 0);
    let tids = tail_ids(tail);
    let view = match v {
        None => TailView::build(tail, &HashMap::new()),
        Some(v) => {
            let ids = tids.clone();
            let mut b = Batch::default();
            let lookups = Lookups::plan(&mut b, v, &ids, &Filters::default());
            let f = b.run(cache).await?;
            let id_locs = lookups.id_locations(&f, &ids)?;
            let mut b = Batch::default();
            let base = TailBase::plan(&mut b, v, &tids, &id_locs);
            let f = b.run(cache).await?;
            base.view(tail, &f)?
        }
    };
    let index = match v {
        Some(v) => open_text(cache, v).await?,
        None => None,
    };
    let tail_records: Vec<&Record> = view
        .changed
        .values()
        .flatten()
        .chain(view.appended.iter())
        .filter(|r| r.document.is_some() && admits(r))
        .collect();
    let docs: Vec<String> = tail_records
        .iter()
        .map(|r| r.document.clone().unwrap_or_default())
        .collect();
    let q = query.to_string();
    let tail_scores = match &index {
        Some(index) => {
            let index = index.clone();
            text::run_blocking("text scoring", move || {
                let (searcher, field, analyzer) = index.bm25_parts()?;
                score_outside(&searcher, field, analyzer, &q, &docs)
            })
            .await?
        }
        None => score_alone(&q, &docs)?,
    };
    let mut out: Vec<(Record, f32)> = tail_records
        .into_iter()
        .zip(tail_scores)
        .filter_map(|(r, s)| s.map(|s| (r.clone(), s)))
        .collect();

    if let (Some(v), Some(index)) = (v, index) {
        // The version's ranking, leaving out what the tail touched: asked again for twice as
        // many while the filter leaves it short.
        let mut want = limit.saturating_add(tids.len()).max(1);
        loop {
            let (index, q) = (index.clone(), query.to_string());
            let ranked = text::run_blocking("text search", move || index.bm25(&q, want)).await?;
            let mut b = Batch::default();
            let slots: Vec<_> = ranked
                .iter()
                .map(|(score, loc)| (*score, add_record(&mut b, v, loc, true)))
                .collect();
            let f = b.run(cache).await?;
            let mut kept = Vec::new();
            for (score, s) in &slots {
                let r = take_record(&f, s)?;
                if !tids.contains(r.id.as_str()) && admits(&r) {
                    kept.push((r, *score));
                }
            }
            if kept.len() >= limit || ranked.len() < want {
                out.extend(kept);
                break;
            }
            want = want.saturating_mul(2);
        }
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.id.cmp(&b.0.id)));
    out.truncate(limit);
    Ok(out)
}

fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    stream.process(&mut |t| out.push(t.text.clone()));
    out
}

/// BM25 of each document (`None`: no query term in it) with the statistics `stats` gives.
fn score_with(
    mut analyzer: TextAnalyzer,
    query: &str,
    docs: &[String],
    weight: impl Fn(&str) -> Result<Bm25Weight, ReadError>,
) -> Result<Vec<Option<f32>>, ReadError> {
    let terms = tokens(&mut analyzer, query);
    let weights: Vec<(String, Bm25Weight)> = terms
        .into_iter()
        .map(|t| weight(&t).map(|w| (t, w)))
        .collect::<Result<_, _>>()?;
    Ok(docs
        .iter()
        .map(|d| {
            let toks = tokens(&mut analyzer, d);
            let norm = FieldNormReader::fieldnorm_to_id(toks.len() as u32);
            let mut counts: HashMap<&str, u32> = HashMap::new();
            for t in &toks {
                *counts.entry(t.as_str()).or_default() += 1;
            }
            let mut score = None;
            for (t, w) in &weights {
                if let Some(&tf) = counts.get(t.as_str()) {
                    *score.get_or_insert(0.0) += w.score(norm, tf);
                }
            }
            score
        })
        .collect())
}

fn score_outside(
    searcher: &tantivy::Searcher,
    field: tantivy::schema::Field,
    analyzer: TextAnalyzer,
    query: &str,
    docs: &[String],
) -> Result<Vec<Option<f32>>, ReadError> {
    let err = |e: tantivy::TantivyError| ReadError::Corrupt(format!("text index: {e}"));
    score_with(analyzer, query, docs, |t| {
        Bm25Weight::for_terms(searcher, &[Term::from_field_text(field, t)]).map_err(err)
    })
}

/// No version index: the tail's own documents give the statistics, tokenized as the index's
/// `text` field is (tantivy's default analyzer).
fn score_alone(query: &str, docs: &[String]) -> Result<Vec<Option<f32>>, ReadError> {
    let mut analyzer = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .build();
    let tokenized: Vec<Vec<String>> = docs.iter().map(|d| tokens(&mut analyzer, d)).collect();
    let n = tokenized.len().max(1) as u64;
    let total: u64 = tokenized.iter().map(|t| t.len() as u64).sum();
    let average = total as f32 / n as f32;
    let sets: Vec<BTreeSet<&str>> = tokenized
        .iter()
        .map(|t| t.iter().map(String::as_str).collect())
        .collect();
    score_with(analyzer.clone(), query, docs, |t| {
        let df = sets.iter().filter(|s| s.contains(t)).count() as u64;
        Ok(Bm25Weight::for_one_term(df, n, average))
    })
}
