//! Drives `shaders/scan_pq4fs.wgsl`: the 4-bit fast-scan of one list for a batch of
//! queries, on the CPU's packed layout, followed on the device by the per-query top-k.
use super::context::Gpu;
use super::scan_pq8::{Params, chunks, common_k, select_into};
use super::{GpuBackend, GpuError, bytes_of};
use crate::compute::{QuantizedLut, TopKHeap, pq4};

const SOURCE: &str = include_str!("../../../shaders/scan_pq4fs.wgsl");
/// The kernel stages a table of at most 256 sub-quantisers.
const MAX_M: usize = 256;

impl GpuBackend {
    /// `Backend::scan_pq4fs` for `nq` queries over the same list: one table, bias and
    /// heap per query.
    pub fn scan_pq4fs_batch(
        &self,
        luts: &[QuantizedLut],
        m: usize,
        codes: &[u8],
        labels: &[u64],
        biases: &[f32],
        heaps: &mut [TopKHeap],
    ) -> Result<(), GpuError> {
        let (nq, n) = (heaps.len(), labels.len());
        let k = common_k(heaps)?;
        if !m.is_multiple_of(2) || m > MAX_M {
            return Err(GpuError::Unsupported(format!(
                "fast-scan with m = {m} (even, at most {MAX_M})"
            )));
        }
        if nq == 0 || n == 0 || k == 0 || m == 0 {
            return Ok(());
        }
        let tables: Vec<u8> = luts.iter().flat_map(|l| l.table.iter().copied()).collect();
        let affine: Vec<[f32; 2]> = luts
            .iter()
            .zip(biases)
            .map(|(l, &b)| [b + l.sum_min, l.inv_scale])
            .collect();
        self.with_buffers(|gpu, bufs| {
            let pipeline = gpu.pipeline(SOURCE, "scan_pq4fs", 0)?;
            let block = pq4::block_bytes(m);
            let (qc, nc) = chunks(gpu, nq, n, m * 16, block.div_ceil(pq4::BLOCK), pq4::BLOCK)?;
            for v0 in (0..n).step_by(nc) {
                let vn = nc.min(n - v0);
                let c0 = v0 / pq4::BLOCK * block;
                let c = bufs
                    .in_b
                    .upload(gpu, &codes[c0..c0 + pq4::packed_len(vn, m)])
                    .clone();
                for q0 in (0..nq).step_by(qc) {
                    let qn = qc.min(nq - q0);
                    let t = bufs
                        .in_a
                        .upload(gpu, &tables[q0 * m * 16..(q0 + qn) * m * 16])
                        .clone();
                    let a = bufs
                        .in_c
                        .upload(gpu, bytes_of(&affine[q0..q0 + qn]))
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
                            t.as_entire_binding(),
                            c.as_entire_binding(),
                            a.as_entire_binding(),
                            out.as_entire_binding(),
                        ],
                    );
                    let mut encoder = gpu.encoder();
                    Gpu::dispatch(
                        &mut encoder,
                        &pipeline,
                        &bind,
                        (vn.div_ceil(256) as u32, qn as u32),
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
