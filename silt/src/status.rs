//! `silt admin status`: the cluster at a glance — nodes by role with their heartbeat age,
//! collections whose index lags behind their log, recent compactions and failing ones (all
//! from the catalog), and each live query node's cache figures (from its `/metrics`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use silt_common::clock::{Clock, SystemClock};
use silt_sysdb::{CollectionName, Compaction, CompactionFailure, Lagging, NodeRecord, SysDb};

use crate::table::{self, Align};

/// Query-node series summed into the cache figures (every label set added up).
const CACHE_HITS: &str = "silt_query_cache_hits_total";
const CACHE_MISSES: &str = "silt_query_cache_misses_total";
const CACHE_BYTES: &str = "silt_query_cache_bytes";
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(2);

pub struct StatusOptions {
    pub limit: u32,
    pub membership_timeout_ms: i64,
    pub json: bool,
}

struct CacheFigures {
    node: String,
    /// `None` when the node could not be read; the error says why.
    figures: Result<(f64, f64, Option<f64>), String>,
}

struct Status {
    now_ms: i64,
    timeout_ms: i64,
    nodes: Vec<NodeRecord>,
    lagging: Vec<Lagging>,
    compactions: Vec<Compaction>,
    failures: Vec<CompactionFailure>,
    caches: Vec<CacheFigures>,
}

pub async fn admin_status(sysdb: &SysDb, options: StatusOptions) -> anyhow::Result<()> {
    let mut nodes = sysdb.all_nodes().await?;
    nodes.sort_by(|a, b| (&a.role, &a.address).cmp(&(&b.role, &b.address)));
    // Heartbeats are wall-clock times written by every node's system clock.
    let now_ms = SystemClock.now_ms();
    let live_query_nodes: Vec<&NodeRecord> = nodes
        .iter()
        .filter(|n| {
            n.role == "query" && now_ms - n.heartbeat_at_ms <= options.membership_timeout_ms
        })
        .collect();
    let caches = scrape_caches(&live_query_nodes).await;
    let status = Status {
        now_ms,
        timeout_ms: options.membership_timeout_ms,
        lagging: sysdb.lagging_collections(options.limit).await?,
        compactions: sysdb.recent_compactions(options.limit).await?,
        failures: sysdb.failing_collections(options.limit).await?,
        caches,
        nodes,
    };
    if options.json {
        println!("{}", serde_json::to_string_pretty(&status.to_json())?);
    } else {
        print!("{}", status.to_text());
    }
    Ok(())
}

async fn scrape_caches(nodes: &[&NodeRecord]) -> Vec<CacheFigures> {
    let client = match reqwest::Client::builder().timeout(SCRAPE_TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => {
            return nodes
                .iter()
                .map(|n| CacheFigures {
                    node: n.id.clone(),
                    figures: Err(e.to_string()),
                })
                .collect()
        }
    };
    let scrapes = nodes.iter().map(|n| {
        let client = client.clone();
        async move {
            let url = format!("{}/metrics", n.address.trim_end_matches('/'));
            let figures = async {
                let response = client.get(&url).send().await.map_err(|e| e.to_string())?;
                if !response.status().is_success() {
                    return Err(format!("HTTP {}", response.status()));
                }
                let text = response.text().await.map_err(|e| e.to_string())?;
                let sums = sum_series(&text);
                let get = |name: &str| sums.get(name).copied();
                Ok((
                    get(CACHE_HITS).unwrap_or(0.0),
                    get(CACHE_MISSES).unwrap_or(0.0),
                    get(CACHE_BYTES),
                ))
            }
            .await;
            CacheFigures {
                node: n.id.clone(),
                figures,
            }
        }
    });
    futures::future::join_all(scrapes).await
}

/// Sums each series of a Prometheus text exposition over its label sets.
fn sum_series(text: &str) -> BTreeMap<String, f64> {
    let mut sums = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let name = series.split('{').next().unwrap_or(series).trim();
        if let Ok(v) = value.trim().parse::<f64>() {
            *sums.entry(name.to_string()).or_insert(0.0) += v;
        }
    }
    sums
}

fn collection_json(c: &CollectionName) -> Value {
    json!({"id": c.id.to_string(), "tenant": c.tenant, "database": c.database, "name": c.name})
}

fn collection_label(c: &CollectionName) -> String {
    format!("{}/{}/{}", c.tenant, c.database, c.name)
}

fn hit_ratio(hits: f64, misses: f64) -> Option<f64> {
    (hits + misses > 0.0).then(|| hits / (hits + misses))
}

fn age(now_ms: i64, at_ms: i64) -> String {
    let ms = (now_ms - at_ms).max(0);
    if ms < 10_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}h", ms as f64 / 3_600_000.0)
    }
}

impl Status {
    fn live(&self, n: &NodeRecord) -> bool {
        self.now_ms - n.heartbeat_at_ms <= self.timeout_ms
    }

    fn to_json(&self) -> Value {
        let now = self.now_ms;
        json!({
            "nodes": self.nodes.iter().map(|n| json!({
                "id": n.id, "role": n.role, "address": n.address, "live": self.live(n),
                "heartbeat_age_ms": now - n.heartbeat_at_ms, "up_for_ms": now - n.started_at_ms,
            })).collect::<Vec<_>>(),
            "lagging_collections": self.lagging.iter().map(|l| json!({
                "collection": collection_json(&l.collection),
                "unindexed_records": l.records, "oldest_unindexed_age_ms": now - l.since_ms,
            })).collect::<Vec<_>>(),
            "recent_compactions": self.compactions.iter().map(|c| json!({
                "collection": collection_json(&c.collection), "version": c.version,
                "records": c.record_count, "bytes": c.bytes, "age_ms": now - c.at_ms,
            })).collect::<Vec<_>>(),
            "failing_compactions": self.failures.iter().map(|f| json!({
                "collection": collection_json(&f.collection), "failures": f.failures,
                "last_error": f.last_error, "age_ms": now - f.at_ms,
            })).collect::<Vec<_>>(),
            "query_caches": self.caches.iter().map(|c| match &c.figures {
                Ok((hits, misses, bytes)) => json!({
                    "node": c.node, "hits": hits, "misses": misses,
                    "hit_ratio": hit_ratio(*hits, *misses), "bytes": bytes,
                }),
                Err(e) => json!({"node": c.node, "error": e}),
            }).collect::<Vec<_>>(),
        })
    }

    fn to_text(&self) -> String {
        use Align::{Left, Right};
        let now = self.now_ms;
        let mut out = String::new();
        let mut section =
            |title: &str, empty: &str, header: &[&str], align: &[Align], rows: Vec<Vec<String>>| {
                out.push_str(&format!("{title}\n"));
                if rows.is_empty() {
                    out.push_str(&format!("  ({empty})\n\n"));
                } else {
                    for line in table::render(header, align, &rows).lines() {
                        out.push_str(&format!("  {line}\n"));
                    }
                    out.push('\n');
                }
            };
        section(
            "NODES",
            "no node is registered: embedded `silt run` does not register",
            &["role", "id", "address", "state", "heartbeat", "up"],
            &[Left, Left, Left, Left, Right, Right],
            self.nodes
                .iter()
                .map(|n| {
                    vec![
                        n.role.clone(),
                        n.id.clone(),
                        n.address.clone(),
                        if self.live(n) { "live" } else { "silent" }.into(),
                        age(now, n.heartbeat_at_ms),
                        age(now, n.started_at_ms),
                    ]
                })
                .collect(),
        );
        section(
            "LAGGING COLLECTIONS (unindexed writes, oldest first)",
            "every collection is indexed up to its log",
            &["collection", "id", "unindexed", "oldest"],
            &[Left, Left, Right, Right],
            self.lagging
                .iter()
                .map(|l| {
                    vec![
                        collection_label(&l.collection),
                        l.collection.id.to_string(),
                        l.records.to_string(),
                        age(now, l.since_ms),
                    ]
                })
                .collect(),
        );
        section(
            "RECENT COMPACTIONS",
            "none",
            &["collection", "version", "records", "bytes", "ago"],
            &[Left, Right, Right, Right, Right],
            self.compactions
                .iter()
                .map(|c| {
                    vec![
                        collection_label(&c.collection),
                        c.version.to_string(),
                        c.record_count.to_string(),
                        c.bytes.to_string(),
                        age(now, c.at_ms),
                    ]
                })
                .collect(),
        );
        section(
            "FAILING COMPACTIONS (since their last success)",
            "none",
            &["collection", "failures", "ago", "last error"],
            &[Left, Right, Right, Left],
            self.failures
                .iter()
                .map(|f| {
                    vec![
                        collection_label(&f.collection),
                        f.failures.to_string(),
                        age(now, f.at_ms),
                        f.last_error.clone(),
                    ]
                })
                .collect(),
        );
        section(
            "QUERY NODE CACHES",
            "no live query node",
            &["node", "hits", "misses", "hit ratio", "bytes"],
            &[Left, Right, Right, Right, Right],
            self.caches
                .iter()
                .map(|c| match &c.figures {
                    Ok((hits, misses, bytes)) => vec![
                        c.node.clone(),
                        format!("{hits:.0}"),
                        format!("{misses:.0}"),
                        hit_ratio(*hits, *misses)
                            .map_or("-".into(), |r| format!("{:.1}%", r * 100.0)),
                        bytes.map_or("-".into(), |b| format!("{b:.0}")),
                    ],
                    Err(e) => vec![c.node.clone(), format!("unreadable: {e}")],
                })
                .collect(),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_each_series_over_its_labels_and_skips_comments() {
        let text = "# TYPE a counter\na{x=\"1\"} 2\na{x=\"2\"} 3.5\nb 7\nbad line\n";
        let sums = sum_series(text);
        assert_eq!(sums.get("a"), Some(&5.5));
        assert_eq!(sums.get("b"), Some(&7.0));
        assert_eq!(sums.len(), 2);
    }

    #[test]
    fn ages_read_as_people_read_them() {
        assert_eq!(age(10_000, 8_500), "1.5s");
        assert_eq!(age(100_000, 0), "100s");
        assert_eq!(age(7_200_000, 0), "2.0h");
        assert_eq!(hit_ratio(0.0, 0.0), None);
        assert_eq!(hit_ratio(3.0, 1.0), Some(0.75));
    }
}
