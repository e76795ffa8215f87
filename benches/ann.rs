//! Profiling bench of the index engine on a `facefind bench gen` data set:
//! exact kNN speed (writes `gt.i32` when missing), then build and search one
//! spec over a sweep of nprobe, printing a table.
//!
//! `cargo bench --bench ann -- DIR SPEC [NPROBE,…] [K_FACTOR]` (use
//! `RAYON_NUM_THREADS=2` to match the FAISS figures). The official tables
//! come from `facefind bench ann`.
use std::path::Path;
use std::time::Instant;

use facefind::compute::Metric;
use facefind::index::factory::index_factory;
use facefind::index::{JobControl, SearchParams};

fn read_f32s(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// CPU seconds this process has used (all threads): on a shared machine
/// queries per CPU-second × threads estimates the uncontended rate.
fn cpu_seconds() -> f64 {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    let u = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, u.as_mut_ptr());
        u.assume_init()
    };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 * 1e-6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// Runs `f`, returning (wall seconds, CPU seconds).
fn timed(f: impl FnOnce()) -> (f64, f64) {
    let (t, c) = (Instant::now(), cpu_seconds());
    f();
    (t.elapsed().as_secs_f64(), cpu_seconds() - c)
}

fn main() {
    let threads = rayon::current_num_threads() as f64;
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let dir = Path::new(
        args.first()
            .expect("usage: ann DIR SPEC [NPROBES] [K_FACTOR]"),
    );
    let spec = args.get(1).map(String::as_str).unwrap_or("Flat");
    let nprobes: Vec<usize> = args
        .get(2)
        .map(|s| s.split(',').map(|x| x.parse().unwrap()).collect())
        .unwrap_or(vec![1]);
    let k_factor: usize = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(32);
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("meta.json")).unwrap()).unwrap();
    let dim = meta["dim"].as_u64().unwrap() as usize;
    let metric = if meta["metric"] == "l2" {
        Metric::L2
    } else {
        Metric::InnerProduct
    };
    let base = read_f32s(&dir.join("base.f32"));
    let queries = read_f32s(&dir.join("queries.f32"));
    let (n, nq) = (base.len() / dim, queries.len() / dim);
    let k_gt = 100;
    let gt_path = dir.join("gt.i32");
    let gt: Vec<u32> = if gt_path.exists() {
        std::fs::read(&gt_path)
            .unwrap()
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as u32)
            .collect()
    } else {
        let mut rows = Vec::new();
        let (s, c) =
            timed(|| rows = facefind::compute::cpu::knn(metric, &queries, &base, dim, k_gt).1);
        let flops = 2.0 * nq as f64 * n as f64 * dim as f64;
        println!(
            "exact kNN {nq}×{n}×{dim}, k={k_gt}: {s:.1} s wall, {c:.1} s CPU, {:.1} GFLOP/s per CPU-second",
            flops / c / 1e9
        );
        let bytes: Vec<u8> = rows
            .iter()
            .flat_map(|&r| (r as i32).to_le_bytes())
            .collect();
        std::fs::write(&gt_path, bytes).unwrap();
        rows
    };
    // a fifth argument caches the built index (build once, load after)
    let cache = args.get(4).map(Path::new);
    let (mut train_s, mut add_s) = (0.0, 0.0);
    let index = match cache.filter(|p| p.exists()) {
        Some(p) => facefind::index::load_index(p).unwrap(),
        None => {
            let mut index = index_factory(spec, dim, metric, n).unwrap();
            let t = Instant::now();
            index.train(&base, &JobControl::default()).unwrap();
            train_s = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let ids: Vec<u64> = (0..n as u64).collect();
            index.add(&base, &ids).unwrap();
            add_s = t.elapsed().as_secs_f64();
            if let Some(p) = cache {
                index.save(p).unwrap();
            }
            index
        }
    };
    println!(
        "{spec}: n {n}, dim {dim}, train {train_s:.1} s, add {add_s:.1} s, {} bytes",
        index.bytes_on_disk()
    );
    println!("(QPS: wall clock / from CPU time × {threads} threads)");
    println!("| nprobe | recall@10 | QPS batch | QPS single |");
    println!("|---|---|---|---|");
    // ANN_SINGLE=N sets how many queries run one at a time (default 1000)
    let single_n = std::env::var("ANN_SINGLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
        .min(nq);
    for &nprobe in &nprobes {
        let params = SearchParams { nprobe, k_factor };
        let mut res = None;
        let (bw, bc) = timed(|| res = Some(index.search(&queries, 10, &params).unwrap()));
        let res = res.unwrap();
        let (sw, sc) = timed(|| {
            for q in 0..single_n {
                index
                    .search(&queries[q * dim..(q + 1) * dim], 10, &params)
                    .unwrap();
            }
        });
        let qps = |n: usize, wall: f64, cpu: f64| {
            format!("{:.0} / {:.0}", n as f64 / wall, n as f64 / cpu * threads)
        };
        let (qps_batch, qps_single) = (qps(nq, bw, bc), qps(single_n, sw, sc));
        let hits: usize = (0..nq)
            .map(|q| {
                res.row_ids(q)
                    .iter()
                    .filter(|&&id| gt[q * k_gt..q * k_gt + 10].contains(&(id as u32)))
                    .count()
            })
            .sum();
        println!(
            "| {nprobe} | {:.4} | {qps_batch} | {qps_single} |",
            hits as f64 / (nq * 10) as f64
        );
    }
}
