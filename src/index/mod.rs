//! Vector indexes over face embeddings: exact (`Flat`) and IVF-PQ with
//! re-ranking, built from FAISS-style spec strings (`factory`).
//!
//! Everything here works on plain `f32` rows; the numeric kernels live in
//! `crate::compute`. Ids are the caller's `u64`s (catalog face ids).
//!
//! ```no_run
//! use facefind::index::{factory::index_factory, JobControl, Metric, SearchParams};
//! # fn demo(base: &[f32], ids: &[u64], queries: &[f32]) -> facefind::error::IndexResult<()> {
//! let mut index = index_factory("IVF1024,PQ64x4fs,RFlat", 128, Metric::InnerProduct, ids.len())?;
//! index.train(base, &JobControl::default())?;
//! index.add(base, ids)?;
//! let hits = index.search(queries, 10, &SearchParams { nprobe: 64, k_factor: 32 })?;
//! index.save(std::path::Path::new("faces.ffi"))?;
//! let again = facefind::index::load_index(std::path::Path::new("faces.ffi"))?;
//! # Ok(()) }
//! ```

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};

pub mod check;
pub mod factory;
pub mod flat;
pub mod format;
pub mod invlists;
pub mod ivf;
pub mod kmeans;
pub mod ondisk;
pub mod pq;
pub mod refine;

pub use crate::compute::Metric;
use crate::error::{IndexError, IndexResult};

/// Knobs of one search call.
#[derive(Clone, Debug)]
pub struct SearchParams {
    /// Inverted lists visited per query (IVF only; clamped errors if > nlist).
    pub nprobe: usize,
    /// Re-ranking: `k * k_factor` candidates are re-scored exactly.
    pub k_factor: usize,
}

impl Default for SearchParams {
    fn default() -> Self {
        Self {
            nprobe: 16,
            k_factor: 4,
        }
    }
}

/// Results of a batch search: `nq` rows of `k`, best first.
/// Missing entries (fewer than `k` vectors reachable) have id `NO_ID`.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchResults {
    pub k: usize,
    /// The metric's own value: inner product (higher is better) or squared L2 (lower is better).
    pub scores: Vec<f32>,
    pub ids: Vec<u64>,
}

pub const NO_ID: u64 = u64::MAX;

impl SearchResults {
    pub fn nq(&self) -> usize {
        self.ids.len().checked_div(self.k).unwrap_or(0)
    }
    pub fn row_ids(&self, q: usize) -> &[u64] {
        &self.ids[q * self.k..(q + 1) * self.k]
    }
    pub fn row_scores(&self, q: usize) -> &[f32] {
        &self.scores[q * self.k..(q + 1) * self.k]
    }
}

/// Receives `(stage, fraction done)`.
pub type ProgressFn = dyn Fn(&str, f32) + Send + Sync;

/// Progress of a long job, and flags to pause or stop it, shared with whoever watches.
#[derive(Clone, Default)]
pub struct JobControl {
    stop: Arc<AtomicBool>,
    progress: Option<Arc<ProgressFn>>,
    warnings: Arc<Mutex<Vec<String>>>,
    paused: Arc<(Mutex<bool>, Condvar)>,
}

impl JobControl {
    pub fn with_progress(progress: impl Fn(&str, f32) + Send + Sync + 'static) -> Self {
        Self {
            progress: Some(Arc::new(progress)),
            ..Self::default()
        }
    }
    /// Asks the job to stop at its next check (a paused job wakes up to stop).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        // Under the lock, so a job between its check and its wait cannot miss the wake-up.
        let _held = self.paused.0.lock().unwrap_or_else(|e| e.into_inner());
        self.paused.1.notify_all();
    }
    /// Asks the job to wait at its next check until [`JobControl::resume`].
    pub fn pause(&self) {
        *self.paused.0.lock().unwrap_or_else(|e| e.into_inner()) = true;
    }
    pub fn resume(&self) {
        *self.paused.0.lock().unwrap_or_else(|e| e.into_inner()) = false;
        self.paused.1.notify_all();
    }
    pub fn is_paused(&self) -> bool {
        *self.paused.0.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// Blocks while the job is paused; returns at once when it is asked to stop.
    pub fn wait_while_paused(&self) {
        let (flag, wake) = &*self.paused;
        let mut paused = flag.lock().unwrap_or_else(|e| e.into_inner());
        while *paused && !self.should_stop() {
            paused = wake.wait(paused).unwrap_or_else(|e| e.into_inner());
        }
    }
    pub fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
    /// Records a warning about the job (e.g. too little training data).
    pub fn warn(&self, message: String) {
        self.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message);
    }
    /// The warnings recorded so far.
    pub fn warnings(&self) -> Vec<String> {
        self.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
    /// Reports `fraction` (0..=1) of `stage` done.
    pub fn report(&self, stage: &str, fraction: f32) {
        if let Some(p) = &self.progress {
            p(stage, fraction);
        }
    }
}

/// The one interface every index kind offers; the CLI, the benchmarks and
/// the library code only see this.
pub trait VectorIndex: Send + Sync {
    fn dim(&self) -> usize;
    fn metric(&self) -> Metric;
    /// Number of live vectors.
    fn ntotal(&self) -> usize;
    fn is_trained(&self) -> bool;
    /// The spec string this index was built from, e.g. `IVF1024,PQ64x4fs,RFlat`.
    fn spec(&self) -> String;
    /// Learns quantizers from `data` (n×dim, row-major). A no-op for `Flat`.
    fn train(&mut self, data: &[f32], ctl: &JobControl) -> IndexResult<()>;
    /// Adds `data` (n×dim) under `ids` (n).
    fn add(&mut self, data: &[f32], ids: &[u64]) -> IndexResult<()>;
    /// The `k` best vectors for each of the `queries` (nq×dim), best first.
    fn search(
        &self,
        queries: &[f32],
        k: usize,
        params: &SearchParams,
    ) -> IndexResult<SearchResults>;
    /// Removes the vectors with these ids (unknown ids are ignored); returns
    /// how many went. On-disk indexes have made the removal durable on return.
    fn remove(&mut self, ids: &[u64]) -> IndexResult<usize>;
    /// The inverted lists holding the vectors (one list for `Flat`).
    fn lists(&self) -> &dyn invlists::InvertedLists;
    /// Moves the index into a new index directory `dir` (lists on disk,
    /// see `ondisk`); from then on every `add` and `remove` is durable on return.
    fn into_dir(self: Box<Self>, dir: &Path) -> IndexResult<Box<dyn VectorIndex>>;
    /// A copy with its lists in memory (a reader catching up privately).
    fn to_memory(&self) -> IndexResult<Box<dyn VectorIndex>>;
    /// Writes the index to one file `path` (crash-safe: temporary file, fsync, rename).
    fn save(&self, path: &Path) -> IndexResult<()>;
    /// Bytes the index takes on disk (saved as one file, or its directory).
    fn bytes_on_disk(&self) -> u64;
}

/// The live ids of an index.
pub fn live_ids(index: &dyn VectorIndex) -> Vec<u64> {
    invlists::live_ids(index.lists())
}

/// The error for an index file whose type code names no index kind.
fn unknown_kind(r: &format::Reader, code: &[u8]) -> IndexError {
    r.corrupt(format!(
        "unknown index type {:?}",
        String::from_utf8_lossy(code)
    ))
}

/// Opens an index directory written by `VectorIndex::into_dir`; a read-only
/// one maps its lists read-only and refuses changes.
pub fn open_index_dir(dir: &Path, writable: bool) -> IndexResult<Box<dyn VectorIndex>> {
    let (lists, path, data) = ondisk::open_dir(dir, writable)?;
    let mut r = format::Reader::new(&path, &data);
    let lists = Box::new(lists);
    let index: Box<dyn VectorIndex> = match &r.fourcc()? {
        flat::FOURCC => Box::new(flat::FlatIndex::read(&mut r)?.with_lists(lists, &path)?),
        ivf::FOURCC => Box::new(ivf::IvfIndex::read(&mut r)?.with_lists(lists, &path)?),
        other => return Err(unknown_kind(&r, other)),
    };
    r.done()?;
    Ok(index)
}

/// Opens an index written by `VectorIndex::save`, whatever its kind.
pub fn load_index(path: &Path) -> IndexResult<Box<dyn VectorIndex>> {
    let data = format::read_file(path)?;
    let mut r = format::Reader::new(path, &data);
    let code = r.fourcc()?;
    let index: Box<dyn VectorIndex> = match &code {
        flat::FOURCC => Box::new(flat::FlatIndex::read(&mut r)?),
        ivf::FOURCC => Box::new(ivf::IvfIndex::read(&mut r)?),
        other => return Err(unknown_kind(&r, other)),
    };
    r.done()?;
    Ok(index)
}
