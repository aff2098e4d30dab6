//! Latency summaries and process memory, shared by every benchmark.

use serde::Serialize;

/// Percentiles of a set of samples: latencies in milliseconds, or counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub count: usize,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub mean: f64,
    pub max: f64,
}

/// A summary of latencies, in milliseconds.
pub type Latency = Summary;

impl Summary {
    pub fn of(samples: &[f64]) -> Summary {
        let mut v = samples.to_vec();
        v.sort_by(f64::total_cmp);
        // Nearest-rank percentile: a value that was actually observed.
        let at = |q: f64| {
            if v.is_empty() {
                0.0
            } else {
                v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1]
            }
        };
        Summary {
            count: v.len(),
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            max: v.last().copied().unwrap_or(0.0),
            mean: if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            },
        }
    }
}

/// Resident set size of a process and all its descendants, in MiB (Linux /proc).
pub fn rss_mb_of_tree(pid: u32) -> f64 {
    let mut total_kb = 0.0;
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        total_kb += vm_rss_kb(&format!("/proc/{p}/status")).unwrap_or(0.0);
        stack.extend(children(p));
    }
    total_kb / 1024.0
}

/// Resident set size of this process, in MiB.
pub fn rss_mb() -> f64 {
    vm_rss_kb("/proc/self/status").map_or(0.0, |kb| kb / 1024.0)
}

fn vm_rss_kb(status: &str) -> Option<f64> {
    std::fs::read_to_string(status).ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse().ok())
    })
}

fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        let l = Summary::of(&samples);
        assert_eq!((l.p50, l.p95, l.p99, l.max), (50.0, 95.0, 99.0, 100.0));
        assert_eq!(l.mean, 50.5);
        assert_eq!(Summary::of(&[]).count, 0);
    }

    #[test]
    fn this_process_has_a_resident_set() {
        assert!(rss_mb_of_tree(std::process::id()) > 0.0);
    }
}
