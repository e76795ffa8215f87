//! Product quantiser: the vector (here, the residual to its coarse centroid)
//! is cut into `m` sub-vectors, each replaced by the nearest of `ksub` code
//! words (256 for 8-bit codes, 16 for 4-bit fast-scan codes).
use super::JobControl;
use super::format::{Reader, Writer};
use super::kmeans::{self, KMeansParams};
use crate::compute::{Backend, Metric};
use crate::error::IndexResult;

#[derive(Clone, Debug, PartialEq)]
pub struct ProductQuantizer {
    pub dim: usize,
    pub m: usize,
    pub ksub: usize,
    /// `m × ksub × dsub` code words.
    pub codebooks: Vec<f32>,
}

impl ProductQuantizer {
    pub fn dsub(&self) -> usize {
        self.dim / self.m
    }

    /// Trains one codebook per sub-space (L2 k-means, seeded per sub-space).
    pub fn train(
        backend: &dyn Backend,
        x: &[f32],
        dim: usize,
        m: usize,
        nbits: u32,
        seed: u64,
        ctl: &JobControl,
    ) -> IndexResult<Self> {
        let ksub = 1usize << nbits;
        let dsub = dim / m;
        let mut codebooks = Vec::with_capacity(m * ksub * dsub);
        for j in 0..m {
            let sub = sub_vectors(x, dim, dsub, j);
            let params = KMeansParams::new(ksub, Metric::L2, seed.wrapping_add(j as u64 + 1));
            codebooks.extend(kmeans::train(
                backend,
                &sub,
                dsub,
                &params,
                ctl,
                "train product quantiser",
            )?);
        }
        Ok(Self {
            dim,
            m,
            ksub,
            codebooks,
        })
    }

    /// One code (byte) per sub-quantiser per row: `n × m`.
    pub fn encode(&self, backend: &dyn Backend, x: &[f32]) -> Vec<u8> {
        let n = x.len() / self.dim;
        let dsub = self.dsub();
        let mut codes = vec![0u8; n * self.m];
        let (mut labels, mut dists) = (vec![0u32; n], vec![0f32; n]);
        for j in 0..self.m {
            let sub = sub_vectors(x, self.dim, dsub, j);
            let book = &self.codebooks[j * self.ksub * dsub..(j + 1) * self.ksub * dsub];
            backend.assign(Metric::L2, &sub, book, dsub, &mut labels, &mut dists);
            for (i, &l) in labels.iter().enumerate() {
                codes[i * self.m + j] = l as u8;
            }
        }
        codes
    }

    /// The vector a code stands for.
    pub fn decode(&self, code: &[u8]) -> Vec<f32> {
        let dsub = self.dsub();
        code.iter()
            .enumerate()
            .flat_map(|(j, &c)| {
                self.codebooks[(j * self.ksub + c as usize) * dsub..][..dsub]
                    .iter()
                    .copied()
            })
            .collect()
    }

    pub fn write<W: std::io::Write>(&self, w: &mut Writer<W>) {
        w.fourcc(b"PQcb");
        w.usize(self.dim);
        w.usize(self.m);
        w.usize(self.ksub);
        w.f32s(&self.codebooks);
    }

    pub fn read(r: &mut Reader, dim: usize) -> IndexResult<Self> {
        r.expect(b"PQcb")?;
        let (d, m, ksub) = (r.usize()?, r.usize()?, r.usize()?);
        if d != dim || m == 0 || !dim.is_multiple_of(m) || !(ksub == 16 || ksub == 256) {
            return Err(r.corrupt(format!(
                "bad product quantiser: dim {d} (index {dim}), m {m}, ksub {ksub}"
            )));
        }
        let codebooks = r.f32s(Some(dim * ksub))?;
        Ok(Self {
            dim,
            m,
            ksub,
            codebooks,
        })
    }
}

/// Sub-vector `j` (width `dsub`) of every row of `x`.
fn sub_vectors(x: &[f32], dim: usize, dsub: usize, j: usize) -> Vec<f32> {
    x.chunks_exact(dim)
        .flat_map(|row| row[j * dsub..(j + 1) * dsub].iter().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::default_backend;
    use crate::compute::rng::Rng;

    #[test]
    fn reconstruction_error_falls_with_more_bits() {
        let mut rng = Rng::new(17);
        let dim = 16;
        let x = rng.uniform_vec(4000 * dim);
        let b = default_backend();
        let err = |nbits| {
            let pq =
                ProductQuantizer::train(&*b, &x, dim, 4, nbits, 1, &JobControl::default()).unwrap();
            let codes = pq.encode(&*b, &x);
            let total: f32 = x
                .chunks_exact(dim)
                .zip(codes.chunks_exact(4))
                .map(|(v, c)| {
                    pq.decode(c)
                        .iter()
                        .zip(v)
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum::<f32>()
                })
                .sum();
            total / total_energy(&x)
        };
        let (e4, e8) = (err(4), err(8));
        assert!(
            e8 < e4 && e4 < 0.6,
            "relative errors: 4-bit {e4}, 8-bit {e8}"
        );
    }

    fn total_energy(x: &[f32]) -> f32 {
        x.iter().map(|v| v * v).sum()
    }
}
