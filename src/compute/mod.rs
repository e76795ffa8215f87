//! Numeric kernels on plain slices. Knows nothing of index types.
//!
//! Conventions shared by every backend:
//! - vectors are row-major `f32` rows of `dim` values;
//! - a *distance* is "lower is closer" for both metrics (the negated inner
//!   product, or the squared L2 distance), so one selection code serves both;
//!   `Metric::to_score` turns it back into the metric's own value.
pub mod cpu;
pub mod pq4;
pub mod rng;
pub mod topk;

pub use topk::TopKHeap;

/// How two vectors are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Metric {
    /// Inner product; on L2-normalised vectors, cosine similarity. Higher is closer.
    InnerProduct,
    /// Squared Euclidean distance. Lower is closer.
    L2,
}

impl Metric {
    /// The metric's own value (inner product or squared L2) of a distance.
    #[inline]
    pub fn to_score(self, dist: f32) -> f32 {
        match self {
            Metric::InnerProduct => -dist,
            Metric::L2 => dist,
        }
    }

    /// The distance ("lower is closer") of a metric value.
    #[inline]
    pub fn to_dist(self, score: f32) -> f32 {
        self.to_score(score)
    }
}

/// Row number of a missing neighbour.
pub const NO_ROW: u32 = u32::MAX;

/// The exact `k` nearest base rows of each query, best first.
#[derive(Clone, Debug, PartialEq)]
pub struct Neighbours {
    pub k: usize,
    /// Metric values (inner product or squared L2), `nq × k`.
    pub scores: Vec<f32>,
    /// Base row numbers, `nq × k`; `NO_ROW` where fewer than `k` rows exist.
    pub rows: Vec<u32>,
}

/// A per-query 4-bit look-up table quantised to bytes, as fast-scan needs it:
/// `table[j * 16 + c]` approximates `(lut[j][c] - min_j) / inv_scale`.
/// A distance is then `bias + sum_min + inv_scale * Σ table`.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedLut {
    pub table: Vec<u8>,
    pub sum_min: f32,
    pub inv_scale: f32,
}

/// The numeric work of the index engine. The CPU backend (`cpu::CpuBackend`)
/// is the reference; every other backend must agree with it (distances within
/// 1e-4 relative, the same top-k up to ties).
pub trait Backend: Send + Sync {
    fn name(&self) -> &'static str;

    /// `out[i * nb + j]` = metric value of query `i` against base row `j`.
    fn distances(&self, metric: Metric, queries: &[f32], base: &[f32], dim: usize, out: &mut [f32]);

    /// Exact batched k-nearest-neighbour search of `queries` in `base`.
    fn knn(
        &self,
        metric: Metric,
        queries: &[f32],
        base: &[f32],
        dim: usize,
        k: usize,
    ) -> Neighbours;

    /// For each row of `data`, the nearest of `centroids` and its distance.
    fn assign(
        &self,
        metric: Metric,
        data: &[f32],
        centroids: &[f32],
        dim: usize,
        labels: &mut [u32],
        dists: &mut [f32],
    );

    /// The `k` smallest of each row of `dists` (`ncols` wide): `(distance, column)` ascending.
    fn select_topk(&self, dists: &[f32], ncols: usize, k: usize) -> Vec<Vec<(f32, u32)>>;

    /// Product-quantiser look-up table of one query: `out[j * ksub + c]` is the
    /// distance of sub-vector `j` of `query` to code word `c` of sub-quantiser `j`
    /// (`codebooks` is `m × ksub × dsub`; the inner-product distance is negated).
    fn pq_lut(
        &self,
        metric: Metric,
        query: &[f32],
        codebooks: &[f32],
        m: usize,
        ksub: usize,
        out: &mut [f32],
    );

    /// Scans `n` 8-bit PQ codes (`n × m` bytes): distance of code `i` =
    /// `bias + Σ_j lut[j * 256 + code_j]`, pushed into `heap` under `label0 + i`.
    #[allow(clippy::too_many_arguments)]
    fn scan_pq8(
        &self,
        lut: &[f32],
        m: usize,
        codes: &[u8],
        n: usize,
        label0: u64,
        bias: f32,
        heap: &mut TopKHeap,
    );

    /// Scans `n` 4-bit PQ codes packed for fast-scan (see `pq4`) with a
    /// quantised table: distance = `bias + lut.sum_min + lut.inv_scale * Σ table`,
    /// pushed under `label0 + i`.
    #[allow(clippy::too_many_arguments)]
    fn scan_pq4fs(
        &self,
        lut: &QuantizedLut,
        m: usize,
        codes: &[u8],
        n: usize,
        label0: u64,
        bias: f32,
        heap: &mut TopKHeap,
    );

    /// A hint that `data` will be read soon (a no-op where it means nothing).
    fn prefetch(&self, data: &[u8]) {
        let _ = data;
    }

    /// Exact distances of `query` to every row of `vectors`, pushed into
    /// `heap` under `label0 + row`: the scan of an IVF-Flat list.
    fn scan_flat(
        &self,
        metric: Metric,
        query: &[f32],
        vectors: &[f32],
        label0: u64,
        heap: &mut TopKHeap,
    );

    /// Exact distances of `query` to the candidate vectors `rows[i]`, pushed
    /// into `heap` under `labels[i]`: the re-ranking stage.
    fn rerank_f32(
        &self,
        metric: Metric,
        query: &[f32],
        rows: &[&[f32]],
        labels: &[u64],
        heap: &mut TopKHeap,
    );

    /// As `rerank_f32` with the vectors stored in half precision.
    fn rerank_f16(
        &self,
        metric: Metric,
        query: &[f32],
        rows: &[&[half::f16]],
        labels: &[u64],
        heap: &mut TopKHeap,
    );
}

/// The backend the indexes use unless told otherwise.
pub fn default_backend() -> std::sync::Arc<dyn Backend> {
    std::sync::Arc::new(cpu::CpuBackend)
}
