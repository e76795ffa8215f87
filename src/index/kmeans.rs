//! Seeded k-means (Lloyd) as FAISS trains its quantisers: random distinct
//! initial centroids (k-means++ where k is small), the training set
//! subsampled to at most 256 points per centroid (a warning under 39), empty
//! clusters repaired by splitting a big one, and for the inner product,
//! centroids kept on the unit sphere.
use rayon::prelude::*;

use super::JobControl;
use crate::compute::rng::Rng;
use crate::compute::{Backend, Metric};
use crate::error::{IndexError, IndexResult};

pub const MIN_POINTS_PER_CENTROID: usize = 39;
pub const MAX_POINTS_PER_CENTROID: usize = 256;

/// How the first centroids are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// `k` distinct training points (FAISS's choice: cheap for large `k`).
    Random,
    /// k-means++: each next centre drawn with probability ∝ squared distance
    /// to the nearest one chosen. `k` passes over the data, so meant for
    /// small `k` (PQ code books), where it avoids merged clusters.
    PlusPlus,
}

#[derive(Clone, Debug)]
pub struct KMeansParams {
    pub k: usize,
    pub niter: usize,
    pub seed: u64,
    pub metric: Metric,
    pub init: Init,
}

impl KMeansParams {
    /// 25 iterations as FAISS; k-means++ up to 256 centroids, random above.
    pub fn new(k: usize, metric: Metric, seed: u64) -> Self {
        let init = if k <= 256 {
            Init::PlusPlus
        } else {
            Init::Random
        };
        Self {
            k,
            niter: 25,
            seed,
            metric,
            init,
        }
    }
}

/// Trains `params.k` centroids (k×dim) on `data` (n×dim). `stage` names the job in progress reports.
pub fn train(
    backend: &dyn Backend,
    data: &[f32],
    dim: usize,
    params: &KMeansParams,
    ctl: &JobControl,
    stage: &str,
) -> IndexResult<Vec<f32>> {
    let n = data.len() / dim;
    let k = params.k;
    if n < k {
        return Err(IndexError::TooFewTrainingVectors { needed: k, got: n });
    }
    let mut rng = Rng::new(params.seed);
    if n < k * MIN_POINTS_PER_CENTROID {
        ctl.warn(format!(
            "{stage}: {n} training points for {k} centroids; {} or more are advised",
            k * MIN_POINTS_PER_CENTROID
        ));
    }
    let sample;
    let data = if n > k * MAX_POINTS_PER_CENTROID {
        let mut picked = rng.sample_indices(n, k * MAX_POINTS_PER_CENTROID);
        picked.sort_unstable();
        sample = picked
            .iter()
            .flat_map(|&i| data[i * dim..(i + 1) * dim].iter().copied())
            .collect::<Vec<f32>>();
        &sample[..]
    } else {
        data
    };
    let n = data.len() / dim;
    let mut centroids = match params.init {
        Init::Random => rng
            .sample_indices(n, k)
            .iter()
            .flat_map(|&i| data[i * dim..(i + 1) * dim].iter().copied())
            .collect(),
        Init::PlusPlus => plus_plus(backend, data, dim, k, &mut rng),
    };
    let spherical = params.metric == Metric::InnerProduct;
    if spherical {
        normalize_rows(&mut centroids, dim);
    }
    let mut labels = vec![0u32; n];
    let mut dists = vec![0f32; n];
    for it in 0..params.niter {
        if ctl.should_stop() {
            return Err(IndexError::Cancelled);
        }
        backend.assign(
            params.metric,
            data,
            &centroids,
            dim,
            &mut labels,
            &mut dists,
        );
        let (sums, counts) = cluster_sums(data, dim, &labels, k);
        for (c, (&count, sum)) in counts.iter().zip(sums.chunks_exact(dim)).enumerate() {
            if count > 0 {
                for (o, &s) in centroids[c * dim..(c + 1) * dim].iter_mut().zip(sum) {
                    *o = (s / count as f64) as f32;
                }
            }
        }
        split_empty(&mut centroids, dim, counts, n, &mut rng);
        if spherical {
            normalize_rows(&mut centroids, dim);
        }
        ctl.report(stage, (it + 1) as f32 / params.niter as f32);
    }
    Ok(centroids)
}

/// k-means++ seeding (squared L2, which on unit vectors ranks as the inner product does).
fn plus_plus(backend: &dyn Backend, data: &[f32], dim: usize, k: usize, rng: &mut Rng) -> Vec<f32> {
    let n = data.len() / dim;
    let mut centroids = Vec::with_capacity(k * dim);
    let mut nearest = vec![f32::INFINITY; n];
    let mut fresh = vec![0f32; n];
    let mut pick = rng.below(n);
    for _ in 0..k {
        let c = &data[pick * dim..(pick + 1) * dim];
        centroids.extend_from_slice(c);
        backend.distances(Metric::L2, c, data, dim, &mut fresh);
        nearest
            .iter_mut()
            .zip(&fresh)
            .for_each(|(a, &b)| *a = a.min(b));
        let total: f64 = nearest.iter().map(|&d| d as f64).sum();
        let mut target = rng.uniform() as f64 * total;
        pick = nearest
            .iter()
            .position(|&d| {
                target -= d as f64;
                target < 0.0
            })
            .unwrap_or_else(|| rng.below(n));
    }
    centroids
}

/// Per-cluster sums (f64, k×dim) and sizes.
fn cluster_sums(data: &[f32], dim: usize, labels: &[u32], k: usize) -> (Vec<f64>, Vec<usize>) {
    let chunk = data
        .len()
        .div_ceil(dim * rayon::current_num_threads().max(1))
        .max(1);
    data.par_chunks(chunk * dim)
        .zip(labels.par_chunks(chunk))
        .map(|(d, l)| {
            let mut sums = vec![0f64; k * dim];
            let mut counts = vec![0usize; k];
            for (row, &c) in d.chunks_exact(dim).zip(l) {
                let c = c as usize;
                counts[c] += 1;
                for (s, &v) in sums[c * dim..(c + 1) * dim].iter_mut().zip(row) {
                    *s += v as f64;
                }
            }
            (sums, counts)
        })
        .reduce(
            || (vec![0f64; k * dim], vec![0usize; k]),
            |(mut s, mut c), (s2, c2)| {
                s.iter_mut().zip(&s2).for_each(|(a, b)| *a += b);
                c.iter_mut().zip(&c2).for_each(|(a, b)| *a += b);
                (s, c)
            },
        )
}

/// FAISS's repair: an empty cluster takes a copy of a cluster picked with
/// probability growing with its size, both nudged apart, and half its points.
fn split_empty(centroids: &mut [f32], dim: usize, mut counts: Vec<usize>, n: usize, rng: &mut Rng) {
    const EPS: f32 = 1.0 / 1024.0;
    let k = counts.len();
    for ci in 0..k {
        if counts[ci] != 0 {
            continue;
        }
        let mut cj = 0;
        loop {
            let p = (counts[cj] as f32 - 1.0) / (n - k).max(1) as f32;
            if rng.uniform() < p {
                break;
            }
            cj = (cj + 1) % k;
        }
        let src: Vec<f32> = centroids[cj * dim..(cj + 1) * dim].to_vec();
        for (d, &v) in src.iter().enumerate() {
            let sign = if d % 2 == 0 { 1.0 } else { -1.0 };
            centroids[ci * dim + d] = v * (1.0 + sign * EPS);
            centroids[cj * dim + d] = v * (1.0 - sign * EPS);
        }
        counts[ci] = counts[cj] / 2;
        counts[cj] -= counts[ci];
    }
}

/// Scales each row to unit length (zero rows stay zero).
pub fn normalize_rows(x: &mut [f32], dim: usize) {
    for row in x.chunks_exact_mut(dim) {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|v| *v /= norm);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::default_backend;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Points around `c` well-separated centres.
    fn blobs(c: usize, per: usize, dim: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
        let mut rng = Rng::new(seed);
        let centres: Vec<f32> = (0..c * dim).map(|_| rng.normal() * 10.0).collect();
        let data = (0..c * per)
            .flat_map(|i| (0..dim).map(move |d| (i, d)))
            .map(|(i, d)| centres[(i % c) * dim + d] + rng.normal() * 0.1)
            .collect();
        (centres, data)
    }

    #[test]
    fn finds_well_separated_clusters_and_is_seeded() {
        let (dim, c) = (8, 10);
        let (_, data) = blobs(c, 100, dim, 1);
        let backend = default_backend();
        let params = KMeansParams::new(c, Metric::L2, 42);
        let cents = train(
            &*backend,
            &data,
            dim,
            &params,
            &JobControl::default(),
            "test",
        )
        .unwrap();
        assert_eq!(
            cents,
            train(
                &*backend,
                &data,
                dim,
                &params,
                &JobControl::default(),
                "test"
            )
            .unwrap()
        );
        let (mut lab, mut dis) = (vec![0u32; data.len() / dim], vec![0f32; data.len() / dim]);
        backend.assign(Metric::L2, &data, &cents, dim, &mut lab, &mut dis);
        // random initialisation may merge a pair of blobs (a local minimum),
        // but most points must sit close to a centroid
        let close = dis.iter().filter(|&&d| d < 1.0).count();
        assert!(
            close * 10 >= dis.len() * 8,
            "{close} of {} points close to a centroid",
            dis.len()
        );
    }

    #[test]
    fn stopping_works_and_progress_is_reported() {
        let (_, data) = blobs(4, 200, 4, 2);
        let params = KMeansParams::new(4, Metric::L2, 1);
        let calls = Arc::new(AtomicUsize::new(0));
        let me: Arc<std::sync::OnceLock<JobControl>> = Arc::default();
        let (seen, handle) = (calls.clone(), me.clone());
        // the watcher asks the job to stop once it has seen three iterations
        let ctl = JobControl::with_progress(move |stage, _| {
            assert_eq!(stage, "k");
            if seen.fetch_add(1, Ordering::Relaxed) + 1 == 3 {
                handle.get().expect("set").stop();
            }
        });
        me.set(ctl.clone()).ok().expect("set once");
        let result = train(&*default_backend(), &data, 4, &params, &ctl, "k");
        assert!(matches!(result, Err(IndexError::Cancelled)));
        assert_eq!(calls.load(Ordering::Relaxed), 3);
        let full = JobControl::default();
        assert!(train(&*default_backend(), &data, 4, &params, &full, "k").is_ok());
    }

    #[test]
    fn warns_on_thin_training_sets_and_repairs_empty_clusters() {
        let (_, data) = blobs(2, 30, 4, 3);
        let ctl = JobControl::default();
        // 20 centroids for 2 blobs: many clusters start or fall empty and must be split
        let cents = train(
            &*default_backend(),
            &data,
            4,
            &KMeansParams::new(20, Metric::L2, 9),
            &ctl,
            "thin",
        )
        .unwrap();
        assert!(cents.iter().all(|v| v.is_finite()));
        assert!(ctl.warnings().iter().any(|w| w.contains("thin")));
        assert!(matches!(
            train(
                &*default_backend(),
                &data[..8],
                4,
                &KMeansParams::new(3, Metric::L2, 9),
                &ctl,
                "few"
            ),
            Err(IndexError::TooFewTrainingVectors { needed: 3, got: 2 })
        ));
    }
}
