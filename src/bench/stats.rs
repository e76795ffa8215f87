//! The measured statistics of real SFace embeddings (LFW), embedded in the
//! binary, and their extension to other dimensions.
//!
//! `sface_stats.json` is written by `benches/measure_face_stats.py`; see
//! there for how each figure is measured.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{BenchError, BenchResult};

const SFACE_STATS: &str = include_str!("sface_stats.json");

/// A cosine distribution: mean, standard deviation and quantiles.
#[derive(Clone, Debug, Deserialize)]
pub struct CosineSummary {
    pub mean: f64,
    pub std: f64,
    pub quantiles: BTreeMap<String, f64>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PhotosPerPerson {
    /// Distinct photo counts, ascending.
    pub sizes: Vec<u32>,
    /// How many people have each count.
    pub people: Vec<u32>,
}

/// The summary; the spectra are in the between-identity eigenbasis, largest first.
#[derive(Clone, Debug, Deserialize)]
pub struct FaceStats {
    pub dim: usize,
    pub embedded: usize,
    pub people: usize,
    pub photos_per_person: PhotosPerPerson,
    pub global_mean_norm: f64,
    pub between_eigenvalues: Vec<f64>,
    pub within_eigenvalues: Vec<f64>,
    /// Within-identity variance along each between-identity eigenvector.
    pub within_var_along_between: Vec<f64>,
    /// The global mean's coordinates in the between-identity eigenbasis.
    pub mean_along_between: Vec<f64>,
    /// Spread of the log-normal per-photo scale of the within-identity noise,
    /// fitted (in the script) to the real same-identity cosine spread.
    pub photo_scale_sigma: f64,
    pub same_identity_cosine: CosineSummary,
    pub different_identity_cosine: CosineSummary,
}

/// The generator's model for one dimension: per-axis variances and mean,
/// all in one orthonormal basis (the between-identity eigenbasis).
#[derive(Clone, Debug)]
pub struct Spectra {
    pub between: Vec<f64>,
    pub within: Vec<f64>,
    pub mean: Vec<f64>,
}

impl FaceStats {
    /// The committed SFace/LFW summary.
    pub fn sface() -> BenchResult<Self> {
        let stats: Self = serde_json::from_str(SFACE_STATS)
            .map_err(|e| BenchError::Stats(format!("sface_stats.json: {e}")))?;
        let d = stats.dim;
        let lens = [
            stats.between_eigenvalues.len(),
            stats.within_var_along_between.len(),
            stats.mean_along_between.len(),
        ];
        if d == 0 || lens.iter().any(|&l| l != d) {
            return Err(BenchError::Stats(format!(
                "sface_stats.json: dim {d} but spectra of {lens:?}"
            )));
        }
        let pp = &stats.photos_per_person;
        if pp.sizes.is_empty() || pp.sizes.len() != pp.people.len() || pp.sizes.contains(&0) {
            return Err(BenchError::Stats(
                "sface_stats.json: bad photos_per_person".into(),
            ));
        }
        Ok(stats)
    }

    /// The spectra stretched (or squeezed) to `dim` dimensions.
    ///
    /// A spectrum is read as a distribution of variance over the fraction of
    /// dimensions: measured axis j of 128 covers [j/128, (j+1)/128), and new
    /// axis i of `dim` receives the variance over [i/dim, (i+1)/dim). At 512
    /// each measured direction's variance is shared by four directions. The
    /// traces (so the cosine means) are kept exactly; the cosine spread
    /// narrows as 1/sqrt(effective dimension), as with real wider embeddings.
    /// The mean is treated the same way through its squared coordinates (its
    /// signs do not matter: the model is symmetric under flipping an axis).
    pub fn spectra(&self, dim: usize) -> Spectra {
        let mean_sq: Vec<f64> = self.mean_along_between.iter().map(|m| m * m).collect();
        Spectra {
            between: rebin(&self.between_eigenvalues, dim),
            within: rebin(&self.within_var_along_between, dim),
            mean: rebin(&mean_sq, dim).into_iter().map(f64::sqrt).collect(),
        }
    }
}

/// Re-bins non-negative `v` to `dim` bins, keeping its sum (see `spectra`).
fn rebin(v: &[f64], dim: usize) -> Vec<f64> {
    let len = v.len() as f64;
    // Cumulative mass at fractional position t (in measured-axis units).
    let cumulative = |t: f64| -> f64 {
        let whole = t.floor() as usize;
        let head: f64 = v[..whole.min(v.len())].iter().map(|x| x.max(0.0)).sum();
        let part = v
            .get(whole)
            .map_or(0.0, |x| x.max(0.0) * (t - whole as f64));
        head + part
    };
    (0..dim)
        .map(|i| {
            let lo = i as f64 * len / dim as f64;
            let hi = (i + 1) as f64 * len / dim as f64;
            cumulative(hi) - cumulative(lo)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_summary_parses() {
        let s = FaceStats::sface().unwrap();
        assert_eq!(s.dim, 128);
        assert!(s.same_identity_cosine.mean > s.different_identity_cosine.mean);
    }

    #[test]
    fn rebin_keeps_the_trace_and_order() {
        let v: Vec<f64> = (0..128).map(|i| 1.0 / (1.0 + i as f64)).collect();
        let total: f64 = v.iter().sum();
        for dim in [16, 100, 128, 512] {
            let r = rebin(&v, dim);
            assert_eq!(r.len(), dim);
            assert!((r.iter().sum::<f64>() - total).abs() < 1e-9, "dim {dim}");
            assert!(r.windows(2).all(|w| w[0] >= w[1] - 1e-12), "dim {dim}");
        }
        let same = rebin(&v, 128);
        assert!(same.iter().zip(&v).all(|(a, b)| (a - b).abs() < 1e-12));
    }
}
