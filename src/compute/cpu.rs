//! The CPU backend: rayon over blocks, SIMD where the processor has it.
//! It is the reference every other backend is compared with.
//!
//! Each SIMD kernel (AVX-512, AVX2+FMA) has a portable scalar twin and a test
//! comparing them on seeded random inputs; the instruction set is picked at
//! run time (`Isa::detect`).
pub mod dist;
pub mod fastscan;
pub mod gemm;
pub mod knn;
pub mod pq;

use half::f16;

use super::{Backend, Metric, Neighbours, QuantizedLut, TopKHeap};

/// The instruction-set level the kernels run at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    Scalar,
    /// AVX2, FMA and F16C.
    Avx2,
    /// AVX-512 F and BW.
    Avx512,
}

impl Isa {
    /// The best level this processor offers (detected once).
    pub fn detect() -> Isa {
        static ISA: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
        *ISA.get_or_init(|| Self::available().last().copied().unwrap_or(Isa::Scalar))
    }

    /// Every level this processor can run, scalar first.
    pub fn available() -> Vec<Isa> {
        let mut v = vec![Isa::Scalar];
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma")
                && is_x86_feature_detected!("f16c")
            {
                v.push(Isa::Avx2);
                if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw") {
                    v.push(Isa::Avx512);
                }
            }
        }
        v
    }
}

/// Exact batched kNN for ground truth and `Flat`: `(scores, rows)`, each
/// `nq × k`, best first (scores are the metric's values; missing rows are `u32::MAX`).
pub fn knn(
    metric: Metric,
    queries: &[f32],
    base: &[f32],
    dim: usize,
    k: usize,
) -> (Vec<f32>, Vec<u32>) {
    let n = CpuBackend.knn(metric, queries, base, dim, k);
    (n.scores, n.rows)
}

/// The CPU implementation of `Backend`.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuBackend;

impl Backend for CpuBackend {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn distances(
        &self,
        metric: Metric,
        queries: &[f32],
        base: &[f32],
        dim: usize,
        out: &mut [f32],
    ) {
        knn::distances(Isa::detect(), metric, queries, base, dim, out)
    }

    fn knn(
        &self,
        metric: Metric,
        queries: &[f32],
        base: &[f32],
        dim: usize,
        k: usize,
    ) -> Neighbours {
        knn::to_neighbours(
            metric,
            knn::knn_heaps(Isa::detect(), metric, queries, base, dim, k),
            k,
        )
    }

    fn assign(
        &self,
        metric: Metric,
        data: &[f32],
        centroids: &[f32],
        dim: usize,
        labels: &mut [u32],
        dists: &mut [f32],
    ) {
        knn::assign(Isa::detect(), metric, data, centroids, dim, labels, dists)
    }

    fn select_topk(&self, dists: &[f32], ncols: usize, k: usize) -> Vec<Vec<(f32, u32)>> {
        use rayon::prelude::*;
        dists
            .par_chunks(ncols.max(1))
            .map(|row| {
                let mut idx: Vec<u32> = (0..row.len() as u32).collect();
                let by =
                    |a: &u32, b: &u32| row[*a as usize].total_cmp(&row[*b as usize]).then(a.cmp(b));
                let k = k.min(row.len());
                if k > 0 && k < idx.len() {
                    idx.select_nth_unstable_by(k - 1, by);
                }
                idx.truncate(k);
                idx.sort_unstable_by(by);
                idx.into_iter().map(|i| (row[i as usize], i)).collect()
            })
            .collect()
    }

    fn pq_lut(
        &self,
        metric: Metric,
        query: &[f32],
        codebooks: &[f32],
        m: usize,
        ksub: usize,
        out: &mut [f32],
    ) {
        pq::lut(Isa::detect(), metric, query, codebooks, m, ksub, out)
    }

    fn scan_pq8(
        &self,
        lut: &[f32],
        m: usize,
        codes: &[u8],
        n: usize,
        label0: u64,
        bias: f32,
        heap: &mut TopKHeap,
    ) {
        pq::scan_pq8(lut, m, &codes[..n * m], label0, bias, heap)
    }

    fn scan_pq4fs(
        &self,
        lut: &QuantizedLut,
        m: usize,
        codes: &[u8],
        n: usize,
        label0: u64,
        bias: f32,
        heap: &mut TopKHeap,
    ) {
        fastscan::scan(Isa::detect(), lut, m, codes, n, label0, bias, heap)
    }

    fn prefetch(&self, data: &[u8]) {
        prefetch(data);
    }

    fn scan_flat(
        &self,
        metric: Metric,
        query: &[f32],
        vectors: &[f32],
        label0: u64,
        heap: &mut TopKHeap,
    ) {
        let isa = Isa::detect();
        let mut thr = heap.threshold();
        for (i, row) in vectors.chunks_exact(query.len()).enumerate() {
            let d = dist::dist_f32(isa, metric, query, row);
            if d < thr {
                heap.push(d, label0 + i as u64);
                thr = heap.threshold();
            }
        }
    }

    fn rerank_f32(
        &self,
        metric: Metric,
        query: &[f32],
        rows: &[&[f32]],
        labels: &[u64],
        heap: &mut TopKHeap,
    ) {
        let isa = Isa::detect();
        rerank(rows, labels, heap, |v| {
            dist::dist_f32(isa, metric, query, v)
        });
    }

    fn rerank_f16(
        &self,
        metric: Metric,
        query: &[f32],
        rows: &[&[f16]],
        labels: &[u64],
        heap: &mut TopKHeap,
    ) {
        let isa = Isa::detect();
        rerank(rows, labels, heap, |v| {
            dist::dist_f16(isa, metric, query, v)
        });
    }
}

/// Candidates sit at random rows of a large store: asking for the rows a
/// few candidates ahead overlaps their memory latency with the arithmetic.
fn rerank<T>(rows: &[&[T]], labels: &[u64], heap: &mut TopKHeap, dist: impl Fn(&[T]) -> f32) {
    const AHEAD: usize = 8;
    rows.iter().take(AHEAD).for_each(|r| prefetch(r));
    for (i, (row, &l)) in rows.iter().zip(labels).enumerate() {
        if let Some(next) = rows.get(i + AHEAD) {
            prefetch(next);
        }
        heap.push(dist(row), l);
    }
}

/// Hints the processor to bring `data` into cache.
#[inline]
fn prefetch<T>(data: &[T]) {
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
    #[cfg(target_arch = "x86_64")]
    {
        let bytes = std::mem::size_of_val(data);
        let p = data.as_ptr() as *const i8;
        for off in (0..bytes).step_by(64) {
            // SAFETY: a prefetch never faults; the address is inside `data`.
            unsafe { std::arch::x86_64::_mm_prefetch(p.add(off), std::arch::x86_64::_MM_HINT_T0) };
        }
    }
}
