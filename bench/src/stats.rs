//! Latency summaries, process memory and CPU time, shared by every benchmark.

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

/// CPU time (user + system) of a process and all its descendants, in seconds; None when the
/// process is gone. Each process counts its own time and that of its children that have exited
/// and been waited for (`cutime`, `cstime`): a child that exits between two readings moves its
/// whole time into its parent's, so the difference of two readings stays exact.
pub fn cpu_s_of_tree(pid: u32) -> Option<f64> {
    let mut ticks = cpu_ticks(pid)?;
    let mut stack = children(pid);
    while let Some(p) = stack.pop() {
        ticks += cpu_ticks(p).unwrap_or(0);
        stack.extend(children(p));
    }
    Some(ticks as f64 / clock_ticks_per_s())
}

/// utime + stime + cutime + cstime of `/proc/<pid>/stat`, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_cpu_ticks(&stat)
}

fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) is in parentheses and may hold spaces or parentheses itself:
    // the fields after the last ')' start at field 3 (state); utime..cstime are fields 14-17.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    fields
        .get(11..15)?
        .iter()
        .map(|f| f.parse::<u64>().ok())
        .sum()
}

fn clock_ticks_per_s() -> f64 {
    // SAFETY: sysconf reads a constant of the C library; it has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
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
    fn cpu_ticks_are_read_past_a_command_name_with_spaces() {
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 7 5 3 2 20 0 1 0 9 0 0";
        assert_eq!(parse_cpu_ticks(stat), Some(7 + 5 + 3 + 2));
        assert_eq!(parse_cpu_ticks("garbage"), None);
    }

    #[test]
    fn this_process_tree_counts_its_own_work() {
        let pid = std::process::id();
        let before = cpu_s_of_tree(pid).unwrap();
        // Spin until the reading moves by 50 ms of CPU; the wall-clock cap only ends a broken
        // reading, it is not what the test measures.
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while cpu_s_of_tree(pid).unwrap() - before < 0.05 && start.elapsed().as_secs() < 60 {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        assert!(cpu_s_of_tree(pid).unwrap() - before >= 0.05);
        assert_eq!(cpu_s_of_tree(u32::MAX), None);
    }

    #[test]
    fn a_tree_includes_its_children() {
        // A busy child shell; the tree of this process must count its time (waited for to
        // 0.1 s, asserted at 0.05 s: readings of the parent and the tree are not atomic).
        let mut child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        let me = std::process::id();
        let own = || cpu_ticks(me).unwrap() as f64 / clock_ticks_per_s();
        let start = std::time::Instant::now();
        while cpu_s_of_tree(child.id()).unwrap_or(0.0) < 0.1 && start.elapsed().as_secs() < 60 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let children = cpu_s_of_tree(me).unwrap() - own();
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(children >= 0.05, "children's CPU {children}");
    }

    #[test]
    fn this_process_has_a_resident_set() {
        assert!(rss_mb_of_tree(std::process::id()) > 0.0);
    }
}
