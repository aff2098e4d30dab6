//! The generator's randomness: SplitMix64 streams keyed by (seed, purpose, row). Every row draws
//! from its own stream, so the bytes depend only on the seed and the sizes — not on the number
//! of threads, the chunking, or the version of an external crate (`rand` does not promise
//! stable streams across versions, and the data must be reproducible for years).

/// SplitMix64 (Steele, Lea, Flood 2014): one 64-bit state, passes BigCrush; more than enough
/// for benchmark data.
pub struct Rng {
    state: u64,
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What a stream is for; distinct values give unrelated streams.
#[derive(Clone, Copy)]
pub enum Purpose {
    Centre = 1,
    Base = 2,
    Query = 3,
}

impl Rng {
    /// The stream of `row` for `purpose` under `seed`.
    pub fn stream(seed: u64, purpose: Purpose, row: u64) -> Rng {
        Rng {
            state: mix(mix(seed ^ (purpose as u64).wrapping_mul(GOLDEN)) ^ row),
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix(self.state)
    }

    /// Uniform in [0, 1), 53 bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in 0..n (multiply-shift; the bias is below 2^-40 for the n used here).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Fills `out` with independent standard normal draws (Box–Muller, two per pair of
    /// uniforms).
    pub fn normals(&mut self, out: &mut [f32]) {
        let mut chunks = out.chunks_exact_mut(2);
        for pair in &mut chunks {
            let (a, b) = self.normal_pair();
            pair[0] = a as f32;
            pair[1] = b as f32;
        }
        if let [last] = chunks.into_remainder() {
            *last = self.normal_pair().0 as f32;
        }
    }

    fn normal_pair(&mut self) -> (f64, f64) {
        // 1 - u is in (0, 1], so the logarithm is finite.
        let r = (-2.0 * (1.0 - self.uniform()).ln()).sqrt();
        let (s, c) = (std::f64::consts::TAU * self.uniform()).sin_cos();
        (r * c, r * s)
    }
}

/// Draws from a Zipf(1) distribution over 0..n: word `i` has weight 1 / (i + 1).
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub fn new(n: usize) -> Zipf {
        let mut total = 0.0;
        let mut cdf: Vec<f64> = (1..=n)
            .map(|i| {
                total += 1.0 / i as f64;
                total
            })
            .collect();
        for c in &mut cdf {
            *c /= total;
        }
        Zipf { cdf }
    }

    pub fn draw(&self, rng: &mut Rng) -> usize {
        let u = rng.uniform();
        self.cdf
            .partition_point(|&c| c <= u)
            .min(self.cdf.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let draw = |seed, purpose, row| Rng::stream(seed, purpose, row).next_u64();
        assert_eq!(draw(1, Purpose::Base, 5), draw(1, Purpose::Base, 5));
        assert_ne!(draw(1, Purpose::Base, 5), draw(1, Purpose::Base, 6));
        assert_ne!(draw(1, Purpose::Base, 5), draw(1, Purpose::Query, 5));
        assert_ne!(draw(1, Purpose::Base, 5), draw(2, Purpose::Base, 5));
    }

    #[test]
    fn normals_have_unit_variance() {
        let mut rng = Rng::stream(7, Purpose::Base, 0);
        let mut v = vec![0f32; 200_001];
        rng.normals(&mut v);
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        // Standard errors: 1/sqrt(n) ≈ 0.0022 for the mean, sqrt(2/n) ≈ 0.0032 for the variance.
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.015, "variance {var}");
    }

    #[test]
    fn zipf_favours_the_first_words_by_their_weights() {
        let zipf = Zipf::new(100);
        let mut rng = Rng::stream(3, Purpose::Base, 0);
        let mut counts = [0usize; 100];
        for _ in 0..100_000 {
            counts[zipf.draw(&mut rng)] += 1;
        }
        // Weight 1 against 1/2: word 0 is drawn about twice as often as word 1.
        let ratio = counts[0] as f64 / counts[1] as f64;
        assert!((1.85..2.15).contains(&ratio), "ratio {ratio}");
        assert!(counts.iter().all(|&c| c > 0));
    }
}
