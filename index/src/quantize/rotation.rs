//! The seeded random orthogonal transform applied to vectors, centroids and queries before
//! quantization (RaBitQ's error bound assumes the code's error direction is uniformly random,
//! which a random rotation provides).
//!
//! A randomized Hadamard transform rather than a dense matrix: `ROUNDS` rounds of random sign
//! flips followed by a normalized fast Walsh–Hadamard transform, O(D log D) per vector and no
//! D×D matrix to store or multiply (docs/decisions/2026-12-01-rabitq.md). The dimension is
//! padded with zeros to a multiple of 64 (one code word). When that is not a power of two, each
//! round transforms the leading and then the trailing power-of-two block, which overlap, so
//! every output coordinate depends on every input after two rounds (384 = 256 + 128 needs no
//! padding to 512, which would cost a third more code bits).

use super::rng::SplitMix64;

/// Rounds of (signs, Hadamard). Three suffice for the overlapped blocks to mix every
/// coordinate with every other at least twice.
pub const ROUNDS: usize = 3;

/// Largest supported dimension: keeps every per-vector integer sum of the kernels in u32.
pub const MAX_DIMENSION: usize = 65_536;

/// `dimension` rounded up to whole 64-bit code words.
pub fn padded_dimension(dimension: usize) -> usize {
    dimension.div_ceil(64).max(1) * 64
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rotation {
    seed: u64,
    dimension: usize,
    padded: usize,
    /// `ROUNDS` × `padded` signs (±1), drawn from the seed.
    signs: Vec<f32>,
}

impl Rotation {
    /// The rotation for `dimension`, fully determined by `seed` (stored in the version).
    pub fn new(seed: u64, dimension: usize) -> Self {
        let padded = padded_dimension(dimension);
        let mut rng = SplitMix64::new(seed);
        let mut signs = Vec::with_capacity(ROUNDS * padded);
        while signs.len() < ROUNDS * padded {
            let bits = rng.next_u64();
            for b in 0..64 {
                if signs.len() == ROUNDS * padded {
                    break;
                }
                signs.push(if bits >> b & 1 == 1 { -1.0 } else { 1.0 });
            }
        }
        Rotation {
            seed,
            dimension,
            padded,
            signs,
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// The rotated space's dimension D (a multiple of 64).
    pub fn padded(&self) -> usize {
        self.padded
    }

    /// `P·v`, padded to D coordinates. `v` must have `dimension` coordinates.
    pub fn apply(&self, v: &[f32]) -> Vec<f32> {
        debug_assert_eq!(v.len(), self.dimension);
        let mut x = vec![0.0f32; self.padded];
        x[..v.len()].copy_from_slice(v);
        let block = 1usize << (usize::BITS - 1 - self.padded.leading_zeros());
        for round in self.signs.chunks_exact(self.padded) {
            for (xi, s) in x.iter_mut().zip(round) {
                *xi *= s;
            }
            hadamard(&mut x[..block]);
            if block < self.padded {
                let tail = self.padded - block;
                hadamard(&mut x[tail..]);
            }
        }
        x
    }
}

/// In-place normalized fast Walsh–Hadamard transform (length a power of two): orthogonal.
fn hadamard(x: &mut [f32]) {
    let n = x.len();
    debug_assert!(n.is_power_of_two());
    let mut h = 1;
    while h < n {
        for start in (0..n).step_by(2 * h) {
            for i in start..start + h {
                let (a, b) = (x[i], x[i + h]);
                x[i] = a + b;
                x[i + h] = a - b;
            }
        }
        h *= 2;
    }
    let scale = 1.0 / (n as f32).sqrt();
    for xi in x.iter_mut() {
        *xi *= scale;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(rng: &mut SplitMix64, d: usize) -> Vec<f32> {
        (0..d).map(|_| rng.normal() as f32).collect()
    }

    fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    #[test]
    fn preserves_inner_products_and_norms() {
        let mut rng = SplitMix64::new(3);
        for d in [1, 10, 64, 100, 128, 384, 768] {
            let p = Rotation::new(42, d);
            assert_eq!(p.padded() % 64, 0);
            for _ in 0..5 {
                let (a, b) = (random(&mut rng, d), random(&mut rng, d));
                let (pa, pb) = (p.apply(&a), p.apply(&b));
                let scale = dot(&a, &a).sqrt() * dot(&b, &b).sqrt();
                assert!((dot(&pa, &pb) - dot(&a, &b)).abs() <= 1e-4 * scale, "d={d}");
                assert!((dot(&pa, &pa) - dot(&a, &a)).abs() <= 1e-4 * dot(&a, &a));
            }
        }
    }

    #[test]
    fn spreads_a_basis_vector_over_every_coordinate() {
        // A rotation that leaves mass concentrated would make the codes' error direction
        // predictable; after the rounds a unit basis vector has no large coordinate left.
        for d in [128, 384] {
            let p = Rotation::new(7, d);
            for i in [0, d / 2, d - 1] {
                let mut e = vec![0.0; d];
                e[i] = 1.0;
                let pe = p.apply(&e);
                let max = pe.iter().fold(0.0f32, |m, x| m.max(x.abs()));
                assert!(max < 4.0 / (d as f32).sqrt(), "d={d} i={i} max={max}");
                // Sums of ±1 terms can cancel exactly, so a few coordinates may be zero.
                let nonzero = pe.iter().filter(|x| x.abs() > 1e-6).count();
                assert!(
                    nonzero * 4 >= p.padded() * 3,
                    "d={d} i={i} nonzero={nonzero}"
                );
            }
        }
    }

    #[test]
    fn the_seed_determines_the_rotation() {
        assert_eq!(Rotation::new(9, 100), Rotation::new(9, 100));
        assert_ne!(Rotation::new(9, 100), Rotation::new(10, 100));
    }
}
