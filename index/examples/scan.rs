//! Micro-measurement (not a test): vectors per second of the estimator with each kernel this
//! CPU has, against an exact f32 dot product over the same vectors.
//!
//! `cargo run --release -p silt-index --example scan -- [n] [dimension] [bits] [cluster size]`
//! (defaults 100000 384 4 1000). Data: a generated Gaussian mixture, one cluster per block.
#![allow(clippy::disallowed_methods)] // wall-clock timing is the point of a measurement

use std::hint::black_box;
use std::time::Instant;

use silt_index::quantize::kernels::Kernel;
use silt_index::quantize::rng::SplitMix64;
use silt_index::quantize::{
    estimate_with, rerank, CodeBlock, Estimate, Metric, QuantizedQuery, Query, Rotation,
    DEFAULT_EPSILON,
};

const QUERIES: usize = 20;
/// Each timing is the best of this many runs: the machine is shared, and the best run is the
/// one least disturbed.
const RUNS: usize = 3;

fn best_of(mut run: impl FnMut()) -> f64 {
    (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| {
            a.parse()
                .expect("arguments are numbers: n dimension bits cluster-size")
        })
        .collect();
    let n = args.first().copied().unwrap_or(100_000);
    let d = args.get(1).copied().unwrap_or(384);
    let bits = args.get(2).copied().unwrap_or(4) as u8;
    let cluster = args.get(3).copied().unwrap_or(1_000);

    let mut rng = SplitMix64::new(1);
    let clusters = n.div_ceil(cluster);
    let centres: Vec<Vec<f32>> = (0..clusters)
        .map(|_| (0..d).map(|_| rng.normal() as f32).collect())
        .collect();
    let data: Vec<Vec<f32>> = (0..n)
        .map(|i| {
            centres[i / cluster]
                .iter()
                .map(|c| c + 0.5 * rng.normal() as f32)
                .collect()
        })
        .collect();
    let queries: Vec<Vec<f32>> = (0..QUERIES)
        .map(|i| {
            data[(i * 7919) % n]
                .iter()
                .map(|x| x + 0.2 * rng.normal() as f32)
                .collect()
        })
        .collect();
    let rotation = Rotation::new(42, d);
    let started = Instant::now();
    let blocks: Vec<CodeBlock> = data
        .chunks(cluster)
        .map(|g| {
            let refs: Vec<&[f32]> = g.iter().map(|v| v.as_slice()).collect();
            CodeBlock::encode(&refs, Metric::L2, bits, &rotation).expect("valid input")
        })
        .collect();
    let encode = started.elapsed().as_secs_f64();
    let code_bytes: usize = blocks.iter().map(|b| b.to_bytes().len()).sum();
    println!(
        "{n} × {d}, B = {bits}, {clusters} clusters: encoded in {encode:.2} s ({:.0} vectors/s), \
         {:.1} bytes/vector of codes vs {} of f32",
        n as f64 / encode,
        code_bytes as f64 / n as f64,
        4 * d
    );

    let flat: Vec<f32> = data.iter().flatten().copied().collect();
    let rate = |seconds: f64| (n * QUERIES) as f64 / seconds / 1e6;
    let seconds = best_of(|| {
        for q in &queries {
            for v in flat.chunks_exact(d) {
                black_box(dot(q, v));
            }
        }
    });
    println!(
        "exact f32 dot, baseline x86-64 (as Silt builds) {:7.1} M vectors/s",
        rate(seconds)
    );
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        let seconds = best_of(|| {
            for q in &queries {
                for v in flat.chunks_exact(d) {
                    // SAFETY: the CPU has AVX2 and FMA (checked above).
                    black_box(unsafe { dot_avx2(q, v) });
                }
            }
        });
        println!(
            "exact f32 dot, AVX2 + FMA                       {:7.1} M vectors/s",
            rate(seconds)
        );
    }

    let rotated: Vec<Query> = queries
        .iter()
        .map(|q| Query::new(&rotation, Metric::L2, q).expect("valid query"))
        .collect();
    for kernel in Kernel::available() {
        // The integer kernel alone, on a query already quantized for each cluster.
        let quantized: Vec<Vec<QuantizedQuery>> = rotated
            .iter()
            .map(|q| blocks.iter().map(|b| quantized_for(q, b)).collect())
            .collect();
        let mut out = Vec::with_capacity(cluster);
        let kernel_rate = rate(best_of(|| {
            for qs in &quantized {
                for (b, q) in blocks.iter().zip(qs) {
                    out.clear();
                    kernel.dots(codes(b), bits as usize, d.div_ceil(64), q, &mut out);
                    black_box(&out);
                }
            }
        }));
        // The whole estimator: quantize the query per cluster, kernel, factors and bounds,
        // then the exact re-rank of the candidates the bounds cannot exclude.
        let mut reranked = 0;
        let seconds = best_of(|| {
            reranked = 0;
            for (q, raw) in rotated.iter().zip(&queries) {
                let estimates: Vec<Estimate> = blocks
                    .iter()
                    .flat_map(|b| {
                        estimate_with(b, q, kernel, DEFAULT_EPSILON).expect("same rotation")
                    })
                    .collect();
                reranked += rerank(&estimates, 10, |i| Metric::L2.distance(raw, &data[i])).reranked;
            }
        });
        println!(
            "{:<16} kernel {:7.1} M vectors/s, estimate + re-rank {:7.1} M vectors/s \
             ({:.1} re-ranked per query of {n})",
            kernel.name(),
            kernel_rate,
            rate(seconds),
            reranked as f64 / QUERIES as f64
        );
    }
}

fn quantized_for(q: &Query, b: &CodeBlock) -> QuantizedQuery {
    QuantizedQuery::new(q, b)
}

fn codes(b: &CodeBlock) -> &[u64] {
    b.codes()
}

/// The same loop compiled for AVX2 + FMA: what a SIMD f32 kernel reaches.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    dot(a, b)
}

/// Eight independent accumulators, so the compiler vectorizes it (a single running sum must
/// stay in order and scalar).
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let tail: f32 = a
        .chunks_exact(8)
        .remainder()
        .iter()
        .zip(b.chunks_exact(8).remainder())
        .map(|(x, y)| x * y)
        .sum();
    acc.iter().sum::<f32>() + tail
}
