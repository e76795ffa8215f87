//! Grouping faces into people from the kNN graph.
//!
//! Two methods, compared on labelled faces in the tests and in the notes:
//! - `Components`: a DBSCAN-like rule. A face is a core face if at least
//!   `min_core` neighbours are at similarity `min_sim` or more; core faces
//!   linked at `min_sim` form a person; a non-core face joins the person of
//!   its most similar core neighbour.
//! - `ChineseWhispers`: label propagation over the edges at `min_sim` or more,
//!   each face taking the label its neighbours' similarities favour most.
//!
//! Both are independent of the order the faces came in: nodes are visited in
//! the order of their `keys` (derived from the face content by the caller),
//! ties are broken by key, and people are numbered by their smallest key.

use crate::people::graph::{Adjacency, KnnGraph};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    Components,
    ChineseWhispers { iterations: usize },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClusterParams {
    pub method: Method,
    /// Edges below this similarity are ignored.
    pub min_sim: f32,
    /// `Components`: neighbours at `min_sim` a face needs to be a core face.
    pub min_core: usize,
    /// Groups smaller than this stay unassigned.
    pub min_faces: usize,
}

impl Default for ClusterParams {
    fn default() -> Self {
        Self {
            method: Method::Components,
            min_sim: 0.45,
            min_core: 2,
            min_faces: 2,
        }
    }
}

/// Assigns each face a person number `0..`, or `None` (unassigned).
/// `eligible[i]` false keeps face `i` out (low quality); `keys` must be
/// distinct and independent of insertion order (e.g. a hash of the vector).
pub fn cluster(
    graph: &KnnGraph,
    keys: &[u64],
    eligible: &[bool],
    params: &ClusterParams,
) -> Vec<Option<u32>> {
    assert_eq!(graph.len(), keys.len());
    assert_eq!(graph.len(), eligible.len());
    let adjacency = graph.undirected(params.min_sim);
    let raw = match params.method {
        Method::Components => components(&adjacency, keys, eligible, params.min_core),
        Method::ChineseWhispers { iterations } => {
            chinese_whispers(&adjacency, keys, eligible, iterations)
        }
    };
    canonical_labels(&raw, keys, params.min_faces)
}

/// Raw group representative per node (any node id), or `None`.
fn components(
    adj: &Adjacency,
    keys: &[u64],
    eligible: &[bool],
    min_core: usize,
) -> Vec<Option<usize>> {
    let n = adj.len();
    let live = |i: usize| adj.edges(i).filter(move |&(j, _)| eligible[j]);
    let core: Vec<bool> = (0..n)
        .map(|i| eligible[i] && live(i).count() >= min_core)
        .collect();
    let mut sets = DisjointSets::new(n);
    for i in (0..n).filter(|&i| core[i]) {
        for (j, _) in live(i).filter(|&(j, _)| core[j]) {
            sets.union(i, j);
        }
    }
    (0..n)
        .map(|i| {
            if core[i] {
                return Some(sets.find(i));
            }
            if !eligible[i] {
                return None;
            }
            live(i)
                .filter(|&(j, _)| core[j])
                .max_by(|a, b| a.1.total_cmp(&b.1).then(keys[b.0].cmp(&keys[a.0])))
                .map(|(j, _)| sets.find(j))
        })
        .collect()
}

fn chinese_whispers(
    adj: &Adjacency,
    keys: &[u64],
    eligible: &[bool],
    iterations: usize,
) -> Vec<Option<usize>> {
    let n = adj.len();
    let mut order: Vec<usize> = (0..n).filter(|&i| eligible[i]).collect();
    order.sort_unstable_by_key(|&i| keys[i]);
    // Labels are node ids; a label's weight is summed per neighbour.
    let mut label: Vec<usize> = (0..n).collect();
    let mut weight = std::collections::HashMap::new();
    for _ in 0..iterations {
        let mut changed = false;
        for &i in &order {
            weight.clear();
            for (j, s) in adj.edges(i).filter(|&(j, _)| eligible[j]) {
                *weight.entry(label[j]).or_insert(0.0f32) += s;
            }
            let best = weight
                .iter()
                .max_by(|a, b| a.1.total_cmp(b.1).then(keys[*b.0].cmp(&keys[*a.0])))
                .map(|(l, _)| *l);
            if let Some(best) = best.filter(|&b| b != label[i]) {
                label[i] = best;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    (0..n).map(|i| eligible[i].then_some(label[i])).collect()
}

/// Drops groups under `min_faces` and numbers the rest by their smallest key.
fn canonical_labels(raw: &[Option<usize>], keys: &[u64], min_faces: usize) -> Vec<Option<u32>> {
    let mut groups: std::collections::HashMap<usize, (u64, usize)> =
        std::collections::HashMap::new();
    for (i, g) in raw.iter().enumerate() {
        if let Some(g) = g {
            let entry = groups.entry(*g).or_insert((u64::MAX, 0));
            entry.0 = entry.0.min(keys[i]);
            entry.1 += 1;
        }
    }
    let mut kept: Vec<(u64, usize)> = groups
        .iter()
        .filter(|(_, (_, size))| *size >= min_faces.max(1))
        .map(|(g, (key, _))| (*key, *g))
        .collect();
    kept.sort_unstable();
    let number: std::collections::HashMap<usize, u32> = kept
        .iter()
        .enumerate()
        .map(|(rank, (_, g))| (*g, rank as u32))
        .collect();
    raw.iter()
        .map(|g| g.and_then(|g| number.get(&g).copied()))
        .collect()
}

/// Union–find with path halving and union by size.
struct DisjointSets {
    parent: Vec<usize>,
    size: Vec<usize>,
}

impl DisjointSets {
    fn new(n: usize) -> Self {
        Self {
            parent: (0..n).collect(),
            size: vec![1; n],
        }
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (mut a, mut b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        if self.size[a] < self.size[b] {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b] = a;
        self.size[a] += self.size[b];
    }
}
