//! Distance functions, computed as Chroma computes them: squared L2, `1 - cos`, `1 - dot`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Distance {
    Cosine,
    #[default]
    L2,
    Ip,
}

impl Distance {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "cosine" => Some(Distance::Cosine),
            "l2" => Some(Distance::L2),
            "ip" => Some(Distance::Ip),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Distance::Cosine => "cosine",
            Distance::L2 => "l2",
            Distance::Ip => "ip",
        }
    }

    /// Distance between a query and a stored vector. For cosine, pass the query's norm so it is
    /// computed once per query rather than once per candidate.
    pub fn compute(&self, query: &[f32], query_norm: f32, v: &[f32]) -> f32 {
        match self {
            Distance::L2 => squared_l2(query, v),
            Distance::Ip => 1.0 - dot(query, v),
            Distance::Cosine => {
                let (dot, squared_norm) = dot_and_squared_norm(query, v);
                let vn = squared_norm.sqrt();
                if query_norm == 0.0 || vn == 0.0 {
                    1.0
                } else {
                    1.0 - dot / (query_norm * vn)
                }
            }
        }
    }

    /// The same distance to a vector stored as little-endian f32 bytes, read in place when the
    /// bytes are aligned (as cluster blocks lay them out), so a scan needs no decoded copy.
    pub fn compute_le(&self, query: &[f32], query_norm: f32, v: &[u8]) -> f32 {
        if cfg!(target_endian = "little") {
            // SAFETY: every bit pattern is a valid f32, and align_to only yields the aligned
            // middle part.
            let (head, floats, tail) = unsafe { v.align_to::<f32>() };
            if head.is_empty() && tail.is_empty() {
                return self.compute(query, query_norm, floats);
            }
        }
        self.compute(query, query_norm, &crate::codec::f32s_from_le(v))
    }
}

/// Lanes summed apart: independent accumulators let the compiler use SIMD registers (one
/// running f32 sum cannot be reordered, so it would stay scalar).
const LANES: usize = 8;

// Every kernel has a portable version (the baseline x86-64 target is SSE2, where LLVM
// vectorises the 8 lanes with shuffles: the warm-query profile spent 80% of its time there) and
// an AVX2 one chosen at run time (std caches the CPU check). Both do the same arithmetic in the
// same order — lane l sums elements l, l+8, …, then the rest, then the lanes in order; no FMA —
// so a distance is bit-identical whichever CPU answers (a test below checks it).

fn squared_l2(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { avx2::squared_l2(a, b) };
    }
    portable::squared_l2(a, b)
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { avx2::dot(a, b) };
    }
    portable::dot(a, b)
}

/// `a · b` and `b · b` in one pass.
fn dot_and_squared_norm(a: &[f32], b: &[f32]) -> (f32, f32) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { avx2::dot_and_squared_norm(a, b) };
    }
    portable::dot_and_squared_norm(a, b)
}

mod portable {
    use super::LANES;

    pub(super) fn squared_l2(a: &[f32], b: &[f32]) -> f32 {
        let mut acc = [0.0f32; LANES];
        let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
        let mut sum: f32 = ac
            .remainder()
            .iter()
            .zip(bc.remainder())
            .map(|(x, y)| (x - y) * (x - y))
            .sum();
        for (x, y) in ac.zip(bc) {
            for l in 0..LANES {
                let d = x[l] - y[l];
                acc[l] += d * d;
            }
        }
        sum += acc.iter().sum::<f32>();
        sum
    }

    pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
        let mut acc = [0.0f32; LANES];
        let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
        let mut sum: f32 = ac
            .remainder()
            .iter()
            .zip(bc.remainder())
            .map(|(x, y)| x * y)
            .sum();
        for (x, y) in ac.zip(bc) {
            for l in 0..LANES {
                acc[l] += x[l] * y[l];
            }
        }
        sum += acc.iter().sum::<f32>();
        sum
    }

    pub(super) fn dot_and_squared_norm(a: &[f32], b: &[f32]) -> (f32, f32) {
        let (mut d, mut n) = ([0.0f32; LANES], [0.0f32; LANES]);
        let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
        let (mut dot, mut squared) = (0.0f32, 0.0f32);
        for (x, y) in ac.remainder().iter().zip(bc.remainder()) {
            dot += x * y;
            squared += y * y;
        }
        for (x, y) in ac.zip(bc) {
            for l in 0..LANES {
                d[l] += x[l] * y[l];
                n[l] += y[l] * y[l];
            }
        }
        (dot + d.iter().sum::<f32>(), squared + n.iter().sum::<f32>())
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! The portable kernels with the 8 lanes in one 256-bit register, multiply then add (an
    //! FMA would round once instead of twice and change the results).

    use std::arch::x86_64::{
        __m256, _mm256_add_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_setzero_ps, _mm256_storeu_ps,
        _mm256_sub_ps,
    };

    use super::LANES;

    /// Whole chunks of both slices (the portable kernels pair chunks the same way).
    fn chunks(a: &[f32], b: &[f32]) -> usize {
        (a.len() / LANES).min(b.len() / LANES)
    }

    /// The portable kernels' remainder: past the whole chunks of each slice, paired.
    fn rest<'a>(a: &'a [f32], b: &'a [f32]) -> impl Iterator<Item = (&'a f32, &'a f32)> {
        a[a.len() / LANES * LANES..]
            .iter()
            .zip(&b[b.len() / LANES * LANES..])
    }

    /// The lanes summed in order, as the portable kernels sum their accumulators.
    #[target_feature(enable = "avx2")]
    unsafe fn lanes_sum(v: __m256) -> f32 {
        let mut l = [0.0f32; LANES];
        // SAFETY: `l` holds exactly 8 f32s; the store is unaligned.
        unsafe { _mm256_storeu_ps(l.as_mut_ptr(), v) };
        l.iter().sum()
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn squared_l2(a: &[f32], b: &[f32]) -> f32 {
        let mut acc = _mm256_setzero_ps();
        for c in 0..chunks(a, b) {
            // SAFETY: chunk c lies inside both slices (c < len / 8); loads are unaligned.
            let (x, y) = unsafe {
                (
                    _mm256_loadu_ps(a.as_ptr().add(c * LANES)),
                    _mm256_loadu_ps(b.as_ptr().add(c * LANES)),
                )
            };
            let d = _mm256_sub_ps(x, y);
            acc = _mm256_add_ps(acc, _mm256_mul_ps(d, d));
        }
        let sum: f32 = rest(a, b).map(|(x, y)| (x - y) * (x - y)).sum();
        sum + unsafe { lanes_sum(acc) }
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        let mut acc = _mm256_setzero_ps();
        for c in 0..chunks(a, b) {
            // SAFETY: chunk c lies inside both slices (c < len / 8); loads are unaligned.
            let (x, y) = unsafe {
                (
                    _mm256_loadu_ps(a.as_ptr().add(c * LANES)),
                    _mm256_loadu_ps(b.as_ptr().add(c * LANES)),
                )
            };
            acc = _mm256_add_ps(acc, _mm256_mul_ps(x, y));
        }
        let sum: f32 = rest(a, b).map(|(x, y)| x * y).sum();
        sum + unsafe { lanes_sum(acc) }
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn dot_and_squared_norm(a: &[f32], b: &[f32]) -> (f32, f32) {
        let (mut d, mut n) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        for c in 0..chunks(a, b) {
            // SAFETY: chunk c lies inside both slices (c < len / 8); loads are unaligned.
            let (x, y) = unsafe {
                (
                    _mm256_loadu_ps(a.as_ptr().add(c * LANES)),
                    _mm256_loadu_ps(b.as_ptr().add(c * LANES)),
                )
            };
            d = _mm256_add_ps(d, _mm256_mul_ps(x, y));
            n = _mm256_add_ps(n, _mm256_mul_ps(y, y));
        }
        let (mut dot, mut squared) = (0.0f32, 0.0f32);
        for (x, y) in rest(a, b) {
            dot += x * y;
            squared += y * y;
        }
        // SAFETY: this function runs only where AVX2 is available.
        unsafe { (dot + lanes_sum(d), squared + lanes_sum(n)) }
    }
}

pub fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_match_chroma_definitions() {
        let q = [1.0, 0.0];
        let v = [0.0, 2.0];
        assert_eq!(Distance::L2.compute(&q, norm(&q), &v), 5.0);
        assert_eq!(Distance::Ip.compute(&q, norm(&q), &v), 1.0);
        assert!((Distance::Cosine.compute(&q, norm(&q), &v) - 1.0).abs() < 1e-6);
        let same = [3.0, 0.0];
        assert!(Distance::Cosine.compute(&q, norm(&q), &same).abs() < 1e-6);
        assert_eq!(Distance::Ip.compute(&q, norm(&q), &same), -2.0);
    }

    /// The AVX2 kernels round exactly as the portable ones, at every length (whole chunks,
    /// remainders, empty), so results do not depend on the CPU.
    #[test]
    fn kernels_agree_bit_for_bit_with_the_portable_ones() {
        if !cfg!(target_arch = "x86_64") || !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        for len in [0, 1, 7, 8, 9, 16, 37, 128, 384, 1000] {
            let a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
            let b: Vec<f32> = (0..len).map(|i| (i as f32 * 0.11).cos() - 0.2).collect();
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX2 was detected above.
            unsafe {
                assert_eq!(avx2::dot(&a, &b).to_bits(), portable::dot(&a, &b).to_bits());
                assert_eq!(
                    avx2::squared_l2(&a, &b).to_bits(),
                    portable::squared_l2(&a, &b).to_bits()
                );
                let (x, y) = (
                    avx2::dot_and_squared_norm(&a, &b),
                    portable::dot_and_squared_norm(&a, &b),
                );
                assert_eq!(
                    (x.0.to_bits(), x.1.to_bits()),
                    (y.0.to_bits(), y.1.to_bits())
                );
            }
        }
    }

    #[test]
    fn bytes_and_floats_give_the_same_distance() {
        let q: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin()).collect();
        let v: Vec<f32> = (0..37).map(|i| (i as f32 * 0.11).cos()).collect();
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        for d in [Distance::L2, Distance::Ip, Distance::Cosine] {
            let naive = match d {
                Distance::L2 => q
                    .iter()
                    .zip(&v)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f32>(),
                Distance::Ip => 1.0 - q.iter().zip(&v).map(|(a, b)| a * b).sum::<f32>(),
                Distance::Cosine => {
                    let dot: f32 = q.iter().zip(&v).map(|(a, b)| a * b).sum();
                    1.0 - dot / (norm(&q) * v.iter().map(|b| b * b).sum::<f32>().sqrt())
                }
            };
            let from_floats = d.compute(&q, norm(&q), &v);
            assert_eq!(from_floats, d.compute_le(&q, norm(&q), &bytes));
            assert!((from_floats - naive).abs() < 1e-4, "{d:?}");
        }
    }
}
