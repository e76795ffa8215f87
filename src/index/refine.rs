//! The re-ranking stage: full-precision copies of the vectors (f32 for
//! `RFlat`, f16 for `Refine(SQfp16)`) by row, to re-score the candidates the
//! compressed lists produced.
use half::f16;

use super::format::{Reader, Writer};
use crate::compute::{Backend, Metric, TopKHeap};
use crate::error::IndexResult;

pub enum RefineStore {
    F32(Vec<f32>),
    F16(Vec<f16>),
}

impl RefineStore {
    pub fn push(&mut self, data: &[f32]) {
        match self {
            RefineStore::F32(v) => v.extend_from_slice(data),
            RefineStore::F16(v) => v.extend(data.iter().map(|&x| f16::from_f32(x))),
        }
    }

    /// Exact distances of the candidate `rows` to `query`, into `heap` labelled by row.
    pub fn rerank(
        &self,
        backend: &dyn Backend,
        metric: Metric,
        query: &[f32],
        rows: &[u64],
        heap: &mut TopKHeap,
    ) {
        match self {
            RefineStore::F32(v) => backend.rerank_f32(metric, query, v, rows, rows, heap),
            RefineStore::F16(v) => backend.rerank_f16(metric, query, v, rows, rows, heap),
        }
    }

    pub fn write<W: std::io::Write>(&self, w: &mut Writer<W>) {
        match self {
            RefineStore::F32(v) => {
                w.fourcc(b"RFf4");
                w.f32s(v);
            }
            RefineStore::F16(v) => {
                w.fourcc(b"RFf2");
                w.f16s(v);
            }
        }
    }

    /// Reads a store of `n` rows of `dim` values.
    pub fn read(r: &mut Reader, n: usize, dim: usize) -> IndexResult<Self> {
        let len = Some(n * dim);
        match &r.fourcc()? {
            b"RFf4" => Ok(RefineStore::F32(r.f32s(len)?)),
            b"RFf2" => Ok(RefineStore::F16(r.f16s(len)?)),
            other => Err(r.corrupt(format!(
                "unknown re-ranking store {:?}",
                String::from_utf8_lossy(other)
            ))),
        }
    }
}
