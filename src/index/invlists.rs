//! Inverted lists: per list, the codes of its vectors, their ids, and (where
//! the spec re-ranks) their full-precision copies, as FAISS lays lists out.
//! The search code sees only the `InvertedLists` trait, so lists can live in
//! memory (`MemoryLists`, here) or in a mapped file.
use std::collections::HashSet;

use super::format::{Reader, Writer};
use crate::compute::pq4;
use crate::error::{IndexError, IndexResult};

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

/// Vectors one list may hold (positions in a list are 32-bit).
pub const MAX_LIST_LEN: usize = u32::MAX as usize;

pub trait InvertedLists: Send + Sync {
    fn nlist(&self) -> usize;
    fn layout(&self) -> CodeLayout;
    /// Bytes of the re-ranking copy kept per vector (0: none).
    fn vector_bytes(&self) -> usize;
    /// Vectors in list `list`.
    fn list_len(&self, list: usize) -> usize;
    /// The stored codes of list `list` (8-byte aligned; `layout().stored_len(list_len)` bytes).
    fn codes(&self, list: usize) -> &[u8];
    /// The ids of list `list`, in code order.
    fn ids(&self, list: usize) -> &[u64];
    /// The re-ranking copies of list `list` (8-byte aligned; `vector_bytes` each).
    fn vectors(&self, list: usize) -> &[u8];
    /// Appends `ids.len()` vectors given as unpacked codes (`code_size` bytes
    /// each) and re-ranking copies (`vector_bytes` each).
    fn append(&mut self, list: usize, codes: &[u8], ids: &[u64], vectors: &[u8])
    -> IndexResult<()>;
    /// Removes the vectors whose id is in `ids`; returns how many were removed.
    /// In memory they go at once; on disk they become tombstones first.
    fn remove(&mut self, ids: &HashSet<u64>) -> IndexResult<usize>;
    /// Entries of list `list` that are removed but still stored (searches skip them).
    fn dead(&self, _list: usize) -> usize {
        0
    }
    /// Whether position `pos` of list `list` is a removed entry.
    fn is_dead(&self, _list: usize, _pos: usize) -> bool {
        false
    }
    /// Makes every change so far durable; until then a crash may lose them.
    /// A no-op for lists that live in memory.
    fn commit(&mut self) -> IndexResult<()> {
        Ok(())
    }
    /// Rewrites the lists without their removed entries now (on disk, into
    /// the next generation of files); lists in memory hold none.
    fn compact(&mut self) -> IndexResult<()> {
        Ok(())
    }
    /// The on-disk lists behind this trait object, if that is what they are.
    fn as_on_disk(&self) -> Option<&super::ondisk::OnDiskLists> {
        None
    }
}

/// The ids of every live entry, list by list.
pub fn live_ids(lists: &dyn InvertedLists) -> Vec<u64> {
    (0..lists.nlist())
        .flat_map(|l| {
            lists
                .ids(l)
                .iter()
                .enumerate()
                .filter(move |&(pos, _)| !lists.is_dead(l, pos))
                .map(|(_, &id)| id)
        })
        .collect()
}

/// The live vectors of one list, codes unpacked (`code_size` bytes each).
pub struct ListEntries {
    pub codes: Vec<u8>,
    pub ids: Vec<u64>,
    pub vectors: Vec<u8>,
}

/// The live entries of list `list` (removed ones left out), codes unpacked.
pub fn live_entries(lists: &dyn InvertedLists, list: usize) -> ListEntries {
    let (layout, vb) = (lists.layout(), lists.vector_bytes());
    let cs = layout.code_size();
    let (codes, ids, vectors) = (lists.codes(list), lists.ids(list), lists.vectors(list));
    let mut out = ListEntries {
        codes: Vec::with_capacity(ids.len() * cs),
        ids: Vec::with_capacity(ids.len()),
        vectors: Vec::with_capacity(ids.len() * vb),
    };
    for (pos, &id) in ids.iter().enumerate() {
        if lists.is_dead(list, pos) {
            continue;
        }
        match layout {
            CodeLayout::Flat { code_size } => {
                out.codes
                    .extend_from_slice(&codes[pos * code_size..(pos + 1) * code_size]);
            }
            CodeLayout::Packed4 { m } => {
                let block = &codes[pos / pq4::BLOCK * pq4::block_bytes(m)..];
                out.codes
                    .extend((0..m).map(|j| pq4::get_code(block, pos % pq4::BLOCK, j)));
            }
        }
        out.ids.push(id);
        out.vectors
            .extend_from_slice(&vectors[pos * vb..(pos + 1) * vb]);
    }
    out
}

/// Live vectors in all lists.
pub fn live_count(lists: &dyn InvertedLists) -> usize {
    (0..lists.nlist())
        .map(|l| lists.list_len(l) - lists.dead(l))
        .sum()
}

/// Copies every live entry of `from` into `to` (same layout), list by list.
pub fn copy_lists(from: &dyn InvertedLists, to: &mut dyn InvertedLists) -> IndexResult<()> {
    assert_eq!(from.layout(), to.layout(), "same code layout");
    assert_eq!(from.nlist(), to.nlist(), "same list count");
    for list in 0..from.nlist() {
        let e = live_entries(from, list);
        if !e.ids.is_empty() {
            to.append(list, &e.codes, &e.ids, &e.vectors)?;
        }
    }
    Ok(())
}

/// Writes `codes` (unpacked, `layout.code_size()` each) into slots `start..` of
/// `stored`, which holds `layout.stored_len(start + n)` bytes.
pub fn put_codes(layout: CodeLayout, stored: &mut [u8], start: usize, codes: &[u8]) {
    let cs = layout.code_size();
    match layout {
        CodeLayout::Flat { .. } => {
            stored[start * cs..start * cs + codes.len()].copy_from_slice(codes)
        }
        CodeLayout::Packed4 { m } => {
            let bb = pq4::block_bytes(m);
            for (i, code) in codes.chunks_exact(cs).enumerate() {
                let slot = start + i;
                let block = slot / pq4::BLOCK;
                pq4::set_codes(
                    &mut stored[block * bb..(block + 1) * bb],
                    slot % pq4::BLOCK,
                    code,
                );
            }
        }
    }
}

/// Growable lists in RAM. Bytes are kept in `u64` words so that f32 and f16
/// vectors can be read in place.
pub struct MemoryLists {
    layout: CodeLayout,
    vector_bytes: usize,
    codes: Vec<Vec<u64>>,
    ids: Vec<Vec<u64>>,
    vectors: Vec<Vec<u64>>,
}

/// `len` bytes of word storage.
fn bytes(words: &[u64], len: usize) -> &[u8] {
    assert!(len <= words.len() * 8);
    // SAFETY: u64 storage viewed as bytes: no alignment or validity concern; `len` is within it.
    unsafe { std::slice::from_raw_parts(words.as_ptr() as *const u8, len) }
}

/// Grows word storage to hold `len` bytes and views them.
fn bytes_mut(words: &mut Vec<u64>, len: usize) -> &mut [u8] {
    words.resize(len.div_ceil(8), 0);
    // SAFETY: as in `bytes`; the storage now holds at least `len` bytes.
    unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr() as *mut u8, len) }
}

impl MemoryLists {
    pub fn new(nlist: usize, layout: CodeLayout, vector_bytes: usize) -> Self {
        Self {
            layout,
            vector_bytes,
            codes: vec![Vec::new(); nlist],
            ids: vec![Vec::new(); nlist],
            vectors: vec![Vec::new(); nlist],
        }
    }

    /// Reads lists written by `write_lists`, checking every size.
    pub fn read(
        r: &mut Reader,
        nlist: usize,
        layout: CodeLayout,
        vector_bytes: usize,
    ) -> IndexResult<Self> {
        r.expect(b"ILmm")?;
        let (stored, vb) = (r.usize()?, r.usize()?);
        if stored != nlist || vb != vector_bytes {
            return Err(r.corrupt(format!(
                "{stored} lists of {vb}-byte vectors where the index has {nlist} of {vector_bytes}"
            )));
        }
        let mut lists = Self::new(nlist, layout, vector_bytes);
        for list in 0..nlist {
            let ids = r.u64s(None)?;
            if ids.len() > MAX_LIST_LEN {
                return Err(r.corrupt(format!("list {list} has {} vectors", ids.len())));
            }
            let codes = r.u8s(Some(layout.stored_len(ids.len())))?;
            bytes_mut(&mut lists.codes[list], codes.len()).copy_from_slice(&codes);
            let vectors = r.u8s(Some(ids.len() * vector_bytes))?;
            bytes_mut(&mut lists.vectors[list], vectors.len()).copy_from_slice(&vectors);
            lists.ids[list] = ids;
        }
        Ok(lists)
    }
}

impl InvertedLists for MemoryLists {
    fn nlist(&self) -> usize {
        self.ids.len()
    }
    fn layout(&self) -> CodeLayout {
        self.layout
    }
    fn vector_bytes(&self) -> usize {
        self.vector_bytes
    }
    fn list_len(&self, list: usize) -> usize {
        self.ids[list].len()
    }
    fn codes(&self, list: usize) -> &[u8] {
        bytes(
            &self.codes[list],
            self.layout.stored_len(self.ids[list].len()),
        )
    }
    fn ids(&self, list: usize) -> &[u64] {
        &self.ids[list]
    }
    fn vectors(&self, list: usize) -> &[u8] {
        bytes(
            &self.vectors[list],
            self.ids[list].len() * self.vector_bytes,
        )
    }
    fn append(
        &mut self,
        list: usize,
        codes: &[u8],
        ids: &[u64],
        vectors: &[u8],
    ) -> IndexResult<()> {
        let cs = self.layout.code_size();
        assert_eq!(codes.len(), ids.len() * cs, "one code per id");
        assert_eq!(
            vectors.len(),
            ids.len() * self.vector_bytes,
            "one vector copy per id"
        );
        let old = self.ids[list].len();
        let new = old + ids.len();
        if new > MAX_LIST_LEN {
            return Err(IndexError::Param(format!(
                "list {list} would hold {new} vectors, over {MAX_LIST_LEN}"
            )));
        }
        let layout = self.layout;
        put_codes(
            layout,
            bytes_mut(&mut self.codes[list], layout.stored_len(new)),
            old,
            codes,
        );
        let vb = self.vector_bytes;
        bytes_mut(&mut self.vectors[list], new * vb)[old * vb..].copy_from_slice(vectors);
        self.ids[list].extend_from_slice(ids);
        Ok(())
    }
    fn remove(&mut self, ids: &HashSet<u64>) -> IndexResult<usize> {
        let mut removed = 0;
        for list in 0..self.nlist() {
            if !self.ids[list].iter().any(|id| ids.contains(id)) {
                continue;
            }
            let all = live_entries(self, list);
            let (cs, vb) = (self.layout.code_size(), self.vector_bytes);
            let keep: Vec<usize> = (0..all.ids.len())
                .filter(|&i| !ids.contains(&all.ids[i]))
                .collect();
            let pick = |bytes: &[u8], size: usize| -> Vec<u8> {
                keep.iter()
                    .flat_map(|&i| bytes[i * size..(i + 1) * size].iter().copied())
                    .collect()
            };
            let (codes, vectors) = (pick(&all.codes, cs), pick(&all.vectors, vb));
            let kept: Vec<u64> = keep.iter().map(|&i| all.ids[i]).collect();
            self.codes[list].clear();
            self.vectors[list].clear();
            self.ids[list].clear();
            self.append(list, &codes, &kept, &vectors)?;
            removed += all.ids.len() - kept.len();
        }
        Ok(removed)
    }
}

/// Writes the live entries of any lists in the format `MemoryLists::read` reads.
pub fn write_lists<W: std::io::Write>(w: &mut Writer<W>, lists: &dyn InvertedLists) {
    w.fourcc(b"ILmm");
    w.usize(lists.nlist());
    w.usize(lists.vector_bytes());
    for list in 0..lists.nlist() {
        if lists.dead(list) == 0 {
            w.u64s(lists.ids(list));
            w.u8s(lists.codes(list));
            w.u8s(lists.vectors(list));
        } else {
            let e = live_entries(lists, list);
            let mut packed = MemoryLists::new(1, lists.layout(), lists.vector_bytes());
            packed
                .append(0, &e.codes, &e.ids, &e.vectors)
                .expect("a list that fitted before fits again");
            w.u64s(packed.ids(0));
            w.u8s(packed.codes(0));
            w.u8s(packed.vectors(0));
        }
    }
}

/// Views aligned list bytes as values of `T`, which must accept every bit pattern.
fn view<T>(bytes: &[u8]) -> &[T] {
    // SAFETY: callers only instantiate `T` with f32 and f16, for which every
    // bit pattern is valid; `align_to` yields only the aligned middle part.
    let (head, body, tail) = unsafe { bytes.align_to::<T>() };
    assert!(
        head.is_empty() && tail.is_empty(),
        "list bytes must be aligned whole values"
    );
    body
}

/// Views 8-byte-aligned list bytes as f32 values.
pub fn as_f32s(bytes: &[u8]) -> &[f32] {
    view(bytes)
}

/// Views 8-byte-aligned list bytes as f16 values.
pub fn as_f16s(bytes: &[u8]) -> &[half::f16] {
    view(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_in_pieces_equal_one_append() {
        let m = 4;
        let codes: Vec<u8> = (0..70 * m).map(|i| (i * 5 % 16) as u8).collect();
        let ids: Vec<u64> = (0..70).collect();
        let vectors: Vec<u8> = (0..70 * 8).map(|i| i as u8).collect();
        let mut one = MemoryLists::new(2, CodeLayout::Packed4 { m }, 8);
        one.append(1, &codes, &ids, &vectors).unwrap();
        let mut pieces = MemoryLists::new(2, CodeLayout::Packed4 { m }, 8);
        for ((c, l), v) in codes
            .chunks(13 * m)
            .zip(ids.chunks(13))
            .zip(vectors.chunks(13 * 8))
        {
            pieces.append(1, c, l, v).unwrap();
        }
        assert_eq!(one.codes(1), pieces.codes(1));
        assert_eq!(one.ids(1), pieces.ids(1));
        assert_eq!(pieces.vectors(1), &vectors[..]);
        assert_eq!(pieces.list_len(0), 0);
        for (i, code) in codes.chunks_exact(m).enumerate() {
            let block = &pieces.codes(1)[i / 32 * pq4::block_bytes(m)..];
            assert!((0..m).all(|j| pq4::get_code(block, i % 32, j) == code[j]));
        }
    }
}
