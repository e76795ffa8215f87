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
pub fn scan_pq8(lut: &[f32], m: usize, codes: &[u8], label0: u64, bias: f32, heap: &mut TopKHeap) {
    assert!(lut.len() == m * 256);
    let mut thr = heap.threshold();
    for (i, code) in codes.chunks_exact(m).enumerate() {
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
            heap.push(d, label0 + i as u64);
            thr = heap.threshold();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::rng::Rng;

    #[test]
    fn pq8_scan_matches_a_naive_reference_on_the_same_codes() {
        let mut rng = Rng::new(41);
        let (m, n, k) = (7, 500, 20);
        let lut: Vec<f32> = (0..m * 256).map(|_| rng.normal()).collect();
        let codes: Vec<u8> = (0..n * m).map(|_| rng.below(256) as u8).collect();
        let mut heap = TopKHeap::new(k);
        scan_pq8(&lut, m, &codes, 100, -1.0, &mut heap);
        let mut want: Vec<(f64, u64)> = codes
            .chunks_exact(m)
            .zip(100u64..)
            .map(|(c, l)| {
                (
                    -1.0 + c
                        .iter()
                        .enumerate()
                        .map(|(j, &v)| lut[j * 256 + v as usize] as f64)
                        .sum::<f64>(),
                    l,
                )
            })
            .collect();
        want.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (g, w) in heap.into_sorted().iter().zip(&want[..k]) {
            assert!((g.0 as f64 - w.0).abs() < 1e-4, "{g:?} vs {w:?}");
        }
    }

    #[test]
    fn lut_rows_are_sub_vector_distances() {
        let mut rng = Rng::new(43);
        let (m, ksub, dsub) = (4, 16, 3);
        let q = rng.uniform_vec(m * dsub);
        let books = rng.uniform_vec(m * ksub * dsub);
        for metric in [Metric::InnerProduct, Metric::L2] {
            let mut out = vec![0f32; m * ksub];
            lut(Isa::detect(), metric, &q, &books, m, ksub, &mut out);
            for j in 0..m {
                for c in 0..ksub {
                    let w = &books[(j * ksub + c) * dsub..][..dsub];
                    let x = &q[j * dsub..(j + 1) * dsub];
                    let want = dist::dist_f32(Isa::Scalar, metric, x, w);
                    assert!((out[j * ksub + c] - want).abs() < 1e-5);
                }
            }
        }
    }
}
