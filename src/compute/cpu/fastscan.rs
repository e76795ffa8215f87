//! The 4-bit fast-scan: per block of 32 vectors, 16-bit sums of byte table
//! entries looked up in registers (`vpshufb`), then a SIMD compare against the
//! heap's threshold so that only the few vectors that can enter are decoded.
use super::Isa;
use crate::compute::pq4::{self, BLOCK};
use crate::compute::{QuantizedLut, TopKHeap};

/// Scans `labels.len()` vectors packed in `codes` (see `compute::pq4`).
#[allow(clippy::too_many_arguments)]
pub fn scan(
    isa: Isa,
    lut: &QuantizedLut,
    m: usize,
    codes: &[u8],
    n: usize,
    label0: u64,
    bias: f32,
    heap: &mut TopKHeap,
) {
    assert!(
        m.is_multiple_of(2) && m <= 256 && lut.table.len() == m * 16,
        "fast-scan needs an even m ≤ 256"
    );
    assert!(codes.len() >= pq4::packed_len(n, m));
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: detected at run time; table and code sizes were asserted above.
        Isa::Avx512 => unsafe { x86::scan_avx512(lut, m, codes, n, label0, bias, heap) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { x86::scan_avx2(lut, m, codes, n, label0, bias, heap) },
        _ => scan_with(lut, m, codes, n, label0, bias, heap, block_scalar),
    }
}

/// The scan loop around one block kernel; inlined into each instruction-set
/// wrapper so that the kernel inlines too.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn scan_with(
    lut: &QuantizedLut,
    m: usize,
    codes: &[u8],
    n: usize,
    label0: u64,
    bias: f32,
    heap: &mut TopKHeap,
    kernel: impl Fn(&[u8], usize, &[u8], u16, &mut [u16; BLOCK]) -> u32,
) {
    let bb = pq4::block_bytes(m);
    let base = bias + lut.sum_min;
    let mut sums = [0u16; BLOCK];
    for b in 0..n.div_ceil(BLOCK) {
        let in_block = (n - b * BLOCK).min(BLOCK);
        let t = (heap.threshold() - base) / lut.inv_scale;
        if t < 0.0 {
            break; // thresholds only fall: nothing later in this list can enter
        }
        let thr = if t >= 65535.0 { u16::MAX } else { t as u16 };
        let block = &codes[b * bb..(b + 1) * bb];
        let mut mask = kernel(&lut.table, m, block, thr, &mut sums);
        if in_block < BLOCK {
            mask &= (1u32 << in_block) - 1;
        }
        while mask != 0 {
            let v = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            heap.push(
                base + sums[v] as f32 * lut.inv_scale,
                label0 + (b * BLOCK + v) as u64,
            );
        }
    }
}

/// Sums of one block into `sums`; returns the mask of slots whose sum is ≤ `thr`.
#[cfg(test)]
fn block_sums(
    isa: Isa,
    table: &[u8],
    m: usize,
    block: &[u8],
    thr: u16,
    sums: &mut [u16; BLOCK],
) -> u32 {
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: detected at run time; `table` is m×16 and `block` 16·m bytes (checked by `scan`).
        Isa::Avx512 => unsafe { x86::block_avx512(table, m, block, thr, sums) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { x86::block_avx2(table, m, block, thr, sums) },
        _ => block_scalar(table, m, block, thr, sums),
    }
}

/// The portable twin: decode every nibble, add its table entry.
fn block_scalar(table: &[u8], m: usize, block: &[u8], thr: u16, sums: &mut [u16; BLOCK]) -> u32 {
    let mut mask = 0;
    for (slot, s) in sums.iter_mut().enumerate() {
        *s = (0..m)
            .map(|j| table[j * 16 + pq4::get_code(block, slot, j) as usize] as u16)
            .sum();
        if *s <= thr {
            mask |= 1 << slot;
        }
    }
    mask
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{BLOCK, scan_with};
    use crate::compute::{QuantizedLut, TopKHeap};
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn scan_avx512(
        lut: &QuantizedLut,
        m: usize,
        codes: &[u8],
        n: usize,
        label0: u64,
        bias: f32,
        heap: &mut TopKHeap,
    ) {
        // SAFETY: `scan` checked the table and code sizes each block kernel reads.
        scan_with(
            lut,
            m,
            codes,
            n,
            label0,
            bias,
            heap,
            |t, m, b, thr, s| unsafe { block_avx512(t, m, b, thr, s) },
        )
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn scan_avx2(
        lut: &QuantizedLut,
        m: usize,
        codes: &[u8],
        n: usize,
        label0: u64,
        bias: f32,
        heap: &mut TopKHeap,
    ) {
        // SAFETY: as above.
        scan_with(
            lut,
            m,
            codes,
            n,
            label0,
            bias,
            heap,
            |t, m, b, thr, s| unsafe { block_avx2(t, m, b, thr, s) },
        )
    }

    /// Accumulators: `lo_a`/`lo_b` for slots 0..16, `hi_a`/`hi_b` for 16..32.
    /// A byte-pair word added as u16 gives `even + 256·odd`; adding the word
    /// shifted right by 8 gives `odd` alone, so `even = a − (b << 8)`.
    struct Acc {
        lo_a: __m256i,
        lo_b: __m256i,
        hi_a: __m256i,
        hi_b: __m256i,
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn step_avx2(acc: &mut Acc, t: __m256i, c: __m256i) {
        let mask = _mm256_set1_epi8(0x0f);
        let lo = _mm256_shuffle_epi8(t, _mm256_and_si256(c, mask));
        let hi = _mm256_shuffle_epi8(t, _mm256_and_si256(_mm256_srli_epi16(c, 4), mask));
        acc.lo_a = _mm256_add_epi16(acc.lo_a, lo);
        acc.lo_b = _mm256_add_epi16(acc.lo_b, _mm256_srli_epi16(lo, 8));
        acc.hi_a = _mm256_add_epi16(acc.hi_a, hi);
        acc.hi_b = _mm256_add_epi16(acc.hi_b, _mm256_srli_epi16(hi, 8));
    }

    /// 16 slot sums in order from one half's accumulators: lane 0 holds the
    /// even sub-quantisers, lane 1 the odd ones; add them.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn slot_sums(a: __m256i, b: __m256i) -> __m256i {
        let even = _mm256_sub_epi16(a, _mm256_slli_epi16(b, 8));
        let il = _mm256_unpacklo_epi16(even, b);
        let ih = _mm256_unpackhi_epi16(even, b);
        _mm256_add_epi16(
            _mm256_permute2x128_si256(il, ih, 0x20),
            _mm256_permute2x128_si256(il, ih, 0x31),
        )
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn finish(acc: &Acc, thr: u16, sums: &mut [u16; BLOCK]) -> u32 {
        let s0 = slot_sums(acc.lo_a, acc.lo_b);
        let s1 = slot_sums(acc.hi_a, acc.hi_b);
        // SAFETY: `sums` is 32 u16 = two 256-bit stores.
        unsafe {
            _mm256_storeu_si256(sums.as_mut_ptr() as *mut __m256i, s0);
            _mm256_storeu_si256(sums.as_mut_ptr().add(16) as *mut __m256i, s1);
        }
        let t = _mm256_set1_epi16(thr as i16);
        let le0 = _mm256_cmpeq_epi16(_mm256_min_epu16(s0, t), s0);
        let le1 = _mm256_cmpeq_epi16(_mm256_min_epu16(s1, t), s1);
        // packs interleaves lanes: [le0.l0, le1.l0, le0.l1, le1.l1]; put them back in slot order.
        let packed = _mm256_permute4x64_epi64(_mm256_packs_epi16(le0, le1), 0xd8);
        _mm256_movemask_epi8(packed) as u32
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) unsafe fn block_avx2(
        table: &[u8],
        m: usize,
        block: &[u8],
        thr: u16,
        sums: &mut [u16; BLOCK],
    ) -> u32 {
        let z = _mm256_setzero_si256();
        let mut acc = Acc {
            lo_a: z,
            lo_b: z,
            hi_a: z,
            hi_b: z,
        };
        for p in 0..m / 2 {
            // SAFETY: pair p's 32 bytes lie within `table` (m×16) and `block` (16·m).
            unsafe {
                let t = _mm256_loadu_si256(table.as_ptr().add(p * 32) as *const __m256i);
                let c = _mm256_loadu_si256(block.as_ptr().add(p * 32) as *const __m256i);
                step_avx2(&mut acc, t, c);
            }
        }
        // SAFETY: avx2 is enabled in this function.
        unsafe { finish(&acc, thr, sums) }
    }

    /// Two pairs per 512-bit step (four 128-bit lanes, four sub-quantisers);
    /// the two 256-bit halves hold the same slots, so they fold into the AVX2 sums.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    pub(super) unsafe fn block_avx512(
        table: &[u8],
        m: usize,
        block: &[u8],
        thr: u16,
        sums: &mut [u16; BLOCK],
    ) -> u32 {
        let mask = _mm512_set1_epi8(0x0f);
        let z = _mm512_setzero_si512();
        let (mut lo_a, mut lo_b, mut hi_a, mut hi_b) = (z, z, z, z);
        let npairs = m / 2;
        let mut p = 0;
        while p + 2 <= npairs {
            // SAFETY: pairs p, p+1 (64 bytes) lie within `table` and `block`.
            let (t, c) = unsafe {
                (
                    _mm512_loadu_si512(table.as_ptr().add(p * 32) as *const _),
                    _mm512_loadu_si512(block.as_ptr().add(p * 32) as *const _),
                )
            };
            let lo = _mm512_shuffle_epi8(t, _mm512_and_si512(c, mask));
            let hi = _mm512_shuffle_epi8(t, _mm512_and_si512(_mm512_srli_epi16(c, 4), mask));
            lo_a = _mm512_add_epi16(lo_a, lo);
            lo_b = _mm512_add_epi16(lo_b, _mm512_srli_epi16(lo, 8));
            hi_a = _mm512_add_epi16(hi_a, hi);
            hi_b = _mm512_add_epi16(hi_b, _mm512_srli_epi16(hi, 8));
            p += 2;
        }
        let fold = |v: __m512i| {
            _mm256_add_epi16(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1))
        };
        let mut acc = Acc {
            lo_a: fold(lo_a),
            lo_b: fold(lo_b),
            hi_a: fold(hi_a),
            hi_b: fold(hi_b),
        };
        if p < npairs {
            // SAFETY: the last pair's 32 bytes lie within `table` and `block`.
            unsafe {
                let t = _mm256_loadu_si256(table.as_ptr().add(p * 32) as *const __m256i);
                let c = _mm256_loadu_si256(block.as_ptr().add(p * 32) as *const __m256i);
                step_avx2(&mut acc, t, c);
            }
        }
        // SAFETY: avx2 is implied by avx512f.
        unsafe { finish(&acc, thr, sums) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::rng::Rng;

    fn random_case(rng: &mut Rng, m: usize) -> (Vec<u8>, Vec<u8>) {
        let table: Vec<u8> = (0..m * 16).map(|_| rng.below(256) as u8).collect();
        let mut block = vec![0u8; pq4::block_bytes(m)];
        for slot in 0..BLOCK {
            let codes: Vec<u8> = (0..m).map(|_| rng.below(16) as u8).collect();
            pq4::set_codes(&mut block, slot, &codes);
        }
        (table, block)
    }

    #[test]
    fn full_scans_match_a_naive_reference_on_the_same_codes() {
        let mut rng = Rng::new(31);
        for &(m, n, k) in &[(8usize, 100usize, 10usize), (64, 1000, 50), (16, 31, 40)] {
            let lut: Vec<f32> = (0..m * 16).map(|_| rng.normal()).collect();
            let q = pq4::quantize_lut(&lut, m);
            let codes: Vec<Vec<u8>> = (0..n)
                .map(|_| (0..m).map(|_| rng.below(16) as u8).collect())
                .collect();
            let mut packed = vec![0u8; pq4::packed_len(n, m)];
            let bb = pq4::block_bytes(m);
            for (i, c) in codes.iter().enumerate() {
                pq4::set_codes(
                    &mut packed[i / BLOCK * bb..(i / BLOCK + 1) * bb],
                    i % BLOCK,
                    c,
                );
            }
            let bias = 0.25;
            let mut want: Vec<(f32, u64)> = codes
                .iter()
                .zip(7u64..)
                .map(|(c, l)| {
                    let s: u32 = c
                        .iter()
                        .enumerate()
                        .map(|(j, &v)| q.table[j * 16 + v as usize] as u32)
                        .sum();
                    (bias + q.sum_min + s as f32 * q.inv_scale, l)
                })
                .collect();
            want.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            want.truncate(k);
            for isa in Isa::available() {
                let mut heap = TopKHeap::new(k);
                scan(isa, &q, m, &packed, n, 7, bias, &mut heap);
                let got = heap.into_sorted();
                let d = |v: &[(f32, u64)]| v.iter().map(|x| x.0).collect::<Vec<_>>();
                assert_eq!(d(&got), d(&want), "{isa:?} m={m} n={n}");
            }
        }
    }

    #[test]
    fn simd_block_sums_match_scalar_twin() {
        let mut rng = Rng::new(3);
        for &m in &[2usize, 4, 6, 16, 30, 64, 256] {
            for _ in 0..20 {
                let (table, block) = random_case(&mut rng, m);
                let thr = rng.below(256 * m) as u16;
                let mut want = [0u16; BLOCK];
                let want_mask = block_scalar(&table, m, &block, thr, &mut want);
                for isa in Isa::available() {
                    let mut got = [0u16; BLOCK];
                    let got_mask = block_sums(isa, &table, m, &block, thr, &mut got);
                    assert_eq!((got, got_mask), (want, want_mask), "{isa:?} m={m}");
                }
            }
        }
    }
}
