//! Drives `shaders/rerank.wgsl`: exact distances of candidates (f32 or f16 rows) for a
//! batch of queries. The candidates' rows are gathered on the host, so only they travel.
use half::f16;

use super::context::Gpu;
use super::distances::variant;
use super::select_topk::grid;
use super::{GpuBackend, GpuError, bytes_of, values_of};
use crate::compute::{Candidates, Metric, TopKHeap};

const SOURCE: &str = include_str!("../../../shaders/rerank.wgsl");
/// Candidates per workgroup.
const PER_GROUP: usize = 16;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    count: u32,
    dim: u32,
    _pad: [u32; 2],
}

/// One row of stored vectors as the kernel reads it: f32 as is, f16 two to a word.
trait Row: Copy {
    const ENTRY: &'static str;
    fn words(row: &[Self], out: &mut Vec<u32>);
}

impl Row for f32 {
    const ENTRY: &'static str = "rerank_f32";
    fn words(row: &[f32], out: &mut Vec<u32>) {
        out.extend(row.iter().map(|v| v.to_bits()));
    }
}

impl Row for f16 {
    const ENTRY: &'static str = "rerank_f16";
    fn words(row: &[f16], out: &mut Vec<u32>) {
        out.extend(
            row.chunks_exact(2)
                .map(|p| u32::from(p[0].to_bits()) | (u32::from(p[1].to_bits()) << 16)),
        );
    }
}

impl GpuBackend {
    /// `Backend::rerank_f32` for a batch of queries (`nq × dim`), one heap each.
    pub fn rerank_f32_batch(
        &self,
        metric: Metric,
        queries: &[f32],
        cands: Candidates<'_, f32>,
        heaps: &mut [TopKHeap],
    ) -> Result<(), GpuError> {
        self.rerank(metric, queries, cands, heaps)
    }

    /// `Backend::rerank_f16` for a batch of queries. Rows of odd length are widened to f32
    /// (exactly), since the kernel reads half-precision rows two components at a time.
    pub fn rerank_f16_batch(
        &self,
        metric: Metric,
        queries: &[f32],
        cands: Candidates<'_, f16>,
        heaps: &mut [TopKHeap],
    ) -> Result<(), GpuError> {
        let dim = queries.len() / heaps.len().max(1);
        if dim % 2 == 1 {
            let wide: Vec<Vec<f32>> = cands
                .rows
                .iter()
                .map(|r| r.iter().map(|v| v.to_f32()).collect())
                .collect();
            let rows: Vec<&[f32]> = wide.iter().map(Vec::as_slice).collect();
            let cands = Candidates {
                rows: &rows,
                labels: cands.labels,
                offsets: cands.offsets,
            };
            return self.rerank(metric, queries, cands, heaps);
        }
        self.rerank(metric, queries, cands, heaps)
    }

    fn rerank<T: Row>(
        &self,
        metric: Metric,
        queries: &[f32],
        cands: Candidates<'_, T>,
        heaps: &mut [TopKHeap],
    ) -> Result<(), GpuError> {
        let nq = heaps.len();
        let total = cands.rows.len();
        if nq == 0 || total == 0 {
            return Ok(());
        }
        let dim = queries.len() / nq;
        if cands.rows.iter().any(|r| r.len() != dim) {
            return Err(GpuError::Unsupported(
                "candidate rows of another length than the query".into(),
            ));
        }
        let owner: Vec<u32> = (0..nq)
            .flat_map(|q| std::iter::repeat_n(q as u32, cands.offsets[q + 1] - cands.offsets[q]))
            .collect();
        self.with_buffers(|gpu, bufs| {
            let limit = gpu.binding_limit as usize;
            if queries.len() * 4 > limit {
                return Err(GpuError::TooLarge {
                    what: "the batch of queries",
                    limit: gpu.binding_limit,
                });
            }
            let groups = gpu.max_groups as usize;
            let per_chunk = (limit / (4 * dim)).min(groups * groups * PER_GROUP).max(1);
            let pipeline = gpu.pipeline(SOURCE, T::ENTRY, variant(metric))?;
            let q = bufs.in_a.upload(gpu, bytes_of(queries)).clone();
            let mut words = Vec::with_capacity(per_chunk.min(total) * dim);
            for c0 in (0..total).step_by(per_chunk) {
                let cn = per_chunk.min(total - c0);
                words.clear();
                for row in &cands.rows[c0..c0 + cn] {
                    T::words(row, &mut words);
                }
                let rows = bufs.in_b.upload(gpu, bytes_of(&words)).clone();
                let own = bufs.in_c.upload(gpu, bytes_of(&owner[c0..c0 + cn])).clone();
                let params = Params {
                    count: cn as u32,
                    dim: dim as u32,
                    _pad: [0; 2],
                };
                let p = bufs.params.upload(gpu, bytes_of(&[params])).clone();
                let out = bufs.out_a.get(gpu, (cn * 4) as u64).clone();
                let bind = gpu.bind(
                    &pipeline,
                    &[
                        p.as_entire_binding(),
                        q.as_entire_binding(),
                        rows.as_entire_binding(),
                        own.as_entire_binding(),
                        out.as_entire_binding(),
                    ],
                );
                let mut encoder = gpu.encoder();
                Gpu::dispatch(
                    &mut encoder,
                    &pipeline,
                    &bind,
                    grid(gpu, cn.div_ceil(PER_GROUP)),
                );
                let read = gpu.finish(encoder, &[(&out, (cn * 4) as u64)], &mut bufs.staging)?;
                for (i, d) in values_of::<f32>(&read[0]).into_iter().enumerate() {
                    heaps[owner[c0 + i] as usize].push(d, cands.labels[c0 + i]);
                }
            }
            Ok(())
        })
    }
}
