//! Drives `shaders/scan_pq8.wgsl`: the 8-bit ADC scan of one list for a batch of queries,
//! followed on the device by the per-query top-k; only `k` results per query come back.
//! The chunked driver here ([`scan_list`]) also serves the 4-bit fast-scan.
use super::context::Gpu;
use super::select_topk::{self, Rows};
use super::{GpuBackend, GpuError, bytes_of};
use crate::compute::TopKHeap;

const SOURCE: &str = include_str!("../../../shaders/scan_pq8.wgsl");

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    nq: u32,
    n: u32,
    m: u32,
    _pad: u32,
}

/// One scan kernel over one list, and how its inputs are cut into chunks.
pub(super) struct ListScan<'a> {
    pub source: &'static str,
    pub entry: &'static str,
    pub m: usize,
    /// Vectors a workgroup scans.
    pub per_group: usize,
    /// Vector chunks are multiples of this (a block of packed codes, or a word).
    pub align: usize,
    /// Bytes of codes per vector (the chunk size bound).
    pub code_bytes_per_vector: usize,
    /// Per query, its table bytes and its extra values (bias, scale…), for queries `q0..q1`.
    pub tables: &'a dyn Fn(usize, usize) -> &'a [u8],
    pub extras: &'a dyn Fn(usize, usize) -> &'a [u8],
    /// The packed codes of vectors `v0..v1` (`v0` a multiple of `align`).
    pub codes: &'a dyn Fn(usize, usize) -> &'a [u8],
    /// Table bytes of one query.
    pub table_bytes: usize,
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

impl GpuBackend {
    /// Runs `scan` over the list (`n` vectors labelled from `label0`) for every query of
    /// the batch, in chunks that fit the bindings, and pushes each query's device top-k
    /// into its heap.
    pub(super) fn scan_list(
        &self,
        scan: &ListScan<'_>,
        (n, label0): (usize, u64),
        heaps: &mut [TopKHeap],
    ) -> Result<(), GpuError> {
        let nq = heaps.len();
        let k = common_k(heaps)?;
        if nq == 0 || n == 0 || k == 0 || scan.m == 0 {
            return Ok(());
        }
        self.with_buffers(|gpu, bufs| {
            let pipeline = gpu.pipeline(scan.source, scan.entry, 0)?;
            let limit = gpu.binding_limit as usize;
            let groups = gpu.max_groups as usize;
            // Codes and the qc × nc distances must each fit one binding.
            let align = scan.align;
            let by_codes = limit / scan.code_bytes_per_vector.max(4) / align * align;
            let nc = by_codes
                .min(groups * scan.per_group / align * align)
                .min(n.next_multiple_of(align));
            if nc == 0 || scan.table_bytes > limit {
                return Err(GpuError::TooLarge {
                    what: "one query's table or one block of codes",
                    limit: gpu.binding_limit,
                });
            }
            let qc = nq
                .min(limit / scan.table_bytes.max(4))
                .min(limit / (4 * nc))
                .min(groups)
                .max(1);
            for v0 in (0..n).step_by(nc) {
                let vn = nc.min(n - v0);
                let c = bufs.in_b.upload(gpu, (scan.codes)(v0, v0 + vn)).clone();
                for q0 in (0..nq).step_by(qc) {
                    let qn = qc.min(nq - q0);
                    let t = bufs.in_a.upload(gpu, (scan.tables)(q0, q0 + qn)).clone();
                    let e = bufs.in_c.upload(gpu, (scan.extras)(q0, q0 + qn)).clone();
                    let params = Params {
                        nq: qn as u32,
                        n: vn as u32,
                        m: scan.m as u32,
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
                            e.as_entire_binding(),
                            out.as_entire_binding(),
                        ],
                    );
                    let mut encoder = gpu.encoder();
                    let grid = (vn.div_ceil(scan.per_group) as u32, qn as u32);
                    Gpu::dispatch(&mut encoder, &pipeline, &bind, grid);
                    let sel = Rows {
                        rows: qn,
                        n: vn,
                        k,
                        larger_is_better: false,
                    };
                    let best = select_topk::run(gpu, bufs, encoder, &out, sel)?;
                    for (heap, row) in heaps[q0..q0 + qn].iter_mut().zip(best) {
                        for (d, i) in row {
                            heap.push(d, label0 + (v0 + i as usize) as u64);
                        }
                    }
                }
            }
            Ok(())
        })
    }

    /// `Backend::scan_pq8` for `nq` queries over the same list: `luts` is `nq × m × 256`,
    /// `biases` and `heaps` one per query.
    pub fn scan_pq8_batch(
        &self,
        luts: &[f32],
        m: usize,
        codes: &[u8],
        list: (usize, u64),
        biases: &[f32],
        heaps: &mut [TopKHeap],
    ) -> Result<(), GpuError> {
        let table = m * 256;
        let scan = ListScan {
            source: SOURCE,
            entry: "scan_pq8",
            m,
            per_group: 1024,
            // Chunks of 4 vectors start on a word of codes whatever m is.
            align: 4,
            code_bytes_per_vector: m,
            tables: &|q0, q1| bytes_of(&luts[q0 * table..q1 * table]),
            extras: &|q0, q1| bytes_of(&biases[q0..q1]),
            codes: &|v0, v1| &codes[v0 * m..v1 * m],
            table_bytes: table * 4,
        };
        self.scan_list(&scan, list, heaps)
    }
}
