//! Drives `shaders/distances.wgsl` (the tiled distance kernel) for `distances` and,
//! followed on the device by `select_topk`, for `knn`.
use super::context::Gpu;
use super::scan_pq8::common_k;
use super::{Buffers, GpuBackend, GpuError, bytes_of, select_topk, values_of};
use crate::compute::{Metric, NO_ROW, Neighbours, TopKHeap};

pub(super) const SOURCE: &str = concat!(
    include_str!("../../../shaders/distance_tile.wgsl"),
    include_str!("../../../shaders/distances.wgsl")
);

/// Output rows and columns one workgroup covers.
pub(super) const TILE: usize = 64;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    nq: u32,
    n: u32,
    dim: u32,
    _pad: u32,
}

/// The shader's variant for a metric (its `VARIANT` override).
pub(super) fn variant(metric: Metric) -> u32 {
    match metric {
        Metric::InnerProduct => 0,
        Metric::L2 => 1,
    }
}

/// How a `nq × nb` product is cut so that every binding (both inputs and the output)
/// fits the device: `(query rows, base rows)` per chunk.
pub(super) fn chunks(
    gpu: &Gpu,
    nq: usize,
    nb: usize,
    dim: usize,
) -> Result<(usize, usize), GpuError> {
    let elems = (gpu.binding_limit / 4) as usize;
    if dim > elems {
        return Err(GpuError::TooLarge {
            what: "one vector",
            limit: gpu.binding_limit,
        });
    }
    let groups = gpu.max_groups as usize * TILE;
    let nc = nb.min(elems / dim).min(groups).max(1);
    let qc = nq.min(elems / dim).min(elems / nc).min(groups).max(1);
    Ok((qc, nc))
}

/// The rows of one chunk: queries `q0..q0 + qn` against base rows `b0..b0 + bn`.
#[derive(Clone, Copy)]
struct Span {
    q0: usize,
    qn: usize,
    b0: usize,
    bn: usize,
}

/// Records the distance tile of every chunk (queries in `bufs.in_a`, base rows in
/// `bufs.in_b`, distances into `bufs.out_a`) and hands its encoder to `then`, which
/// submits it with whatever follows on the device.
fn sweep(
    gpu: &Gpu,
    bufs: &mut Buffers,
    metric: Metric,
    (queries, base, dim): (&[f32], &[f32], usize),
    mut then: impl FnMut(&mut Buffers, wgpu::CommandEncoder, Span) -> Result<(), GpuError>,
) -> Result<(), GpuError> {
    let (nq, nb) = (queries.len() / dim, base.len() / dim);
    let (qc, nc) = chunks(gpu, nq, nb, dim)?;
    let pipeline = gpu.pipeline(SOURCE, "distances", variant(metric))?;
    for b0 in (0..nb).step_by(nc) {
        let bn = nc.min(nb - b0);
        let b = bufs
            .in_b
            .upload(gpu, bytes_of(&base[b0 * dim..(b0 + bn) * dim]))
            .clone();
        for q0 in (0..nq).step_by(qc) {
            let qn = qc.min(nq - q0);
            let q = bufs
                .in_a
                .upload(gpu, bytes_of(&queries[q0 * dim..(q0 + qn) * dim]))
                .clone();
            let params = Params {
                nq: qn as u32,
                n: bn as u32,
                dim: dim as u32,
                _pad: 0,
            };
            let p = bufs.params.upload(gpu, bytes_of(&[params])).clone();
            let out = bufs.out_a.get(gpu, (qn * bn * 4) as u64).clone();
            let bind = gpu.bind(
                &pipeline,
                &[
                    p.as_entire_binding(),
                    q.as_entire_binding(),
                    b.as_entire_binding(),
                    out.as_entire_binding(),
                ],
            );
            let mut encoder = gpu.encoder();
            let groups = (bn.div_ceil(TILE) as u32, qn.div_ceil(TILE) as u32);
            Gpu::dispatch(&mut encoder, &pipeline, &bind, groups);
            then(bufs, encoder, Span { q0, qn, b0, bn })?;
        }
    }
    Ok(())
}

impl GpuBackend {
    /// `out[i * nb + j]` = metric value of query `i` against base row `j`.
    pub fn distances(
        &self,
        metric: Metric,
        queries: &[f32],
        base: &[f32],
        dim: usize,
        out: &mut [f32],
    ) -> Result<(), GpuError> {
        let nb = base.len() / dim;
        if queries.is_empty() || nb == 0 {
            return Ok(());
        }
        self.with_buffers(|gpu, bufs| {
            sweep(
                gpu,
                bufs,
                metric,
                (queries, base, dim),
                |bufs, encoder, s| {
                    let tile = bufs.out_a.get(gpu, 0).clone();
                    let read = gpu.finish(
                        encoder,
                        &[(&tile, (s.qn * s.bn * 4) as u64)],
                        &mut bufs.staging,
                    )?;
                    let tile: Vec<f32> = values_of(&read[0]);
                    for (i, row) in tile.chunks_exact(s.bn).enumerate() {
                        let at = (s.q0 + i) * nb + s.b0;
                        out[at..at + s.bn].copy_from_slice(row);
                    }
                    Ok(())
                },
            )
        })
    }

    /// Exact k-nearest-neighbour search: per chunk of base rows, the distance tile and
    /// the per-query top-k run on the device; only `k` results per query come back.
    pub fn knn(
        &self,
        metric: Metric,
        queries: &[f32],
        base: &[f32],
        dim: usize,
        k: usize,
    ) -> Result<Neighbours, GpuError> {
        select_topk::check_k(k)?;
        let mut heaps = vec![TopKHeap::new(k); queries.len() / dim];
        if k > 0 && !queries.is_empty() && !base.is_empty() {
            self.with_buffers(|gpu, bufs| {
                sweep(
                    gpu,
                    bufs,
                    metric,
                    (queries, base, dim),
                    |bufs, encoder, s| {
                        let scores = bufs.out_a.get(gpu, 0).clone();
                        let larger_is_better = metric == Metric::InnerProduct;
                        let rows = select_topk::Rows {
                            rows: s.qn,
                            n: s.bn,
                            k,
                            larger_is_better,
                        };
                        let best = select_topk::run(gpu, bufs, encoder, &scores, rows)?;
                        for (heap, row) in heaps[s.q0..].iter_mut().zip(best) {
                            for (score, col) in row {
                                heap.push(metric.to_dist(score), (s.b0 + col as usize) as u64);
                            }
                        }
                        Ok(())
                    },
                )
            })?;
        }
        Ok(crate::compute::cpu::knn::to_neighbours(metric, heaps, k))
    }
}

impl GpuBackend {
    /// `Backend::scan_flat` of one list for a batch of queries: exact search of the
    /// list's rows, whose best `k` per query enter the heaps labelled from `label0`.
    pub fn scan_flat_batch(
        &self,
        metric: Metric,
        queries: &[f32],
        vectors: &[f32],
        label0: u64,
        heaps: &mut [TopKHeap],
    ) -> Result<(), GpuError> {
        let k = common_k(heaps)?;
        if heaps.is_empty() || vectors.is_empty() || k == 0 {
            return Ok(());
        }
        let dim = queries.len() / heaps.len();
        let found = self.knn(metric, queries, vectors, dim, k)?;
        for (q, heap) in heaps.iter_mut().enumerate() {
            let best = found.scores[q * k..(q + 1) * k]
                .iter()
                .zip(&found.rows[q * k..(q + 1) * k]);
            for (&score, &row) in best.filter(|(_, row)| **row != NO_ROW) {
                heap.push(metric.to_dist(score), label0 + u64::from(row));
            }
        }
        Ok(())
    }
}
