//! Drives `shaders/scan_pq8.wgsl`: the 8-bit ADC scan of one list for a batch of queries,
//! followed on the device by the per-query top-k; only `k` results per query come back.
use super::context::Gpu;
use super::select_topk::{self, Rows};
use super::{Buffers, GpuBackend, GpuError, bytes_of};
use crate::compute::TopKHeap;

const SOURCE: &str = include_str!("../../../shaders/scan_pq8.wgsl");
/// Codes one workgroup scans.
const PER_GROUP: usize = 1024;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(super) struct Params {
    pub nq: u32,
    pub n: u32,
    pub m: u32,
    pub _pad: u32,
}

/// How a scan of `n` vectors for `nq` queries is cut so every binding fits:
/// `(queries, vectors)` per chunk, vectors a multiple of `align`.
pub(super) fn chunks(
    gpu: &Gpu,
    nq: usize,
    n: usize,
    per_query_bytes: usize,
    per_vector_bytes: usize,
    align: usize,
) -> Result<(usize, usize), GpuError> {
    let limit = gpu.binding_limit as usize;
    let groups = gpu.max_groups as usize;
    let nc = (limit / per_vector_bytes.max(4) / align * align)
        .min(groups * 256 / align * align)
        .min(n.next_multiple_of(align));
    if nc == 0 || per_query_bytes > limit {
        return Err(GpuError::TooLarge {
            what: "one query's table or one block of codes",
            limit: gpu.binding_limit,
        });
    }
    let qc = nq
        .min(limit / per_query_bytes.max(4))
        .min(limit / (4 * nc))
        .min(groups)
        .max(1);
    Ok((qc, nc))
}

/// Checks that every heap wants the same `k`, which the device can select.
pub(super) fn common_k(heaps: &[TopKHeap]) -> Result<usize, GpuError> {
    let k = heaps.first().map_or(0, TopKHeap::k);
    if heaps.iter().any(|h| h.k() != k) {
        return Err(GpuError::Unsupported(
            "heaps of different k in one batch".into(),
        ));
    }
    select_topk::check_k(k)?;
    Ok(k)
}

/// Runs the top-k of the `qn × vn` distances in `bufs.out_a` (already recorded into
/// `encoder`) and pushes the results into `heaps` under `labels`.
pub(super) fn select_into(
    gpu: &Gpu,
    bufs: &mut Buffers,
    encoder: wgpu::CommandEncoder,
    (qn, vn, k): (usize, usize, usize),
    labels: &[u64],
    heaps: &mut [TopKHeap],
) -> Result<(), GpuError> {
    let dists = bufs.out_a.get(gpu, 0).clone();
    let best = select_topk::run(
        gpu,
        bufs,
        encoder,
        &dists,
        Rows {
            rows: qn,
            n: vn,
            k,
            larger_is_better: false,
        },
    )?;
    for (heap, row) in heaps.iter_mut().zip(best) {
        for (d, i) in row {
            heap.push(d, labels[i as usize]);
        }
    }
    Ok(())
}

impl GpuBackend {
    /// `Backend::scan_pq8` for `nq` queries over the same list: `luts` is `nq × m × 256`,
    /// `biases` and `heaps` one per query.
    pub fn scan_pq8_batch(
        &self,
        luts: &[f32],
        m: usize,
        codes: &[u8],
        labels: &[u64],
        biases: &[f32],
        heaps: &mut [TopKHeap],
    ) -> Result<(), GpuError> {
        let (nq, n) = (heaps.len(), labels.len());
        let k = common_k(heaps)?;
        if nq == 0 || n == 0 || k == 0 || m == 0 {
            return Ok(());
        }
        self.with_buffers(|gpu, bufs| {
            let pipeline = gpu.pipeline(SOURCE, "scan_pq8", 0)?;
            // Vector chunks are multiples of 4 so each starts on a word of codes.
            let (qc, nc) = chunks(gpu, nq, n, m * 256 * 4, m, 4)?;
            for v0 in (0..n).step_by(nc) {
                let vn = nc.min(n - v0);
                let c = bufs.in_b.upload(gpu, &codes[v0 * m..(v0 + vn) * m]).clone();
                for q0 in (0..nq).step_by(qc) {
                    let qn = qc.min(nq - q0);
                    let l = bufs
                        .in_a
                        .upload(gpu, bytes_of(&luts[q0 * m * 256..(q0 + qn) * m * 256]))
                        .clone();
                    let b = bufs
                        .in_c
                        .upload(gpu, bytes_of(&biases[q0..q0 + qn]))
                        .clone();
                    let params = Params {
                        nq: qn as u32,
                        n: vn as u32,
                        m: m as u32,
                        _pad: 0,
                    };
                    let p = bufs.params.upload(gpu, bytes_of(&[params])).clone();
                    let out = bufs.out_a.get(gpu, (qn * vn * 4) as u64).clone();
                    let bind = gpu.bind(
                        &pipeline,
                        &[
                            p.as_entire_binding(),
                            l.as_entire_binding(),
                            c.as_entire_binding(),
                            b.as_entire_binding(),
                            out.as_entire_binding(),
                        ],
                    );
                    let mut encoder = gpu.encoder();
                    Gpu::dispatch(
                        &mut encoder,
                        &pipeline,
                        &bind,
                        (vn.div_ceil(PER_GROUP) as u32, qn as u32),
                    );
                    select_into(
                        gpu,
                        bufs,
                        encoder,
                        (qn, vn, k),
                        &labels[v0..v0 + vn],
                        &mut heaps[q0..q0 + qn],
                    )?;
                }
            }
            Ok(())
        })
    }
}
