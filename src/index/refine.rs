//! The re-ranking stage: full-precision copies of the vectors (f32 for
//! `RFlat`, f16 for `Refine(SQfp16)`) kept in the inverted lists beside the
//! codes, to re-score exactly the candidates the compressed codes produced.
use half::f16;

use super::factory::Refine;
use super::invlists::{self, InvertedLists};
use crate::compute::{Backend, Metric, TopKHeap};

/// Bytes of the copy of one `dim`-vector.
pub fn vector_bytes(kind: Refine, dim: usize) -> usize {
    match kind {
        Refine::None => 0,
        Refine::F32 => 4 * dim,
        Refine::F16 => 2 * dim,
    }
}

/// The copies of the rows of `data`, little-endian.
pub fn encode(kind: Refine, data: &[f32]) -> Vec<u8> {
    match kind {
        Refine::None => Vec::new(),
        Refine::F32 => data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        Refine::F16 => data
            .iter()
            .flat_map(|&v| f16::from_f32(v).to_bits().to_le_bytes())
            .collect(),
    }
}

/// A candidate's place: list and position in it.
pub type Place = (usize, usize);

/// Exact distances of the candidates (`labels[i]` at `places[i]`) to `query`, into `heap`.
#[allow(clippy::too_many_arguments)]
pub fn rerank(
    backend: &dyn Backend,
    kind: Refine,
    metric: Metric,
    query: &[f32],
    lists: &dyn InvertedLists,
    places: &[Place],
    labels: &[u64],
    heap: &mut TopKHeap,
) {
    let vb = lists.vector_bytes();
    let raw = |&(list, pos): &Place| &lists.vectors(list)[pos * vb..(pos + 1) * vb];
    match kind {
        Refine::None => {}
        Refine::F32 => {
            let rows: Vec<&[f32]> = places.iter().map(|p| invlists::as_f32s(raw(p))).collect();
            backend.rerank_f32(metric, query, &rows, labels, heap);
        }
        Refine::F16 => {
            let rows: Vec<&[f16]> = places.iter().map(|p| invlists::as_f16s(raw(p))).collect();
            backend.rerank_f16(metric, query, &rows, labels, heap);
        }
    }
}
