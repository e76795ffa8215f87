//! GPU ↔ CPU parity: one suite, run on the CPU reference and on every GPU device
//! available (the real binding limits, and 64 KiB bindings that force chunking), on
//! fresh seeded inputs at sizes that are not multiples of the workgroup size.
//! Where no adapter exists (no Vulkan driver) each test prints why and passes.
use std::sync::OnceLock;

use facefind::compute::cpu::CpuBackend;
use facefind::compute::gpu::{GpuBackend, GpuOptions};
use facefind::compute::rng::Rng;
use facefind::compute::{Backend, Metric};

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
