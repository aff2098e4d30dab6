//! Strong reads and their checks against the model.

use silt_common::distance::{norm, Distance};
use silt_common::record::Record;
use silt_query_service::{Consistency, Filters, GetRequest, KnnRequest, QueryService};

use rand::Rng;

use crate::model::State;
use crate::ops::{select_crash, Sim, ALL, DIM, IDS};

impl Sim {
    pub async fn read(&mut self) -> Result<(), String> {
        let c = self.w.collection;
        let kind = self.rng.random_range(0..4);
        let request = |filters: Filters| GetRequest {
            collection: c.into(),
            filters,
            limit: None,
            offset: 0,
            include: ALL,
            consistency: Consistency::Strong,
        };
        match kind {
            0 => {
                let r = select_crash(
                    &self.w.faulty,
                    self.w.query.count(c.into(), Consistency::Strong),
                )
                .await;
                let Some(r) = self.after_read(r).await else {
                    return Ok(());
                };
                let n = r as usize;
                self.check(format!("count = {n}"), |s| s.len() == n)
            }
            1 | 2 => {
                let ids = (kind == 2).then(|| {
                    let k = self.rng.random_range(1..5);
                    (0..k)
                        .map(|_| format!("id-{:02}", self.rng.random_range(0..IDS)))
                        .collect::<Vec<_>>()
                });
                let filters = Filters {
                    ids: ids.clone(),
                    ..Filters::default()
                };
                let r = select_crash(&self.w.faulty, self.w.query.get(request(filters))).await;
                let Some(mut got) = self.after_read(r).await else {
                    return Ok(());
                };
                got.sort_by(|a, b| a.id.cmp(&b.id));
                let ids_note = ids.as_ref().map_or("all".to_string(), |i| format!("{i:?}"));
                let got_ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
                self.check(format!("get {ids_note}: {got_ids:?}"), |s| {
                    let want: Vec<&Record> = s
                        .values()
                        .filter(|r| ids.as_ref().is_none_or(|ids| ids.contains(&r.id)))
                        .collect();
                    want.len() == got.len() && want.iter().zip(&got).all(|(a, b)| *a == b)
                })
            }
            _ => {
                let query: Vec<f32> = (0..DIM)
                    .map(|_| self.rng.random_range(-4i8..4) as f32)
                    .collect();
                let k = self.rng.random_range(1..8);
                let knn = KnnRequest {
                    collection: c.into(),
                    filters: Filters::default(),
                    query_embeddings: vec![query.clone()],
                    n_results: k,
                    include: ALL,
                    consistency: Consistency::Strong,
                };
                let r = select_crash(&self.w.faulty, self.w.query.knn(knn)).await;
                let Some(mut lists) = self.after_read(r).await else {
                    return Ok(());
                };
                let got = lists.pop().unwrap_or_default();
                let qn = norm(&query);
                self.check(format!("knn k={k}: {} results", got.len()), |s| {
                    let mut truth: Vec<f32> = s
                        .values()
                        .map(|r| Distance::L2.compute(&query, qn, &r.embedding))
                        .collect();
                    truth.sort_by(f32::total_cmp);
                    truth.truncate(k);
                    got.len() == truth.len()
                        && got.iter().zip(&truth).all(|(g, t)| {
                            s.get(&g.record.id) == Some(&g.record)
                                && (g.distance - t).abs() <= 1e-3 * t.abs().max(1.0)
                        })
                })
            }
        }
    }

    /// Handles a read's crash or failure; `Some` when there is an answer to check.
    async fn after_read<T>(&mut self, r: Option<silt_common::SiltResult<T>>) -> Option<T> {
        match r {
            None => {
                self.note("read: crashed".into());
                self.process_died().await;
                None
            }
            Some(Err(e)) => {
                self.note(format!("read: {}", e.kind.name()));
                self.stats.failed_reads += 1;
                None
            }
            Some(Ok(v)) => Some(v),
        }
    }

    fn check(&mut self, what: String, fits: impl Fn(&State) -> bool) -> Result<(), String> {
        self.note(what.clone());
        self.stats.checked_reads += 1;
        self.model
            .observe(fits)
            .map_err(|e| format!("step {}: {what}: {e}", self.step))
    }

    pub async fn read_everything(&mut self) -> Result<(), String> {
        let c = self.w.collection;
        let n = self
            .w
            .query
            .count(c.into(), Consistency::Strong)
            .await
            .map_err(|e| format!("settle: count failed without faults: {e}"))?
            as usize;
        self.check(format!("settle count = {n}"), |s| s.len() == n)?;
        let mut got = self
            .w
            .query
            .get(GetRequest {
                collection: c.into(),
                filters: Filters::default(),
                limit: None,
                offset: 0,
                include: ALL,
                consistency: Consistency::Strong,
            })
            .await
            .map_err(|e| format!("settle: get failed without faults: {e}"))?;
        got.sort_by(|a, b| a.id.cmp(&b.id));
        self.check(format!("settle get all: {} records", got.len()), |s| {
            s.values().eq(got.iter())
        })
    }
}
