//! Generated data for the integration tests: random vectors, and a Gaussian mixture split
//! into its clusters (the assignment a k-means would find, as the generating centre).

#![allow(dead_code)]

use silt_index::quantize::rng::SplitMix64;

pub fn random(rng: &mut SplitMix64, n: usize, d: usize) -> Vec<Vec<f32>> {
    (0..n)
        .map(|_| (0..d).map(|_| rng.normal() as f32).collect())
        .collect()
}

/// `n` vectors around `clusters` centres (coordinates N(0, 1)), each coordinate spread by
/// `spread`; returns the vectors grouped by cluster.
pub fn mixture(
    rng: &mut SplitMix64,
    n: usize,
    d: usize,
    clusters: usize,
    spread: f32,
) -> Vec<Vec<Vec<f32>>> {
    let centres = random(rng, clusters, d);
    let mut groups = vec![Vec::new(); clusters];
    for i in 0..n {
        let c = i % clusters;
        let v = centres[c]
            .iter()
            .map(|x| x + spread * rng.normal() as f32)
            .collect();
        groups[c].push(v);
    }
    groups
}

/// A query near the data: a member moved by noise of the same spread.
pub fn near(rng: &mut SplitMix64, v: &[f32], spread: f32) -> Vec<f32> {
    v.iter().map(|x| x + spread * rng.normal() as f32).collect()
}
