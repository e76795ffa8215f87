//! Product-quantiser look-up tables and the 8-bit ADC scan.
use super::{Isa, dist};
use crate::compute::{Metric, TopKHeap};

/// `out[j * ksub + c]` = distance of sub-vector `j` of `query` to code word `c`.
pub fn lut(
    isa: Isa,
    metric: Metric,
    query: &[f32],
    codebooks: &[f32],
    m: usize,
    ksub: usize,
    out: &mut [f32],
) {
    let dsub = query.len() / m;
    assert!(dsub * m == query.len() && codebooks.len() == m * ksub * dsub && out.len() == m * ksub);
    for j in 0..m {
        let q = &query[j * dsub..(j + 1) * dsub];
        let book = &codebooks[j * ksub * dsub..(j + 1) * ksub * dsub];
        for (o, w) in out[j * ksub..(j + 1) * ksub]
            .iter_mut()
            .zip(book.chunks_exact(dsub))
        {
            *o = dist::dist_f32(isa, metric, q, w);
        }
    }
}

/// Distance of each `m`-byte code = `bias + Σ_j lut[j * 256 + code_j]`.
/// Table look-ups by byte do not vectorise well without gathers; four
/// independent sums keep the loads in flight.
pub fn scan_pq8(
    lut: &[f32],
    m: usize,
    codes: &[u8],
    labels: &[u64],
    bias: f32,
    heap: &mut TopKHeap,
) {
    assert!(lut.len() == m * 256 && codes.len() >= labels.len() * m);
    let mut thr = heap.threshold();
    for (code, &label) in codes.chunks_exact(m).zip(labels) {
        let mut s = [0f32; 4];
        let mut j = 0;
        while j + 4 <= m {
            for (l, acc) in s.iter_mut().enumerate() {
                *acc += lut[(j + l) * 256 + code[j + l] as usize];
            }
            j += 4;
        }
        let tail: f32 = (j..m).map(|t| lut[t * 256 + code[t] as usize]).sum();
        let d = bias + (s[0] + s[1]) + (s[2] + s[3]) + tail;
        if d < thr {
            heap.push(d, label);
            thr = heap.threshold();
        }
    }
}
