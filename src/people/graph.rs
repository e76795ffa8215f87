//! The k-nearest-neighbour graph of the faces, as the index returns it,
//! and its file (the index's format: magic, version, objects, checksum).

use std::path::Path;

use rayon::prelude::*;

use crate::error::{IndexError, IndexResult};
use crate::index::{JobControl, SearchResults, format};

/// For each of `n` nodes, up to `k` neighbours (best first) with their
/// similarity; the node itself is never among them.
#[derive(Clone, Debug, PartialEq)]
pub struct KnnGraph {
    k: usize,
    neighbours: Vec<u32>,
    sims: Vec<f32>,
}

/// Marks an empty neighbour slot.
pub const NONE: u32 = u32::MAX;

impl KnnGraph {
    /// Builds the graph from `n` rows of `k` neighbours (`NONE` for empty slots)
    /// and their similarities. Self-loops are dropped.
    pub fn from_rows(k: usize, neighbours: Vec<u32>, sims: Vec<f32>) -> Self {
        assert_eq!(neighbours.len(), sims.len(), "one similarity per neighbour");
        assert!(
            k > 0 && neighbours.len().is_multiple_of(k),
            "rows of k neighbours"
        );
        let mut graph = Self {
            k,
            neighbours,
            sims,
        };
        for i in 0..graph.len() {
            for slot in &mut graph.neighbours[i * k..(i + 1) * k] {
                if *slot as usize == i {
                    *slot = NONE;
                }
            }
        }
        graph
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.neighbours.len() / self.k
    }

    pub fn is_empty(&self) -> bool {
        self.neighbours.is_empty()
    }

    pub fn k(&self) -> usize {
        self.k
    }

    /// The neighbours of `i` with their similarities, best first.
    pub fn neighbours(&self, i: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let row = i * self.k..(i + 1) * self.k;
        self.neighbours[row.clone()]
            .iter()
            .zip(&self.sims[row])
            .filter(|(j, _)| **j != NONE)
            .map(|(j, s)| (*j as usize, *s))
    }

    /// The similarity `i` lists for `j`, if `j` is among its neighbours.
    fn listed(&self, i: usize, j: usize) -> Option<f32> {
        self.neighbours(i).find(|&(n, _)| n == j).map(|(_, s)| s)
    }

    /// Undirected adjacency with similarity at least `min_sim`: an edge kept
    /// if either end lists the other (the kNN relation is not symmetric).
    /// One edge per pair; when both ends list it, the larger similarity.
    /// A look-up in the other end's row (k slots) replaces a global sort,
    /// so this stays linear in the edges and runs in parallel.
    pub fn undirected(&self, min_sim: f32) -> Adjacency {
        let edges: Vec<(u32, u32, f32)> = (0..self.len())
            .into_par_iter()
            .flat_map_iter(|i| {
                self.neighbours(i).filter_map(move |(j, s)| {
                    let edge = match self.listed(j, i) {
                        // Both ends list it: the lower end emits it.
                        Some(back) if i < j => (i, j, s.max(back)),
                        Some(_) => return None,
                        None => (i.min(j), i.max(j), s),
                    };
                    (edge.2 >= min_sim).then_some((edge.0 as u32, edge.1 as u32, edge.2))
                })
            })
            .collect();
        Adjacency::from_edges(self.len(), &edges)
    }

    fn packed(&self) -> Vec<u64> {
        pack(&self.neighbours, &self.sims)
    }
}

/// Builds the kNN graph of `vectors` (rows of `dim`, their ids in `ids`,
/// ascending) with `search(queries, k)`, a batch at a time: each row's `k`
/// best other vectors. Ids the search returns that are not in `ids` are
/// dropped. Checks `ctl` between batches.
pub fn build(
    vectors: &[f32],
    ids: &[u64],
    k: usize,
    ctl: &JobControl,
    mut search: impl FnMut(&[f32], usize) -> IndexResult<SearchResults>,
) -> IndexResult<KnnGraph> {
    let n = ids.len();
    let dim = vectors.len().checked_div(n).unwrap_or(0);
    assert!(k > 0 && dim * n == vectors.len(), "one row per id");
    debug_assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids ascending");
    let mut neighbours = vec![NONE; n * k];
    let mut sims = vec![0f32; n * k];
    let position = |id: u64| ids.binary_search(&id).ok();
    for start in (0..n).step_by(BUILD_BATCH) {
        ctl.wait_while_paused();
        if ctl.should_stop() {
            return Err(IndexError::Cancelled);
        }
        let end = (start + BUILD_BATCH).min(n);
        // One more than k: the vector itself comes back too.
        let found = search(&vectors[start * dim..end * dim], k + 1)?;
        for (q, i) in (start..end).enumerate() {
            let row = found
                .row_ids(q)
                .iter()
                .zip(found.row_scores(q))
                .filter_map(|(&id, &s)| Some((position(id)?, s)))
                .filter(|&(j, _)| j != i)
                .take(k);
            for (slot, (j, s)) in row.enumerate() {
                neighbours[i * k + slot] = j as u32;
                sims[i * k + slot] = s;
            }
        }
        ctl.report("people graph", end as f32 / n as f32);
    }
    Ok(KnnGraph::from_rows(k, neighbours, sims))
}

/// Queries per search call while building the graph.
const BUILD_BATCH: usize = 4096;

const FOURCC: [u8; 4] = *b"KNNG";
const ADJACENCY: [u8; 4] = *b"ADJC";

/// A graph as saved: the caller's tag (what it reflects), the node ids,
/// the kNN rows, and their undirected adjacency over every edge (what
/// paths walk; saved so a path query does not rebuild it).
pub struct SavedGraph {
    pub tag: Vec<u64>,
    pub ids: Vec<u64>,
    pub knn: KnnGraph,
    pub adjacency: Adjacency,
}

/// Saves the graph of the faces `ids` (positions are indexes into `ids`)
/// with the caller's `tag`, crash-safely.
pub fn save(path: &Path, tag: &[u64], ids: &[u64], graph: &KnnGraph) -> IndexResult<()> {
    assert_eq!(ids.len(), graph.len());
    let adjacency = graph.undirected(f32::MIN);
    format::save_atomic(path, |w| {
        w.fourcc(&FOURCC);
        w.u64s(tag);
        w.usize(graph.k);
        w.u64s(ids);
        w.u64s(&graph.packed());
        w.fourcc(&ADJACENCY);
        let offsets: Vec<u64> = adjacency.offsets.iter().map(|&o| o as u64).collect();
        w.u64s(&offsets);
        w.u64s(&pack(&adjacency.targets, &adjacency.sims));
    })
}

/// One `u64` per slot: the node in the low half, the similarity's bits in the high half.
fn pack(nodes: &[u32], sims: &[f32]) -> Vec<u64> {
    nodes
        .iter()
        .zip(sims)
        .map(|(&j, s)| u64::from(j) | (u64::from(s.to_bits()) << 32))
        .collect()
}

fn unpack(slots: &[u64]) -> (Vec<u32>, Vec<f32>) {
    slots
        .iter()
        .map(|&v| (v as u32, f32::from_bits((v >> 32) as u32)))
        .unzip()
}

/// Reads a graph written by [`save`]. Every neighbour and offset is
/// checked, so a damaged file is refused, never followed.
pub fn load(path: &Path) -> IndexResult<SavedGraph> {
    let data = format::read_file(path)?;
    let mut r = format::Reader::new(path, &data);
    r.expect(&FOURCC)?;
    let tag = r.u64s(None)?;
    let k = r.usize()?;
    let ids = r.u64s(None)?;
    if k == 0 {
        return Err(r.corrupt("a graph with k = 0"));
    }
    let n = ids.len();
    let (neighbours, sims) = unpack(&r.u64s(n.checked_mul(k))?);
    if neighbours.iter().any(|&j| j != NONE && j as usize >= n) {
        return Err(r.corrupt("a neighbour past the last node"));
    }
    r.expect(&ADJACENCY)?;
    let offsets: Vec<usize> = r.u64s(Some(n + 1))?.iter().map(|&o| o as usize).collect();
    let (targets, edge_sims) = unpack(&r.u64s(None)?);
    if offsets[0] != 0
        || offsets.windows(2).any(|w| w[0] > w[1])
        || offsets[n] != targets.len()
        || targets.iter().any(|&j| j as usize >= n)
    {
        return Err(r.corrupt("adjacency offsets or targets out of range"));
    }
    r.done()?;
    Ok(SavedGraph {
        tag,
        ids,
        knn: KnnGraph::from_rows(k, neighbours, sims),
        adjacency: Adjacency {
            offsets,
            targets,
            sims: edge_sims,
        },
    })
}

/// Compressed undirected adjacency lists (CSR).
#[derive(Clone, Debug)]
pub struct Adjacency {
    offsets: Vec<usize>,
    targets: Vec<u32>,
    sims: Vec<f32>,
}

impl Adjacency {
    /// From unique undirected edges `(a, b, sim)`.
    pub fn from_edges(n: usize, edges: &[(u32, u32, f32)]) -> Self {
        let mut degree = vec![0usize; n + 1];
        for &(a, b, _) in edges {
            degree[a as usize + 1] += 1;
            degree[b as usize + 1] += 1;
        }
        for i in 0..n {
            degree[i + 1] += degree[i];
        }
        let offsets = degree;
        let mut fill = offsets.clone();
        let mut targets = vec![0u32; offsets[n]];
        let mut sims = vec![0f32; offsets[n]];
        for &(a, b, s) in edges {
            for (from, to) in [(a, b), (b, a)] {
                let at = &mut fill[from as usize];
                targets[*at] = to;
                sims[*at] = s;
                *at += 1;
            }
        }
        Self {
            offsets,
            targets,
            sims,
        }
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn edges(&self, i: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let row = self.offsets[i]..self.offsets[i + 1];
        self.targets[row.clone()]
            .iter()
            .zip(&self.sims[row])
            .map(|(j, s)| (*j as usize, *s))
    }

    pub fn degree(&self, i: usize) -> usize {
        self.offsets[i + 1] - self.offsets[i]
    }
}
