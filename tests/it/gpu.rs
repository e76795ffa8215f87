//! GPU ↔ CPU parity: one suite, run on the CPU reference and on every GPU device
//! available (the real binding limits, and 64 KiB bindings that force chunking), on
//! fresh seeded inputs at sizes that are not multiples of the workgroup size.
//! Where no adapter exists (no Vulkan driver) each test prints why and passes.
use std::sync::OnceLock;

use facefind::compute::cpu::CpuBackend;
use facefind::compute::gpu::{GpuBackend, GpuOptions};
use facefind::compute::rng::Rng;
use facefind::compute::select::{self, BackendChoice, GpuRouted};
use facefind::compute::{Backend, Candidates, Metric, Neighbours, TopKHeap, pq4};

const METRICS: [Metric; 2] = [Metric::InnerProduct, Metric::L2];

/// The devices under test, opened once for the whole binary.
fn devices() -> &'static [(&'static str, GpuBackend)] {
    static DEVICES: OnceLock<Vec<(&'static str, GpuBackend)>> = OnceLock::new();
    DEVICES.get_or_init(|| {
        let open = |cap| {
            GpuBackend::open(&GpuOptions {
                allow_software: true,
                max_binding_bytes: cap,
            })
        };
        match (open(None), open(Some(64 << 10))) {
            (Ok(full), Ok(small)) => {
                eprintln!(
                    "gpu parity: on {} ({})",
                    full.summary().name,
                    full.summary().device_type
                );
                vec![("device limits", full), ("64 KiB bindings", small)]
            }
            (Err(e), _) | (_, Err(e)) => {
                // CI installs lavapipe and sets this, so a missing adapter fails there.
                let required = std::env::var("FACEFIND_GPU_TESTS").is_ok_and(|v| v == "require");
                assert!(
                    !required,
                    "FACEFIND_GPU_TESTS=require but no GPU adapter: {e}"
                );
                eprintln!("gpu parity skipped: {e}");
                Vec::new()
            }
        }
    })
}

/// Within 1e-4 relative (with an absolute floor of 1e-4 for values near zero).
fn close(got: f32, want: f32) -> bool {
    (got - want).abs() <= 1e-4 * (1.0 + want.abs())
}

fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(close(g, w), "{what}: element {i}: gpu {g} vs cpu {w}");
    }
}

/// The same ranked lists up to ties: equal scores position by position, and where the
/// ids differ, the GPU's id scores (exactly, by `score_of`) as the CPU's does.
fn assert_same_ranking(
    got: &[(f32, u32)],
    want: &[(f32, u32)],
    score_of: impl Fn(u32) -> f32,
    what: &str,
) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (r, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            close(g.0, w.0),
            "{what}: rank {r}: gpu {} vs cpu {}",
            g.0,
            w.0
        );
        if g.1 != w.1 {
            assert!(
                close(score_of(g.1), w.0),
                "{what}: rank {r}: gpu id {} is not a tie of cpu id {}",
                g.1,
                w.1
            );
        }
    }
}

fn random(rng: &mut Rng, n: usize) -> Vec<f32> {
    rng.uniform_vec(n)
        .into_iter()
        .map(|x| 2.0 * x - 1.0)
        .collect()
}

#[test]
fn distances_match_the_cpu() {
    let mut rng = Rng::new(401);
    for (nq, nb, dim) in [(1, 1, 1), (3, 100, 17), (65, 1000, 64), (130, 300, 100)] {
        let (q, b) = (random(&mut rng, nq * dim), random(&mut rng, nb * dim));
        for metric in METRICS {
            let mut want = vec![0.0; nq * nb];
            CpuBackend.distances(metric, &q, &b, dim, &mut want);
            for (label, gpu) in devices() {
                let mut got = vec![0.0; nq * nb];
                gpu.distances(metric, &q, &b, dim, &mut got).unwrap();
                assert_close(&got, &want, &format!("{label} {metric:?} {nq}x{nb}x{dim}"));
            }
        }
    }
}

#[test]
fn knn_matches_the_cpu() {
    let mut rng = Rng::new(402);
    for (nq, nb, dim, k) in [
        (1, 5, 8, 10),
        (7, 1500, 33, 1),
        (40, 2100, 64, 10),
        (9, 900, 16, 100),
    ] {
        let (q, b) = (random(&mut rng, nq * dim), random(&mut rng, nb * dim));
        for metric in METRICS {
            let want = CpuBackend.knn(metric, &q, &b, dim, k);
            let mut all = vec![0.0; nq * nb];
            CpuBackend.distances(metric, &q, &b, dim, &mut all);
            for (label, gpu) in devices() {
                let got = gpu.knn(metric, &q, &b, dim, k).unwrap();
                assert_eq!(got.k, k);
                for i in 0..nq {
                    let row = |n: &facefind::compute::Neighbours| -> Vec<(f32, u32)> {
                        (0..k)
                            .map(|r| (n.scores[i * k + r], n.rows[i * k + r]))
                            .filter(|p| p.1 != u32::MAX)
                            .collect()
                    };
                    let score_of = |id: u32| all[i * nb + id as usize];
                    assert_same_ranking(
                        &row(&got),
                        &row(&want),
                        score_of,
                        &format!("{label} {metric:?} knn q{i}"),
                    );
                }
            }
        }
    }
}

#[test]
fn assign_matches_the_cpu() {
    let mut rng = Rng::new(403);
    for (n, nc, dim) in [(1, 1, 3), (1000, 100, 64), (300, 513, 33)] {
        let (x, c) = (random(&mut rng, n * dim), random(&mut rng, nc * dim));
        for metric in METRICS {
            let (mut want_l, mut want_d) = (vec![0; n], vec![0.0; n]);
            CpuBackend.assign(metric, &x, &c, dim, &mut want_l, &mut want_d);
            let mut all = vec![0.0; n * nc];
            CpuBackend.distances(metric, &x, &c, dim, &mut all);
            for (label, gpu) in devices() {
                let (mut got_l, mut got_d) = (vec![0; n], vec![0.0; n]);
                gpu.assign(metric, &x, &c, dim, &mut got_l, &mut got_d)
                    .unwrap();
                for i in 0..n {
                    let score_of = |id: u32| metric.to_dist(all[i * nc + id as usize]);
                    let what = format!("{label} {metric:?} assign row {i}");
                    assert_same_ranking(
                        &[(got_d[i], got_l[i])],
                        &[(want_d[i], want_l[i])],
                        score_of,
                        &what,
                    );
                }
            }
        }
    }
}

#[test]
fn select_topk_matches_the_cpu() {
    let mut rng = Rng::new(404);
    for (rows, ncols, k) in [(5, 3000, 10), (3, 50, 100), (70, 1025, 512), (1, 1, 1)] {
        let d = random(&mut rng, rows * ncols);
        let want = CpuBackend.select_topk(&d, ncols, k);
        for (label, gpu) in devices() {
            let got = gpu.select_topk(&d, ncols, k).unwrap();
            assert_eq!(got.len(), rows);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                let score_of = |id: u32| d[i * ncols + id as usize];
                assert_same_ranking(
                    g,
                    w,
                    score_of,
                    &format!("{label} select_topk row {i} of {rows}x{ncols} k {k}"),
                );
            }
        }
    }
}

#[test]
fn pq_lut_matches_the_cpu() {
    let mut rng = Rng::new(405);
    for (nq, dim, m, ksub) in [(1, 8, 4, 16), (37, 64, 16, 256), (5, 96, 8, 256)] {
        let q = random(&mut rng, nq * dim);
        let books = random(&mut rng, ksub * dim);
        for metric in METRICS {
            let mut want = vec![0.0; nq * m * ksub];
            for (qi, out) in want.chunks_exact_mut(m * ksub).enumerate() {
                CpuBackend.pq_lut(metric, &q[qi * dim..(qi + 1) * dim], &books, m, ksub, out);
            }
            for (label, gpu) in devices() {
                let mut got = vec![0.0; nq * m * ksub];
                gpu.pq_lut_batch(metric, &q, &books, m, ksub, &mut got)
                    .unwrap();
                assert_close(
                    &got,
                    &want,
                    &format!("{label} {metric:?} pq_lut {nq}x{dim} m {m} ksub {ksub}"),
                );
            }
        }
    }
}

/// Sorted heap contents, for comparing rankings.
fn ranked(heap: TopKHeap) -> Vec<(f32, u32)> {
    heap.into_sorted()
        .into_iter()
        .map(|(d, l)| (d, l as u32))
        .collect()
}

/// The first label of a scanned list: not 0, so a mix-up of labels and positions shows.
const LABEL0: u64 = 7;

#[test]
fn scan_pq8_matches_the_cpu() {
    let mut rng = Rng::new(406);
    for (nq, n, m, k) in [
        (1, 3, 4, 5),
        (6, 1500, 8, 10),
        (3, 5000, 12, 100),
        (2, 700, 64, 1),
        (2, 20001, 8, 7),
    ] {
        let luts = random(&mut rng, nq * m * 256);
        let codes: Vec<u8> = (0..n * m).map(|_| rng.below(256) as u8).collect();
        let biases = random(&mut rng, nq);
        let exact = |q: usize, label: u32| {
            let i = label as usize - LABEL0 as usize;
            biases[q]
                + (0..m)
                    .map(|j| luts[(q * m + j) * 256 + codes[i * m + j] as usize])
                    .sum::<f32>()
        };
        for (name, gpu) in devices() {
            let mut got = vec![TopKHeap::new(k); nq];
            gpu.scan_pq8_batch(&luts, m, &codes, (n, LABEL0), &biases, &mut got)
                .unwrap();
            for (q, got) in got.into_iter().enumerate() {
                let mut want = TopKHeap::new(k);
                CpuBackend.scan_pq8(
                    &luts[q * m * 256..(q + 1) * m * 256],
                    m,
                    &codes,
                    n,
                    LABEL0,
                    biases[q],
                    &mut want,
                );
                assert_same_ranking(
                    &ranked(got),
                    &ranked(want),
                    |l| exact(q, l),
                    &format!("{name} scan_pq8 q{q} n {n} m {m}"),
                );
            }
        }
    }
}

#[test]
fn scan_pq4fs_matches_the_cpu() {
    let mut rng = Rng::new(407);
    for (nq, n, m, k) in [
        (1, 5, 2, 3),
        (4, 1000, 16, 10),
        (3, 3001, 32, 64),
        (2, 9000, 16, 5),
    ] {
        let mut packed = vec![0u8; pq4::packed_len(n, m)];
        let block = pq4::block_bytes(m);
        let mut codes = vec![0u8; n * m];
        for (i, c) in codes.chunks_exact_mut(m).enumerate() {
            c.iter_mut().for_each(|x| *x = rng.below(16) as u8);
            pq4::set_codes(
                &mut packed[i / pq4::BLOCK * block..(i / pq4::BLOCK + 1) * block],
                i % pq4::BLOCK,
                c,
            );
        }
        let luts: Vec<_> = (0..nq)
            .map(|_| pq4::quantize_lut(&random(&mut rng, m * 16), m))
            .collect();
        let biases = random(&mut rng, nq);
        let exact = |q: usize, label: u32| {
            let i = label as usize - LABEL0 as usize;
            let sum: u32 = (0..m)
                .map(|j| u32::from(luts[q].table[j * 16 + codes[i * m + j] as usize]))
                .sum();
            biases[q] + luts[q].sum_min + sum as f32 * luts[q].inv_scale
        };
        for (name, gpu) in devices() {
            let mut got = vec![TopKHeap::new(k); nq];
            gpu.scan_pq4fs_batch(&luts, m, &packed, (n, LABEL0), &biases, &mut got)
                .unwrap();
            for (q, got) in got.into_iter().enumerate() {
                let mut want = TopKHeap::new(k);
                CpuBackend.scan_pq4fs(&luts[q], m, &packed, n, LABEL0, biases[q], &mut want);
                assert_same_ranking(
                    &ranked(got),
                    &ranked(want),
                    |l| exact(q, l),
                    &format!("{name} scan_pq4fs q{q} n {n} m {m}"),
                );
            }
        }
    }
}

#[test]
fn rerank_matches_the_cpu() {
    let mut rng = Rng::new(408);
    for (nq, nstored, dim, per_query, k) in [
        (1, 10, 3, 4, 2),
        (5, 2000, 64, 300, 10),
        (3, 500, 33, 129, 50),
    ] {
        let q = random(&mut rng, nq * dim);
        let stored = random(&mut rng, nstored * dim);
        let stored16: Vec<half::f16> = stored.iter().map(|&v| half::f16::from_f32(v)).collect();
        let picks: Vec<usize> = (0..nq * per_query).map(|_| rng.below(nstored)).collect();
        let labels: Vec<u64> = picks.iter().map(|&r| r as u64 + 1000).collect();
        let offsets: Vec<usize> = (0..=nq).map(|i| i * per_query).collect();
        let rows: Vec<&[f32]> = picks
            .iter()
            .map(|&r| &stored[r * dim..(r + 1) * dim])
            .collect();
        let rows16: Vec<&[half::f16]> = picks
            .iter()
            .map(|&r| &stored16[r * dim..(r + 1) * dim])
            .collect();
        let cands = Candidates {
            rows: &rows,
            labels: &labels,
            offsets: &offsets,
        };
        let cands16 = Candidates {
            rows: &rows16,
            labels: &labels,
            offsets: &offsets,
        };
        for metric in METRICS {
            let query = |i: usize| &q[i * dim..(i + 1) * dim];
            let row = |label: u32| (label - 1000) as usize;
            for (name, gpu) in devices() {
                let mut got = vec![TopKHeap::new(k); nq];
                gpu.rerank_f32_batch(metric, &q, cands, &mut got).unwrap();
                let mut got16 = vec![TopKHeap::new(k); nq];
                gpu.rerank_f16_batch(metric, &q, cands16, &mut got16)
                    .unwrap();
                for (i, (got, got16)) in got.into_iter().zip(got16).enumerate() {
                    let (mut want, mut want16) = (TopKHeap::new(k), TopKHeap::new(k));
                    let (r32, l32) = cands.of(i);
                    CpuBackend.rerank_f32(metric, query(i), r32, l32, &mut want);
                    let (r16, l16) = cands16.of(i);
                    CpuBackend.rerank_f16(metric, query(i), r16, l16, &mut want16);
                    let exact = |l: u32| {
                        let mut d = vec![0.0];
                        let v = &stored[row(l) * dim..(row(l) + 1) * dim];
                        CpuBackend.distances(metric, query(i), v, dim, &mut d);
                        metric.to_dist(d[0])
                    };
                    let exact16 = |l: u32| {
                        let mut h = TopKHeap::new(1);
                        let v = &stored16[row(l) * dim..(row(l) + 1) * dim];
                        CpuBackend.rerank_f16(metric, query(i), &[v], &[0], &mut h);
                        h.into_sorted()[0].0
                    };
                    let what = format!("{name} {metric:?} rerank q{i} dim {dim}");
                    assert_same_ranking(&ranked(got), &ranked(want), exact, &what);
                    let what16 = format!("{what} f16");
                    assert_same_ranking(&ranked(got16), &ranked(want16), exact16, &what16);
                }
            }
        }
    }
}

/// The routing layer behind `--backend gpu`: the trait's answers equal the CPU's,
/// through the device where it can, through the CPU where it cannot.
fn routed(cap: Option<u64>) -> Option<GpuRouted> {
    match GpuRouted::open(&GpuOptions {
        allow_software: true,
        max_binding_bytes: cap,
    }) {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("gpu routing skipped: {e}");
            None
        }
    }
}

/// A Flat search, a k-means step and one list scan through the trait.
fn trait_answers(b: &dyn Backend) -> (Neighbours, Vec<u32>, Vec<(f32, u64)>) {
    let mut rng = Rng::new(409);
    let (nq, nb, dim) = (20, 700, 128);
    let (q, base) = (random(&mut rng, nq * dim), random(&mut rng, nb * dim));
    let knn = b.knn(Metric::L2, &q, &base, dim, 10);
    let (mut labels, mut dists) = (vec![0; nb], vec![0.0; nb]);
    b.assign(
        Metric::InnerProduct,
        &base,
        &q,
        dim,
        &mut labels,
        &mut dists,
    );
    let (m, n) = (16, 900);
    let lut = random(&mut rng, m * 256);
    let codes: Vec<u8> = (0..n * m).map(|_| rng.below(256) as u8).collect();
    let mut heap = TopKHeap::new(12);
    b.scan_pq8(&lut, m, &codes, n, LABEL0, 0.5, &mut heap);
    (knn, labels, heap.into_sorted())
}

#[test]
fn routed_backend_answers_as_the_cpu() {
    let (knn, labels, scan) = trait_answers(&CpuBackend);
    // The device's own limits, then bindings too small for one 128-d vector (every call
    // falls back to the CPU, with a logged reason).
    for cap in [None, Some(256)] {
        let Some(gpu) = routed(cap) else { return };
        let (g_knn, g_labels, g_scan) = trait_answers(&gpu);
        assert_close(
            &g_knn.scores,
            &knn.scores,
            &format!("routed knn, cap {cap:?}"),
        );
        assert_eq!(g_labels, labels, "routed assign, cap {cap:?}");
        let (gs, ws): (Vec<f32>, Vec<f32>) = (
            g_scan.iter().map(|p| p.0).collect(),
            scan.iter().map(|p| p.0).collect(),
        );
        assert_close(&gs, &ws, &format!("routed scan_pq8, cap {cap:?}"));
    }
}

#[test]
fn a_lost_device_hands_over_to_the_cpu() {
    let Some(gpu) = routed(None) else { return };
    let want = trait_answers(&CpuBackend);
    gpu.gpu()
        .expect("`--backend gpu` opens its device")
        .lose_device();
    for round in 0..2 {
        let (knn, labels, scan) = trait_answers(&gpu);
        assert_eq!(knn, want.0, "round {round}");
        assert_eq!(labels, want.1, "round {round}");
        assert_eq!(scan, want.2, "round {round}");
    }
}

#[test]
fn backend_choice_parses_and_the_flag_wins() {
    assert_eq!("GPU".parse::<BackendChoice>().unwrap(), BackendChoice::Gpu);
    assert_eq!(
        " cpu ".parse::<BackendChoice>().unwrap(),
        BackendChoice::Cpu
    );
    assert_eq!(
        "auto".parse::<BackendChoice>().unwrap(),
        BackendChoice::Auto
    );
    let err = "cuda".parse::<BackendChoice>().unwrap_err().to_string();
    assert!(
        err.contains("\"cuda\"") && err.contains("auto, gpu or cpu"),
        "{err}"
    );
    assert_eq!(
        BackendChoice::resolve(Some(BackendChoice::Cpu)).unwrap(),
        BackendChoice::Cpu
    );
    assert_eq!(select::open(BackendChoice::Cpu).backend.name(), "cpu");
}

#[test]
fn auto_never_takes_a_software_adapter() {
    let selection = select::open(BackendChoice::Auto);
    let software = GpuBackend::open(&GpuOptions {
        allow_software: true,
        max_binding_bytes: None,
    })
    .map(|g| g.summary().software)
    .unwrap_or(true);
    if software {
        assert_eq!(selection.backend.name(), "cpu", "{}", selection.note);
    }
    eprintln!("auto: {}", selection.note);
}

#[test]
fn a_bad_facefind_backend_is_refused_by_name() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_facefind"))
        .env("FACEFIND_BACKEND", "cuda")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("FACEFIND_BACKEND") && err.contains("\"cuda\""),
        "{err}"
    );
}
