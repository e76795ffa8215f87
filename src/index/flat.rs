//! `Flat`: exact search over every stored vector (batched GEMM-style kernel).
use std::path::Path;
use std::sync::Arc;

use super::format::{self, Reader, Writer};
use super::{JobControl, Metric, SearchParams, SearchResults, VectorIndex, check};
use crate::compute::{Backend, NO_ROW, default_backend};
use crate::error::IndexResult;
use crate::index::NO_ID;

/// Object code of a Flat index in the file format.
pub const FOURCC: &[u8; 4] = b"IxFl";

pub struct FlatIndex {
    dim: usize,
    metric: Metric,
    vectors: Vec<f32>,
    ids: Vec<u64>,
    backend: Arc<dyn Backend>,
}

impl FlatIndex {
    pub fn new(dim: usize, metric: Metric) -> Self {
        Self {
            dim,
            metric,
            vectors: Vec::new(),
            ids: Vec::new(),
            backend: default_backend(),
        }
    }

    fn write<W: std::io::Write>(&self, w: &mut Writer<W>) {
        w.fourcc(FOURCC);
        w.usize(self.dim);
        w.metric(self.metric);
        w.f32s(&self.vectors);
        w.u64s(&self.ids);
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
        Ok(Self {
            dim,
            metric,
            vectors,
            ids,
            backend: default_backend(),
        })
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
        self.ids.len()
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
        self.vectors.extend_from_slice(data);
        self.ids.extend_from_slice(ids);
        Ok(())
    }
    fn search(
        &self,
        queries: &[f32],
        k: usize,
        _params: &SearchParams,
    ) -> IndexResult<SearchResults> {
        check::vectors(queries, self.dim)?;
        check::k(k, self.ntotal())?;
        let n = self
            .backend
            .knn(self.metric, queries, &self.vectors, self.dim, k);
        let ids = n
            .rows
            .iter()
            .map(|&r| {
                if r == NO_ROW {
                    NO_ID
                } else {
                    self.ids[r as usize]
                }
            })
            .collect();
        Ok(SearchResults {
            k,
            scores: n.scores,
            ids,
        })
    }
    fn save(&self, path: &Path) -> IndexResult<()> {
        format::save_atomic(path, |w| self.write(w))
    }
    fn bytes_on_disk(&self) -> u64 {
        format::encoded_len(|w| self.write(w))
    }
}
