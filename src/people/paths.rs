//! Face-to-face paths: a chain of faces from one face (or person) to another
//! through the kNN graph, each step a small change of face.
//!
//! The chain's weakest step is as strong as possible (a widest path: its
//! lowest similarity is maximal); among such chains the fewest steps win,
//! then the fewest steps between two faces of the same person, so a chain
//! walks through different people where it can. Both searches run from the
//! two ends at once and stop where they meet, so a query touches the faces
//! near its ends, not all the faces one end can reach. They always start
//! from the end with the lower face, so A→B is B→A reversed, exactly.

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
/// Of chains equal on all three counts, which one comes back is fixed by the
/// graph and the ends, not by any further rule.
pub fn face_path(
    adj: &Adjacency,
    from: &[usize],
    to: &[usize],
    person: &[Option<u32>],
) -> Option<FacePath> {
    oriented(adj, from, to, person, Search::Fast)
}

/// [`face_path`] by the simple searches that walk from one end only: the
/// reference the fast search is checked against.
pub fn face_path_reference(
    adj: &Adjacency,
    from: &[usize],
    to: &[usize],
    person: &[Option<u32>],
) -> Option<FacePath> {
    oriented(adj, from, to, person, Search::Reference)
}

#[derive(Clone, Copy)]
enum Search {
    Fast,
    Reference,
}

/// Answers with the end holding the lower face as the start, so that A→B
/// and B→A are one search.
fn oriented(
    adj: &Adjacency,
    from: &[usize],
    to: &[usize],
    person: &[Option<u32>],
    search: Search,
) -> Option<FacePath> {
    let lowest = |set: &[usize]| set.iter().copied().min();
    let (lo_from, lo_to) = (lowest(from)?, lowest(to)?);
    if lo_from > lo_to {
        let mut path = oriented(adj, to, from, person, search)?;
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
    let (bottleneck, faces) = match search {
        Search::Fast => {
            let bottleneck = widest_both_ways(adj, [from, to])?;
            let faces = fewest_steps_both_ways(adj, [from, to], bottleneck, person)?;
            (bottleneck, faces)
        }
        Search::Reference => {
            let bottleneck = widest_bottleneck(adj, from, &is_target)?;
            (
                bottleneck,
                fewest_steps(adj, from, &is_target, bottleneck, person)?,
            )
        }
    };
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

/// Steps, then same-person steps, of a chain so far (ordered as the search ranks chains).
type Cost = (u32, u32);

const UNSEEN: Cost = (u32::MAX, u32::MAX);

/// The cost of a chain at `i` at cost `c`, one step on to `j`.
fn step_cost(c: Cost, person: &[Option<u32>], i: usize, j: usize) -> Cost {
    let same = person[i].is_some() && person[i] == person[j];
    (c.0 + 1, c.1 + u32::from(same))
}

/// `end`, then its predecessors back to the start of its chain.
fn chain_back(previous: &[usize], end: usize) -> Vec<usize> {
    let mut chain = vec![end];
    let mut at = end;
    while previous[at] != usize::MAX {
        at = previous[at];
        chain.push(at);
    }
    chain
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
            let mut chain = chain_back(&previous, i);
            chain.reverse();
            return Some(chain);
        }
        for (j, s) in adj.edges(i) {
            if s < floor {
                continue;
            }
            let next = step_cost(c, person, i, j);
            if next < cost[j] {
                cost[j] = next;
                previous[j] = i;
                heap.push(Reverse((next, j)));
            }
        }
    }
    None
}

/// Which side of a two-way search to advance: the one with the smaller
/// frontier, so both grow alike and they meet in the middle.
fn smaller<T: Ord>(heaps: &[BinaryHeap<T>; 2]) -> usize {
    usize::from(heaps[1].len() < heaps[0].len())
}

/// [`widest_bottleneck`] searched from both ends (`ends[0]` the starts,
/// `ends[1]` the targets) at once. `best` is the widest chain seen through
/// an edge between the two searches. Once either search has nothing wider
/// than `best` left, every face of a wider chain would have been reached from
/// that end, the chain's last edge scanned, and `best` raised: so `best` is
/// the answer, found without walking all the faces one end can reach.
fn widest_both_ways(adj: &Adjacency, ends: [&[usize]; 2]) -> Option<f32> {
    let mut width = [
        vec![f32::NEG_INFINITY; adj.len()],
        vec![f32::NEG_INFINITY; adj.len()],
    ];
    let mut heaps = [BinaryHeap::new(), BinaryHeap::new()];
    for side in 0..2 {
        for &f in ends[side] {
            width[side][f] = f32::INFINITY;
            heaps[side].push(Widest(f32::INFINITY, Reverse(f)));
        }
    }
    let mut best: Option<f32> = None;
    while let (Some(forward), Some(backward)) = (heaps[0].peek(), heaps[1].peek()) {
        if best.is_some_and(|b| forward.0.min(backward.0) <= b) {
            break;
        }
        let side = smaller(&heaps);
        let Widest(w, Reverse(i)) = heaps[side].pop()?;
        if w < width[side][i] {
            continue;
        }
        for (j, s) in adj.edges(i) {
            let through = w.min(s);
            let other = width[1 - side][j];
            if other > f32::NEG_INFINITY && best.is_none_or(|b| through.min(other) > b) {
                best = Some(through.min(other));
            }
            if through > width[side][j] {
                width[side][j] = through;
                heaps[side].push(Widest(through, Reverse(j)));
            }
        }
    }
    best
}

/// [`fewest_steps`] searched from both ends at once (a two-way Dijkstra over
/// the cost pair; adding pairs keeps their order, so its usual stop holds:
/// once the two frontiers' lowest costs add up to the best chain through an
/// edge between the searches, no chain can beat it).
fn fewest_steps_both_ways(
    adj: &Adjacency,
    ends: [&[usize]; 2],
    floor: f32,
    person: &[Option<u32>],
) -> Option<Vec<usize>> {
    let add = |a: Cost, b: Cost| (a.0 + b.0, a.1 + b.1);
    let mut cost = [vec![UNSEEN; adj.len()], vec![UNSEEN; adj.len()]];
    let mut previous = [vec![usize::MAX; adj.len()], vec![usize::MAX; adj.len()]];
    let mut heaps = [BinaryHeap::new(), BinaryHeap::new()];
    for side in 0..2 {
        for &f in ends[side] {
            cost[side][f] = (0, 0);
            heaps[side].push(Reverse(((0u32, 0u32), f)));
        }
    }
    // The best chain seen: its cost, its last face from the starts' side and
    // its first face from the targets' side.
    let mut best: Option<(Cost, usize, usize)> = None;
    while let (Some(Reverse((forward, _))), Some(Reverse((backward, _)))) =
        (heaps[0].peek(), heaps[1].peek())
    {
        if best.is_some_and(|(b, ..)| add(*forward, *backward) >= b) {
            break;
        }
        let side = smaller(&heaps);
        let Reverse((c, i)) = heaps[side].pop()?;
        if c > cost[side][i] {
            continue;
        }
        for (j, s) in adj.edges(i) {
            if s < floor {
                continue;
            }
            let next = step_cost(c, person, i, j);
            let other = cost[1 - side][j];
            if other != UNSEEN && best.is_none_or(|(b, ..)| add(next, other) < b) {
                let (last, first) = if side == 0 { (i, j) } else { (j, i) };
                best = Some((add(next, other), last, first));
            }
            if next < cost[side][j] {
                cost[side][j] = next;
                previous[side][j] = i;
                heaps[side].push(Reverse((next, j)));
            }
        }
    }
    let (_, last, first) = best?;
    let mut chain = chain_back(&previous[0], last);
    chain.reverse();
    chain.extend(chain_back(&previous[1], first));
    Some(chain)
}
