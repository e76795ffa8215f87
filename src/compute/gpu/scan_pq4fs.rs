//! Drives `shaders/scan_pq4fs.wgsl`: the 4-bit fast-scan of one list for a batch of
//! queries, on the CPU's packed layout, followed on the device by the per-query top-k.
use super::scan_pq8::ListScan;
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
        list: (usize, u64),
        biases: &[f32],
        heaps: &mut [TopKHeap],
    ) -> Result<(), GpuError> {
        if !m.is_multiple_of(2) || m > MAX_M {
            return Err(GpuError::Unsupported(format!(
                "fast-scan with m = {m} (even, at most {MAX_M})"
            )));
        }
        let tables: Vec<u8> = luts.iter().flat_map(|l| l.table.iter().copied()).collect();
        let affine: Vec<[f32; 2]> = luts
            .iter()
            .zip(biases)
            .map(|(l, &b)| [b + l.sum_min, l.inv_scale])
            .collect();
        let block = pq4::block_bytes(m);
        let scan = ListScan {
            source: SOURCE,
            entry: "scan_pq4fs",
            m,
            per_group: 256,
            align: pq4::BLOCK,
            code_bytes_per_vector: block.div_ceil(pq4::BLOCK),
            tables: &|q0, q1| &tables[q0 * m * 16..q1 * m * 16],
            extras: &|q0, q1| bytes_of(&affine[q0..q1]),
            codes: &|v0, v1| {
                &codes
                    [v0 / pq4::BLOCK * block..v0 / pq4::BLOCK * block + pq4::packed_len(v1 - v0, m)]
            },
            table_bytes: m * 16,
        };
        self.scan_list(&scan, list, heaps)
    }
}
