//! `facefind bench disk`: an on-disk index too big to build in RAM, measured
//! in two processes.
//!
//! - `bench disk build` trains on a seeded sample of the base, moves the
//!   empty index into an index directory, then reads `base.f32` in chunks and
//!   adds each chunk into the on-disk lists (every chunk durable on return),
//!   so neither the base nor the lists are ever held in RAM as a whole; it
//!   ends with one compaction (the lists grown in steps rewritten exact, as
//!   FAISS merges into one on-disk file).
//! - `bench disk search` is a fresh process that opens the built directory
//!   read-only and holds only what an index keeps resident (quantizers, the
//!   list directory) plus the queries and the ground truth: the resident
//!   memory it reports is the index's. Per nprobe it times a cold pass (the
//!   lists dropped from the page cache first) and a warm one, and reads
//!   VmRSS / RssAnon after each. The identity files (40 MB at 10M) are read
//!   only after every memory figure is taken.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::ann::{self, K};
use super::data::{self, Dataset};
use super::{BenchError, BenchResult, emit, on_pool, rss};
use crate::compute::rng::Rng;
use crate::index::factory::index_factory;
use crate::index::ivf::IvfIndex;
use crate::index::{JobControl, SearchParams, SearchResults, VectorIndex, open_index_dir};
use rss::mib;

/// `facefind bench disk ...`
#[derive(Debug, clap::Subcommand)]
pub enum DiskCommand {
    /// Build an on-disk IVF index from a data set, adding the base in chunks.
    Build(BuildArgs),
    /// Open a built index directory in this process alone and measure searches.
    Search(SearchArgs),
}

/// Base rows per add call of a chunked build (512 MB of 128-d f32).
pub const CHUNK_ROWS: usize = 1_000_000;

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Data-set directory (see `facefind bench gen`).
    #[arg(long)]
    pub data: PathBuf,
    /// Index spec with inverted lists, e.g. `IVF16384,PQ32x4fs`.
    #[arg(long)]
    pub index: String,
    /// Index directory to create (must not exist yet).
    #[arg(long)]
    pub dir: PathBuf,
    /// Base rows (a seeded sample) the quantizers learn from; 0: all of them.
    #[arg(long, default_value_t = 0)]
    pub train_rows: usize,
    /// Base rows read and added per call.
    #[arg(long, default_value_t = CHUNK_ROWS)]
    pub chunk: usize,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// Data-set directory the index was built from (queries, ground truth).
    #[arg(long)]
    pub data: PathBuf,
    /// Index directory written by `bench disk build`.
    #[arg(long)]
    pub dir: PathBuf,
    /// Inverted lists visited per query, swept in order.
    #[arg(long, value_delimiter = ',', default_value = "16,64,256")]
    pub nprobe: Vec<usize>,
    /// Re-ranking: k·k_factor candidates are re-scored exactly (specs with R…).
    #[arg(long, default_value_t = SearchParams::default().k_factor)]
    pub k_factor: usize,
    /// Queries timed one call at a time (the first ones of the set).
    #[arg(long, default_value_t = 200)]
    pub single_queries: usize,
    /// Queries timed one at a time with the page cache dropped before each.
    #[arg(long, default_value_t = 10)]
    pub cold_queries: usize,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct BuildReport {
    pub index: String,
    pub n: usize,
    pub dim: usize,
    pub train_rows: usize,
    pub chunk: usize,
    pub threads: usize,
    pub train_s: f64,
    pub add_s: f64,
    pub add_per_s: f64,
    pub compact_s: f64,
    /// One full CRC32 pass over every list (what opening does not do).
    pub verify_s: f64,
    /// Index directory bytes after the chunked adds, and after the compaction.
    pub bytes_grown: u64,
    pub bytes: u64,
    pub peak_rss_bytes: Option<u64>,
}

/// One point of the nprobe sweep of `bench disk search`.
#[derive(Clone, Debug, Serialize)]
pub struct DiskRun {
    pub nprobe: usize,
    pub recall_at_10: f64,
    pub person_recall: Option<f64>,
    /// All queries in one call, right after the lists left the page cache.
    pub cold_qps_batch: f64,
    pub cold_rss_bytes: Option<u64>,
    pub cold_anon_rss_bytes: Option<u64>,
    /// Mean latency of one query with the page cache dropped first.
    pub cold_single_ms: f64,
    pub qps_batch: f64,
    pub qps_single: f64,
    /// After the warm searches.
    pub rss_bytes: Option<u64>,
    pub anon_rss_bytes: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SearchReport {
    pub index: String,
    pub ntotal: usize,
    pub nq: usize,
    pub k_factor: usize,
    pub threads: usize,
    pub bytes: u64,
    pub open_s: f64,
    /// Before the index is opened (queries and ground truth loaded).
    pub rss_before_open_bytes: Option<u64>,
    pub rss_after_open_bytes: Option<u64>,
    pub anon_rss_after_open_bytes: Option<u64>,
    /// Peak of the whole search process (VmHWM), identity files not yet read.
    pub peak_rss_bytes: Option<u64>,
    pub runs: Vec<DiskRun>,
}

/// A seeded sample of `rows` base rows, read with `pread` rather than through
/// the map, so the pages it reads stay out of this process's RSS.
fn sample_rows(set: &Dataset, rows: usize) -> BenchResult<Vec<f32>> {
    let (n, dim) = (set.meta.n, set.meta.dim);
    let mut picked = Rng::new(0x7261_696e).sample_indices(n, rows);
    // in file order, so the file is read forwards
    picked.sort_unstable();
    let path = set.dir.join(data::BASE);
    let file = File::open(&path).map_err(|e| BenchError::io(&path, e))?;
    let mut row = vec![0u8; dim * 4];
    let mut out = Vec::with_capacity(rows * dim);
    for r in picked {
        file.read_exact_at(&mut row, (r * dim * 4) as u64)
            .map_err(|e| BenchError::io(&path, e))?;
        data::extend_f32s(&mut out, &row);
    }
    Ok(out)
}

/// Reads `base.f32` forwards, `chunk` rows at a time, into one reused buffer.
struct Chunks {
    path: PathBuf,
    file: File,
    bytes: Vec<u8>,
    rows: Vec<f32>,
    dim: usize,
    left: usize,
}

impl Chunks {
    fn open(path: &Path, n: usize, dim: usize, chunk: usize) -> BenchResult<Self> {
        let file = File::open(path).map_err(|e| BenchError::io(path, e))?;
        Ok(Self {
            path: path.to_owned(),
            file,
            bytes: vec![0; chunk * dim * 4],
            rows: Vec::with_capacity(chunk * dim),
            dim,
            left: n,
        })
    }

    /// The next chunk of rows, or None at the end.
    fn next_chunk(&mut self) -> BenchResult<Option<&[f32]>> {
        if self.left == 0 {
            return Ok(None);
        }
        let rows = self.left.min(self.bytes.len() / (self.dim * 4));
        let bytes = &mut self.bytes[..rows * self.dim * 4];
        self.file
            .read_exact(bytes)
            .map_err(|e| BenchError::io(&self.path, e))?;
        self.rows.clear();
        data::extend_f32s(&mut self.rows, bytes);
        self.left -= rows;
        Ok(Some(&self.rows))
    }
}

/// Trains `spec` on a sample of `set`, moves it into `dir`, adds the base
/// chunk by chunk. Returns the on-disk index, [train s, add s].
pub fn build_into_dir(
    set: &Dataset,
    spec: &str,
    dir: &Path,
    train_rows: usize,
    chunk: usize,
) -> BenchResult<(Box<dyn VectorIndex>, [f64; 2])> {
    let m = &set.meta;
    if chunk == 0 {
        return Err(BenchError::Param("--chunk must be positive".into()));
    }
    let mut index = index_factory(spec, m.dim, m.metric()?, m.n)?;
    let ctl = JobControl::default();
    let t = Instant::now();
    if train_rows == 0 || train_rows >= m.n {
        index.train(set.base.as_slice(), &ctl)?;
    } else {
        index.train(&sample_rows(set, train_rows)?, &ctl)?;
    }
    let train_s = t.elapsed().as_secs_f64();
    for w in ctl.warnings() {
        eprintln!("warning: {w}");
    }
    let mut index = index.into_dir(dir)?;
    let t = Instant::now();
    let mut chunks = Chunks::open(&set.dir.join(data::BASE), m.n, m.dim, chunk)?;
    let mut first = 0u64;
    while let Some(rows) = chunks.next_chunk()? {
        let count = (rows.len() / m.dim) as u64;
        let ids: Vec<u64> = (first..first + count).collect();
        index.add(rows, &ids)?;
        first += count;
        eprintln!(
            "  added {first} of {} ({:.0} vectors/s)",
            m.n,
            first as f64 / t.elapsed().as_secs_f64()
        );
    }
    Ok((index, [train_s, t.elapsed().as_secs_f64()]))
}

fn build(args: &BuildArgs) -> BenchResult<BuildReport> {
    if !args.index.starts_with("IVF") {
        return Err(BenchError::Param(format!(
            "--index {}: bench disk builds inverted-list (IVF) specs",
            args.index
        )));
    }
    if args.dir.exists() {
        return Err(BenchError::Param(format!(
            "--dir {} exists already; give a new directory",
            args.dir.display()
        )));
    }
    let set = Dataset::open(&args.data)?;
    let (index, [train_s, add_s]) =
        build_into_dir(&set, &args.index, &args.dir, args.train_rows, args.chunk)?;
    let (n, dim) = (set.meta.n, set.meta.dim);
    drop(set);
    let bytes_grown = index.bytes_on_disk();
    let spec = index.spec();
    drop(index);
    let t = Instant::now();
    let mut ivf = IvfIndex::open_dir(&args.dir, true)?;
    ivf.compact()?;
    let compact_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    if let Some(disk) = ivf.lists().as_on_disk() {
        disk.verify()?;
    }
    let verify_s = t.elapsed().as_secs_f64();
    Ok(BuildReport {
        index: spec,
        n,
        dim,
        train_rows: if args.train_rows == 0 {
            n
        } else {
            args.train_rows.min(n)
        },
        chunk: args.chunk,
        threads: rayon::current_num_threads(),
        train_s,
        add_s,
        add_per_s: n as f64 / add_s,
        compact_s,
        verify_s,
        bytes_grown,
        bytes: ivf.bytes_on_disk(),
        peak_rss_bytes: rss::peak_rss(),
    })
}

/// Drops the index's lists from the page cache.
fn drop_cache(index: &dyn VectorIndex) -> BenchResult<()> {
    match index.lists().as_on_disk() {
        Some(disk) => Ok(disk.drop_page_cache()?),
        None => Err(BenchError::Param("the index lists are not on disk".into())),
    }
}

fn search(args: &SearchArgs) -> BenchResult<SearchReport> {
    if args.nprobe.is_empty() || args.nprobe.contains(&0) {
        return Err(BenchError::Param(
            "--nprobe needs one or more positive values".into(),
        ));
    }
    let set = Dataset::open(&args.data)?;
    let meta = set.meta.clone();
    let gt = set.ground_truth()?;
    let queries = set.queries.as_slice().to_vec();
    drop(set);
    let rss_before_open_bytes = rss::current_rss();
    let t = Instant::now();
    let index = open_index_dir(&args.dir, false)?;
    let open_s = t.elapsed().as_secs_f64();
    let (rss_after_open_bytes, anon_rss_after_open_bytes) =
        (rss::current_rss(), rss::current_anon_rss());
    if index.ntotal() != meta.n || index.dim() != meta.dim {
        return Err(BenchError::Param(format!(
            "{} holds {}×{}, the data set {}×{}",
            args.dir.display(),
            index.ntotal(),
            index.dim(),
            meta.n,
            meta.dim
        )));
    }
    let single = args.single_queries.min(meta.nq);
    let mut runs = Vec::with_capacity(args.nprobe.len());
    let mut wide: Vec<SearchResults> = Vec::with_capacity(args.nprobe.len());
    for &nprobe in &args.nprobe {
        let params = SearchParams {
            nprobe,
            k_factor: args.k_factor,
        };
        drop_cache(&*index)?;
        let (cold_qps_batch, _) = ann::time_batch(&*index, &queries, &params)?;
        let (cold_rss_bytes, cold_anon_rss_bytes) = (rss::current_rss(), rss::current_anon_rss());
        let cold_single_ms =
            ann::cold_single_ms(&*index, &queries, meta.dim, args.cold_queries, &params)?
                .expect("the lists are on disk (checked by drop_cache)");
        // untimed: warms the cache again, and feeds person_recall at the end
        wide.push(index.search(&queries, meta.k_gt, &params)?);
        let (qps_batch, res) = ann::time_batch(&*index, &queries, &params)?;
        let qps_single = ann::time_single(&*index, &queries, single, &params)?;
        let run = DiskRun {
            nprobe,
            recall_at_10: ann::recall_at_k(&res, &gt, meta.k_gt),
            person_recall: None,
            cold_qps_batch,
            cold_rss_bytes,
            cold_anon_rss_bytes,
            cold_single_ms,
            qps_batch,
            qps_single,
            rss_bytes: rss::current_rss(),
            anon_rss_bytes: rss::current_anon_rss(),
        };
        if !args.json {
            eprintln!("  nprobe {nprobe}: recall@10 {:.4}", run.recall_at_10);
        }
        runs.push(run);
    }
    let peak_rss_bytes = rss::peak_rss();
    let bytes = index.bytes_on_disk();
    let (spec, ntotal) = (index.spec(), index.ntotal());
    drop(index);
    if let Some(ids) = Dataset::open(&args.data)?.identities()? {
        for (run, res) in runs.iter_mut().zip(&wide) {
            run.person_recall = ann::person_recall(res, &gt, meta.k_gt, &ids);
        }
    }
    Ok(SearchReport {
        index: spec,
        ntotal,
        nq: meta.nq,
        k_factor: args.k_factor,
        threads: rayon::current_num_threads(),
        bytes,
        open_s,
        rss_before_open_bytes,
        rss_after_open_bytes,
        anon_rss_after_open_bytes,
        peak_rss_bytes,
        runs,
    })
}

fn print_build(r: &BuildReport) {
    println!(
        "index {} on {} vectors of {} dims, {} threads; trained on {} rows, added {} per call",
        r.index, r.n, r.dim, r.threads, r.train_rows, r.chunk
    );
    println!(
        "| train s | add s | add vectors/s | compact s | CRC pass s | bytes/vector grown | bytes/vector compacted | peak RSS |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {:.1} | {:.1} | {:.0} | {:.1} | {:.2} | {:.1} | {:.1} | {} |",
        r.train_s,
        r.add_s,
        r.add_per_s,
        r.compact_s,
        r.verify_s,
        r.bytes_grown as f64 / r.n as f64,
        r.bytes as f64 / r.n as f64,
        mib(r.peak_rss_bytes)
    );
}

fn print_search(r: &SearchReport) {
    println!(
        "index {} holding {} vectors ({:.1} bytes/vector on disk), {} queries, k {K}, k_factor {}, {} threads",
        r.index,
        r.ntotal,
        r.bytes as f64 / r.ntotal as f64,
        r.nq,
        r.k_factor,
        r.threads
    );
    println!(
        "open {:.3} s; RSS before open {}, after open {} (anon {}); peak while searching {}",
        r.open_s,
        mib(r.rss_before_open_bytes),
        mib(r.rss_after_open_bytes),
        mib(r.anon_rss_after_open_bytes),
        mib(r.peak_rss_bytes)
    );
    println!(
        "| nprobe | recall@10 | person_recall | cold QPS batch | cold RSS / anon | cold single ms | QPS batch | QPS single | warm RSS / anon |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for run in &r.runs {
        let person = run.person_recall.map_or("-".into(), |p| format!("{p:.4}"));
        println!(
            "| {} | {:.4} | {person} | {:.0} | {} / {} | {:.1} | {:.0} | {:.0} | {} / {} |",
            run.nprobe,
            run.recall_at_10,
            run.cold_qps_batch,
            mib(run.cold_rss_bytes),
            mib(run.cold_anon_rss_bytes),
            run.cold_single_ms,
            run.qps_batch,
            run.qps_single,
            mib(run.rss_bytes),
            mib(run.anon_rss_bytes)
        );
    }
}

pub fn measure_build(args: &BuildArgs) -> BenchResult<BuildReport> {
    on_pool(args.threads, || build(args))
}

pub fn measure_search(args: &SearchArgs) -> BenchResult<SearchReport> {
    on_pool(args.threads, || search(args))
}

pub fn run(command: &DiskCommand) -> BenchResult<()> {
    match command {
        DiskCommand::Build(args) => emit(&measure_build(args)?, args.json, print_build),
        DiskCommand::Search(args) => emit(&measure_search(args)?, args.json, print_search),
    }
    Ok(())
}
