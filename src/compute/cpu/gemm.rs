//! Blocked inner-product kernel: up to `MR` query rows against one packed
//! panel of `NR` base rows. Packing the base rows transposed (`dim × NR`)
//! lets the micro-kernel keep a `rows × NR` tile of sums in registers and do
//! one broadcast, `NR / lanes` loads and `rows × NR / lanes` FMAs per
//! component: the outer-product form of a GEMM, no horizontal sums.
use super::Isa;

/// Base rows per packed panel.
pub const NR: usize = 32;
/// Query rows per call of `panel_ip`.
pub const MR: usize = 8;

/// Packs `rows` (n×dim, n ≤ NR) into `panel` (dim×NR; missing rows are zero).
pub fn pack_panel(rows: &[f32], dim: usize, panel: &mut [f32]) {
    debug_assert_eq!(panel.len(), dim * NR);
    let n = rows.len() / dim;
    debug_assert!(n <= NR);
    panel.fill(0.0);
    for (r, row) in rows.chunks_exact(dim).enumerate() {
        for (d, &v) in row.iter().enumerate() {
            panel[d * NR + r] = v;
        }
    }
}

/// `out[i * ldo + j] = <q_i, panel row j>` for `i < nrows` (≤ MR), `j < ncols` (≤ NR).
/// `queries` holds the `nrows` query rows (stride `dim`).
#[allow(clippy::too_many_arguments)]
pub fn panel_ip(
    isa: Isa,
    queries: &[f32],
    nrows: usize,
    dim: usize,
    panel: &[f32],
    ncols: usize,
    out: &mut [f32],
    ldo: usize,
) {
    assert!(nrows <= MR && ncols <= NR && queries.len() >= nrows * dim && panel.len() >= dim * NR);
    assert!(nrows == 0 || out.len() >= (nrows - 1) * ldo + ncols);
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` was detected at run time (`Isa::detect`) and the slice
        // bounds the kernel touches were asserted above.
        Isa::Avx512 => unsafe { x86::panel_ip_avx512(queries, nrows, dim, panel, ncols, out, ldo) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { x86::panel_ip_avx2(queries, nrows, dim, panel, ncols, out, ldo) },
        _ => panel_ip_scalar(queries, nrows, dim, panel, ncols, out, ldo),
    }
}

/// The portable twin of the SIMD kernels.
fn panel_ip_scalar(
    queries: &[f32],
    nrows: usize,
    dim: usize,
    panel: &[f32],
    ncols: usize,
    out: &mut [f32],
    ldo: usize,
) {
    for i in 0..nrows {
        let q = &queries[i * dim..(i + 1) * dim];
        let mut acc = [0f32; NR];
        for (d, &qv) in q.iter().enumerate() {
            for (a, &p) in acc.iter_mut().zip(&panel[d * NR..(d + 1) * NR]) {
                *a += qv * p;
            }
        }
        out[i * ldo..i * ldo + ncols].copy_from_slice(&acc[..ncols]);
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{MR, NR};
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn panel_ip_avx512(
        q: &[f32],
        nrows: usize,
        dim: usize,
        panel: &[f32],
        ncols: usize,
        out: &mut [f32],
        ldo: usize,
    ) {
        // SAFETY: the caller checked every bound; each kernel call reads
        // `nrows` query rows and the `dim × NR` panel.
        unsafe {
            macro_rules! call {
                ($r:literal) => {
                    tile_avx512::<$r>(
                        q.as_ptr(),
                        dim,
                        panel.as_ptr(),
                        ncols,
                        out.as_mut_ptr(),
                        ldo,
                    )
                };
            }
            match nrows {
                0 => {}
                1 => call!(1),
                2 => call!(2),
                3 => call!(3),
                4 => call!(4),
                5 => call!(5),
                6 => call!(6),
                7 => call!(7),
                _ => call!(8),
            }
        }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn tile_avx512<const R: usize>(
        q: *const f32,
        dim: usize,
        panel: *const f32,
        ncols: usize,
        out: *mut f32,
        ldo: usize,
    ) {
        const { assert!(R <= MR) };
        // SAFETY: pointers are in bounds per `panel_ip`'s assertions.
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); 2]; R];
            for d in 0..dim {
                let b0 = _mm512_loadu_ps(panel.add(d * NR));
                let b1 = _mm512_loadu_ps(panel.add(d * NR + 16));
                for (i, a) in acc.iter_mut().enumerate() {
                    let x = _mm512_set1_ps(*q.add(i * dim + d));
                    a[0] = _mm512_fmadd_ps(x, b0, a[0]);
                    a[1] = _mm512_fmadd_ps(x, b1, a[1]);
                }
            }
            let m0 = if ncols >= 16 {
                0xffff
            } else {
                (1u32 << ncols) as u16 - 1
            } as __mmask16;
            let m1 = if ncols >= 32 {
                0xffff
            } else if ncols > 16 {
                ((1u32 << (ncols - 16)) - 1) as u16
            } else {
                0
            } as __mmask16;
            for (i, a) in acc.iter().enumerate() {
                let o = out.add(i * ldo);
                _mm512_mask_storeu_ps(o, m0, a[0]);
                _mm512_mask_storeu_ps(o.add(16), m1, a[1]);
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn panel_ip_avx2(
        q: &[f32],
        nrows: usize,
        dim: usize,
        panel: &[f32],
        ncols: usize,
        out: &mut [f32],
        ldo: usize,
    ) {
        // 16 ymm registers: a tile is at most 6 rows × 16 columns (12 sums).
        let mut tmp = [0f32; 6 * 16];
        for half in 0..2 {
            let c0 = half * 16;
            if c0 >= ncols {
                break;
            }
            let cols = (ncols - c0).min(16);
            let mut r0 = 0;
            while r0 < nrows {
                let rows = (nrows - r0).min(6);
                // SAFETY: rows r0..r0+rows of `q` and the panel half are in bounds.
                unsafe {
                    let qp = q.as_ptr().add(r0 * dim);
                    let pp = panel.as_ptr().add(c0);
                    macro_rules! call {
                        ($r:literal) => {
                            tile_avx2::<$r>(qp, dim, pp, tmp.as_mut_ptr())
                        };
                    }
                    match rows {
                        1 => call!(1),
                        2 => call!(2),
                        3 => call!(3),
                        4 => call!(4),
                        5 => call!(5),
                        _ => call!(6),
                    }
                }
                for i in 0..rows {
                    let o = (r0 + i) * ldo + c0;
                    out[o..o + cols].copy_from_slice(&tmp[i * 16..i * 16 + cols]);
                }
                r0 += rows;
            }
        }
    }

    /// `R` rows × 16 columns of the panel starting at `panel` (row stride NR); writes `R × 16` to `tmp`.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile_avx2<const R: usize>(
        q: *const f32,
        dim: usize,
        panel: *const f32,
        tmp: *mut f32,
    ) {
        // SAFETY: pointers are in bounds per the caller.
        unsafe {
            let mut acc = [[_mm256_setzero_ps(); 2]; R];
            for d in 0..dim {
                let b0 = _mm256_loadu_ps(panel.add(d * NR));
                let b1 = _mm256_loadu_ps(panel.add(d * NR + 8));
                for (i, a) in acc.iter_mut().enumerate() {
                    let x = _mm256_set1_ps(*q.add(i * dim + d));
                    a[0] = _mm256_fmadd_ps(x, b0, a[0]);
                    a[1] = _mm256_fmadd_ps(x, b1, a[1]);
                }
            }
            for (i, a) in acc.iter().enumerate() {
                _mm256_storeu_ps(tmp.add(i * 16), a[0]);
                _mm256_storeu_ps(tmp.add(i * 16 + 8), a[1]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::rng::Rng;

    #[test]
    fn simd_kernels_match_scalar_twin() {
        let mut rng = Rng::new(11);
        for &dim in &[1usize, 7, 16, 33, 128] {
            for &(nrows, ncols) in &[(1usize, 1usize), (3, 17), (8, 32), (6, 31), (7, 16)] {
                let q = rng.uniform_vec(nrows * dim);
                let rows = rng.uniform_vec(ncols * dim);
                let mut panel = vec![0f32; dim * NR];
                pack_panel(&rows, dim, &mut panel);
                let mut want = vec![0f32; MR * NR];
                panel_ip_scalar(&q, nrows, dim, &panel, ncols, &mut want, NR);
                for (i, j) in (0..nrows).flat_map(|i| (0..ncols).map(move |j| (i, j))) {
                    let naive: f64 = (0..dim)
                        .map(|d| q[i * dim + d] as f64 * rows[j * dim + d] as f64)
                        .sum();
                    assert!((want[i * NR + j] as f64 - naive).abs() < 1e-4 * (1.0 + naive.abs()));
                }
                for isa in Isa::available() {
                    let mut got = vec![0f32; MR * NR];
                    panel_ip(isa, &q, nrows, dim, &panel, ncols, &mut got, NR);
                    for (i, j) in (0..nrows).flat_map(|i| (0..ncols).map(move |j| (i, j))) {
                        let (a, b) = (got[i * NR + j], want[i * NR + j]);
                        assert!(
                            (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                            "{isa:?} dim {dim} ({i},{j}): {a} vs {b}"
                        );
                    }
                }
            }
        }
    }
}
