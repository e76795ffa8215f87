//! Face-to-face paths: a chain of faces from one face (or person) to another
//! through the kNN graph, each step a small change of face.
//!
//! The chain's weakest step is as strong as possible (a widest path: its
//! lowest similarity is maximal); among such chains the fewest steps win,
//! then the fewest steps between two faces of the same person, so a chain
//! walks through different people where it can. The search always runs
//! from the lower end to the higher one, so A→B is B→A reversed, exactly.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use crate::people::graph::Adjacency;

/// A chain of faces; `sims[i]` is the similarity of `faces[i]` and `faces[i + 1]`.
#[derive(Clone, Debug, PartialEq)]
pub struct FacePath {
    pub faces: Vec<usize>,
    pub sims: Vec<f32>,
    /// The lowest step similarity (1.0 for a chain of one face).
    pub bottleneck: f32,
}

/// The best chain from any face of `from` to any face of `to`, or `None`
/// when no chain links them. `person[i]` is the person of face `i`, if any.
pub fn face_path(
    adj: &Adjacency,
    from: &[usize],
    to: &[usize],
    person: &[Option<u32>],
) -> Option<FacePath> {
    let lowest = |set: &[usize]| set.iter().copied().min();
    let (lo_from, lo_to) = (lowest(from)?, lowest(to)?);
    if lo_from > lo_to {
        let mut path = face_path(adj, to, from, person)?;
        path.faces.reverse();
        path.sims.reverse();
        return Some(path);
    }
    let mut is_target = vec![false; adj.len()];
    to.iter().for_each(|&t| is_target[t] = true);
    if let Some(&same) = from.iter().filter(|&&f| is_target[f]).min() {
        return Some(FacePath {
            faces: vec![same],
            sims: vec![],
            bottleneck: 1.0,
        });
    }
    let bottleneck = widest_bottleneck(adj, from, &is_target)?;
    let faces = fewest_steps(adj, from, &is_target, bottleneck, person)?;
    let sims: Vec<f32> = faces
        .windows(2)
        .map(|w| {
            adj.edges(w[0])
                .filter(|&(j, _)| j == w[1])
                .map(|(_, s)| s)
                .fold(f32::MIN, f32::max)
        })
        .collect();
    Some(FacePath {
        faces,
        sims,
        bottleneck,
    })
}

/// A similarity ordered for a max-heap, ties broken by the lower node.
#[derive(PartialEq)]
struct Widest(f32, Reverse<usize>);

impl Eq for Widest {}

impl PartialOrd for Widest {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Widest {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

/// The largest possible lowest step similarity of a chain from `from` to a target.
fn widest_bottleneck(adj: &Adjacency, from: &[usize], is_target: &[bool]) -> Option<f32> {
    let mut best = vec![f32::NEG_INFINITY; adj.len()];
    let mut heap = BinaryHeap::new();
    for &f in from {
        best[f] = f32::INFINITY;
        heap.push(Widest(f32::INFINITY, Reverse(f)));
    }
    while let Some(Widest(width, Reverse(i))) = heap.pop() {
        if width < best[i] {
            continue;
        }
        if is_target[i] {
            return Some(width);
        }
        for (j, s) in adj.edges(i) {
            let through = width.min(s);
            if through > best[j] {
                best[j] = through;
                heap.push(Widest(through, Reverse(j)));
            }
        }
    }
    None
}

/// The chain over steps of at least `floor` with the fewest steps, then the
/// fewest same-person steps.
fn fewest_steps(
    adj: &Adjacency,
    from: &[usize],
    is_target: &[bool],
    floor: f32,
    person: &[Option<u32>],
) -> Option<Vec<usize>> {
    const UNSEEN: (u32, u32) = (u32::MAX, u32::MAX);
    let mut cost = vec![UNSEEN; adj.len()];
    let mut previous = vec![usize::MAX; adj.len()];
    let mut heap = BinaryHeap::new();
    for &f in from {
        cost[f] = (0, 0);
        heap.push(Reverse(((0u32, 0u32), f)));
    }
    while let Some(Reverse((c, i))) = heap.pop() {
        if c > cost[i] {
            continue;
        }
        if is_target[i] {
            let mut chain = vec![i];
            while previous[*chain.last()?] != usize::MAX {
                chain.push(previous[*chain.last()?]);
            }
            chain.reverse();
            return Some(chain);
        }
        for (j, s) in adj.edges(i) {
            if s < floor {
                continue;
            }
            let same = person[i].is_some() && person[i] == person[j];
            let next = (c.0 + 1, c.1 + u32::from(same));
            if next < cost[j] {
                cost[j] = next;
                previous[j] = i;
                heap.push(Reverse((next, j)));
            }
        }
    }
    None
}
