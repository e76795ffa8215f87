//! Inverted lists: per list, the codes of its vectors then their labels, as
//! FAISS lays them out. The search code sees only the `InvertedLists` trait,
//! so lists can live in memory (`MemoryLists`, here) or in a mapped file.
use super::format::{Reader, Writer};
use crate::compute::pq4;
use crate::error::IndexResult;

/// How codes sit in a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeLayout {
    /// `code_size` bytes per vector, one after another.
    Flat { code_size: usize },
    /// 4-bit codes of `m` sub-quantisers in fast-scan blocks of 32 (`compute::pq4`).
    Packed4 { m: usize },
}

impl CodeLayout {
    /// Bytes per vector of the unpacked codes `append` takes.
    pub fn code_size(&self) -> usize {
        match *self {
            CodeLayout::Flat { code_size } => code_size,
            CodeLayout::Packed4 { m } => m,
        }
    }

    /// Bytes `n` vectors take in a list.
    pub fn stored_len(&self, n: usize) -> usize {
        match *self {
            CodeLayout::Flat { code_size } => n * code_size,
            CodeLayout::Packed4 { m } => pq4::packed_len(n, m),
        }
    }
}

pub trait InvertedLists: Send + Sync {
    fn nlist(&self) -> usize;
    fn layout(&self) -> CodeLayout;
    /// Vectors in list `list`.
    fn list_len(&self, list: usize) -> usize;
    /// The stored codes of list `list` (8-byte aligned; `layout().stored_len(list_len)` bytes).
    fn codes(&self, list: usize) -> &[u8];
    fn labels(&self, list: usize) -> &[u64];
    /// Appends `labels.len()` vectors given as unpacked codes (`code_size` bytes each).
    fn append(&mut self, list: usize, codes: &[u8], labels: &[u64]) -> IndexResult<()>;
}

/// Growable lists in RAM. Codes are kept in `u64` words so that a list of
/// f32 vectors can be read as `f32` without copying.
pub struct MemoryLists {
    layout: CodeLayout,
    codes: Vec<Vec<u64>>,
    labels: Vec<Vec<u64>>,
}

impl MemoryLists {
    pub fn new(nlist: usize, layout: CodeLayout) -> Self {
        Self {
            layout,
            codes: vec![Vec::new(); nlist],
            labels: vec![Vec::new(); nlist],
        }
    }

    fn bytes_mut(&mut self, list: usize, len: usize) -> &mut [u8] {
        let words = &mut self.codes[list];
        words.resize(len.div_ceil(8), 0);
        // SAFETY: u64 storage viewed as bytes: no alignment or validity concern, length within the allocation.
        unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr() as *mut u8, len) }
    }

    /// Reads lists written by `write_lists`.
    pub fn read(r: &mut Reader, nlist: usize, layout: CodeLayout) -> IndexResult<Self> {
        r.expect(b"ILmm")?;
        let stored = r.usize()?;
        if stored != nlist {
            return Err(r.corrupt(format!(
                "{stored} inverted lists where the index has {nlist}"
            )));
        }
        let mut lists = Self::new(nlist, layout);
        for list in 0..nlist {
            let labels = r.u64s(None)?;
            let codes = r.u8s(Some(layout.stored_len(labels.len())))?;
            lists.bytes_mut(list, codes.len()).copy_from_slice(&codes);
            lists.labels[list] = labels;
        }
        Ok(lists)
    }
}

impl InvertedLists for MemoryLists {
    fn nlist(&self) -> usize {
        self.labels.len()
    }
    fn layout(&self) -> CodeLayout {
        self.layout
    }
    fn list_len(&self, list: usize) -> usize {
        self.labels[list].len()
    }
    fn codes(&self, list: usize) -> &[u8] {
        let len = self.layout.stored_len(self.labels[list].len());
        let words = &self.codes[list];
        // SAFETY: u64 storage viewed as bytes; `len` ≤ 8 · words.len() as maintained by `append`.
        unsafe { std::slice::from_raw_parts(words.as_ptr() as *const u8, len) }
    }
    fn labels(&self, list: usize) -> &[u64] {
        &self.labels[list]
    }
    fn append(&mut self, list: usize, codes: &[u8], labels: &[u64]) -> IndexResult<()> {
        let cs = self.layout.code_size();
        assert_eq!(codes.len(), labels.len() * cs, "one code per label");
        let old = self.labels[list].len();
        let new = old + labels.len();
        let layout = self.layout;
        let bytes = self.bytes_mut(list, layout.stored_len(new));
        match layout {
            CodeLayout::Flat { .. } => bytes[old * cs..].copy_from_slice(codes),
            CodeLayout::Packed4 { m } => {
                let bb = pq4::block_bytes(m);
                for (i, code) in codes.chunks_exact(cs).enumerate() {
                    let slot = old + i;
                    let block = slot / pq4::BLOCK;
                    pq4::set_codes(
                        &mut bytes[block * bb..(block + 1) * bb],
                        slot % pq4::BLOCK,
                        code,
                    );
                }
            }
        }
        self.labels[list].extend_from_slice(labels);
        Ok(())
    }
}

/// Writes any lists in the format `MemoryLists::read` reads.
pub fn write_lists<W: std::io::Write>(w: &mut Writer<W>, lists: &dyn InvertedLists) {
    w.fourcc(b"ILmm");
    w.usize(lists.nlist());
    for list in 0..lists.nlist() {
        w.u64s(lists.labels(list));
        w.u8s(lists.codes(list));
    }
}

/// Views 8-byte-aligned list bytes as f32 values.
pub fn as_f32s(bytes: &[u8]) -> &[f32] {
    // SAFETY: every bit pattern is a valid f32; `align_to` only yields the aligned middle part.
    let (head, body, tail) = unsafe { bytes.align_to::<f32>() };
    assert!(
        head.is_empty() && tail.is_empty(),
        "list codes must be 4-byte aligned and whole f32s"
    );
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_in_pieces_equal_one_append() {
        let m = 4;
        let codes: Vec<u8> = (0..70 * m).map(|i| (i * 5 % 16) as u8).collect();
        let labels: Vec<u64> = (0..70).collect();
        let mut one = MemoryLists::new(2, CodeLayout::Packed4 { m });
        one.append(1, &codes, &labels).unwrap();
        let mut pieces = MemoryLists::new(2, CodeLayout::Packed4 { m });
        for (c, l) in codes.chunks(13 * m).zip(labels.chunks(13)) {
            pieces.append(1, c, l).unwrap();
        }
        assert_eq!(one.codes(1), pieces.codes(1));
        assert_eq!(one.labels(1), pieces.labels(1));
        assert_eq!(pieces.list_len(0), 0);
        for (i, code) in codes.chunks_exact(m).enumerate() {
            let block = &pieces.codes(1)[i / 32 * pq4::block_bytes(m)..];
            assert!((0..m).all(|j| pq4::get_code(block, i % 32, j) == code[j]));
        }
    }
}
