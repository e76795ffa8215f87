//! Lookalikes ("clones"): the most similar faces that belong to *other*
//! people, and the library's closest pairs of different people.
//!
//! A lookalike is never the query's own person, never a face of the same
//! photo content (a copy or re-save of the query's photo), and never an
//! unassigned face so close that it is more likely the same person.

use std::collections::HashMap;

use crate::people::graph::KnnGraph;

/// What is known of each face, by graph position.
pub struct FaceFacts<'a> {
    /// The person of each face, if clustered.
    pub person: &'a [Option<u32>],
    /// A key of each face's photo content (equal for copies of one photo).
    pub photo: &'a [u64],
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LookalikeParams {
    /// Unassigned faces at or above this similarity are taken for the same person.
    pub same_person_sim: f32,
    /// At most this many faces per other person (1: a gallery of people).
    pub per_person: usize,
    pub limit: usize,
}

impl Default for LookalikeParams {
    fn default() -> Self {
        Self {
            same_person_sim: 0.5,
            per_person: 1,
            limit: 50,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lookalike {
    pub face: usize,
    pub similarity: f32,
}

/// Filters `candidates` (face, similarity), best first, as the index
/// returned them for the query faces `query`, into lookalikes.
pub fn lookalikes(
    query: &[usize],
    candidates: &[(usize, f32)],
    facts: &FaceFacts<'_>,
    params: &LookalikeParams,
) -> Vec<Lookalike> {
    let own: Vec<u32> = query.iter().filter_map(|&q| facts.person[q]).collect();
    let photos: Vec<u64> = query.iter().map(|&q| facts.photo[q]).collect();
    let mut seen_faces = std::collections::HashSet::new();
    let mut per_person: HashMap<u32, usize> = HashMap::new();
    let mut sorted = candidates.to_vec();
    sorted.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut out = Vec::new();
    for (face, similarity) in sorted {
        let person = facts.person[face];
        let foreign = match person {
            Some(p) => !own.contains(&p),
            None => similarity < params.same_person_sim,
        };
        if !foreign
            || query.contains(&face)
            || photos.contains(&facts.photo[face])
            || !seen_faces.insert(face)
        {
            continue;
        }
        // Unassigned faces are each their own unknown person: no per-person cap.
        if let Some(p) = person {
            let taken = per_person.entry(p).or_default();
            if *taken >= params.per_person {
                continue;
            }
            *taken += 1;
        }
        out.push(Lookalike { face, similarity });
        if out.len() == params.limit {
            break;
        }
    }
    out
}

/// Two different people who look alike, through their most similar faces.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LookalikePair {
    pub people: (u32, u32),
    pub faces: (usize, usize),
    pub similarity: f32,
}

/// The `limit` closest pairs of different people in the library, by the
/// most similar pair of their faces along the kNN graph.
pub fn closest_pairs(graph: &KnnGraph, facts: &FaceFacts<'_>, limit: usize) -> Vec<LookalikePair> {
    let mut best: HashMap<(u32, u32), LookalikePair> = HashMap::new();
    for i in 0..graph.len() {
        let Some(pi) = facts.person[i] else { continue };
        for (j, similarity) in graph.neighbours(i) {
            let Some(pj) = facts.person[j] else { continue };
            if pi == pj || facts.photo[i] == facts.photo[j] {
                continue;
            }
            let (people, faces) = if pi < pj {
                ((pi, pj), (i, j))
            } else {
                ((pj, pi), (j, i))
            };
            let entry = best.entry(people).or_insert(LookalikePair {
                people,
                faces,
                similarity,
            });
            if similarity > entry.similarity {
                *entry = LookalikePair {
                    people,
                    faces,
                    similarity,
                };
            }
        }
    }
    let mut pairs: Vec<LookalikePair> = best.into_values().collect();
    pairs.sort_by(|a, b| {
        b.similarity
            .total_cmp(&a.similarity)
            .then(a.people.cmp(&b.people))
    });
    pairs.truncate(limit);
    pairs
}
