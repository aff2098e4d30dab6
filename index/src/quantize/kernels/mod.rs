//! Σ uᵢ·q̄ᵢ for every vector of a block: the B-bit codes (bit planes, sign plane first) against
//! the 8-bit quantized query. One scalar reference and SIMD versions chosen at run time; each
//! is tested against the scalar one on random inputs.
//!
//! - `Scalar`: popcount of (code plane ∧ query plane) for all 8 query planes — any CPU.
//! - `Avx2`: each code word expanded to a byte mask that selects query bytes, summed by
//!   `vpsadbw`; 32 coordinates per instruction group.
//! - `Avx512`: the code word *is* the mask (`vmovdqu8` with a 64-bit mask register), summed by
//!   `vpsadbw`: 64 coordinates in four instructions (AVX-512 BW).
//! - `Avx512Vnni`: the codes rebuilt as bytes from their planes (one masked add per plane) and
//!   multiplied with the query bytes by `vpdpbusd` (AVX-512 VNNI), 64 coordinates per
//!   instruction whatever B (B = 8 does not fit a signed byte and takes `Avx512`).
//! - `Avx512Popcnt`: the popcount formulation with `vpopcntq` (AVX-512 VPOPCNTDQ), eight words
//!   at a time; shown beside `Avx512` so the scan measurement can compare the two.

mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86;

use std::sync::OnceLock;

use super::query::QuantizedQuery;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    Scalar,
    Avx2,
    Avx512,
    Avx512Vnni,
    Avx512Popcnt,
}

impl Kernel {
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Scalar => "scalar",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512bw",
            Kernel::Avx512Vnni => "avx512vnni",
            Kernel::Avx512Popcnt => "avx512vpopcntdq",
        }
    }

    /// Whether this CPU can run the kernel.
    pub fn is_available(self) -> bool {
        match self {
            Kernel::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => {
                is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw")
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Vnni => {
                is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
                    && is_x86_feature_detected!("avx512vnni")
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Popcnt => {
                is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vpopcntdq")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// Every kernel this CPU can run.
    pub fn available() -> Vec<Kernel> {
        [
            Kernel::Scalar,
            Kernel::Avx2,
            Kernel::Avx512,
            Kernel::Avx512Vnni,
            Kernel::Avx512Popcnt,
        ]
        .into_iter()
        .filter(|k| k.is_available())
        .collect()
    }

    /// The fastest kernel this CPU has (detected once). The order is measured
    /// (`--example scan`): on this project's machines the BW masked sums beat VNNI's byte
    /// rebuild at 4 bits, and both far outrun the popcount formulation.
    pub fn best() -> Kernel {
        static BEST: OnceLock<Kernel> = OnceLock::new();
        *BEST.get_or_init(|| {
            [Kernel::Avx512, Kernel::Avx512Vnni, Kernel::Avx2]
                .into_iter()
                .find(|k| k.is_available())
                .unwrap_or(Kernel::Scalar)
        })
    }

    /// Appends Σ uᵢ·q̄ᵢ of each vector in `codes` (bits × words u64 per vector) to `out`.
    /// A kernel the CPU lacks falls back to the scalar one.
    pub fn dots(
        self,
        codes: &[u64],
        bits: usize,
        words: usize,
        q: &QuantizedQuery,
        out: &mut Vec<u32>,
    ) {
        assert!(
            q.bytes.len() == words * 64 && q.planes.len() == 8 * words,
            "query quantized for another dimension"
        );
        assert_eq!(codes.len() % (bits * words).max(1), 0);
        #[cfg(target_arch = "x86_64")]
        if self != Kernel::Scalar && self.is_available() {
            // SAFETY: the CPU supports the kernel's features (checked just above), and the
            // kernels read only within the slices whose lengths were asserted.
            unsafe {
                match self {
                    Kernel::Avx2 => x86::dots_avx2(codes, bits, words, q, out),
                    Kernel::Avx512 => x86::dots_avx512(codes, bits, words, q, out),
                    Kernel::Avx512Vnni => x86::dots_avx512_vnni(codes, bits, words, q, out),
                    Kernel::Avx512Popcnt => x86::dots_avx512_popcnt(codes, bits, words, q, out),
                    Kernel::Scalar => unreachable!(),
                }
            }
            return;
        }
        scalar::dots(codes, bits, words, q, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quantize::rng::SplitMix64;

    #[test]
    fn every_kernel_matches_the_scalar_one() {
        let mut rng = SplitMix64::new(17);
        for words in [1, 2, 3, 6, 8, 9, 12, 17] {
            for bits in 1..=8usize {
                let n = 1 + (rng.next_u64() % 20) as usize;
                let codes: Vec<u64> = (0..n * bits * words).map(|_| rng.next_u64()).collect();
                let y: Vec<f32> = (0..words * 64).map(|_| rng.normal() as f32).collect();
                let mut q = QuantizedQuery::from_rotated(&y, 1.0, 0.0);
                // Include the extremes the rounding can produce.
                q.bytes[0] = 255;
                q.bytes[1] = 0;
                q.planes = planes_of(&q.bytes);
                let mut expected = Vec::new();
                scalar::dots(&codes, bits, words, &q, &mut expected);
                // The definition, coordinate by coordinate.
                for (v, e) in expected.iter().enumerate() {
                    let mut s = 0u32;
                    for (c, qc) in q.bytes.iter().enumerate() {
                        let mut u = 0u32;
                        for p in 0..bits {
                            let w = codes[(v * bits + p) * words + c / 64];
                            u = u << 1 | (w >> (c % 64) & 1) as u32;
                        }
                        s += u * u32::from(*qc);
                    }
                    assert_eq!(*e, s);
                }
                for k in Kernel::available() {
                    let mut got = Vec::new();
                    k.dots(&codes, bits, words, &q, &mut got);
                    assert_eq!(got, expected, "{} words={words} bits={bits}", k.name());
                }
            }
        }
    }

    fn planes_of(bytes: &[u8]) -> Vec<u64> {
        let words = bytes.len() / 64;
        let mut planes = vec![0u64; 8 * words];
        for (i, b) in bytes.iter().enumerate() {
            for k in 0..8 {
                planes[k * words + i / 64] |= u64::from(b >> k & 1) << (i % 64);
            }
        }
        planes
    }

    #[test]
    fn this_machine_reports_its_kernels() {
        // Not an assertion about the CPU (CI may differ): the list is never empty and the
        // chosen one is in it.
        let all = Kernel::available();
        assert!(all.contains(&Kernel::Scalar));
        assert!(all.contains(&Kernel::best()));
    }
}
