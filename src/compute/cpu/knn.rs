//! Exact batched search: queries × base in cache-sized blocks through the
//! packed micro-kernel (`gemm`), feeding per-query heaps. Large batches are
//! split by queries across threads (each packs the base blocks it sweeps);
//! small batches are split by base rows and use the one-pair kernels.
use rayon::prelude::*;

use super::gemm::{self, MR, NR};
use super::{Isa, dist};
use crate::compute::{Metric, NO_ROW, Neighbours, TopKHeap};

/// Below this many queries a batch is not worth packing for.
const SMALL_BATCH: usize = 4;

/// Base rows per block: the packed block stays within about half of a 1 MiB L2.
fn block_rows(dim: usize) -> usize {
    let rows = (512 * 1024 / (4 * dim.max(1))) / NR * NR;
    rows.clamp(NR, 1024)
}

/// Squared norms of the rows of `x`.
pub fn norms(isa: Isa, x: &[f32], dim: usize) -> Vec<f32> {
    x.par_chunks(dim.max(1) * 1024)
        .flat_map_iter(|c| {
            c.chunks_exact(dim)
                .map(|r| -dist::dist_f32(isa, Metric::InnerProduct, r, r))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Calls `f(query row, first base row, inner products)` for every query row
/// and every block of base rows.
fn sweep(
    isa: Isa,
    queries: &[f32],
    base: &[f32],
    dim: usize,
    mut f: impl FnMut(usize, usize, &[f32]),
) {
    let nq = queries.len() / dim;
    let nb = base.len() / dim;
    let rows = block_rows(dim);
    let mut panels = vec![0f32; rows * dim];
    let mut tile = vec![0f32; MR * rows];
    for b0 in (0..nb).step_by(rows) {
        let bn = (nb - b0).min(rows);
        let npanels = bn.div_ceil(NR);
        for p in 0..npanels {
            let r0 = b0 + p * NR;
            let r1 = (r0 + NR).min(b0 + bn);
            gemm::pack_panel(
                &base[r0 * dim..r1 * dim],
                dim,
                &mut panels[p * NR * dim..(p + 1) * NR * dim],
            );
        }
        for q0 in (0..nq).step_by(MR) {
            let qr = (nq - q0).min(MR);
            for p in 0..npanels {
                let cols = (bn - p * NR).min(NR);
                gemm::panel_ip(
                    isa,
                    &queries[q0 * dim..],
                    qr,
                    dim,
                    &panels[p * NR * dim..],
                    cols,
                    &mut tile[p * NR..],
                    rows,
                );
            }
            for i in 0..qr {
                f(q0 + i, b0, &tile[i * rows..i * rows + bn]);
            }
        }
    }
}

/// Turns inner products into distances: `−ip`, or `|q|² + |b|² − 2 ip`.
#[derive(Clone, Copy)]
struct ToDist<'a> {
    metric: Metric,
    qnorms: &'a [f32],
    bnorms: &'a [f32],
}

impl ToDist<'_> {
    #[inline]
    fn apply(&self, q: usize, b: usize, ip: f32) -> f32 {
        match self.metric {
            Metric::InnerProduct => -ip,
            Metric::L2 => (self.qnorms[q] + self.bnorms[b] - 2.0 * ip).max(0.0),
        }
    }
}

fn to_dist<'a>(metric: Metric, qn: &'a [f32], bn: &'a [f32]) -> ToDist<'a> {
    ToDist {
        metric,
        qnorms: qn,
        bnorms: bn,
    }
}

fn norms_for(isa: Isa, metric: Metric, x: &[f32], dim: usize) -> Vec<f32> {
    match metric {
        Metric::L2 => norms(isa, x, dim),
        Metric::InnerProduct => Vec::new(),
    }
}

/// Query chunk size for a batch split across threads (a multiple of MR).
fn query_chunk(nq: usize) -> usize {
    let parts = rayon::current_num_threads() * 4;
    nq.div_ceil(parts).div_ceil(MR).max(1) * MR
}

/// The `k` nearest base rows of every query, as heaps labelled by row.
pub fn knn_heaps(
    isa: Isa,
    metric: Metric,
    queries: &[f32],
    base: &[f32],
    dim: usize,
    k: usize,
) -> Vec<TopKHeap> {
    let nq = queries.len() / dim;
    let nb = base.len() / dim;
    let qn = norms_for(isa, metric, queries, dim);
    let bn = norms_for(isa, metric, base, dim);
    if nq >= SMALL_BATCH {
        let chunk = query_chunk(nq);
        return queries
            .par_chunks(chunk * dim)
            .enumerate()
            .flat_map_iter(|(c, qc)| {
                let mut heaps = vec![TopKHeap::new(k); qc.len() / dim];
                let td = to_dist(metric, &qn[(c * chunk).min(qn.len())..], &bn);
                sweep(isa, qc, base, dim, |i, b0, ips| {
                    let heap = &mut heaps[i];
                    let mut thr = heap.threshold();
                    for (j, &ip) in ips.iter().enumerate() {
                        let d = td.apply(i, b0 + j, ip);
                        if d < thr {
                            heap.push(d, (b0 + j) as u64);
                            thr = heap.threshold();
                        }
                    }
                });
                heaps
            })
            .collect();
    }
    let parts = rayon::current_num_threads().max(1);
    let range = nb.div_ceil(parts).max(1);
    (0..nb.div_ceil(range))
        .into_par_iter()
        .map(|p| {
            let mut heaps = vec![TopKHeap::new(k); nq];
            for b in p * range..((p + 1) * range).min(nb) {
                let row = &base[b * dim..(b + 1) * dim];
                for (q, heap) in heaps.iter_mut().enumerate() {
                    heap.push(
                        dist::dist_f32(isa, metric, &queries[q * dim..(q + 1) * dim], row),
                        b as u64,
                    );
                }
            }
            heaps
        })
        .reduce(
            || vec![TopKHeap::new(k); nq],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| x.merge(y));
                a
            },
        )
}

/// Packs heaps into a `Neighbours` table (metric values, rows; missing rows are `u32::MAX`).
pub fn to_neighbours(metric: Metric, heaps: Vec<TopKHeap>, k: usize) -> Neighbours {
    let missing = metric.to_score(f32::INFINITY);
    let mut scores = Vec::with_capacity(heaps.len() * k);
    let mut rows = Vec::with_capacity(heaps.len() * k);
    for heap in heaps {
        let sorted = heap.into_sorted();
        let n = sorted.len();
        for (d, r) in sorted {
            scores.push(metric.to_score(d));
            rows.push(r as u32);
        }
        scores.extend(std::iter::repeat_n(missing, k - n));
        rows.extend(std::iter::repeat_n(NO_ROW, k - n));
    }
    Neighbours { k, scores, rows }
}

/// The full matrix of metric values, `nq × nb`.
pub fn distances(
    isa: Isa,
    metric: Metric,
    queries: &[f32],
    base: &[f32],
    dim: usize,
    out: &mut [f32],
) {
    let nb = base.len() / dim;
    assert_eq!(out.len(), queries.len() / dim * nb);
    if nb == 0 {
        return;
    }
    if queries.len() / dim < SMALL_BATCH {
        // packing the base would cost more than the products it saves
        for (q, o) in queries.chunks_exact(dim).zip(out.chunks_exact_mut(nb)) {
            o.par_chunks_mut(1024)
                .zip(base.par_chunks(1024 * dim))
                .for_each(|(o, b)| {
                    for (v, row) in o.iter_mut().zip(b.chunks_exact(dim)) {
                        *v = metric.to_score(dist::dist_f32(isa, metric, q, row));
                    }
                });
        }
        return;
    }
    let qn = norms_for(isa, metric, queries, dim);
    let bn = norms_for(isa, metric, base, dim);
    let chunk = query_chunk(queries.len() / dim);
    out.par_chunks_mut(chunk * nb)
        .zip(queries.par_chunks(chunk * dim))
        .enumerate()
        .for_each(|(c, (o, qc))| {
            let td = to_dist(metric, &qn[(c * chunk).min(qn.len())..], &bn);
            sweep(isa, qc, base, dim, |i, b0, ips| {
                for (j, &ip) in ips.iter().enumerate() {
                    o[i * nb + b0 + j] = metric.to_score(td.apply(i, b0 + j, ip));
                }
            });
        });
}

/// Nearest centroid of every row of `data` (its label and distance).
pub fn assign(
    isa: Isa,
    metric: Metric,
    data: &[f32],
    centroids: &[f32],
    dim: usize,
    labels: &mut [u32],
    dists: &mut [f32],
) {
    let n = data.len() / dim;
    assert!(labels.len() == n && dists.len() == n);
    let qn = norms_for(isa, metric, data, dim);
    let cn = norms_for(isa, metric, centroids, dim);
    let chunk = query_chunk(n);
    labels
        .par_chunks_mut(chunk)
        .zip(dists.par_chunks_mut(chunk))
        .zip(data.par_chunks(chunk * dim))
        .enumerate()
        .for_each(|(c, ((lab, dis), qc))| {
            lab.fill(u32::MAX);
            dis.fill(f32::INFINITY);
            let td = to_dist(metric, &qn[(c * chunk).min(qn.len())..], &cn);
            sweep(isa, qc, centroids, dim, |i, b0, ips| {
                for (j, &ip) in ips.iter().enumerate() {
                    let d = td.apply(i, b0 + j, ip);
                    if d < dis[i] {
                        dis[i] = d;
                        lab[i] = (b0 + j) as u32;
                    }
                }
            });
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::rng::Rng;

    /// Top-k by a naive f64 loop.
    fn naive(metric: Metric, q: &[f32], base: &[f32], dim: usize, k: usize) -> Vec<(f64, u32)> {
        let mut all: Vec<(f64, u32)> = base
            .chunks_exact(dim)
            .enumerate()
            .map(|(j, b)| {
                let d: f64 = match metric {
                    Metric::InnerProduct => -q
                        .iter()
                        .zip(b)
                        .map(|(&x, &y)| x as f64 * y as f64)
                        .sum::<f64>(),
                    Metric::L2 => q
                        .iter()
                        .zip(b)
                        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
                        .sum(),
                };
                (d, j as u32)
            })
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0));
        all.truncate(k);
        all
    }

    #[test]
    fn knn_matches_naive_f64_on_both_paths_and_every_isa() {
        let mut rng = Rng::new(21);
        for &(nq, nb, dim, k) in &[
            (1usize, 300usize, 17usize, 5usize),
            (3, 1000, 64, 10),
            (37, 2100, 33, 7),
            (64, 600, 128, 100),
        ] {
            let q = rng.uniform_vec(nq * dim);
            let base = rng.uniform_vec(nb * dim);
            for metric in [Metric::InnerProduct, Metric::L2] {
                for isa in Isa::available() {
                    let got = to_neighbours(metric, knn_heaps(isa, metric, &q, &base, dim, k), k);
                    for i in 0..nq {
                        let want = naive(metric, &q[i * dim..(i + 1) * dim], &base, dim, k);
                        for (r, &(d, j)) in want.iter().enumerate() {
                            let s = metric.to_dist(got.scores[i * k + r]) as f64;
                            assert!(
                                (s - d).abs() < 1e-4 * (1.0 + d.abs()),
                                "{isa:?} {metric:?} q{i} r{r}: {s} vs {d}"
                            );
                            // the same row, or a tie within rounding
                            if got.rows[i * k + r] != j {
                                let other =
                                    naive(metric, &q[i * dim..(i + 1) * dim], &base, dim, nb)
                                        .into_iter()
                                        .find(|x| x.1 == got.rows[i * k + r])
                                        .unwrap();
                                assert!((other.0 - d).abs() < 1e-4 * (1.0 + d.abs()));
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn assign_finds_the_nearest_centroid() {
        let mut rng = Rng::new(8);
        let (n, nc, dim) = (200, 45, 24);
        let data = rng.uniform_vec(n * dim);
        let cents = rng.uniform_vec(nc * dim);
        for metric in [Metric::InnerProduct, Metric::L2] {
            let (mut lab, mut dis) = (vec![0u32; n], vec![0f32; n]);
            assign(
                Isa::detect(),
                metric,
                &data,
                &cents,
                dim,
                &mut lab,
                &mut dis,
            );
            for i in 0..n {
                let want = naive(metric, &data[i * dim..(i + 1) * dim], &cents, dim, 1)[0];
                assert!((dis[i] as f64 - want.0).abs() < 1e-4 * (1.0 + want.0.abs()));
            }
        }
    }

    #[test]
    fn distances_match_pairwise_kernel() {
        let mut rng = Rng::new(4);
        for (nq, nb, dim) in [(19, 77, 40), (1, 3000, 24)] {
            let q = rng.uniform_vec(nq * dim);
            let base = rng.uniform_vec(nb * dim);
            for metric in [Metric::InnerProduct, Metric::L2] {
                let mut out = vec![0f32; nq * nb];
                distances(Isa::detect(), metric, &q, &base, dim, &mut out);
                for i in 0..nq {
                    for j in 0..nb {
                        let want = metric.to_score(dist::dist_f32(
                            Isa::Scalar,
                            metric,
                            &q[i * dim..(i + 1) * dim],
                            &base[j * dim..(j + 1) * dim],
                        ));
                        assert!((out[i * nb + j] - want).abs() < 1e-4 * (1.0 + want.abs()));
                    }
                }
            }
        }
    }
}
