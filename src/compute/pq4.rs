//! The 4-bit fast-scan code layout, shared by every backend.
//!
//! Vectors are packed in blocks of `BLOCK` = 32. In a block, sub-quantisers
//! go in pairs `(2p, 2p + 1)`, 32 bytes per pair at offset `32 p`:
//! byte `b < 16` holds `code[b][2p]` (low nibble) and `code[b + 16][2p]`
//! (high nibble); byte `16 + b` holds the same for sub-quantiser `2p + 1`.
//! The per-query table is `m × 16` bytes in sub-quantiser order, so the 32
//! table bytes of pair `p` sit in one 256-bit register beside the 32 code
//! bytes they are looked up with: one `vpshufb` gives 32 partial distances.
use super::QuantizedLut;

pub const BLOCK: usize = 32;

/// Bytes one packed block of 32 vectors takes for `m` sub-quantisers (`m` even).
pub fn block_bytes(m: usize) -> usize {
    BLOCK * m / 2
}

/// Bytes `n` vectors take packed.
pub fn packed_len(n: usize, m: usize) -> usize {
    n.div_ceil(BLOCK) * block_bytes(m)
}

fn position(m_index: usize, slot: usize) -> (usize, bool) {
    let pair = m_index / 2;
    let byte = pair * 32 + (m_index % 2) * 16 + slot % 16;
    (byte, slot >= 16)
}

/// Writes the `m` codes (each < 16) of vector `slot` (< 32) into `block`.
pub fn set_codes(block: &mut [u8], slot: usize, codes: &[u8]) {
    for (j, &c) in codes.iter().enumerate() {
        let (byte, high) = position(j, slot);
        block[byte] = if high {
            (block[byte] & 0x0f) | (c << 4)
        } else {
            (block[byte] & 0xf0) | (c & 0x0f)
        };
    }
}

/// Code of sub-quantiser `j` for vector `slot` of `block`.
#[inline]
pub fn get_code(block: &[u8], slot: usize, j: usize) -> u8 {
    let (byte, high) = position(j, slot);
    if high {
        block[byte] >> 4
    } else {
        block[byte] & 0x0f
    }
}

/// Quantises a float table (`m × 16`, distances) to bytes: each column is
/// shifted by its minimum, and one scale maps the widest column onto 0..=255,
/// so a sum over `m ≤ 256` columns fits in 16 bits.
pub fn quantize_lut(lut: &[f32], m: usize) -> QuantizedLut {
    assert_eq!(lut.len(), m * 16);
    let mins: Vec<f32> = lut
        .chunks_exact(16)
        .map(|c| c.iter().copied().fold(f32::INFINITY, f32::min))
        .collect();
    let span = lut
        .chunks_exact(16)
        .zip(&mins)
        .map(|(c, &lo)| c.iter().copied().fold(f32::NEG_INFINITY, f32::max) - lo)
        .fold(0f32, f32::max);
    let scale = if span > 0.0 { 255.0 / span } else { 1.0 };
    let table = lut
        .chunks_exact(16)
        .zip(&mins)
        .flat_map(|(c, &lo)| {
            c.iter()
                .map(move |&v| ((v - lo) * scale).round().clamp(0.0, 255.0) as u8)
        })
        .collect();
    QuantizedLut {
        table,
        sum_min: mins.iter().sum(),
        inv_scale: 1.0 / scale,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_then_get_round_trips() {
        let m = 6;
        let mut block = vec![0u8; block_bytes(m)];
        let code = |slot: usize, j: usize| ((slot * 7 + j * 3) % 16) as u8;
        for slot in 0..BLOCK {
            let codes: Vec<u8> = (0..m).map(|j| code(slot, j)).collect();
            set_codes(&mut block, slot, &codes);
        }
        for slot in 0..BLOCK {
            for j in 0..m {
                assert_eq!(get_code(&block, slot, j), code(slot, j));
            }
        }
    }

    #[test]
    fn quantised_table_tracks_the_float_one() {
        let lut: Vec<f32> = (0..64)
            .map(|i| ((i * 37) % 23) as f32 * 0.1 - 1.0)
            .collect();
        let q = quantize_lut(&lut, 4);
        for j in 0..4 {
            for c in 0..16 {
                let approx = q.table[j * 16 + c] as f32 * q.inv_scale;
                let exact = lut[j * 16 + c]
                    - lut[j * 16..j * 16 + 16]
                        .iter()
                        .copied()
                        .fold(f32::INFINITY, f32::min);
                assert!((approx - exact).abs() <= q.inv_scale * 0.5 + 1e-6);
            }
        }
    }
}
