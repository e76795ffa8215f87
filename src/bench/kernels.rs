//! `facefind bench kernels [--json]`: every compute kernel timed on the CPU backend and
//! on the GPU (whatever adapter exists, software ones included, and said so), with this
//! machine's measured limits beside them: a streaming-read bandwidth, a copy bandwidth,
//! and the CPU's best distance-product (GEMM) rate.
//!
//! Each figure is the best of three runs after one warm-up run (which also builds the GPU
//! pipelines and buffers). GPU times are end to end: uploads, kernels, read-back.
use std::io::Write;
use std::time::Instant;

use half::f16;
use rayon::prelude::*;

use crate::compute::cpu::CpuBackend;
use crate::compute::gpu::{AdapterSummary, GpuBackend, GpuError, GpuOptions};
use crate::compute::rng::Rng;
use crate::compute::{Backend, Candidates, Metric, QuantizedLut, TopKHeap, pq4};

#[derive(Debug, clap::Args)]
pub struct KernelsArgs {
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Scale every size by this factor (1 = the default sizes, small enough for a
    /// software adapter on two cores; 8 or more for a real GPU).
    #[arg(long, default_value_t = 1)]
    pub scale: usize,
}

/// The machine's limits the kernel rates are compared with.
#[derive(Debug, serde::Serialize)]
pub struct Limits {
    pub threads: usize,
    /// Parallel streaming read of 256 MiB (sum of f32), GB/s.
    pub read_gbps: f64,
    /// Parallel copy of 256 MiB, GB/s counted as bytes read plus bytes written.
    pub copy_gbps: f64,
    /// The CPU's blocked distance product (exact search, 512 × 16384 × 256), GFLOP/s.
    pub cpu_gemm_gflops: f64,
}

/// One kernel at one size.
#[derive(Debug, serde::Serialize)]
pub struct Row {
    pub kernel: &'static str,
    pub size: String,
    /// "GFLOP/s" (distance products) or "GB/s" (bytes of codes, tables or rows read).
    pub unit: &'static str,
    /// Work of one call in the unit's numerator (flops or bytes).
    pub work: f64,
    pub cpu_s: f64,
    pub cpu_rate: f64,
    pub gpu_s: Option<f64>,
    pub gpu_rate: Option<f64>,
    /// Why there is no GPU figure, where there is none.
    pub gpu_note: Option<String>,
    /// The CPU rate as a share of the machine's limit for this unit.
    pub cpu_share_of_limit: f64,
}

#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub limits: Limits,
    pub gpu: Option<AdapterSummary>,
    pub gpu_note: String,
    pub rows: Vec<Row>,
}

fn best_of_three(mut f: impl FnMut()) -> f64 {
    f();
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// As `best_of_three` for a GPU call, stopping at its first error.
fn gpu_best(mut f: impl FnMut() -> Result<(), GpuError>) -> Result<f64, GpuError> {
    f()?;
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(best)
}

fn measure_limits() -> Limits {
    let n = 64 << 20; // 64 Mi f32 = 256 MiB
    let src: Vec<f32> = (0..n).into_par_iter().map(|i| (i % 1024) as f32).collect();
    let mut dst = vec![0f32; n];
    let chunk = 1 << 16;
    let mut sink = 0f32;
    let read = best_of_three(|| {
        // Eight independent sums per chunk keep the loads in flight and vectorise.
        sink += src
            .par_chunks(chunk)
            .map(|c| {
                let mut acc = [0f32; 8];
                for v in c.chunks_exact(8) {
                    for (a, x) in acc.iter_mut().zip(v) {
                        *a += x;
                    }
                }
                acc.iter().sum::<f32>()
            })
            .sum::<f32>();
    });
    let copy = best_of_three(|| {
        dst.par_chunks_mut(chunk)
            .zip(src.par_chunks(chunk))
            .for_each(|(d, s)| d.copy_from_slice(s));
    });
    std::hint::black_box((sink, &dst));
    let bytes = (n * 4) as f64;
    let mut rng = Rng::new(1);
    let (nq, nb, dim) = (512, 16384, 256);
    let (q, b) = (rng.uniform_vec(nq * dim), rng.uniform_vec(nb * dim));
    let gemm = best_of_three(|| {
        std::hint::black_box(CpuBackend.knn(Metric::InnerProduct, &q, &b, dim, 1));
    });
    Limits {
        threads: rayon::current_num_threads(),
        read_gbps: bytes / read / 1e9,
        copy_gbps: 2.0 * bytes / copy / 1e9,
        cpu_gemm_gflops: 2.0 * (nq * nb * dim) as f64 / gemm / 1e9,
    }
}

/// Times one kernel on both sides and makes its row.
struct Bench<'a> {
    gpu: Option<&'a GpuBackend>,
    limits: &'a Limits,
    rows: Vec<Row>,
}

impl Bench<'_> {
    fn run(
        &mut self,
        (kernel, size, unit, work): (&'static str, String, &'static str, f64),
        cpu: impl FnMut(),
        gpu: impl FnMut(&GpuBackend) -> Result<(), GpuError>,
    ) {
        let mut gpu = gpu;
        let cpu_s = best_of_three(cpu);
        let (gpu_s, gpu_note) = match self.gpu {
            None => (None, None),
            Some(g) => match gpu_best(|| gpu(g)) {
                Ok(t) => (Some(t), None),
                Err(e) => (None, Some(e.to_string())),
            },
        };
        let limit = if unit == "GB/s" {
            self.limits.read_gbps
        } else {
            self.limits.cpu_gemm_gflops
        };
        let rate = |s: f64| work / s / 1e9;
        self.rows.push(Row {
            kernel,
            size,
            unit,
            work,
            cpu_s,
            cpu_rate: rate(cpu_s),
            gpu_s,
            gpu_rate: gpu_s.map(rate),
            gpu_note,
            cpu_share_of_limit: rate(cpu_s) / limit,
        });
    }
}

const FLOPS: &str = "GFLOP/s";
const BYTES: &str = "GB/s";

fn product_rows(b: &mut Bench<'_>, rng: &mut Rng, s: usize) {
    for (nq, nb, dim) in [
        (64, 4096 * s, 128),
        (500, 20000 * s, 128),
        (100, 10000 * s, 512),
    ] {
        let (q, base) = (rng.uniform_vec(nq * dim), rng.uniform_vec(nb * dim));
        let work = 2.0 * (nq * nb * dim) as f64;
        let mut out = vec![0f32; nq * nb];
        let size = format!("{nq}x{nb}x{dim}");
        if nq * nb <= 8 << 20 {
            let mut gout = out.clone();
            b.run(
                ("distances", size.clone(), FLOPS, work),
                || CpuBackend.distances(Metric::InnerProduct, &q, &base, dim, &mut out),
                |g| g.distances(Metric::InnerProduct, &q, &base, dim, &mut gout),
            );
        }
        b.run(
            ("knn k=10", size, FLOPS, work),
            || drop(CpuBackend.knn(Metric::InnerProduct, &q, &base, dim, 10)),
            |g| g.knn(Metric::InnerProduct, &q, &base, dim, 10).map(drop),
        );
    }
    for (n, nc, dim) in [(20000 * s, 256, 128), (20000 * s, 1024, 128)] {
        let (x, c) = (rng.uniform_vec(n * dim), rng.uniform_vec(nc * dim));
        let (mut l, mut d) = (vec![0u32; n], vec![0f32; n]);
        let (mut gl, mut gd) = (l.clone(), d.clone());
        b.run(
            (
                "assign (L2)",
                format!("{n}x{nc}x{dim}"),
                FLOPS,
                2.0 * (n * nc * dim) as f64,
            ),
            || CpuBackend.assign(Metric::L2, &x, &c, dim, &mut l, &mut d),
            |g| g.assign(Metric::L2, &x, &c, dim, &mut gl, &mut gd),
        );
    }
    let (nq, dim, m, ksub) = (1000 * s, 128, 64, 256);
    let q = rng.uniform_vec(nq * dim);
    let books = rng.uniform_vec(ksub * dim);
    let mut out = vec![0f32; nq * m * ksub];
    let mut gout = out.clone();
    b.run(
        (
            "pq_lut (L2)",
            format!("{nq} queries, d {dim}, m {m}"),
            FLOPS,
            2.0 * (nq * ksub * dim) as f64,
        ),
        || CpuBackend.pq_lut_batch(Metric::L2, &q, &books, m, ksub, &mut out),
        |g| g.pq_lut_batch(Metric::L2, &q, &books, m, ksub, &mut gout),
    );
}

fn scan_rows(b: &mut Bench<'_>, rng: &mut Rng, s: usize) {
    let k = 10;
    let (rows, ncols) = (100, 100000 * s);
    let d = rng.uniform_vec(rows * ncols);
    b.run(
        (
            "select_topk k=10",
            format!("{rows}x{ncols}"),
            BYTES,
            (d.len() * 4) as f64,
        ),
        || drop(CpuBackend.select_topk(&d, ncols, k)),
        |g| g.select_topk(&d, ncols, k).map(drop),
    );
    for (nq, n, m) in [(1, 100000 * s, 64), (16, 100000 * s, 64)] {
        let luts = rng.uniform_vec(nq * m * 256);
        let codes: Vec<u8> = (0..n * m).map(|_| rng.below(256) as u8).collect();
        let biases = vec![0f32; nq];
        b.run(
            (
                "scan_pq8",
                format!("{nq} queries x {n} codes, m {m}"),
                BYTES,
                (nq * n * m) as f64,
            ),
            || {
                CpuBackend.scan_pq8_batch(
                    &luts,
                    m,
                    &codes,
                    (n, 0),
                    &biases,
                    &mut vec![TopKHeap::new(k); nq],
                )
            },
            |g| {
                g.scan_pq8_batch(
                    &luts,
                    m,
                    &codes,
                    (n, 0),
                    &biases,
                    &mut vec![TopKHeap::new(k); nq],
                )
            },
        );
    }
    for (nq, n, m) in [(1, 200000 * s, 64), (16, 200000 * s, 64)] {
        let mut packed = vec![0u8; pq4::packed_len(n, m)];
        packed.iter_mut().for_each(|x| *x = rng.below(256) as u8);
        let luts: Vec<QuantizedLut> = (0..nq)
            .map(|_| pq4::quantize_lut(&rng.uniform_vec(m * 16), m))
            .collect();
        let biases = vec![0f32; nq];
        b.run(
            (
                "scan_pq4fs",
                format!("{nq} queries x {n} codes, m {m}"),
                BYTES,
                (nq * n * m / 2) as f64,
            ),
            || {
                CpuBackend.scan_pq4fs_batch(
                    &luts,
                    m,
                    &packed,
                    (n, 0),
                    &biases,
                    &mut vec![TopKHeap::new(k); nq],
                )
            },
            |g| {
                g.scan_pq4fs_batch(
                    &luts,
                    m,
                    &packed,
                    (n, 0),
                    &biases,
                    &mut vec![TopKHeap::new(k); nq],
                )
            },
        );
    }
    let (nq, per, stored, dim) = (100, 1000 * s, 200000, 128);
    let q = rng.uniform_vec(nq * dim);
    let vectors = rng.uniform_vec(stored * dim);
    let halves: Vec<f16> = vectors.iter().map(|&v| f16::from_f32(v)).collect();
    let picks: Vec<usize> = (0..nq * per).map(|_| rng.below(stored)).collect();
    let labels: Vec<u64> = picks.iter().map(|&r| r as u64).collect();
    let offsets: Vec<usize> = (0..=nq).map(|i| i * per).collect();
    let rows32: Vec<&[f32]> = picks
        .iter()
        .map(|&r| &vectors[r * dim..(r + 1) * dim])
        .collect();
    let rows16: Vec<&[f16]> = picks
        .iter()
        .map(|&r| &halves[r * dim..(r + 1) * dim])
        .collect();
    let cands32 = Candidates {
        rows: &rows32,
        labels: &labels,
        offsets: &offsets,
    };
    let cands16 = Candidates {
        rows: &rows16,
        labels: &labels,
        offsets: &offsets,
    };
    let size = format!("{nq} queries x {per} candidates, d {dim}");
    let heaps = || vec![TopKHeap::new(k); nq];
    b.run(
        (
            "rerank_f32",
            size.clone(),
            BYTES,
            (nq * per * dim * 4) as f64,
        ),
        || CpuBackend.rerank_f32_batch(Metric::L2, &q, cands32, &mut heaps()),
        |g| g.rerank_f32_batch(Metric::L2, &q, cands32, &mut heaps()),
    );
    b.run(
        ("rerank_f16", size, BYTES, (nq * per * dim * 2) as f64),
        || CpuBackend.rerank_f16_batch(Metric::L2, &q, cands16, &mut heaps()),
        |g| g.rerank_f16_batch(Metric::L2, &q, cands16, &mut heaps()),
    );
}

/// Measures everything (seeded inputs).
pub fn measure(scale: usize) -> Report {
    let scale = scale.max(1);
    let limits = measure_limits();
    let opened = GpuBackend::open(&GpuOptions {
        allow_software: true,
        ..GpuOptions::default()
    });
    let gpu_note = match &opened {
        Ok(g) if g.summary().software => format!(
            "{} is a software adapter ({} device): it runs on this machine's CPU cores, so its column says nothing of a real GPU",
            g.summary().name,
            g.summary().device_type
        ),
        Ok(g) => format!(
            "{} ({} device, {} backend)",
            g.summary().name,
            g.summary().device_type,
            g.summary().backend
        ),
        Err(e) => format!("none: {e}"),
    };
    let gpu = opened.ok();
    let mut bench = Bench {
        gpu: gpu.as_ref(),
        limits: &limits,
        rows: Vec::new(),
    };
    let mut rng = Rng::new(0xbe9c4);
    product_rows(&mut bench, &mut rng, scale);
    scan_rows(&mut bench, &mut rng, scale);
    let rows = bench.rows;
    Report {
        limits,
        gpu: gpu.map(|g| g.summary().clone()),
        gpu_note,
        rows,
    }
}

fn print_table(r: &Report, out: &mut impl Write) -> std::io::Result<()> {
    let l = &r.limits;
    writeln!(
        out,
        "machine: {} threads; streaming read {:.1} GB/s; copy {:.1} GB/s; CPU distance product {:.1} GFLOP/s",
        l.threads, l.read_gbps, l.copy_gbps, l.cpu_gemm_gflops
    )?;
    writeln!(out, "GPU: {}", r.gpu_note)?;
    if let Some(g) = &r.gpu {
        writeln!(
            out,
            "GPU limits used: binding {} MiB, workgroup memory {} KiB",
            g.max_binding_bytes >> 20,
            g.max_workgroup_storage_bytes >> 10
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "| kernel | size | unit | CPU ms | CPU rate | CPU % of limit | GPU ms | GPU rate | GPU / CPU |"
    )?;
    writeln!(out, "|---|---|---|---:|---:|---:|---:|---:|---:|")?;
    for row in &r.rows {
        let (gms, grate, ratio) = match (row.gpu_s, row.gpu_rate) {
            (Some(s), Some(rate)) => (
                format!("{:.2}", s * 1e3),
                format!("{rate:.2}"),
                format!("{:.2}x", row.cpu_s / s),
            ),
            _ => {
                let why = row.gpu_note.as_deref().unwrap_or("no adapter");
                (why.to_string(), "-".into(), "-".into())
            }
        };
        writeln!(
            out,
            "| {} | {} | {} | {:.2} | {:.2} | {:.0}% | {} | {} | {} |",
            row.kernel,
            row.size,
            row.unit,
            row.cpu_s * 1e3,
            row.cpu_rate,
            100.0 * row.cpu_share_of_limit,
            gms,
            grate,
            ratio
        )?;
    }
    Ok(())
}

pub fn run(args: &KernelsArgs) -> std::io::Result<()> {
    let report = measure(args.scale);
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)
    } else {
        print_table(&report, &mut out)
    }
}
