//! The vector index engine through its public interface: recall floors
//! against exact search, save/load, and a typed error for each bad input.
use facefind::compute::Metric;
use facefind::compute::rng::Rng;
use facefind::error::IndexError;
use facefind::index::factory::index_factory;
use facefind::index::{JobControl, NO_ID, SearchParams, VectorIndex, load_index};

/// Unit vectors scattered around `centres` random unit centres (a crude
/// stand-in for face embeddings: many identities, tight-ish clusters).
pub(crate) fn clustered(n: usize, dim: usize, centres: usize, spread: f32, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(1234);
    let c: Vec<f32> = unit_rows((0..centres * dim).map(|_| rng.normal()).collect(), dim);
    let mut rng = Rng::new(seed);
    let raw = (0..n)
        .flat_map(|_| {
            let who = rng.below(centres);
            (0..dim)
                .map(|d| c[who * dim + d] + spread * rng.normal() / (dim as f32).sqrt())
                .collect::<Vec<_>>()
        })
        .collect();
    unit_rows(raw, dim)
}

fn unit_rows(mut x: Vec<f32>, dim: usize) -> Vec<f32> {
    for row in x.chunks_exact_mut(dim) {
        let n = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        row.iter_mut().for_each(|v| *v /= n);
    }
    x
}

/// Share of the true top-`k` (row numbers) found among the returned ids (= rows here).
fn recall(truth: &[u32], k_truth: usize, found: &[u64], k: usize) -> f64 {
    let nq = found.len() / k;
    let hits: usize = (0..nq)
        .map(|q| {
            let t = &truth[q * k_truth..q * k_truth + k];
            found[q * k..(q + 1) * k]
                .iter()
                .filter(|&&id| t.contains(&(id as u32)))
                .count()
        })
        .sum();
    hits as f64 / (nq * k) as f64
}

pub(crate) fn build(spec: &str, base: &[f32], dim: usize, metric: Metric) -> Box<dyn VectorIndex> {
    let n = base.len() / dim;
    let mut index = index_factory(spec, dim, metric, n).unwrap();
    index.train(base, &JobControl::default()).unwrap();
    let ids: Vec<u64> = (0..n as u64).collect();
    index.add(base, &ids).unwrap();
    index
}

const DIM: usize = 64;

#[test]
fn flat_equals_a_naive_f64_reference() {
    let base = clustered(20_000, DIM, 500, 0.8, 1);
    let queries = clustered(50, DIM, 500, 0.8, 2);
    for metric in [Metric::InnerProduct, Metric::L2] {
        let index = build("Flat", &base, DIM, metric);
        let res = index
            .search(&queries, 10, &SearchParams::default())
            .unwrap();
        for q in 0..50 {
            let qv = &queries[q * DIM..(q + 1) * DIM];
            let mut all: Vec<(f64, u64)> = base
                .chunks_exact(DIM)
                .enumerate()
                .map(|(j, b)| {
                    let v = match metric {
                        Metric::InnerProduct => -qv
                            .iter()
                            .zip(b)
                            .map(|(&x, &y)| x as f64 * y as f64)
                            .sum::<f64>(),
                        Metric::L2 => qv
                            .iter()
                            .zip(b)
                            .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
                            .sum(),
                    };
                    (v, j as u64)
                })
                .collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0));
            for r in 0..10 {
                let got = metric.to_dist(res.row_scores(q)[r]) as f64;
                assert!(
                    (got - all[r].0).abs() < 1e-5,
                    "{metric:?} q{q} rank {r}: {got} vs {}",
                    all[r].0
                );
                let id = res.row_ids(q)[r];
                let exact = all.iter().find(|x| x.1 == id).unwrap().0;
                assert!(
                    (exact - all[r].0).abs() < 1e-5,
                    "a different row that is not a tie"
                );
            }
        }
    }
}

/// The recall floors: each spec at a stated nprobe on 30k clustered vectors.
#[test]
fn ivf_specs_reach_their_recall_floors() {
    let (n, nq) = (30_000, 200);
    let base = clustered(n, DIM, 1000, 0.9, 3);
    let queries = clustered(nq, DIM, 1000, 0.9, 4);
    let (_, truth) = facefind::compute::cpu::knn(Metric::InnerProduct, &queries, &base, DIM, 10);
    let params = SearchParams {
        nprobe: 32,
        k_factor: 10,
    };
    for (spec, floor) in [
        ("IVF128,Flat", 0.95),
        ("IVF128,PQ16x4fs,RFlat", 0.95),
        ("IVF128,PQ16,RFlat", 0.95),
        ("IVF128,PQ32x4fs,Refine(SQfp16)", 0.95),
        ("IVF128,PQ32", 0.60),
        ("IVF128,PQ32x4fs", 0.50),
    ] {
        let index = build(spec, &base, DIM, Metric::InnerProduct);
        assert_eq!(index.spec(), spec);
        let res = index.search(&queries, 10, &params).unwrap();
        let r = recall(&truth, 10, &res.ids, 10);
        eprintln!("{spec}: recall@10 {r:.3} at nprobe {}", params.nprobe);
        assert!(r >= floor, "{spec}: recall@10 {r:.3} < {floor}");
    }
}

#[test]
fn l2_metric_works_through_ivf_pq() {
    let base = clustered(10_000, DIM, 300, 0.9, 5);
    let queries = clustered(100, DIM, 300, 0.9, 6);
    let (_, truth) = facefind::compute::cpu::knn(Metric::L2, &queries, &base, DIM, 10);
    for spec in ["IVF64,PQ16x4fs,RFlat", "IVF64,PQ16,RFlat"] {
        let index = build(spec, &base, DIM, Metric::L2);
        let res = index
            .search(
                &queries,
                10,
                &SearchParams {
                    nprobe: 16,
                    k_factor: 10,
                },
            )
            .unwrap();
        let r = recall(&truth, 10, &res.ids, 10);
        assert!(r >= 0.95, "{spec} L2: recall@10 {r:.3}");
        assert!(res.scores.iter().all(|&s| s >= 0.0));
    }
}

#[test]
fn single_query_and_batch_agree() {
    let base = clustered(8_000, DIM, 200, 0.9, 7);
    let queries = clustered(8, DIM, 200, 0.9, 8);
    let index = build("IVF32,PQ16x4fs,RFlat", &base, DIM, Metric::InnerProduct);
    let params = SearchParams {
        nprobe: 8,
        k_factor: 8,
    };
    let batch = index.search(&queries, 5, &params).unwrap();
    for q in 0..8 {
        let one = index
            .search(&queries[q * DIM..(q + 1) * DIM], 5, &params)
            .unwrap();
        assert_eq!(one.ids, batch.row_ids(q));
    }
}

#[test]
fn ids_are_the_callers_u64s() {
    let base = clustered(3_000, DIM, 50, 0.9, 9);
    let ids: Vec<u64> = (0..3_000u64).map(|i| i * 1_000_003 + (1 << 40)).collect();
    for spec in ["Flat", "IVF16,PQ8x4fs", "IVF16,PQ8x4fs,RFlat", "IVF16,Flat"] {
        let mut index = index_factory(spec, DIM, Metric::InnerProduct, 3_000).unwrap();
        index.train(&base, &JobControl::default()).unwrap();
        index.add(&base, &ids).unwrap();
        let res = index
            .search(
                &base[..DIM * 3],
                5,
                &SearchParams {
                    nprobe: 16,
                    k_factor: 100,
                },
            )
            .unwrap();
        assert!(res.ids.iter().all(|id| ids.contains(id)), "{spec}");
        if spec != "IVF16,PQ8x4fs" {
            // exact scores: each vector finds itself first (the lossy codes alone need not)
            assert_eq!([res.ids[0], res.ids[5], res.ids[10]], ids[..3], "{spec}");
        }
    }
}

#[test]
fn save_then_load_gives_the_same_answers() {
    let dir = tempfile::tempdir().unwrap();
    let base = clustered(4_000, DIM, 100, 0.9, 10);
    let queries = clustered(20, DIM, 100, 0.9, 11);
    let params = SearchParams {
        nprobe: 8,
        k_factor: 4,
    };
    for spec in [
        "Flat",
        "IVF32,Flat",
        "IVF32,PQ16",
        "IVF32,PQ16x4fs,RFlat",
        "IVF32,PQ8x4fs,Refine(SQfp16)",
    ] {
        let index = build(spec, &base, DIM, Metric::InnerProduct);
        let path = dir.path().join("index.ffi");
        index.save(&path).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            index.bytes_on_disk(),
            "{spec}"
        );
        assert!(!dir.path().join("index.ffi.tmp").exists());
        let loaded = load_index(&path).unwrap();
        assert_eq!(
            (loaded.spec(), loaded.ntotal(), loaded.dim()),
            (index.spec(), index.ntotal(), index.dim())
        );
        assert_eq!(
            loaded.search(&queries, 5, &params).unwrap(),
            index.search(&queries, 5, &params).unwrap(),
            "{spec}"
        );
    }
}

#[test]
fn fewer_reachable_than_k_pads_with_no_id() {
    let base = clustered(2_000, DIM, 40, 0.9, 12);
    let index = build("IVF64,Flat", &base, DIM, Metric::InnerProduct);
    let res = index
        .search(
            &base[..DIM],
            1_000,
            &SearchParams {
                nprobe: 1,
                k_factor: 1,
            },
        )
        .unwrap();
    assert!(res.ids.contains(&NO_ID));
    let last = res.ids.iter().position(|&i| i == NO_ID).unwrap();
    assert!(res.ids[last..].iter().all(|&i| i == NO_ID));
}

#[test]
fn auto_picks_flat_when_small_and_training_can_be_stopped() {
    let base = clustered(5_000, DIM, 100, 0.9, 16);
    let index = index_factory("auto", DIM, Metric::InnerProduct, 5_000).unwrap();
    assert_eq!(index.spec(), "Flat");
    let big = index_factory("auto", DIM, Metric::InnerProduct, 1_000_000).unwrap();
    assert_eq!(big.spec(), "IVF4096,PQ32x4fs,RFlat");
    // a watcher that stops the job at its first progress report
    let me: std::sync::Arc<std::sync::OnceLock<JobControl>> = Default::default();
    let handle = me.clone();
    let ctl = JobControl::with_progress(move |_, _| handle.get().expect("set").stop());
    me.set(ctl.clone()).ok().expect("set once");
    let mut ivf = index_factory("IVF32,PQ16x4fs", DIM, Metric::InnerProduct, 5_000).unwrap();
    assert!(matches!(ivf.train(&base, &ctl), Err(IndexError::Cancelled)));
    assert!(!ivf.is_trained());
    assert!(matches!(
        ivf.add(&base, &[0; 5_000]),
        Err(IndexError::NotTrained)
    ));
}

mod bad_input {
    use super::*;

    fn small() -> (Vec<f32>, Box<dyn VectorIndex>) {
        let base = clustered(2_000, DIM, 40, 0.9, 13);
        let index = build("IVF16,PQ8x4fs,RFlat", &base, DIM, Metric::InnerProduct);
        (base, index)
    }

    #[test]
    fn wrong_dimension() {
        let (base, mut index) = small();
        let p = SearchParams::default();
        assert!(matches!(
            index.search(&base[..DIM - 1], 1, &p),
            Err(IndexError::Dimension {
                expected: DIM,
                got: 63
            })
        ));
        assert!(matches!(
            index.search(&base[..DIM + 1], 1, &p),
            Err(IndexError::Ragged { .. })
        ));
        assert!(matches!(
            index.add(&base[..DIM * 2 - 3], &[1]),
            Err(IndexError::Ragged { .. })
        ));
        assert!(matches!(
            index.add(&base[..DIM * 2], &[1]),
            Err(IndexError::IdCount {
                count: 1,
                vectors: 2
            })
        ));
    }

    #[test]
    fn nan_and_infinity() {
        let (base, mut index) = small();
        let mut bad = base[..DIM * 3].to_vec();
        bad[DIM + 5] = f32::NAN;
        assert!(matches!(
            index.search(&bad, 1, &SearchParams::default()),
            Err(IndexError::NonFinite { row: 1, col: 5 })
        ));
        bad[DIM + 5] = f32::INFINITY;
        assert!(matches!(
            index.add(&bad, &[1, 2, 3]),
            Err(IndexError::NonFinite { row: 1, col: 5 })
        ));
        let mut fresh = index_factory("IVF4,PQ8", DIM, Metric::InnerProduct, 0).unwrap();
        assert!(matches!(
            fresh.train(&bad, &JobControl::default()),
            Err(IndexError::NonFinite { .. })
        ));
    }

    #[test]
    fn empty_and_untrained_index() {
        let q = clustered(1, DIM, 1, 0.5, 14);
        for spec in ["Flat", "IVF4,PQ8x4fs"] {
            let index = index_factory(spec, DIM, Metric::InnerProduct, 0).unwrap();
            assert!(
                matches!(
                    index.search(
                        &q,
                        1,
                        &SearchParams {
                            nprobe: 1,
                            k_factor: 1
                        }
                    ),
                    Err(IndexError::Empty)
                ),
                "{spec}"
            );
        }
        let mut ivf = index_factory("IVF4,Flat", DIM, Metric::InnerProduct, 0).unwrap();
        assert!(matches!(ivf.add(&q, &[1]), Err(IndexError::NotTrained)));
        assert!(matches!(
            ivf.train(&q, &JobControl::default()),
            Err(IndexError::TooFewTrainingVectors { needed: 4, got: 1 })
        ));
    }

    #[test]
    fn nprobe_beyond_nlist_and_k_beyond_ntotal() {
        let (base, index) = small();
        let q = &base[..DIM];
        assert!(matches!(
            index.search(
                q,
                1,
                &SearchParams {
                    nprobe: 17,
                    k_factor: 1
                }
            ),
            Err(IndexError::Nprobe {
                nprobe: 17,
                nlist: 16
            })
        ));
        assert!(matches!(
            index.search(
                q,
                1,
                &SearchParams {
                    nprobe: 0,
                    k_factor: 1
                }
            ),
            Err(IndexError::Nprobe { .. })
        ));
        assert!(matches!(
            index.search(q, 2_001, &SearchParams::default()),
            Err(IndexError::KTooLarge {
                k: 2_001,
                ntotal: 2_000
            })
        ));
        assert!(matches!(
            index.search(q, 0, &SearchParams::default()),
            Err(IndexError::Param(_))
        ));
    }

    #[test]
    fn bad_spec() {
        assert!(matches!(
            index_factory("IVF16,PQ7", DIM, Metric::L2, 0),
            Err(IndexError::Spec { .. })
        ));
    }

    fn saved() -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>) {
        let (_, index) = small();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.ffi");
        index.save(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        (dir, path, bytes)
    }

    #[test]
    fn truncated_file() {
        let (_dir, path, bytes) = saved();
        for cut in [0, 5, 12, 100, bytes.len() / 2, bytes.len() - 1] {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            match load_index(&path) {
                Err(IndexError::Corrupt { path: p, reason }) => {
                    assert_eq!(p, path);
                    assert!(
                        reason.contains("truncated") || reason.contains("magic"),
                        "{cut}: {reason}"
                    );
                }
                other => panic!("cut at {cut}: {:?}", other.err()),
            }
        }
    }

    #[test]
    fn flipped_byte() {
        let (_dir, path, mut bytes) = saved();
        let mut rng = Rng::new(15);
        for _ in 0..20 {
            let at = 12 + rng.below(bytes.len() - 20);
            bytes[at] ^= 1 << rng.below(8);
            std::fs::write(&path, &bytes).unwrap();
            assert!(
                matches!(load_index(&path), Err(IndexError::Corrupt { .. })),
                "flip at {at}"
            );
            bytes[at] = std::fs::read(&path).unwrap()[at];
        }
    }

    #[test]
    fn other_format_version() {
        let (_dir, path, mut bytes) = saved();
        bytes[8..12].copy_from_slice(&7u32.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            load_index(&path),
            Err(IndexError::Version { found: 7, .. })
        ));
        let missing = path.with_extension("none");
        assert!(matches!(load_index(&missing), Err(IndexError::Io { .. })));
    }
}
