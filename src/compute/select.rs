//! Which backend runs the kernels: `--backend auto|gpu|cpu`, else `FACEFIND_BACKEND`,
//! else `auto`.
//!
//! - `cpu`: the CPU backend.
//! - `gpu`: any adapter, software ones included (that is how CI runs the shaders on
//!   lavapipe); every call the GPU kernels support runs on the device.
//! - `auto`: a hardware adapter only, never a software one, and a call goes to the device
//!   only when a cost model *measured on this machine* says it wins (see [`Crossover`]).
//!   The device is opened and measured on the first call large enough for any device to
//!   win ([`OPEN_FLOOR`]), so commands on small libraries never pay for it (≈50 ms and
//!   50 MB of driver per process, measured with lavapipe). No hardware adapter: the CPU.
//!
//! Whatever the choice, a call the device cannot take (too large, unsupported) runs on
//! the CPU, and a device fault (validation error, lost device) switches the process to
//! the CPU for good; each with a logged reason, never a panic and never a partial result.
use std::collections::HashSet;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use half::f16;

use super::cpu::CpuBackend;
use super::gpu::{Gpu, GpuBackend, GpuError, GpuOptions};
use super::rng::Rng;
use super::{Backend, Candidates, Metric, Neighbours, QuantizedLut, TopKHeap};

/// The environment variable read when no `--backend` flag is given.
pub const ENV: &str = "FACEFIND_BACKEND";

/// What the user asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    #[default]
    Auto,
    Gpu,
    Cpu,
}

#[derive(Debug, thiserror::Error)]
#[error("{source_name}: unknown backend {value:?} (expected auto, gpu or cpu)")]
pub struct ChoiceError {
    pub source_name: &'static str,
    pub value: String,
}

impl FromStr for BackendChoice {
    type Err = ChoiceError;
    fn from_str(s: &str) -> Result<Self, ChoiceError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(Self::Auto),
            "gpu" => Ok(Self::Gpu),
            "cpu" => Ok(Self::Cpu),
            _ => Err(ChoiceError {
                source_name: "--backend",
                value: s.to_string(),
            }),
        }
    }
}

impl BackendChoice {
    /// The flag if given, else `FACEFIND_BACKEND`, else `auto`.
    pub fn resolve(flag: Option<BackendChoice>) -> Result<Self, ChoiceError> {
        if let Some(choice) = flag {
            return Ok(choice);
        }
        match std::env::var(ENV) {
            Ok(value) => value.parse().map_err(|e: ChoiceError| ChoiceError {
                source_name: ENV,
                ..e
            }),
            Err(_) => Ok(Self::Auto),
        }
    }
}

/// The backend in use and how it came to be chosen.
pub struct Selection {
    pub backend: Arc<dyn Backend>,
    pub choice: BackendChoice,
    /// One line for logs and `doctor`: which device, and why.
    pub note: String,
}

static REQUESTED: OnceLock<BackendChoice> = OnceLock::new();
static GLOBAL: OnceLock<Selection> = OnceLock::new();

/// The calls `auto` answers on the CPU without opening a device: about 100 µs of this
/// CPU backend's work (10 Mflop of distances, 1 MB of scanned codes), below the fixed cost
/// of one device call (submit, wait, read-back) on any wgpu device.
pub const OPEN_FLOOR: (f64, f64) = (1e7, 1e6);

/// Records the command line's choice (checked against `FACEFIND_BACKEND`) for [`global`].
/// Call once at start-up; later calls and calls after [`global`] has run change nothing.
pub fn request(flag: Option<BackendChoice>) -> Result<BackendChoice, ChoiceError> {
    let choice = BackendChoice::resolve(flag)?;
    Ok(*REQUESTED.get_or_init(|| choice))
}

/// The process-wide backend, opened on first use from the recorded choice (or the
/// environment; an unreadable `FACEFIND_BACKEND` is logged and read as `auto`).
pub fn global() -> &'static Selection {
    GLOBAL.get_or_init(|| {
        let choice = requested();
        if choice == BackendChoice::Auto {
            // Quiet, and opened only when a call needs it (`doctor` shows what it finds).
            return Selection {
                backend: Arc::new(GpuRouted::deferred()),
                choice,
                note: "auto: a hardware GPU, if there is one, is opened and measured on the \
                       first call large enough to gain from it"
                    .into(),
            };
        }
        let selection = open(choice);
        if choice == BackendChoice::Gpu {
            eprintln!("facefind: compute: {}", selection.note);
        }
        selection
    })
}

/// The recorded choice (see [`request`]), else the environment's, else `auto`.
pub fn requested() -> BackendChoice {
    REQUESTED.get().copied().unwrap_or_else(|| {
        BackendChoice::resolve(None).unwrap_or_else(|e| {
            eprintln!("facefind: {e}; using auto");
            BackendChoice::Auto
        })
    })
}

/// Opens the backend `choice` asks for; never fails (the CPU is always there).
pub fn open(choice: BackendChoice) -> Selection {
    let gpu = match choice {
        BackendChoice::Cpu => return cpu_selection(choice, "cpu (asked for)".into()),
        BackendChoice::Gpu => GpuBackend::open(&GpuOptions {
            allow_software: true,
            ..GpuOptions::default()
        }),
        BackendChoice::Auto => GpuBackend::open(&GpuOptions::default()),
    };
    route(choice, gpu)
}

/// `auto`'s device and rule: a hardware adapter that passes its calibration. Quiet when
/// there is none (`doctor` says why).
fn open_auto() -> Option<(GpuBackend, Rule)> {
    let gpu = GpuBackend::open(&GpuOptions::default()).ok()?;
    let cross = Crossover::measure(&gpu).ok()?;
    Some((gpu, Rule::Measured(cross)))
}

/// The selection for a device someone else opened (the GUI's eframe renderer), so that
/// compute shares it rather than opening a second one. Install it with [`install`].
pub fn share(
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: &wgpu::AdapterInfo,
    choice: BackendChoice,
) -> Selection {
    if choice == BackendChoice::Cpu {
        return cpu_selection(choice, "cpu (asked for)".into());
    }
    let gpu = GpuBackend::new(Gpu::from_device(
        device,
        queue,
        info,
        &GpuOptions::default(),
    ));
    if choice == BackendChoice::Auto && gpu.summary().software {
        let why = format!(
            "the renderer's adapter {} is a software one",
            gpu.summary().name
        );
        return route(choice, Err(GpuError::NoAdapter(why)));
    }
    route(choice, Ok(gpu))
}

/// Makes `selection` the process-wide backend ([`global`]); hands it back if one is in use.
pub fn install(selection: Selection) -> Result<(), Selection> {
    GLOBAL.set(selection)
}

fn cpu_selection(choice: BackendChoice, note: String) -> Selection {
    Selection {
        backend: Arc::new(CpuBackend),
        choice,
        note,
    }
}

/// `gpu` behind the rule of `choice`: every call for `gpu`, the measured cross-over for
/// `auto`; the CPU where there is no device or it fails its calibration.
fn route(choice: BackendChoice, gpu: Result<GpuBackend, GpuError>) -> Selection {
    let gpu = match gpu {
        Ok(gpu) => gpu,
        Err(e) => return cpu_selection(choice, format!("cpu ({e})")),
    };
    let s = gpu.summary();
    let name = format!(
        "{} ({} backend, {} device)",
        s.name, s.backend, s.device_type
    );
    let (rule, note) = if choice == BackendChoice::Auto {
        match Crossover::measure(&gpu) {
            Err(why) => return cpu_selection(choice, format!("cpu (GPU {name} not used: {why})")),
            Ok(cross) => (
                Rule::Measured(cross),
                format!("auto: {name} for calls above the measured cross-over ({cross})"),
            ),
        }
    } else {
        (
            Rule::Always,
            format!("gpu: {name}, every call its kernels support"),
        )
    };
    Selection {
        backend: Arc::new(GpuRouted::new(gpu, rule)),
        choice,
        note,
    }
}

/// A fitted cost line: the device costs `fixed + per_unit · units` seconds, the CPU
/// `cpu_per_unit · units`.
#[derive(Clone, Copy, Debug)]
pub struct CostLine {
    pub gpu_fixed_s: f64,
    pub gpu_per_unit_s: f64,
    pub cpu_per_unit_s: f64,
}

impl CostLine {
    /// The work above which the device is faster (infinite when it never is).
    pub fn break_even(&self) -> f64 {
        let gain = self.cpu_per_unit_s - self.gpu_per_unit_s;
        if gain > 0.0 {
            self.gpu_fixed_s / gain
        } else {
            f64::INFINITY
        }
    }

    fn gpu_wins(&self, units: f64) -> bool {
        units > self.break_even()
    }
}

/// The cross-over of `auto`, measured once at start-up on this machine's CPU and GPU
/// (end to end: uploads, kernels, read-back). Two kinds of work:
/// - `compute`: distance products (knn, distances, assign, PQ tables), in flops;
/// - `scan`: table scans, selection and re-ranking, in bytes touched.
///
/// Each line is fitted from a tiny GPU call (its fixed cost: submit, wait, read-back),
/// a medium GPU call (its rate) and the CPU on the same medium work. The GPU's answer
/// to that work is checked against the CPU's; a mismatch keeps `auto` on the CPU.
#[derive(Clone, Copy, Debug)]
pub struct Crossover {
    pub compute: CostLine,
    pub scan: CostLine,
}

impl std::fmt::Display for Crossover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "distance work above {:.3e} flops, scans above {:.3e} bytes",
            self.compute.break_even(),
            self.scan.break_even()
        )
    }
}

/// The shortest of three timings of `f` (the first call also warms pipelines and buffers).
fn best_of_three(mut f: impl FnMut() -> Result<(), GpuError>) -> Result<f64, GpuError> {
    let mut best = f64::INFINITY;
    f()?;
    for _ in 0..3 {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(best)
}

fn cpu_time(mut f: impl FnMut()) -> f64 {
    f();
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

impl Crossover {
    pub fn measure(gpu: &GpuBackend) -> Result<Self, String> {
        let mut rng = Rng::new(0x5eed);
        let fail = |e: GpuError| e.to_string();
        // Compute: exact search of 64 queries in 8192 rows of 128 (134 Mflop).
        let (nq, nb, dim, k) = (64, 8192, 128, 10);
        let q = rng.uniform_vec(nq * dim);
        let b = rng.uniform_vec(nb * dim);
        let flops = 2.0 * (nq * nb * dim) as f64;
        let tiny = best_of_three(|| {
            gpu.knn(Metric::InnerProduct, &q[..dim], &b[..64 * dim], dim, k)
                .map(drop)
        })
        .map_err(fail)?;
        let mut got = None;
        let medium = best_of_three(|| {
            got = Some(gpu.knn(Metric::InnerProduct, &q, &b, dim, k)?);
            Ok(())
        })
        .map_err(fail)?;
        let mut want = None;
        let cpu = cpu_time(|| want = Some(CpuBackend.knn(Metric::InnerProduct, &q, &b, dim, k)));
        if !agrees(got.as_ref(), want.as_ref()) {
            return Err("its exact-search answer differs from the CPU's".into());
        }
        let compute = CostLine {
            gpu_fixed_s: tiny,
            gpu_per_unit_s: (medium - tiny).max(0.0) / flops,
            cpu_per_unit_s: cpu / flops,
        };
        // Scan: 16 queries over 32768 8-bit codes of 64 bytes (32 MiB of table look-ups).
        let (nq, n, m) = (16, 32768, 64);
        let luts = rng.uniform_vec(nq * m * 256);
        let codes: Vec<u8> = (0..n * m).map(|_| rng.below(256) as u8).collect();
        let biases = vec![0.0; nq];
        let bytes = (nq * n * m) as f64;
        let mut heaps = vec![TopKHeap::new(k); nq];
        let tiny = best_of_three(|| {
            gpu.scan_pq8_batch(
                &luts[..m * 256],
                m,
                &codes[..64 * m],
                (64, 0),
                &biases[..1],
                &mut heaps[..1],
            )
        })
        .map_err(fail)?;
        let medium = best_of_three(|| {
            gpu.scan_pq8_batch(
                &luts,
                m,
                &codes,
                (n, 0),
                &biases,
                &mut vec![TopKHeap::new(k); nq],
            )
        })
        .map_err(fail)?;
        let cpu = cpu_time(|| {
            for (qi, heap) in heaps.iter_mut().enumerate() {
                CpuBackend.scan_pq8(
                    &luts[qi * m * 256..(qi + 1) * m * 256],
                    m,
                    &codes,
                    n,
                    0,
                    0.0,
                    heap,
                );
            }
        });
        let scan = CostLine {
            gpu_fixed_s: tiny,
            gpu_per_unit_s: (medium - tiny).max(0.0) / bytes,
            cpu_per_unit_s: cpu / bytes,
        };
        Ok(Self { compute, scan })
    }
}

/// The same neighbours up to rounding: every score within 1e-3 relative.
fn agrees(got: Option<&Neighbours>, want: Option<&Neighbours>) -> bool {
    match (got, want) {
        (Some(g), Some(w)) => {
            g.scores.len() == w.scores.len()
                && g.scores
                    .iter()
                    .zip(&w.scores)
                    .all(|(a, b)| (a - b).abs() <= 1e-3 * (1.0 + b.abs()))
        }
        _ => false,
    }
}

/// When the device takes a call.
#[derive(Clone, Copy, Debug)]
enum Rule {
    /// `--backend gpu`: every call the kernels support.
    Always,
    /// `auto`: calls whose work is above the measured cross-over.
    Measured(Crossover),
}

/// The kind of work of a call, and how much of it.
#[derive(Clone, Copy)]
enum Work {
    Compute(f64),
    Scan(f64),
}

/// The GPU backend behind the `Backend` trait, the CPU answering whatever it does not.
pub struct GpuRouted {
    /// The device and when it takes a call; unset until `auto`'s first large call opens
    /// it, `None` when that found none.
    device: OnceLock<Option<(GpuBackend, Rule)>>,
    /// Set by the first device fault: from then on every call runs on the CPU.
    off: AtomicBool,
    /// Reasons already logged, so a repeated one is said once.
    said: Mutex<HashSet<String>>,
}

impl GpuRouted {
    /// The device `options` allow, taking every call it supports (as `--backend gpu`).
    pub fn open(options: &GpuOptions) -> Result<Self, GpuError> {
        Ok(Self::new(GpuBackend::open(options)?, Rule::Always))
    }

    fn new(gpu: GpuBackend, rule: Rule) -> Self {
        let routed = Self::deferred();
        // A fresh cell: setting it cannot fail.
        let _ = routed.device.set(Some((gpu, rule)));
        routed
    }

    /// `auto` with no device opened yet: [`open_auto`] runs on the first call above
    /// [`OPEN_FLOOR`].
    fn deferred() -> Self {
        Self {
            device: OnceLock::new(),
            off: AtomicBool::new(false),
            said: Mutex::new(HashSet::new()),
        }
    }

    /// The device, once opened.
    pub fn gpu(&self) -> Option<&GpuBackend> {
        self.device.get()?.as_ref().map(|(gpu, _)| gpu)
    }

    fn say_once(&self, line: String) {
        let mut said = self.said.lock().unwrap_or_else(|p| p.into_inner());
        if said.insert(line.clone()) {
            eprintln!("facefind: compute: {line}");
        }
    }

    /// Runs `f` on the device when the rule allows; `None` means "answer on the CPU".
    fn try_gpu<T>(
        &self,
        what: &str,
        work: Work,
        f: impl FnOnce(&GpuBackend) -> Result<T, GpuError>,
    ) -> Option<T> {
        if !self.wants(work) {
            return None;
        }
        match f(self.gpu()?) {
            Ok(v) => Some(v),
            Err(e @ (GpuError::TooLarge { .. } | GpuError::Unsupported(_))) => {
                self.say_once(format!("{what} on the CPU: {e}"));
                None
            }
            Err(e) => {
                self.off.store(true, Ordering::Relaxed);
                self.say_once(format!("GPU disabled, the CPU takes over: {what}: {e}"));
                None
            }
        }
    }

    /// Whether a call of this much work goes to the device.
    fn wants(&self, work: Work) -> bool {
        if self.off.load(Ordering::Relaxed) {
            return false;
        }
        let small = match work {
            Work::Compute(flops) => flops < OPEN_FLOOR.0,
            Work::Scan(bytes) => bytes < OPEN_FLOOR.1,
        };
        if small && self.device.get().is_none() {
            return false;
        }
        let device = self.device.get_or_init(open_auto);
        let Some((_, rule)) = device else {
            return false;
        };
        match (*rule, work) {
            (Rule::Always, _) => true,
            (Rule::Measured(cross), Work::Compute(flops)) => cross.compute.gpu_wins(flops),
            (Rule::Measured(cross), Work::Scan(bytes)) => cross.scan.gpu_wins(bytes),
        }
    }

    /// A call that adds to heaps: on the device when the rule allows, where it works on
    /// copies that replace the heaps only when the whole call succeeded; else `cpu`.
    fn on_heaps(
        &self,
        what: &str,
        work: Work,
        heaps: &mut [TopKHeap],
        gpu: impl FnOnce(&GpuBackend, &mut [TopKHeap]) -> Result<(), GpuError>,
        cpu: impl FnOnce(&mut [TopKHeap]),
    ) {
        if self.wants(work) {
            let mut copy = heaps.to_vec();
            if self.try_gpu(what, work, |g| gpu(g, &mut copy)).is_some() {
                heaps.clone_from_slice(&copy);
                return;
            }
        }
        cpu(heaps);
    }
}

fn flops(a: usize, b: usize, dim: usize) -> Work {
    Work::Compute(2.0 * a as f64 * b as f64 * dim as f64)
}

impl Backend for GpuRouted {
    fn name(&self) -> &'static str {
        "gpu"
    }

    fn distances(
        &self,
        metric: Metric,
        queries: &[f32],
        base: &[f32],
        dim: usize,
        out: &mut [f32],
    ) {
        let work = flops(queries.len() / dim, base.len() / dim, dim);
        if self
            .try_gpu("distances", work, |g| {
                g.distances(metric, queries, base, dim, out)
            })
            .is_none()
        {
            CpuBackend.distances(metric, queries, base, dim, out);
        }
    }

    fn knn(
        &self,
        metric: Metric,
        queries: &[f32],
        base: &[f32],
        dim: usize,
        k: usize,
    ) -> Neighbours {
        let work = flops(queries.len() / dim, base.len() / dim, dim);
        self.try_gpu("knn", work, |g| g.knn(metric, queries, base, dim, k))
            .unwrap_or_else(|| CpuBackend.knn(metric, queries, base, dim, k))
    }

    fn assign(
        &self,
        metric: Metric,
        data: &[f32],
        centroids: &[f32],
        dim: usize,
        labels: &mut [u32],
        dists: &mut [f32],
    ) {
        let work = flops(data.len() / dim, centroids.len() / dim, dim);
        if self
            .try_gpu("assign", work, |g| {
                g.assign(metric, data, centroids, dim, labels, dists)
            })
            .is_none()
        {
            CpuBackend.assign(metric, data, centroids, dim, labels, dists);
        }
    }

    fn select_topk(&self, dists: &[f32], ncols: usize, k: usize) -> Vec<Vec<(f32, u32)>> {
        self.try_gpu("select_topk", Work::Scan(4.0 * dists.len() as f64), |g| {
            g.select_topk(dists, ncols, k)
        })
        .unwrap_or_else(|| CpuBackend.select_topk(dists, ncols, k))
    }

    fn pq_lut(
        &self,
        metric: Metric,
        query: &[f32],
        codebooks: &[f32],
        m: usize,
        ksub: usize,
        out: &mut [f32],
    ) {
        self.pq_lut_batch(metric, query, codebooks, m, ksub, out);
    }

    fn pq_lut_batch(
        &self,
        metric: Metric,
        queries: &[f32],
        codebooks: &[f32],
        m: usize,
        ksub: usize,
        out: &mut [f32],
    ) {
        let work = Work::Compute(2.0 * (queries.len() * ksub) as f64);
        if self
            .try_gpu("pq_lut", work, |g| {
                g.pq_lut_batch(metric, queries, codebooks, m, ksub, out)
            })
            .is_none()
        {
            CpuBackend.pq_lut_batch(metric, queries, codebooks, m, ksub, out);
        }
    }

    fn scan_pq8(
        &self,
        lut: &[f32],
        m: usize,
        codes: &[u8],
        n: usize,
        label0: u64,
        bias: f32,
        heap: &mut TopKHeap,
    ) {
        let heaps = std::slice::from_mut(heap);
        self.scan_pq8_batch(lut, m, codes, (n, label0), &[bias], heaps);
    }

    fn scan_pq8_batch(
        &self,
        luts: &[f32],
        m: usize,
        codes: &[u8],
        list: (usize, u64),
        biases: &[f32],
        heaps: &mut [TopKHeap],
    ) {
        let work = Work::Scan((heaps.len() * list.0 * m) as f64);
        self.on_heaps(
            "scan_pq8",
            work,
            heaps,
            |g, h| g.scan_pq8_batch(luts, m, codes, list, biases, h),
            |h| CpuBackend.scan_pq8_batch(luts, m, codes, list, biases, h),
        );
    }

    fn scan_pq4fs(
        &self,
        lut: &QuantizedLut,
        m: usize,
        codes: &[u8],
        n: usize,
        label0: u64,
        bias: f32,
        heap: &mut TopKHeap,
    ) {
        let (luts, heaps) = (std::slice::from_ref(lut), std::slice::from_mut(heap));
        self.scan_pq4fs_batch(luts, m, codes, (n, label0), &[bias], heaps);
    }

    fn scan_pq4fs_batch(
        &self,
        luts: &[QuantizedLut],
        m: usize,
        codes: &[u8],
        list: (usize, u64),
        biases: &[f32],
        heaps: &mut [TopKHeap],
    ) {
        let work = Work::Scan((heaps.len() * list.0 * m / 2) as f64);
        self.on_heaps(
            "scan_pq4fs",
            work,
            heaps,
            |g, h| g.scan_pq4fs_batch(luts, m, codes, list, biases, h),
            |h| CpuBackend.scan_pq4fs_batch(luts, m, codes, list, biases, h),
        );
    }

    fn prefetch(&self, data: &[u8]) {
        // Calls too small for the device run on the CPU, whose caches this warms.
        CpuBackend.prefetch(data);
    }

    fn scan_flat(
        &self,
        metric: Metric,
        query: &[f32],
        vectors: &[f32],
        label0: u64,
        heap: &mut TopKHeap,
    ) {
        self.scan_flat_batch(metric, query, vectors, label0, std::slice::from_mut(heap));
    }

    fn scan_flat_batch(
        &self,
        metric: Metric,
        queries: &[f32],
        vectors: &[f32],
        label0: u64,
        heaps: &mut [TopKHeap],
    ) {
        let dim = queries.len() / heaps.len().max(1);
        let work = flops(heaps.len(), vectors.len() / dim.max(1), dim);
        self.on_heaps(
            "scan_flat",
            work,
            heaps,
            |g, h| g.scan_flat_batch(metric, queries, vectors, label0, h),
            |h| CpuBackend.scan_flat_batch(metric, queries, vectors, label0, h),
        );
    }

    fn rerank_f32(
        &self,
        metric: Metric,
        query: &[f32],
        rows: &[&[f32]],
        labels: &[u64],
        heap: &mut TopKHeap,
    ) {
        let cands = Candidates {
            rows,
            labels,
            offsets: &[0, rows.len()],
        };
        self.rerank_f32_batch(metric, query, cands, std::slice::from_mut(heap));
    }

    fn rerank_f32_batch(
        &self,
        metric: Metric,
        queries: &[f32],
        cands: Candidates<'_, f32>,
        heaps: &mut [TopKHeap],
    ) {
        let work = Work::Scan((cands.rows.len() * queries.len() / heaps.len().max(1) * 4) as f64);
        self.on_heaps(
            "rerank_f32",
            work,
            heaps,
            |g, h| g.rerank_f32_batch(metric, queries, cands, h),
            |h| CpuBackend.rerank_f32_batch(metric, queries, cands, h),
        );
    }

    fn rerank_f16(
        &self,
        metric: Metric,
        query: &[f32],
        rows: &[&[f16]],
        labels: &[u64],
        heap: &mut TopKHeap,
    ) {
        let cands = Candidates {
            rows,
            labels,
            offsets: &[0, rows.len()],
        };
        self.rerank_f16_batch(metric, query, cands, std::slice::from_mut(heap));
    }

    fn rerank_f16_batch(
        &self,
        metric: Metric,
        queries: &[f32],
        cands: Candidates<'_, f16>,
        heaps: &mut [TopKHeap],
    ) {
        let work = Work::Scan((cands.rows.len() * queries.len() / heaps.len().max(1) * 2) as f64);
        self.on_heaps(
            "rerank_f16",
            work,
            heaps,
            |g, h| g.rerank_f16_batch(metric, queries, cands, h),
            |h| CpuBackend.rerank_f16_batch(metric, queries, cands, h),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cross_over_follows_the_measured_lines() {
        // 1 ms fixed, then 10x the CPU's rate: even at 1e6 units, break-even.
        let line = CostLine {
            gpu_fixed_s: 1e-3,
            gpu_per_unit_s: 1e-10,
            cpu_per_unit_s: 1e-9,
        };
        let even = line.break_even();
        assert!((even - 1e-3 / 9e-10).abs() < 1.0, "{even}");
        assert!(!line.gpu_wins(even * 0.9) && line.gpu_wins(even * 1.1));
        // A device no faster per unit than the CPU never wins, however large the call.
        let slow = CostLine {
            gpu_fixed_s: 1e-4,
            gpu_per_unit_s: 2e-9,
            cpu_per_unit_s: 1e-9,
        };
        assert!(slow.break_even().is_infinite() && !slow.gpu_wins(1e18));
    }

    #[test]
    fn auto_opens_no_device_for_small_calls() {
        let routed = GpuRouted::deferred();
        let mut rng = Rng::new(7);
        let dim = 64;
        let (q, small) = (rng.uniform_vec(dim), rng.uniform_vec(100 * dim));
        let want = CpuBackend.knn(Metric::InnerProduct, &q, &small, dim, 5);
        let got = routed.knn(Metric::InnerProduct, &q, &small, dim, 5);
        assert_eq!(got.rows, want.rows);
        assert!(
            routed.device.get().is_none(),
            "a 12.8 kflop call opened a device"
        );
        // 2·16·10000·64 = 20 Mflop, above the floor: the device is looked for (and a
        // software-only machine answers on the CPU all the same).
        let (qs, large) = (rng.uniform_vec(16 * dim), rng.uniform_vec(10_000 * dim));
        let want = CpuBackend.knn(Metric::InnerProduct, &qs, &large, dim, 5);
        let got = routed.knn(Metric::InnerProduct, &qs, &large, dim, 5);
        assert!(routed.device.get().is_some());
        if routed.gpu().is_none() {
            assert_eq!(got.rows, want.rows);
        }
    }
}
