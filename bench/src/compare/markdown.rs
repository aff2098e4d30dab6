//! The comparison as a Markdown table, and its section in docs/benchmarks.md (replaced in place
//! on every run, so the document always shows the last run of each dataset).

use std::path::Path;

use super::{CompareReport, QueryLine, TargetReport};
use crate::stats::Latency;

pub fn to_markdown(r: &CompareReport) -> String {
    let mut out = format!(
        "Dataset **{}**: {} records × {} ({}), k = {}, {} queries, {} concurrent clients.\n\n",
        r.dataset, r.records, r.dimension, r.metric, r.k, r.queries, r.clients
    );
    let names: Vec<&str> = r.targets.iter().map(|t| t.name.as_str()).collect();
    out += &format!(
        "| | {} |\n|---|{}\n",
        names.join(" | "),
        "---|".repeat(names.len())
    );
    let mut row = |label: &str, cell: &dyn Fn(&TargetReport) -> String| {
        let cells: Vec<String> = r.targets.iter().map(cell).collect();
        out += &format!("| {label} | {} |\n", cells.join(" | "));
    };
    row("ingest, records/s (batch size)", &|t| {
        format!("{:.0} ({})", t.ingest.records_per_s, t.ingest.batch_size)
    });
    row("indexed after the last write, s", &|t| {
        format!("{:.2}", t.ingest.indexed_after_s)
    });
    row("recall@10", &|t| recall(&t.sequential));
    row("query p50 / p95 / p99 ms, sequential", &|t| {
        percentiles(&t.sequential.latency)
    });
    row("QPS, sequential", &|t| {
        format!("{:.0}", 1000.0 / t.sequential.latency.mean.max(1e-9))
    });
    row("query p50 / p95 / p99 ms, concurrent", &|t| {
        percentiles(&t.concurrent.latency)
    });
    row("QPS, concurrent", &|t| format!("{:.0}", t.concurrent.qps));
    row("server CPU ms per query, sequential / concurrent", &|t| {
        format!(
            "{} / {}",
            cpu_ms(t.sequential.server_cpu_ms_per_request),
            cpu_ms(t.concurrent.server_cpu_ms_per_request)
        )
    });
    let lines = r.targets.first().map_or(0, |t| t.filtered.len());
    for i in 0..lines {
        let Some(first) = r.targets.first().and_then(|t| t.filtered.get(i)) else {
            continue;
        };
        let label = match first.selectivity {
            Some(s) => format!("{} ({:.1}%): p50 / p95 / p99 ms", first.name, s * 100.0),
            None => format!("{}: p50 / p95 / p99 ms", first.name),
        };
        row(&label, &|t| {
            t.filtered
                .get(i)
                .map(|l| percentiles(&l.latency))
                .unwrap_or_default()
        });
        if first.recall.is_some() {
            row(&format!("{}: recall@10", first.name), &|t| {
                t.filtered.get(i).map(recall).unwrap_or_default()
            });
        }
    }
    row("RSS after ingest, MB", &|t| mb(t.rss_after_ingest_mb));
    if r.targets.iter().any(|t| t.many_collections.is_some()) {
        let m = r.targets.iter().find_map(|t| t.many_collections.as_ref());
        let what = m.map_or(String::new(), |m| {
            format!("{} collections × {} records", m.collections, m.records_each)
        });
        row(&format!("{what}: create + add, s"), &|t| {
            t.many_collections
                .as_ref()
                .map(|m| format!("{:.1}", m.create_and_add_s))
                .unwrap_or_default()
        });
        row(&format!("{what}: query p50 / p99 ms"), &|t| {
            t.many_collections
                .as_ref()
                .map(|m| format!("{:.2} / {:.2}", m.query.p50, m.query.p99))
                .unwrap_or_default()
        });
        row(&format!("{what}: server RSS before → after, MB"), &|t| {
            t.many_collections
                .as_ref()
                .map(|m| format!("{} → {}", mb(m.rss_before_mb), mb(m.rss_after_mb)))
                .unwrap_or_default()
        });
    }
    out += &sweep_table(r);
    if let Some(c) = &r.silt_store_costs {
        out += &format!(
            "\nSilt's object-store requests ({} ms injected per GET, {} ms per PUT):\n\n",
            c.get_latency_ms, c.put_latency_ms
        );
        let w = &c.write;
        out += &format!(
            "- write: {:.2} log PUTs per acknowledged batch of {} ({:.0} bytes per record); \
             batch p50 / p99 {:.0} / {:.0} ms; indexed {:.1} s after the last write, \
             the version cost {} PUTs and {} GETs\n\n",
            w.puts_per_batch,
            w.records_per_batch,
            w.put_bytes_per_record,
            w.batch_latency.p50,
            w.batch_latency.p99,
            w.indexed_after_s,
            w.compactor_puts,
            w.compactor_gets
        );
        out += "| query | cold round trips (p50 / max) | cold GETs (p50 / max) | cold MB (p50) | cold p50 / max ms | warm GETs | warm p50 / p99 ms |\n|---|---|---|---|---|---|---|\n";
        for q in &c.queries {
            out += &format!(
                "| {} | {:.0} / {:.0} | {:.0} / {:.0} | {:.1} | {:.0} / {:.0} | {} | {:.1} / {:.1} |\n",
                q.kind,
                q.cold_round_trips.p50,
                q.cold_round_trips.max,
                q.cold_gets.p50,
                q.cold_gets.max,
                q.cold_mb.p50,
                q.cold_latency.p50,
                q.cold_latency.max,
                q.warm_gets,
                q.warm_latency.p50,
                q.warm_latency.p99
            );
        }
    }
    out
}

/// Recall@k and sequential p50 at each `hnsw.ef_search` of the sweep, a column per server.
fn sweep_table(r: &CompareReport) -> String {
    let Some(points) = r
        .targets
        .first()
        .map(|t| &t.sweep)
        .filter(|p| !p.is_empty())
    else {
        return String::new();
    };
    let names: Vec<&str> = r.targets.iter().map(|t| t.name.as_str()).collect();
    let mut out = format!(
        "\nSearch-effort sweep (`hnsw.ef_search`; Silt probes its default cluster count × ef/100): \
         recall@{} / sequential p50 ms / server CPU ms per query.\n\n| ef_search | {} |\n|---|{}\n",
        r.k,
        names.join(" | "),
        "---|".repeat(names.len())
    );
    for (i, p) in points.iter().enumerate() {
        let cells: Vec<String> = r
            .targets
            .iter()
            .map(|t| {
                t.sweep.get(i).map_or_else(String::new, |q| {
                    format!(
                        "{:.3} / {:.2} / {}",
                        q.recall,
                        q.latency.p50,
                        cpu_ms(q.server_cpu_ms_per_request)
                    )
                })
            })
            .collect();
        out += &format!("| {} | {} |\n", p.ef_search, cells.join(" | "));
    }
    out
}

fn percentiles(l: &Latency) -> String {
    format!("{:.1} / {:.1} / {:.1}", l.p50, l.p95, l.p99)
}

fn recall(l: &QueryLine) -> String {
    l.recall.map(|r| format!("{r:.3}")).unwrap_or_default()
}

fn cpu_ms(v: Option<f64>) -> String {
    v.map(|ms| format!("{ms:.2}"))
        .unwrap_or_else(|| "n/a".into())
}

fn mb(v: Option<f64>) -> String {
    v.map(|m| format!("{m:.0}")).unwrap_or_else(|| "n/a".into())
}

/// Puts `body` between this dataset's markers in `path`, replacing an earlier run's section or
/// appending a new one.
pub fn update_section(path: &Path, key: &str, body: &str) -> anyhow::Result<()> {
    let begin = format!("<!-- bench compare {key}: begin -->");
    let end = format!("<!-- bench compare {key}: end -->");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let section = format!("{begin}\n{body}\n{end}");
    let updated = match (text.find(&begin), text.find(&end)) {
        (Some(a), Some(b)) if b > a => {
            format!("{}{section}{}", &text[..a], &text[b + end.len()..])
        }
        _ => format!("{}\n{section}\n", text.trim_end()),
    };
    std::fs::write(path, updated)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_is_replaced_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.md");
        std::fs::write(&path, "# Title\n\nintro\n").unwrap();
        update_section(&path, "x", "first").unwrap();
        update_section(&path, "y", "other").unwrap();
        update_section(&path, "x", "second").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# Title\n\nintro\n"));
        assert!(text.contains("begin -->\nsecond\n<!--"));
        assert!(!text.contains("first"));
        assert!(text.contains("other"));
        assert!(text.find("second") < text.find("other"));
    }
}
