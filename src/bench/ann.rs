//! `facefind bench ann`: builds an index spec on a data set and measures
//! recall, person recall, speed and memory (definitions shared with
//! `benches/vs_faiss.py`, so FAISS and hnswlib are measured the same way).
//!
//! - recall@10: share of the true top-10 found in the returned top-10;
//! - person_recall: of a query's same-identity rows among its true top-k_gt,
//!   the share a top-k_gt search returns (mean over queries that have any);
//! - QPS batch: all queries in one call, k = 10; QPS single: the first
//!   `--single-queries` queries, one call each, k = 10;
//! - the index is saved and loaded back before searching (so the figures
//!   are those of what a user would open); `peak_rss_bytes` is the peak
//!   while searching, measured from a reset after the build with the base
//!   vectors unmapped; `build_peak_rss_bytes` is the peak before.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde::Serialize;

use super::data::{Dataset, Identities};
use super::{BenchError, BenchResult, disk, emit, on_pool, rss};
use crate::index::factory::index_factory;
use crate::index::{
    JobControl, NO_ID, SearchParams, SearchResults, VectorIndex, load_index, open_index_dir,
};
use rss::mib;

/// The k of recall@k and of the timed searches.
pub const K: usize = 10;

#[derive(Debug, clap::Args)]
pub struct AnnArgs {
    /// Data-set directory (see `facefind bench gen`).
    #[arg(long)]
    pub data: PathBuf,
    /// Index spec, e.g. `Flat`, `IVF1024,PQ64x4fs,RFlat`, `auto`.
    #[arg(long)]
    pub index: String,
    /// Inverted lists visited per query, swept in order (IVF indexes only).
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16,32,64,128")]
    pub nprobe: Vec<usize>,
    /// Re-ranking: k·k_factor candidates are re-scored exactly.
    #[arg(long, default_value_t = SearchParams::default().k_factor)]
    pub k_factor: usize,
    /// Worker threads (default: rayon's choice, one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Queries timed one call at a time (the first ones of the set).
    #[arg(long, default_value_t = 1000)]
    pub single_queries: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Keep the lists on disk (an index directory, memory-mapped) and also
    /// time single queries with a cold page cache.
    #[arg(long)]
    pub on_disk: bool,
    /// Queries timed one at a time with the page cache dropped before each (--on-disk).
    #[arg(long, default_value_t = 20)]
    pub cold_queries: usize,
    /// With --on-disk: also keep an in-memory copy and time the two in turn,
    /// this many rounds per nprobe (best of each reported): on a loaded
    /// machine only figures taken side by side compare.
    #[arg(long, default_value_t = 0)]
    pub paired_rounds: usize,
    /// Vectors per call when timing add and remove throughput (the query
    /// vectors are added under new ids, then removed); 0 skips it.
    #[arg(long, default_value_t = 100)]
    pub churn_batch: usize,
    /// Saves the built index here (with its build times in `PATH.build.json`)
    /// and, where both already exist, loads them instead of building: a sweep
    /// of search settings need not pay the build again. Lists in memory only.
    #[arg(long)]
    pub keep_index: Option<PathBuf>,
}

/// One point of the nprobe sweep.
#[derive(Clone, Debug, Serialize)]
pub struct AnnRun {
    /// 0 for indexes without lists (Flat).
    pub nprobe: usize,
    pub recall_at_10: f64,
    /// None where the data set has no identity files.
    pub person_recall: Option<f64>,
    pub qps_batch: f64,
    pub qps_single: f64,
    /// Mean latency of one query with the page cache dropped first (--on-disk).
    pub cold_single_ms: Option<f64>,
    /// Resident memory right after the timed searches.
    pub rss_bytes: Option<u64>,
    /// The part of it not backed by a file (mapped lists are file-backed).
    pub anon_rss_bytes: Option<u64>,
}

/// In-memory and on-disk lists timed in turn (best of `rounds`).
#[derive(Clone, Debug, Serialize)]
pub struct Paired {
    pub nprobe: usize,
    pub rounds: usize,
    pub memory_qps_batch: f64,
    pub disk_qps_batch: f64,
    pub memory_qps_single: f64,
    pub disk_qps_single: f64,
}

/// Throughput of adding into and removing from the built index.
#[derive(Clone, Debug, Serialize)]
pub struct Churn {
    pub batch: usize,
    pub vectors: usize,
    pub add_per_s: f64,
    pub remove_per_s: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct AnnReport {
    pub index: String,
    pub n: usize,
    pub dim: usize,
    pub train_s: f64,
    pub add_s: f64,
    pub index_bytes: u64,
    pub peak_rss_bytes: Option<u64>,
    pub build_peak_rss_bytes: Option<u64>,
    pub k_factor: usize,
    pub threads: usize,
    pub on_disk: bool,
    pub runs: Vec<AnnRun>,
    pub paired: Vec<Paired>,
    pub churn: Option<Churn>,
}

/// Share of the true top-`K` (first `K` of each `k_gt`-row of `gt`) in the returned top-`K`.
pub fn recall_at_k(res: &SearchResults, gt: &[i32], k_gt: usize) -> f64 {
    let nq = res.nq();
    let hits: usize = (0..nq)
        .map(|q| {
            let truth = &gt[q * k_gt..q * k_gt + K.min(k_gt)];
            let found = &res.row_ids(q)[..K.min(res.k)];
            truth
                .iter()
                .filter(|&&t| found.contains(&(t as u64)))
                .count()
        })
        .sum();
    hits as f64 / (nq * K.min(k_gt)).max(1) as f64
}

/// Mean over queries with any same-identity row in their true top-k_gt of
/// the share of those rows that `res` (a top-k_gt search) returns.
pub fn person_recall(
    res: &SearchResults,
    gt: &[i32],
    k_gt: usize,
    ids: &Identities,
) -> Option<f64> {
    let shares: Vec<f64> = (0..res.nq())
        .filter_map(|q| {
            let own: Vec<u64> = gt[q * k_gt..(q + 1) * k_gt]
                .iter()
                .filter(|&&r| ids.base[r as usize] == ids.queries[q])
                .map(|&r| r as u64)
                .collect();
            if own.is_empty() {
                return None;
            }
            let found = res
                .row_ids(q)
                .iter()
                .filter(|&&id| id != NO_ID && own.contains(&id))
                .count();
            Some(found as f64 / own.len() as f64)
        })
        .collect();
    (!shares.is_empty()).then(|| shares.iter().sum::<f64>() / shares.len() as f64)
}

/// A directory removed when dropped (the index files of one run).
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> BenchResult<Self> {
        // Unique per process and per call: tests measure in parallel.
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("facefind-bench-ann-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|e| BenchError::io(&path, e))?;
        Ok(Self(path))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // Best effort: a leftover scratch directory in /tmp is harmless.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn seconds_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

/// Builds, saves and reloads the index; returns it with the build figures.
/// What `build` hands back: the index to measure, an in-memory twin (when
/// asked for), train and add seconds, bytes on disk.
type Built = (
    Box<dyn VectorIndex>,
    Option<Box<dyn VectorIndex>>,
    [f64; 2],
    u64,
);

/// The build times saved beside a kept index (`--keep-index`).
#[derive(Serialize, serde::Deserialize)]
struct BuildTimes {
    spec: String,
    n: usize,
    train_s: f64,
    add_s: f64,
}

fn times_path(index: &Path) -> PathBuf {
    let mut name = index.as_os_str().to_owned();
    name.push(".build.json");
    PathBuf::from(name)
}

/// Loads an index kept by an earlier run, checking that it is the one asked for.
fn load_kept(path: &Path, spec: &str, set: &Dataset) -> BenchResult<Built> {
    let times = times_path(path);
    let text = std::fs::read_to_string(&times).map_err(|e| BenchError::io(&times, e))?;
    let t: BuildTimes = serde_json::from_str(&text)
        .map_err(|e| BenchError::Format(format!("{}: {e}", times.display())))?;
    let index = load_index(path)?;
    let want = index_factory(spec, set.meta.dim, set.meta.metric()?, set.meta.n)?.spec();
    if t.spec != want || index.spec() != want || index.ntotal() != set.meta.n {
        return Err(BenchError::Param(format!(
            "--keep-index {}: holds {} with {} vectors, not {want} with {}; remove it to rebuild",
            path.display(),
            index.spec(),
            index.ntotal(),
            set.meta.n
        )));
    }
    let bytes = index.bytes_on_disk();
    Ok((index, None, [t.train_s, t.add_s], bytes))
}

fn build(
    set: Dataset,
    spec: &str,
    dir: &Path,
    (on_disk, twin): (bool, bool),
    keep: Option<&Path>,
) -> BenchResult<Built> {
    if let Some(path) = keep {
        if on_disk {
            return Err(BenchError::Param(
                "--keep-index keeps lists in memory; drop --on-disk".into(),
            ));
        }
        if path.exists() && times_path(path).exists() {
            return load_kept(path, spec, &set);
        }
    }
    let m = &set.meta;
    if on_disk {
        // added chunk by chunk into the on-disk lists, never all in RAM
        let path = dir.join("index");
        let (index, times) = disk::build_into_dir(&set, spec, &path, 0, disk::CHUNK_ROWS)?;
        let memory = twin.then(|| index.to_memory()).transpose()?;
        let bytes = index.bytes_on_disk();
        drop((index, set));
        return Ok((open_index_dir(&path, true)?, memory, times, bytes));
    }
    let mut index = index_factory(spec, m.dim, m.metric()?, m.n)?;
    let ctl = JobControl::default();
    let base = set.base.as_slice();
    let t = Instant::now();
    index.train(base, &ctl)?;
    let train_s = seconds_since(t);
    let ids: Vec<u64> = (0..m.n as u64).collect();
    let t = Instant::now();
    index.add(base, &ids)?;
    let add_s = seconds_since(t);
    for w in ctl.warnings() {
        eprintln!("warning: {w}");
    }
    drop(set);
    let path = keep.map_or_else(|| dir.join("index.ffx"), Path::to_path_buf);
    index.save(&path)?;
    if keep.is_some() {
        let times = BuildTimes {
            spec: index.spec(),
            n: index.ntotal(),
            train_s,
            add_s,
        };
        let json = serde_json::to_string(&times).expect("build times serialise");
        let tp = times_path(&path);
        std::fs::write(&tp, json).map_err(|e| BenchError::io(&tp, e))?;
    }
    let bytes = index.bytes_on_disk();
    drop(index);
    Ok((load_index(&path)?, None, [train_s, add_s], bytes))
}

/// Queries per second of one batch search of all `queries`; also its results.
pub fn time_batch(
    index: &dyn VectorIndex,
    queries: &[f32],
    params: &SearchParams,
) -> BenchResult<(f64, SearchResults)> {
    let t = Instant::now();
    let res = index.search(queries, K, params)?;
    Ok(((queries.len() / index.dim()) as f64 / seconds_since(t), res))
}

/// Queries per second of the first `single` queries, one call each.
pub fn time_single(
    index: &dyn VectorIndex,
    queries: &[f32],
    single: usize,
    params: &SearchParams,
) -> BenchResult<f64> {
    let t = Instant::now();
    for q in queries.chunks_exact(index.dim()).take(single) {
        index.search(q, K, params)?;
    }
    Ok(single as f64 / seconds_since(t))
}

/// The in-memory `twin` and the on-disk `index` timed in turn, best of `rounds`.
fn paired(
    twin: &dyn VectorIndex,
    index: &dyn VectorIndex,
    queries: &[f32],
    (single, rounds): (usize, usize),
    params: &SearchParams,
) -> BenchResult<Paired> {
    let mut best = [0f64; 4];
    for _ in 0..rounds {
        let figures = [
            time_batch(twin, queries, params)?.0,
            time_batch(index, queries, params)?.0,
            time_single(twin, queries, single, params)?,
            time_single(index, queries, single, params)?,
        ];
        for (b, f) in best.iter_mut().zip(figures) {
            *b = b.max(f);
        }
    }
    Ok(Paired {
        nprobe: params.nprobe,
        rounds,
        memory_qps_batch: best[0],
        disk_qps_batch: best[1],
        memory_qps_single: best[2],
        disk_qps_single: best[3],
    })
}

/// Mean milliseconds of one query with the lists dropped from the page cache first.
pub fn cold_single_ms(
    index: &dyn VectorIndex,
    queries: &[f32],
    dim: usize,
    count: usize,
    params: &SearchParams,
) -> BenchResult<Option<f64>> {
    let Some(disk) = index.lists().as_on_disk() else {
        return Ok(None);
    };
    let mut total = 0.0;
    let n = count.min(queries.len() / dim).max(1);
    for q in queries.chunks_exact(dim).take(n) {
        disk.drop_page_cache()?;
        let t = Instant::now();
        index.search(q, K, params)?;
        total += seconds_since(t);
    }
    Ok(Some(total * 1e3 / n as f64))
}

/// Adds the query vectors under new ids `batch` at a time, then removes them.
fn churn(index: &mut dyn VectorIndex, queries: &[f32], batch: usize) -> BenchResult<Churn> {
    let dim = index.dim();
    let first = index.ntotal() as u64 + (1 << 40);
    let ids: Vec<u64> = (first..first + (queries.len() / dim) as u64).collect();
    let t = Instant::now();
    for (q, i) in queries.chunks(batch * dim).zip(ids.chunks(batch)) {
        index.add(q, i)?;
    }
    let add_per_s = ids.len() as f64 / seconds_since(t);
    let t = Instant::now();
    for i in ids.chunks(batch) {
        index.remove(i)?;
    }
    let remove_per_s = ids.len() as f64 / seconds_since(t);
    Ok(Churn {
        batch,
        vectors: ids.len(),
        add_per_s,
        remove_per_s,
    })
}

/// Runs the whole measurement (on the current rayon pool).
pub fn measure(args: &AnnArgs) -> BenchResult<AnnReport> {
    if args.nprobe.is_empty() || args.nprobe.contains(&0) {
        return Err(BenchError::Param(
            "--nprobe needs one or more positive values".into(),
        ));
    }
    let set = Dataset::open(&args.data)?;
    let meta = set.meta.clone();
    let gt = set.ground_truth()?;
    let identities = set.identities()?;
    // The queries outlive the base: copy them before the mapping goes.
    let queries = set.queries.as_slice().to_vec();
    let scratch = ScratchDir::new()?;
    let twin = args.on_disk && args.paired_rounds > 0;
    let (mut index, memory, [train_s, add_s], index_bytes) = build(
        set,
        &args.index,
        &scratch.0,
        (args.on_disk, twin),
        args.keep_index.as_deref(),
    )?;
    let build_peak_rss_bytes = rss::peak_rss();
    let reset = rss::reset_peak();
    let has_lists = index.spec().contains("IVF");
    let sweep: Vec<usize> = if has_lists {
        args.nprobe.clone()
    } else {
        vec![0]
    };
    let dim = meta.dim;
    let single = args.single_queries.min(meta.nq);
    let (mut runs, mut pairs) = (Vec::with_capacity(sweep.len()), Vec::new());
    for nprobe in sweep {
        let params = SearchParams {
            nprobe: nprobe.max(1),
            k_factor: args.k_factor,
        };
        // Untimed, and the warm-up of the timed searches.
        let wide = index.search(&queries, meta.k_gt, &params)?;
        let person = identities
            .as_ref()
            .and_then(|ids| person_recall(&wide, &gt, meta.k_gt, ids));
        let (qps_batch, res) = time_batch(&*index, &queries, &params)?;
        let qps_single = time_single(&*index, &queries, single, &params)?;
        if let Some(twin) = &memory {
            let rounds = (single, args.paired_rounds);
            pairs.push(paired(&**twin, &*index, &queries, rounds, &params)?);
        }
        let (rss_bytes, anon_rss_bytes) = (rss::current_rss(), rss::current_anon_rss());
        let run = AnnRun {
            nprobe,
            recall_at_10: recall_at_k(&res, &gt, meta.k_gt),
            person_recall: person,
            qps_batch,
            qps_single,
            cold_single_ms: cold_single_ms(&*index, &queries, dim, args.cold_queries, &params)?,
            rss_bytes,
            anon_rss_bytes,
        };
        if !args.json {
            eprintln!("  nprobe {nprobe}: recall@10 {:.4}", run.recall_at_10);
        }
        runs.push(run);
    }
    drop(memory);
    let peak_rss_bytes = if reset { rss::peak_rss() } else { None };
    let churn = match args.churn_batch {
        0 => None,
        batch => Some(churn(&mut *index, &queries, batch)?),
    };
    Ok(AnnReport {
        index: index.spec(),
        n: meta.n,
        dim,
        train_s,
        add_s,
        index_bytes,
        peak_rss_bytes,
        build_peak_rss_bytes,
        k_factor: args.k_factor,
        threads: rayon::current_num_threads(),
        on_disk: args.on_disk,
        runs,
        paired: pairs,
        churn,
    })
}

fn print_table(r: &AnnReport) {
    println!(
        "index {} on {} vectors of {} dims, {} threads, k_factor {}, lists {}",
        r.index,
        r.n,
        r.dim,
        r.threads,
        r.k_factor,
        if r.on_disk { "on disk" } else { "in memory" }
    );
    println!(
        "train {:.2} s, add {:.2} s, {} bytes on disk ({:.1} per vector), peak RSS building {}, searching {}",
        r.train_s,
        r.add_s,
        r.index_bytes,
        r.index_bytes as f64 / r.n as f64,
        mib(r.build_peak_rss_bytes),
        mib(r.peak_rss_bytes)
    );
    println!(
        "| nprobe | recall@10 | person_recall | QPS batch | QPS single | cold single ms | RSS | anon RSS |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for run in &r.runs {
        let nprobe = if run.nprobe == 0 {
            "-".to_string()
        } else {
            run.nprobe.to_string()
        };
        let person = run.person_recall.map_or("-".into(), |p| format!("{p:.4}"));
        let cold = run.cold_single_ms.map_or("-".into(), |c| format!("{c:.2}"));
        println!(
            "| {nprobe} | {:.4} | {person} | {:.0} | {:.0} | {cold} | {} | {} |",
            run.recall_at_10,
            run.qps_batch,
            run.qps_single,
            mib(run.rss_bytes),
            mib(run.anon_rss_bytes)
        );
    }
    if !r.paired.is_empty() {
        println!("in memory and on disk timed in turn (best of each):");
        println!(
            "| nprobe | rounds | QPS batch memory | on disk | ratio | QPS single memory | on disk | ratio |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
        for p in &r.paired {
            println!(
                "| {} | {} | {:.0} | {:.0} | {:.3} | {:.0} | {:.0} | {:.3} |",
                p.nprobe,
                p.rounds,
                p.memory_qps_batch,
                p.disk_qps_batch,
                p.disk_qps_batch / p.memory_qps_batch,
                p.memory_qps_single,
                p.disk_qps_single,
                p.disk_qps_single / p.memory_qps_single
            );
        }
    }
    if let Some(c) = &r.churn {
        println!(
            "add {:.0} vectors/s, remove {:.0} vectors/s ({} vectors, {} per call)",
            c.add_per_s, c.remove_per_s, c.vectors, c.batch
        );
    }
}

pub fn run(args: &AnnArgs) -> BenchResult<()> {
    let report = on_pool(args.threads, || measure(args))?;
    emit(&report, args.json, print_table);
    Ok(())
}
