//! A small seeded random-number generator for synthetic benchmark data.
//!
//! SplitMix64 (Steele, Lea & Flood 2014): one 64-bit state, good
//! statistical quality, and cheap to start anywhere. Every row of a data set
//! gets its own stream derived from (seed, purpose, row), so the output does
//! not depend on how rows are split across threads.

/// A SplitMix64 stream with a Box–Muller normal sampler.
pub struct Rng {
    state: u64,
    spare_normal: Option<f64>,
}

/// Independent purposes of random numbers inside one data set.
#[derive(Clone, Copy)]
#[repr(u64)]
pub enum Stream {
    Rotation = 1,
    PhotoCounts = 2,
    Shuffle = 3,
    IdentityCentre = 4,
    BasePhoto = 5,
    QueryIdentity = 6,
    QueryPhoto = 7,
    Pairs = 8,
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self {
            state: mix(seed),
            spare_normal: None,
        }
    }

    /// The stream for `index` (a row, an identity) of `purpose` under `seed`.
    pub fn stream(seed: u64, purpose: Stream, index: u64) -> Self {
        Self::new(mix(
            mix(seed ^ (purpose as u64).wrapping_mul(GOLDEN)) ^ index
        ))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix(self.state)
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in 0..n (n > 0), by Lemire's multiply-shift.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Standard normal, by the Box–Muller transform (pairs, one kept spare).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        // 1 - u is in (0, 1], so the logarithm is finite.
        let r = (-2.0 * (1.0 - self.uniform()).ln()).sqrt();
        let theta = std::f64::consts::TAU * self.uniform();
        self.spare_normal = Some(r * theta.sin());
        r * theta.cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4)
            .map(|_| Rng::stream(7, Stream::BasePhoto, 3).next_u64())
            .collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut x = Rng::stream(7, Stream::BasePhoto, 3);
        let mut y = Rng::stream(7, Stream::BasePhoto, 4);
        let mut z = Rng::stream(7, Stream::QueryPhoto, 3);
        let (x, y, z) = (x.next_u64(), y.next_u64(), z.next_u64());
        assert!(x != y && x != z && y != z);
    }

    #[test]
    fn normal_moments() {
        let mut rng = Rng::new(42);
        let n = 200_000;
        let v: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let mean = v.iter().sum::<f64>() / n as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "variance {var}");
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = Rng::new(1);
        let mut seen = [0usize; 7];
        for _ in 0..7_000 {
            seen[rng.below(7) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 800), "{seen:?}");
    }
}
