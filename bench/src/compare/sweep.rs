//! The search-effort sweep: every server's collection is set to each `hnsw.ef_search` in turn
//! and measured for recall and sequential latency, so recall can be plotted against latency for
//! all servers on one chart. Chroma's ef_search is its HNSW candidate list; Silt scales the
//! clusters it probes by the same ratio to its default of 100.

use serde::Serialize;

use super::workload::Requests;
use super::{alternate, mean, per_request_ms, CaseKind, CompareOptions, CpuMeter, Target};
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
            // `chroma run` keeps the ef_search an index was loaded with (a modify alone left
            // its recall and latency flat over the whole sweep); restarting makes it load the
            // index again, with the stored configuration. Silt applies it per query.
            if t.server.name == "chroma" {
                t.server.restart(None).await?;
            }
        }
        // Unmeasured: a changed configuration or a restart reloads what a server keeps in
        // memory.
        for t in targets.iter() {
            for body in requests.queries.iter().take(5) {
                super::workload::timed_query(&t.server.api, &t.collection, body).await?;
            }
        }
        let cpu = CpuMeter::start(targets);
        let samples = alternate(o, targets, &indices, |i| {
            (CaseKind::Knn, requests.queries[i].clone())
        })
        .await?;
        let cpu = cpu.stop(targets);
        for ((points, s), cpu) in out.iter_mut().zip(samples).zip(cpu) {
            let times: Vec<f64> = s.iter().map(|x| x.ms).collect();
            points.push(SweepPoint {
                ef_search: ef,
                recall: mean(
                    s.iter()
                        .enumerate()
                        .map(|(i, x)| requests.recall(&x.ids, &ds.truth[i], o.k)),
                ),
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
