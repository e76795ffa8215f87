//! Clustering, its quality measures and face-to-face paths, on small graphs
//! whose answers are known.
use facefind::compute::rng::Rng;
use facefind::people::cluster::{ClusterParams, Method, cluster};
use facefind::people::graph::{Adjacency, KnnGraph, NONE};
use facefind::people::metrics::cluster_quality;
use facefind::people::paths::{FacePath, face_path, face_path_reference};

fn normalise(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
}

/// `people` identities of `per` faces each in `dim` dimensions, with noise `spread`.
fn faces(
    people: usize,
    per: usize,
    dim: usize,
    spread: f32,
    seed: u64,
) -> (Vec<Vec<f32>>, Vec<u32>) {
    let mut rng = Rng::new(seed);
    let mut vectors = Vec::new();
    let mut truth = Vec::new();
    for p in 0..people {
        let mut centre: Vec<f32> = (0..dim).map(|_| rng.normal()).collect();
        normalise(&mut centre);
        for _ in 0..per {
            let mut v: Vec<f32> = centre
                .iter()
                .map(|c| c + spread * rng.normal() / (dim as f32).sqrt())
                .collect();
            normalise(&mut v);
            vectors.push(v);
            truth.push(p as u32);
        }
    }
    (vectors, truth)
}

/// The exact kNN graph by brute force (the reference the index is held to).
fn knn_graph(vectors: &[Vec<f32>], k: usize) -> KnnGraph {
    let mut neighbours = Vec::new();
    let mut sims = Vec::new();
    for (i, a) in vectors.iter().enumerate() {
        let mut row: Vec<(f32, usize)> = vectors
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(j, b)| (a.iter().zip(b).map(|(x, y)| x * y).sum(), j))
            .collect();
        row.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
        row.resize(k, (0.0, NONE as usize));
        neighbours.extend(row.iter().map(|r| r.1 as u32));
        sims.extend(row.iter().map(|r| r.0));
    }
    KnnGraph::from_rows(k, neighbours, sims)
}

/// A content key independent of insertion order.
fn key(v: &[f32]) -> u64 {
    v.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, x| {
        (h ^ u64::from(x.to_bits())).wrapping_mul(0x100_0000_01b3)
    })
}

#[test]
fn quality_of_a_perfect_and_of_a_lumped_clustering() {
    let truth = [0, 0, 1, 1, 1];
    let perfect = cluster_quality(&[Some(5), Some(5), Some(7), Some(7), Some(7)], &truth);
    assert_eq!(
        (
            perfect.bcubed_f,
            perfect.pairwise_precision,
            perfect.pairwise_recall
        ),
        (1.0, 1.0, 1.0)
    );
    let lumped = cluster_quality(&[Some(0); 5], &truth);
    assert_eq!(lumped.pairwise_recall, 1.0);
    assert!((lumped.pairwise_precision - 0.4).abs() < 1e-12); // 4 true pairs of 10
    let none = cluster_quality(&[None; 5], &truth);
    assert_eq!((none.bcubed_precision, none.assigned), (1.0, 0.0));
}

#[test]
fn both_methods_recover_well_separated_people() {
    let (vectors, truth) = faces(40, 6, 64, 0.6, 7);
    let graph = knn_graph(&vectors, 10);
    let keys: Vec<u64> = vectors.iter().map(|v| key(v)).collect();
    let eligible = vec![true; vectors.len()];
    for method in [
        Method::Components,
        Method::ChineseWhispers { iterations: 20 },
    ] {
        let params = ClusterParams {
            method,
            min_sim: 0.5,
            ..ClusterParams::default()
        };
        let labels = cluster(&graph, &keys, &eligible, &params);
        let q = cluster_quality(&labels, &truth);
        assert!(q.bcubed_f > 0.98, "{method:?}: {q:?}");
    }
}

#[test]
fn ineligible_faces_and_small_groups_stay_unassigned() {
    let (vectors, _) = faces(10, 5, 128, 0.5, 3);
    let graph = knn_graph(&vectors, 8);
    let keys: Vec<u64> = vectors.iter().map(|v| key(v)).collect();
    let mut eligible = vec![true; vectors.len()];
    eligible[0] = false;
    let params = ClusterParams {
        min_faces: 6,
        ..ClusterParams::default()
    };
    assert!(
        cluster(&graph, &keys, &eligible, &params)
            .iter()
            .all(Option::is_none)
    );
    let params = ClusterParams {
        min_faces: 2,
        ..ClusterParams::default()
    };
    let labels = cluster(&graph, &keys, &eligible, &params);
    assert_eq!(labels[0], None);
    assert!(labels[1..].iter().all(Option::is_some));
}

#[test]
fn clustering_does_not_depend_on_the_order_faces_came_in() {
    let (vectors, _) = faces(30, 5, 48, 1.0, 11);
    let mut order: Vec<usize> = (0..vectors.len()).collect();
    let mut rng = Rng::new(99);
    rng.shuffle(&mut order);
    let shuffled: Vec<Vec<f32>> = order.iter().map(|&i| vectors[i].clone()).collect();
    for method in [
        Method::Components,
        Method::ChineseWhispers { iterations: 20 },
    ] {
        let params = ClusterParams {
            method,
            ..ClusterParams::default()
        };
        let run = |vs: &[Vec<f32>]| {
            let keys: Vec<u64> = vs.iter().map(|v| key(v)).collect();
            cluster(&knn_graph(vs, 10), &keys, &vec![true; vs.len()], &params)
        };
        let (plain, mixed) = (run(&vectors), run(&shuffled));
        for (pos, &original) in order.iter().enumerate() {
            assert_eq!(mixed[pos], plain[original], "{method:?}: face {original}");
        }
    }
}

/// A square 0–1–3 and 0–2–3 with a weak first link on one side, plus a direct weak edge.
fn diamond() -> Adjacency {
    Adjacency::from_edges(
        5,
        &[
            (0, 1, 0.9),
            (1, 3, 0.8),
            (0, 2, 0.7),
            (2, 3, 0.95),
            (0, 3, 0.3),
        ],
    )
}

#[test]
fn a_path_maximises_its_weakest_step_then_takes_the_fewest_steps() {
    let path = face_path(&diamond(), &[0], &[3], &[None; 5]).unwrap();
    assert_eq!(path.faces, vec![0, 1, 3]);
    assert_eq!(path.sims, vec![0.9, 0.8]);
    assert_eq!(path.bottleneck, 0.8);
}

#[test]
fn a_path_read_backwards_is_the_same_chain() {
    let adj = diamond();
    let there = face_path(&adj, &[0], &[3], &[None; 5]).unwrap();
    let back = face_path(&adj, &[3], &[0], &[None; 5]).unwrap();
    assert_eq!(
        back.faces,
        there.faces.iter().rev().copied().collect::<Vec<_>>()
    );
    assert_eq!(
        back.sims,
        there.sims.iter().rev().copied().collect::<Vec<_>>()
    );
}

#[test]
fn a_path_prefers_steps_through_other_people() {
    // 0–1–3 and 0–2–3 are equally strong and long; 1 is 0's own person, 2 is someone else.
    let adj = Adjacency::from_edges(4, &[(0, 1, 0.9), (1, 3, 0.9), (0, 2, 0.9), (2, 3, 0.9)]);
    let person = [Some(0), Some(0), Some(1), Some(2)];
    assert_eq!(
        face_path(&adj, &[0], &[3], &person).unwrap().faces,
        vec![0, 2, 3]
    );
}

/// A seeded random graph: sparse (often in pieces), similarities from a few
/// values (many ties), a few people and some faces of no one.
fn random_graph(rng: &mut Rng) -> (Adjacency, Vec<Option<u32>>) {
    let n = 2 + rng.below(40);
    let mut edges = Vec::new();
    for a in 0..n as u32 {
        for b in a + 1..n as u32 {
            if rng.below(n) < 2 {
                edges.push((a, b, (1 + rng.below(5)) as f32 / 5.0));
            }
        }
    }
    let person = (0..n)
        .map(|_| Some(rng.below(4) as u32).filter(|&p| p < 3))
        .collect();
    (Adjacency::from_edges(n, &edges), person)
}

/// Steps between two faces of the same person along `path`.
fn same_person_steps(path: &FacePath, person: &[Option<u32>]) -> usize {
    path.faces
        .windows(2)
        .filter(|w| person[w[0]].is_some() && person[w[0]] == person[w[1]])
        .count()
}

#[test]
fn the_two_way_path_search_matches_the_simple_reference() {
    let mut rng = Rng::new(7);
    let (mut found, mut missing) = (0, 0);
    for _ in 0..300 {
        let (adj, person) = random_graph(&mut rng);
        for _ in 0..10 {
            let (a, b) = (1 + rng.below(2), 1 + rng.below(3).min(adj.len() - 1));
            let from = rng.sample_indices(adj.len(), a);
            let to = rng.sample_indices(adj.len(), b);
            let fast = face_path(&adj, &from, &to, &person);
            let reference = face_path_reference(&adj, &from, &to, &person);
            let back = face_path(&adj, &to, &from, &person);
            let (Some(fast), Some(reference), Some(back)) = (fast, reference, back) else {
                assert!(face_path(&adj, &from, &to, &person).is_none());
                assert!(face_path_reference(&adj, &from, &to, &person).is_none());
                assert!(face_path(&adj, &to, &from, &person).is_none());
                missing += 1;
                continue;
            };
            found += 1;
            // The same quality of chain (ties may pick another chain of it).
            assert_eq!(fast.bottleneck, reference.bottleneck);
            assert_eq!(fast.faces.len(), reference.faces.len());
            assert_eq!(
                same_person_steps(&fast, &person),
                same_person_steps(&reference, &person)
            );
            // A real chain between the two sets, its steps as recorded.
            assert!(from.contains(&fast.faces[0]));
            assert!(to.contains(fast.faces.last().unwrap()));
            for (w, &sim) in fast.faces.windows(2).zip(&fast.sims) {
                assert!(adj.edges(w[0]).any(|(j, s)| j == w[1] && s == sim));
                assert!(sim >= fast.bottleneck);
            }
            // Read backwards, the same chain.
            let mut reversed = back.faces.clone();
            reversed.reverse();
            assert_eq!(fast.faces, reversed);
        }
    }
    assert!(
        found > 500 && missing > 200,
        "{found} chains, {missing} none"
    );
}

#[test]
fn between_people_and_when_there_is_no_path() {
    let adj = diamond();
    let path = face_path(&adj, &[0, 1], &[2, 3], &[None; 5]).unwrap();
    assert_eq!((path.faces, path.bottleneck), (vec![1, 3], 0.8));
    assert!(face_path(&adj, &[0], &[4], &[None; 5]).is_none());
    assert_eq!(
        face_path(&adj, &[2], &[2], &[None; 5]).unwrap().faces,
        vec![2]
    );
}

mod identity {
    use facefind::people::identity::{Assignment, FaceState, reconcile};

    fn auto(p: i64) -> FaceState {
        FaceState {
            person: Some(p),
            ..FaceState::default()
        }
    }
    fn confirmed(p: i64) -> FaceState {
        FaceState {
            person: Some(p),
            confirmed: true,
            ..FaceState::default()
        }
    }

    #[test]
    fn a_recluster_keeps_each_group_on_the_person_it_overlaps_most() {
        // Group 7 is mostly person 10, group 8 mostly person 20; the new face 4 follows its group.
        let groups = [Some(7), Some(7), Some(8), Some(8), Some(8), Some(9)];
        let prior = [
            auto(10),
            auto(10),
            auto(20),
            auto(10),
            FaceState::default(),
            FaceState::default(),
        ];
        let out = reconcile(&groups, &prior, |_, _| unreachable!());
        use Assignment::*;
        assert_eq!(
            out,
            [
                Some(Existing(10)),
                Some(Existing(10)),
                Some(Existing(20)),
                Some(Existing(20)),
                Some(Existing(20)),
                Some(New(9))
            ]
        );
    }

    #[test]
    fn confirmed_faces_stay_and_rejections_hold() {
        let rejected = FaceState {
            rejected: vec![10],
            ..FaceState::default()
        };
        // The clustering put a confirmed face of 20 alone (group 2) and the rest in group 1.
        let groups = [Some(1), Some(1), Some(2), Some(1), None];
        let prior = [auto(10), rejected, confirmed(20), auto(10), confirmed(30)];
        let out = reconcile(&groups, &prior, |_, _| unreachable!());
        use Assignment::*;
        assert_eq!(
            out,
            [
                Some(Existing(10)),
                None,
                Some(Existing(20)),
                Some(Existing(10)),
                Some(Existing(30))
            ]
        );
    }

    #[test]
    fn groups_confirmed_for_one_person_all_stay_with_it() {
        // A merge made 1 of both groups; the clustering keeps them apart.
        let groups = [Some(0), Some(0), Some(1), Some(1)];
        let prior = [confirmed(1), auto(1), confirmed(1), auto(1)];
        let out = reconcile(&groups, &prior, |_, _| unreachable!());
        assert_eq!(out, [Some(Assignment::Existing(1)); 4]);
    }

    #[test]
    fn a_group_holding_two_confirmed_people_is_split_not_merged() {
        let groups = [Some(0); 4];
        let prior = [
            confirmed(1),
            confirmed(2),
            FaceState::default(),
            FaceState::default(),
        ];
        let out = reconcile(&groups, &prior, |face, people| {
            assert_eq!(people, [1, 2]);
            if face == 2 { 1 } else { 2 }
        });
        use Assignment::*;
        assert_eq!(
            out,
            [
                Some(Existing(1)),
                Some(Existing(2)),
                Some(Existing(1)),
                Some(Existing(2))
            ]
        );
    }
}

mod lookalikes {
    use facefind::people::graph::KnnGraph;
    use facefind::people::lookalikes::{FaceFacts, LookalikeParams, closest_pairs, lookalikes};

    // Faces 0,1: person 0 (photos 100, 101); 2,3: person 1; 4: person 2; 5: unassigned;
    // 6: a copy of face 0's photo assigned to person 3.
    const PERSON: [Option<u32>; 7] = [Some(0), Some(0), Some(1), Some(1), Some(2), None, Some(3)];
    const PHOTO: [u64; 7] = [100, 101, 102, 103, 104, 105, 100];

    #[test]
    fn lookalikes_are_other_people_one_face_each_and_never_copies() {
        let facts = FaceFacts {
            person: &PERSON,
            photo: &PHOTO,
        };
        let candidates = [
            (6, 0.99),
            (1, 0.9),
            (5, 0.8),
            (2, 0.45),
            (3, 0.44),
            (4, 0.3),
            (5, 0.8),
        ];
        let params = LookalikeParams {
            same_person_sim: 0.5,
            per_person: 1,
            limit: 10,
        };
        let got: Vec<usize> = lookalikes(&[0], &candidates, &facts, &params)
            .iter()
            .map(|l| l.face)
            .collect();
        // 6 is a copy of the query's photo, 1 the same person, 5 unassigned but too close, 3 a second face of person 1.
        assert_eq!(got, vec![2, 4]);
        let params = LookalikeParams {
            same_person_sim: 0.9,
            per_person: 2,
            limit: 2,
        };
        let got: Vec<usize> = lookalikes(&[0], &candidates, &facts, &params)
            .iter()
            .map(|l| l.face)
            .collect();
        assert_eq!(got, vec![5, 2]);
    }

    #[test]
    fn closest_pairs_rank_different_people_by_their_nearest_faces() {
        let facts = FaceFacts {
            person: &PERSON,
            photo: &PHOTO,
        };
        let none = u32::MAX;
        #[rustfmt::skip]
        let neighbours = vec![6, 1, 0, 2, 3, 0, 2, 4, 3, none, none, none, 0, none];
        let sims = vec![
            0.99, 0.9, 0.9, 0.6, 0.95, 0.5, 0.95, 0.7, 0.7, 0.0, 0.0, 0.0, 0.99, 0.0,
        ];
        let graph = KnnGraph::from_rows(2, neighbours, sims);
        let pairs = closest_pairs(&graph, &facts, 10);
        let got: Vec<((u32, u32), f32)> = pairs.iter().map(|p| (p.people, p.similarity)).collect();
        // Faces 0 and 6 (people 0 and 3) share a photo: never a pair.
        assert_eq!(got, vec![((1, 2), 0.7), ((0, 1), 0.6)]);
    }
}

mod graph_file {
    use super::{faces, knn_graph};
    use facefind::index::factory::index_factory;
    use facefind::index::{JobControl, Metric, SearchParams};
    use facefind::people::graph::{self, KnnGraph};

    fn sample() -> (Vec<Vec<f32>>, KnnGraph) {
        let (vectors, _) = faces(20, 5, 32, 0.8, 5);
        let graph = knn_graph(&vectors, 6);
        (vectors, graph)
    }

    #[test]
    fn the_graph_built_through_an_exact_index_is_the_brute_force_graph() {
        let (vectors, reference) = sample();
        let flat: Vec<f32> = vectors.concat();
        let ids: Vec<u64> = (0..vectors.len() as u64).map(|i| 100 + 3 * i).collect();
        let mut index = index_factory("Flat", 32, Metric::InnerProduct, ids.len()).unwrap();
        index.add(&flat, &ids).unwrap();
        let built = graph::build(&flat, &ids, 6, &JobControl::default(), |q, k| {
            index.search(q, k, &SearchParams::default())
        })
        .unwrap();
        for i in 0..vectors.len() {
            let got: Vec<usize> = built.neighbours(i).map(|n| n.0).collect();
            let want: Vec<usize> = reference.neighbours(i).map(|n| n.0).collect();
            assert_eq!(got, want, "row {i}");
        }
    }

    #[test]
    fn stopping_the_build_stops_it() {
        let (vectors, _) = sample();
        let ctl = JobControl::default();
        ctl.stop();
        let ids: Vec<u64> = (0..vectors.len() as u64).collect();
        let result = graph::build(&vectors.concat(), &ids, 6, &ctl, |_, _| unreachable!());
        assert!(matches!(
            result,
            Err(facefind::error::IndexError::Cancelled)
        ));
    }

    /// The adjacency the simple way: every listed pair, sorted, the larger similarity kept.
    fn reference_edges(graph: &KnnGraph, min_sim: f32) -> Vec<(usize, usize, f32)> {
        let mut edges: Vec<(usize, usize, f32)> = Vec::new();
        for i in 0..graph.len() {
            for (j, s) in graph.neighbours(i) {
                let (a, b) = (i.min(j), i.max(j));
                match edges.iter_mut().find(|e| (e.0, e.1) == (a, b)) {
                    Some(e) => e.2 = e.2.max(s),
                    None => edges.push((a, b, s)),
                }
            }
        }
        edges.retain(|e| e.2 >= min_sim);
        edges.sort_by_key(|e| (e.0, e.1));
        edges
    }

    #[test]
    fn the_undirected_adjacency_matches_the_simple_reference() {
        let (_, graph) = sample();
        for min_sim in [f32::MIN, 0.3, 0.6] {
            let adj = graph.undirected(min_sim);
            let mut got: Vec<(usize, usize, f32)> = (0..adj.len())
                .flat_map(|i| {
                    adj.edges(i)
                        .filter(move |e| i < e.0)
                        .map(move |(j, s)| (i, j, s))
                })
                .collect();
            got.sort_by_key(|e| (e.0, e.1));
            assert_eq!(got, reference_edges(&graph, min_sim), "min_sim {min_sim}");
        }
    }

    #[test]
    fn a_saved_graph_reads_back_and_a_damaged_one_is_refused() {
        let (_, graph) = sample();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("knn.graph");
        let ids: Vec<u64> = (0..graph.len() as u64).map(|i| i * 7).collect();
        graph::save(&path, &[3, 9], &ids, &graph).unwrap();
        let saved = graph::load(&path).unwrap();
        assert_eq!((saved.tag, saved.ids), (vec![3, 9], ids));
        assert_eq!(saved.knn, graph);
        let want = graph.undirected(f32::MIN);
        for i in 0..graph.len() {
            assert!(saved.adjacency.edges(i).eq(want.edges(i)), "node {i}");
        }
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let err = graph::load(&path)
            .err()
            .expect("a damaged graph is refused");
        assert!(err.to_string().contains("checksum"), "{err}");
        std::fs::write(&path, &bytes[..bytes.len() - 9]).unwrap();
        assert!(graph::load(&path).is_err());
    }
}
