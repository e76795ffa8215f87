//! One-pair distance kernels (f32 and f16 rows), used where there is no
//! batch to block over: single-query Flat search, IVF-Flat lists, re-ranking.
use super::Isa;
use crate::compute::Metric;
use half::f16;

/// Distance ("lower is closer") of `a` and `b` under `metric`.
#[inline]
pub fn dist_f32(isa: Isa, metric: Metric, a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    match (isa, metric) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` was detected at run time; lengths are equal (asserted).
        (Isa::Avx512, Metric::InnerProduct) => -unsafe { x86::f32_avx512::<false>(a, b) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        (Isa::Avx512, Metric::L2) => unsafe { x86::f32_avx512::<true>(a, b) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        (Isa::Avx2, Metric::InnerProduct) => -unsafe { x86::f32_avx2::<false>(a, b) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        (Isa::Avx2, Metric::L2) => unsafe { x86::f32_avx2::<true>(a, b) },
        (_, Metric::InnerProduct) => -scalar::<false, _>(a, b, |x| x),
        (_, Metric::L2) => scalar::<true, _>(a, b, |x| x),
    }
}

/// Distance of `a` (f32) and `b` (f16) under `metric`.
#[inline]
pub fn dist_f16(isa: Isa, metric: Metric, a: &[f32], b: &[f16]) -> f32 {
    assert_eq!(a.len(), b.len());
    match (isa, metric) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` was detected at run time; lengths are equal (asserted).
        (Isa::Avx512, Metric::InnerProduct) => -unsafe { x86::f16_avx512::<false>(a, b) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        (Isa::Avx512, Metric::L2) => unsafe { x86::f16_avx512::<true>(a, b) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        (Isa::Avx2, Metric::InnerProduct) => -unsafe { x86::f16_avx2::<false>(a, b) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        (Isa::Avx2, Metric::L2) => unsafe { x86::f16_avx2::<true>(a, b) },
        (_, Metric::InnerProduct) => -scalar::<false, _>(a, b, f16::to_f32),
        (_, Metric::L2) => scalar::<true, _>(a, b, f16::to_f32),
    }
}

/// Σ a·b, or Σ (a−b)² when `L2`.
fn scalar<const L2: bool, T: Copy>(a: &[f32], b: &[T], widen: impl Fn(T) -> f32) -> f32 {
    let mut acc = [0f32; 8];
    let mut i = 0;
    while i + 8 <= a.len() {
        for l in 0..8 {
            acc[l] += term::<L2>(a[i + l], widen(b[i + l]));
        }
        i += 8;
    }
    let tail: f32 = (i..a.len()).map(|j| term::<L2>(a[j], widen(b[j]))).sum();
    acc.iter().sum::<f32>() + tail
}

#[inline]
fn term<const L2: bool>(x: f32, y: f32) -> f32 {
    if L2 { (x - y) * (x - y) } else { x * y }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::term;
    use half::f16;
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f")]
    #[inline]
    fn fma512<const L2: bool>(x: __m512, y: __m512, acc: __m512) -> __m512 {
        if L2 {
            let d = _mm512_sub_ps(x, y);
            _mm512_fmadd_ps(d, d, acc)
        } else {
            _mm512_fmadd_ps(x, y, acc)
        }
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn fma256<const L2: bool>(x: __m256, y: __m256, acc: __m256) -> __m256 {
        if L2 {
            let d = _mm256_sub_ps(x, y);
            _mm256_fmadd_ps(d, d, acc)
        } else {
            _mm256_fmadd_ps(x, y, acc)
        }
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn hsum256(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn f32_avx512<const L2: bool>(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len();
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let (mut s0, mut s1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        let mut i = 0;
        // SAFETY: every load reads 16 values at i < n - 15 of equally long slices.
        unsafe {
            while i + 32 <= n {
                s0 = fma512::<L2>(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)), s0);
                s1 = fma512::<L2>(
                    _mm512_loadu_ps(pa.add(i + 16)),
                    _mm512_loadu_ps(pb.add(i + 16)),
                    s1,
                );
                i += 32;
            }
            while i + 16 <= n {
                s0 = fma512::<L2>(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)), s0);
                i += 16;
            }
        }
        let tail: f32 = (i..n).map(|j| term::<L2>(a[j], b[j])).sum();
        _mm512_reduce_add_ps(_mm512_add_ps(s0, s1)) + tail
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn f32_avx2<const L2: bool>(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len();
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut i = 0;
        // SAFETY: every load reads 8 values at i < n - 7 of equally long slices.
        unsafe {
            while i + 16 <= n {
                s0 = fma256::<L2>(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), s0);
                s1 = fma256::<L2>(
                    _mm256_loadu_ps(pa.add(i + 8)),
                    _mm256_loadu_ps(pb.add(i + 8)),
                    s1,
                );
                i += 16;
            }
            while i + 8 <= n {
                s0 = fma256::<L2>(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), s0);
                i += 8;
            }
        }
        let tail: f32 = (i..n).map(|j| term::<L2>(a[j], b[j])).sum();
        hsum256(_mm256_add_ps(s0, s1)) + tail
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn f16_avx512<const L2: bool>(a: &[f32], b: &[f16]) -> f32 {
        let n = a.len();
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut s0 = _mm512_setzero_ps();
        let mut i = 0;
        // SAFETY: each step reads 16 f32 and 16 f16 at i < n - 15; f16 is a plain u16.
        unsafe {
            while i + 16 <= n {
                let y = _mm512_cvtph_ps(_mm256_loadu_si256(pb.add(i) as *const __m256i));
                s0 = fma512::<L2>(_mm512_loadu_ps(pa.add(i)), y, s0);
                i += 16;
            }
        }
        let tail: f32 = (i..n).map(|j| term::<L2>(a[j], b[j].to_f32())).sum();
        _mm512_reduce_add_ps(s0) + tail
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn f16_avx2<const L2: bool>(a: &[f32], b: &[f16]) -> f32 {
        let n = a.len();
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut s0 = _mm256_setzero_ps();
        let mut i = 0;
        // SAFETY: each step reads 8 f32 and 8 f16 at i < n - 7; f16 is a plain u16.
        unsafe {
            while i + 8 <= n {
                let y = _mm256_cvtph_ps(_mm_loadu_si128(pb.add(i) as *const __m128i));
                s0 = fma256::<L2>(_mm256_loadu_ps(pa.add(i)), y, s0);
                i += 8;
            }
        }
        let tail: f32 = (i..n).map(|j| term::<L2>(a[j], b[j].to_f32())).sum();
        hsum256(s0) + tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::rng::Rng;

    #[test]
    fn simd_kernels_match_scalar_twin() {
        let mut rng = Rng::new(5);
        for &n in &[0usize, 1, 7, 8, 15, 16, 31, 33, 128, 515] {
            let a = rng.uniform_vec(n);
            let b = rng.uniform_vec(n);
            let bh: Vec<f16> = b.iter().map(|&x| f16::from_f32(x)).collect();
            for metric in [Metric::InnerProduct, Metric::L2] {
                let want = dist_f32(Isa::Scalar, metric, &a, &b);
                let want_h = dist_f16(Isa::Scalar, metric, &a, &bh);
                let naive: f64 = a
                    .iter()
                    .zip(&b)
                    .map(|(&x, &y)| match metric {
                        Metric::InnerProduct => -(x as f64 * y as f64),
                        Metric::L2 => (x as f64 - y as f64).powi(2),
                    })
                    .sum();
                assert!((want as f64 - naive).abs() < 1e-4 * (1.0 + naive.abs()));
                for isa in Isa::available() {
                    let got = dist_f32(isa, metric, &a, &b);
                    assert!(
                        (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                        "{isa:?} {metric:?} n={n}"
                    );
                    let got_h = dist_f16(isa, metric, &a, &bh);
                    assert!(
                        (got_h - want_h).abs() <= 1e-4 * (1.0 + want_h.abs()),
                        "f16 {isa:?} {metric:?} n={n}"
                    );
                }
            }
        }
    }
}
