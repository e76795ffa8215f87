//! The k-nearest-neighbour graph of the faces, as the index returns it.

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

    /// Undirected adjacency with similarity at least `min_sim`: an edge kept
    /// if either end lists the other (the kNN relation is not symmetric).
    pub fn undirected(&self, min_sim: f32) -> Adjacency {
        let mut edges: Vec<(u32, u32, f32)> = Vec::new();
        for i in 0..self.len() {
            for (j, s) in self.neighbours(i) {
                if s >= min_sim {
                    let (a, b) = if i < j { (i, j) } else { (j, i) };
                    edges.push((a as u32, b as u32, s));
                }
            }
        }
        // One edge per pair; when both ends list it, keep the larger similarity.
        edges.sort_unstable_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)).then(y.2.total_cmp(&x.2)));
        edges.dedup_by_key(|e| (e.0, e.1));
        Adjacency::from_edges(self.len(), &edges)
    }
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
