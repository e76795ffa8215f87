//! `Flat`: exact search over every stored vector (batched GEMM-style kernel).
//! The vectors sit in one inverted list of raw f32 codes, so a Flat index
//! lives in memory or on disk exactly as IVF lists do.
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use super::format::{self, Reader, Writer};
use super::invlists::{self, CodeLayout, InvertedLists, MemoryLists};
use super::{JobControl, Metric, SearchParams, SearchResults, VectorIndex, check, ondisk};
use crate::compute::{Backend, NO_ROW, default_backend};
use crate::error::{IndexError, IndexResult};
use crate::index::NO_ID;

/// Object code of a Flat index in the file format.
pub const FOURCC: &[u8; 4] = b"IxFl";
/// Flat indexes have no trained state; the seed only fills the list header.
const SEED: u64 = 0;

pub struct FlatIndex {
    dim: usize,
    metric: Metric,
    lists: Box<dyn InvertedLists>,
    backend: Arc<dyn Backend>,
}

fn empty_lists(dim: usize) -> MemoryLists {
    MemoryLists::new(1, CodeLayout::Flat { code_size: 4 * dim }, 0)
}

impl FlatIndex {
    pub fn new(dim: usize, metric: Metric) -> Self {
        Self {
            dim,
            metric,
            lists: Box::new(empty_lists(dim)),
            backend: default_backend(),
        }
    }

    /// Writes the index with the live vectors of `lists`.
    fn write_with<W: std::io::Write>(&self, w: &mut Writer<W>, lists: &dyn InvertedLists) {
        let live = invlists::live_entries(lists, 0);
        w.fourcc(FOURCC);
        w.usize(self.dim);
        w.metric(self.metric);
        let vectors: Vec<f32> = live
            .codes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect();
        w.f32s(&vectors);
        w.u64s(&live.ids);
    }

    /// Reads the object after its four-character code.
    pub fn read(r: &mut Reader) -> IndexResult<Self> {
        let dim = r.usize()?;
        if dim == 0 {
            return Err(r.corrupt("dimension 0"));
        }
        let metric = r.metric()?;
        let vectors = r.f32s(None)?;
        if vectors.len() % dim != 0 {
            return Err(r.corrupt(format!(
                "{} values are not whole {dim}-d rows",
                vectors.len()
            )));
        }
        let ids = r.u64s(Some(vectors.len() / dim))?;
        let mut index = Self::new(dim, metric);
        let codes: Vec<u8> = vectors.iter().flat_map(|v| v.to_le_bytes()).collect();
        index.lists.append(0, &codes, &ids, &[])?;
        Ok(index)
    }

    /// Takes lists opened from an index directory in place of the (empty)
    /// ones read from its quantizer file, checking that they fit.
    pub fn with_lists(mut self, lists: Box<dyn InvertedLists>, path: &Path) -> IndexResult<Self> {
        let want = empty_lists(self.dim);
        if self.ntotal() != 0
            || lists.nlist() != 1
            || lists.layout() != want.layout()
            || lists.vector_bytes() != 0
        {
            return Err(IndexError::corrupt(
                path,
                "the lists do not fit a Flat index of this dimension",
            ));
        }
        self.lists = lists;
        Ok(self)
    }
}

impl VectorIndex for FlatIndex {
    fn dim(&self) -> usize {
        self.dim
    }
    fn metric(&self) -> Metric {
        self.metric
    }
    fn ntotal(&self) -> usize {
        invlists::live_count(&*self.lists)
    }
    fn is_trained(&self) -> bool {
        true
    }
    fn spec(&self) -> String {
        "Flat".into()
    }
    fn train(&mut self, data: &[f32], _ctl: &JobControl) -> IndexResult<()> {
        check::vectors(data, self.dim).map(|_| ())
    }
    fn add(&mut self, data: &[f32], ids: &[u64]) -> IndexResult<()> {
        let n = check::vectors(data, self.dim)?;
        check::ids(ids, n)?;
        let codes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.lists.append(0, &codes, ids, &[])?;
        self.lists.commit()
    }
    fn search(
        &self,
        queries: &[f32],
        k: usize,
        _params: &SearchParams,
    ) -> IndexResult<SearchResults> {
        check::vectors(queries, self.dim)?;
        check::k(k, self.ntotal())?;
        // removed rows may rank among the best: ask for as many more, drop them
        let dead = self.lists.dead(0);
        let base = invlists::as_f32s(self.lists.codes(0));
        let n = self
            .backend
            .knn(self.metric, queries, base, self.dim, k + dead);
        let ids = self.lists.ids(0);
        let (mut out_ids, mut scores) = (Vec::new(), Vec::new());
        for (rows, row_scores) in n.rows.chunks(k + dead).zip(n.scores.chunks(k + dead)) {
            let live = rows
                .iter()
                .zip(row_scores)
                .filter(|&(&r, _)| r == NO_ROW || !self.lists.is_dead(0, r as usize))
                .take(k);
            for (&r, &s) in live {
                out_ids.push(if r == NO_ROW { NO_ID } else { ids[r as usize] });
                scores.push(s);
            }
        }
        Ok(SearchResults {
            k,
            scores,
            ids: out_ids,
        })
    }
    fn remove(&mut self, ids: &[u64]) -> IndexResult<usize> {
        let set: HashSet<u64> = ids.iter().copied().collect();
        let removed = self.lists.remove(&set)?;
        self.lists.commit()?;
        Ok(removed)
    }
    fn lists(&self) -> &dyn InvertedLists {
        &*self.lists
    }
    fn into_dir(mut self: Box<Self>, dir: &Path) -> IndexResult<Box<dyn VectorIndex>> {
        let empty = empty_lists(self.dim);
        let lists = ondisk::create_dir(dir, SEED, &*self.lists, |w| self.write_with(w, &empty))?;
        self.lists = Box::new(lists);
        Ok(self)
    }
    fn to_memory(&self) -> IndexResult<Box<dyn VectorIndex>> {
        let mut copy = Self::new(self.dim, self.metric);
        invlists::copy_lists(&*self.lists, &mut *copy.lists)?;
        Ok(Box::new(copy))
    }
    fn save(&self, path: &Path) -> IndexResult<()> {
        format::save_atomic(path, |w| self.write_with(w, &*self.lists))
    }
    fn bytes_on_disk(&self) -> u64 {
        match self.lists.as_on_disk() {
            Some(disk) => {
                disk.bytes_on_disk()
                    + format::encoded_len(|w| self.write_with(w, &empty_lists(self.dim)))
            }
            None => format::encoded_len(|w| self.write_with(w, &*self.lists)),
        }
    }
}
