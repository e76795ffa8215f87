//! Drives `shaders/pq_lut.wgsl`: product-quantiser look-up tables for a batch of queries.
use super::context::Gpu;
use super::distances::variant;
use super::{GpuBackend, GpuError, bytes_of, values_of};
use crate::compute::Metric;

const SOURCE: &str = include_str!("../../../shaders/pq_lut.wgsl");
/// Queries per workgroup, and the longest sub-vector the staging tile holds.
const QT: usize = 16;
const MAX_DSUB: usize = 64;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    nq: u32,
    dim: u32,
    m: u32,
    ksub: u32,
    j0: u32,
    mc: u32,
    _pad: [u32; 2],
}

impl GpuBackend {
    /// The tables of `nq` queries: `out[(q * m + j) * ksub + c]` (see `Backend::pq_lut`).
    pub fn pq_lut_batch(
        &self,
        metric: Metric,
        queries: &[f32],
        codebooks: &[f32],
        m: usize,
        ksub: usize,
        out: &mut [f32],
    ) -> Result<(), GpuError> {
        let dim = codebooks.len() / ksub.max(1);
        if m == 0 || dim == 0 || queries.is_empty() {
            return Ok(());
        }
        let (nq, dsub) = (queries.len() / dim, dim / m);
        if dsub > MAX_DSUB {
            return Err(GpuError::Unsupported(format!(
                "PQ sub-vectors of {dsub} components (at most {MAX_DSUB})"
            )));
        }
        self.with_buffers(|gpu, bufs| {
            let elems = (gpu.binding_limit / 4) as usize;
            let book = ksub * dsub;
            // Sub-quantisers per chunk: their code words and their tables must fit a binding.
            let mc = (elems / book).min(m).min(gpu.max_groups as usize);
            if mc == 0 || dim > elems {
                return Err(GpuError::TooLarge {
                    what: "one PQ codebook",
                    limit: gpu.binding_limit,
                });
            }
            let per_chunk = (elems / (mc * ksub).max(dim))
                .min(gpu.max_groups as usize * QT)
                .max(1);
            let pipeline = gpu.pipeline(SOURCE, "pq_lut", variant(metric))?;
            for j0 in (0..m).step_by(mc) {
                let jn = mc.min(m - j0);
                let books = bufs
                    .in_b
                    .upload(gpu, bytes_of(&codebooks[j0 * book..(j0 + jn) * book]))
                    .clone();
                for q0 in (0..nq).step_by(per_chunk) {
                    let qn = per_chunk.min(nq - q0);
                    let q = bufs
                        .in_a
                        .upload(gpu, bytes_of(&queries[q0 * dim..(q0 + qn) * dim]))
                        .clone();
                    let params = Params {
                        nq: qn as u32,
                        dim: dim as u32,
                        m: m as u32,
                        ksub: ksub as u32,
                        j0: j0 as u32,
                        mc: jn as u32,
                        _pad: [0; 2],
                    };
                    let p = bufs.params.upload(gpu, bytes_of(&[params])).clone();
                    let bytes = (qn * jn * ksub * 4) as u64;
                    let o = bufs.out_a.get(gpu, bytes).clone();
                    let bind = gpu.bind(
                        &pipeline,
                        &[
                            p.as_entire_binding(),
                            q.as_entire_binding(),
                            books.as_entire_binding(),
                            o.as_entire_binding(),
                        ],
                    );
                    let mut encoder = gpu.encoder();
                    Gpu::dispatch(
                        &mut encoder,
                        &pipeline,
                        &bind,
                        (jn as u32, qn.div_ceil(QT) as u32),
                    );
                    let read = gpu.finish(encoder, &[(&o, bytes)], &mut bufs.staging)?;
                    let tables: Vec<f32> = values_of(&read[0]);
                    for (i, t) in tables.chunks_exact(jn * ksub).enumerate() {
                        let at = ((q0 + i) * m + j0) * ksub;
                        out[at..at + jn * ksub].copy_from_slice(t);
                    }
                }
            }
            Ok(())
        })
    }
}
