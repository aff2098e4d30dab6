//! The search-effort sweep: every server's collection is set to each `hnsw.ef_search` in turn
//! and measured for recall and sequential latency, so recall can be plotted against latency for
//! all servers on one chart. Chroma's ef_search is its HNSW candidate list; Silt scales the
//! clusters it probes by the same ratio to its default of 100.

use serde::Serialize;

use super::workload::Requests;
use super::{per_request_ms, unfiltered_knn, warm_up, CompareOptions, Target};
use crate::dataset::Dataset;
use crate::stats::Latency;

#[derive(Debug, Clone, Serialize)]
pub struct SweepPoint {
    pub ef_search: u64,
    pub recall: f64,
    pub latency: Latency,
    pub server_cpu_ms_per_request: Option<f64>,
}

/// Measures each sweep value on every server; returns each server's points in sweep order.
/// Leaves every collection at Chroma's default ef_search (100) afterwards.
pub(super) async fn run(
    o: &CompareOptions,
    ds: &Dataset,
    requests: &Requests,
    targets: &mut [Target],
) -> anyhow::Result<Vec<Vec<SweepPoint>>> {
    let mut out: Vec<Vec<SweepPoint>> = targets.iter().map(|_| Vec::new()).collect();
    if o.sweep_queries == 0 {
        return Ok(out);
    }
    let indices: Vec<usize> = (0..requests.queries.len().min(o.sweep_queries)).collect();
    for &ef in &o.sweep {
        eprintln!("sweep: ef_search {ef}");
        for t in targets.iter_mut() {
            t.server.api.set_ef_search(&t.collection, ef).await?;
            // A server that applies configuration only when it loads an index (`chroma run`)
            // is restarted; Silt applies it per query.
            if t.server.configures_on_load() {
                t.server.restart(None).await?;
            }
        }
        // Unmeasured: a changed configuration or a restart reloads what a server keeps in
        // memory.
        warm_up(targets, requests, 5).await?;
        let measured = unfiltered_knn(o, ds, requests, targets, &indices).await?;
        for (points, (s, recall, cpu)) in out.iter_mut().zip(measured) {
            let times: Vec<f64> = s.iter().map(|x| x.ms).collect();
            points.push(SweepPoint {
                ef_search: ef,
                recall,
                latency: Latency::of(&times),
                server_cpu_ms_per_request: per_request_ms(cpu, s.len()),
            });
        }
    }
    for t in targets.iter() {
        t.server.api.set_ef_search(&t.collection, 100).await?;
    }
    Ok(out)
}
