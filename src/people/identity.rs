//! Keeping people stable across re-clustering.
//!
//! A clustering only says which faces go together; the user's work (names,
//! confirmed faces, rejected faces) lives on the catalog's people. After
//! every re-cluster each new group is matched to the existing person it
//! overlaps most, so names survive, and the user's decisions win:
//! a confirmed face stays with its person whatever the clustering says, a
//! face never goes automatically to a person it was rejected from, and a
//! group holding confirmed faces of two people (look-alike relatives) is
//! split between them instead of merging them.

use std::collections::{BTreeMap, HashMap};

/// What the catalog knows of one face before the re-cluster.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaceState {
    /// The person the face is assigned to, automatically or by the user.
    pub person: Option<i64>,
    /// The user confirmed that assignment.
    pub confirmed: bool,
    /// People the user said this face is not.
    pub rejected: Vec<i64>,
}

/// Where a face goes after the re-cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Assignment {
    /// An existing person (keeps its name and id).
    Existing(i64),
    /// A person to create, one per new group number.
    New(u32),
}

/// Maps a fresh clustering (`groups[i]`: the group of face `i`, or none)
/// onto the existing people, honouring confirmations and rejections.
/// `nearest_confirmed(face, candidates)` picks, for a face of a group that
/// holds several people's confirmed faces, the person whose confirmed faces
/// it is most similar to.
pub fn reconcile(
    groups: &[Option<u32>],
    prior: &[FaceState],
    mut nearest_confirmed: impl FnMut(usize, &[i64]) -> i64,
) -> Vec<Option<Assignment>> {
    assert_eq!(groups.len(), prior.len());
    let mut members: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (face, group) in groups.iter().enumerate() {
        if let Some(g) = group {
            members.entry(*g).or_default().push(face);
        }
    }
    let mut out: Vec<Option<Assignment>> = prior
        .iter()
        .map(|state| {
            state
                .person
                .filter(|_| state.confirmed)
                .map(Assignment::Existing)
        })
        .collect();

    // Each group's overlap with existing people; confirmed faces weigh most.
    let mut claims: Vec<(u64, u32, i64)> = Vec::new();
    let mut confirmed_people: HashMap<u32, Vec<i64>> = HashMap::new();
    for (&g, faces) in &members {
        let mut votes: BTreeMap<i64, u64> = BTreeMap::new();
        for &f in faces {
            if let Some(p) = prior[f].person {
                *votes.entry(p).or_default() += if prior[f].confirmed { 1_000_000 } else { 1 };
                if prior[f].confirmed {
                    confirmed_people.entry(g).or_default().push(p);
                }
            }
        }
        claims.extend(votes.into_iter().map(|(p, v)| (v, g, p)));
    }
    for people in confirmed_people.values_mut() {
        people.sort_unstable();
        people.dedup();
    }
    // A group whose confirmed faces are all one person's is that person's,
    // even when another group is too (a merge the clustering splits again).
    let mut group_person: HashMap<u32, i64> = HashMap::new();
    let mut taken: std::collections::HashSet<i64> = std::collections::HashSet::new();
    for (&g, people) in &confirmed_people {
        if let [p] = people.as_slice() {
            group_person.insert(g, *p);
            taken.insert(*p);
        }
    }
    // Then greedy matching, strongest overlap first: each person names at most one group.
    claims.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    for (_, g, p) in claims {
        if !group_person.contains_key(&g) && !taken.contains(&p) {
            group_person.insert(g, p);
            taken.insert(p);
        }
    }

    for (&g, faces) in &members {
        let several = confirmed_people.get(&g).filter(|people| people.len() > 1);
        for &f in faces {
            if out[f].is_some() {
                continue;
            }
            let target = match several {
                Some(people) => Assignment::Existing(nearest_confirmed(f, people)),
                None => group_person
                    .get(&g)
                    .map_or(Assignment::New(g), |&p| Assignment::Existing(p)),
            };
            let refused =
                matches!(target, Assignment::Existing(p) if prior[f].rejected.contains(&p));
            out[f] = (!refused).then_some(target);
        }
    }
    out
}
