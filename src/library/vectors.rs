//! The library's face-vector index, on disk in the data dir and kept in
//! step with the catalog.
//!
//! The catalog holds every face's embedding and is the source of truth; the
//! index is derived from it. The index lives in a directory of its own
//! (`index/g{N}/`, see `index::ondisk`) named by `index/CURRENT`; every
//! `add` and `remove` is durable when it returns, so there is no whole-index
//! save. On open the index is reconciled with the catalog by id: faces the
//! catalog lost are removed, faces it gained are added; nothing is rebuilt
//! for that. The index kind follows the library's size: exact (`Flat`)
//! while small, IVF-PQ past [`AUTO_FLAT_BELOW`]-ish, re-trained when the
//! library grows about 16-fold past the IVF's training. Re-training runs on
//! a background thread into `g{N+1}` while `g{N}` keeps answering and
//! taking changes; when it is done the new index is reconciled with the
//! catalog and `CURRENT` is switched atomically.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use crate::error::{CatalogError, IndexError};
use crate::faces::DIM;
use crate::index::factory::{AUTO_FLAT_BELOW, Spec, index_factory};
use crate::index::format::{self, Reader};
use crate::index::{
    JobControl, Metric, SearchParams, SearchResults, VectorIndex, live_ids, open_index_dir,
};
use crate::library::catalog::{Catalog, FaceMark};

/// Embeddings read from the catalog per batch when (re)building.
const READ_CHUNK: usize = 8192;
/// Training reads at most this many embeddings (k-means samples anyway).
const TRAIN_MAX: usize = 1 << 19;
const CURRENT: &str = "CURRENT";
const CURRENT_CODE: &[u8; 4] = b"Curr";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the background re-training stopped: {0}")]
    Rebuild(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// How the index was brought up to date on open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Catchup {
    UpToDate,
    /// This many faces were added (and any the catalog lost were removed).
    Appended(usize),
    /// Built from the catalog, for the reason given.
    Rebuilt(&'static str),
}

/// When the index kind changes: `Flat` up to `flat_below` faces, then IVF
/// re-trained whenever `auto` would pick four times the lists: 16× the
/// training size (8× to 16× with the power-of-two rounding of nlist).
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    pub flat_below: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            flat_below: AUTO_FLAT_BELOW,
        }
    }
}

/// What the settings may fix instead of [`Policy`]'s choices: the index
/// kind (`index.spec`) and the search knobs. None: chosen automatically.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tuning {
    pub spec: Option<Spec>,
    pub nprobe: Option<usize>,
    pub k_factor: Option<usize>,
}

/// A fixed IVF spec waits for this many faces per list before it is trained
/// (FAISS warns below 39); until then the index is exact.
const TRAIN_PER_LIST: usize = 39;

/// The policy with the settings over it.
#[derive(Clone, Copy, Debug, Default)]
struct Rules {
    policy: Policy,
    tuning: Tuning,
}

impl Rules {
    fn spec(&self, count: usize) -> Spec {
        match self.tuning.spec {
            Some(Spec::Ivf { nlist, .. }) if count < nlist * TRAIN_PER_LIST => Spec::Flat,
            Some(spec) => spec,
            None if count < self.policy.flat_below => Spec::Flat,
            None => Spec::auto_ivf(DIM, count),
        }
    }

    /// Whether `count` faces call for another index than `spec`.
    fn outgrown(&self, spec: &str, count: usize) -> bool {
        match (Spec::parse(spec, DIM, count), self.spec(count)) {
            (Ok(Spec::Flat), Spec::Flat) => false,
            (Ok(have), want) if self.tuning.spec.is_some() => have != want,
            (Ok(Spec::Ivf { nlist, .. }), Spec::Ivf { nlist: wanted, .. }) => wanted >= 4 * nlist,
            _ => true,
        }
    }
}

/// A re-training in progress: its thread, its stop flag, its directory name.
struct Rebuild {
    thread: JoinHandle<StoreResult<Box<dyn VectorIndex>>>,
    ctl: JobControl,
    name: String,
}

pub struct VectorStore {
    dir: PathBuf,
    catalog_path: PathBuf,
    /// Name of the live index directory; None for a reader's private copy.
    live: Option<String>,
    index: Box<dyn VectorIndex>,
    mark: FaceMark,
    rules: Rules,
    rebuild: Option<Rebuild>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The live index directory's name, from `CURRENT` (None if there is none).
fn read_current(dir: &Path) -> StoreResult<Option<String>> {
    let path = dir.join(CURRENT);
    if !path.exists() {
        return Ok(None);
    }
    let bytes = format::read_file(&path)?;
    let mut r = Reader::new(&path, &bytes);
    r.expect(CURRENT_CODE)?;
    let name = r.str()?;
    r.done()?;
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(IndexError::corrupt(&path, format!("bad index name {name:?}")).into());
    }
    Ok(Some(name))
}

/// Points `CURRENT` at `name` (tmp, fsync, rename: readers see old or new).
fn write_current(dir: &Path, name: &str) -> StoreResult<()> {
    format::save_atomic(&dir.join(CURRENT), |w| {
        w.fourcc(CURRENT_CODE);
        w.str(name);
    })?;
    Ok(())
}

/// The next unused `g{N}` name in `dir`.
fn next_name(dir: &Path) -> StoreResult<String> {
    let mut top = 0u64;
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name();
        if let Some(n) = name
            .to_str()
            .and_then(|n| n.strip_prefix('g')?.parse().ok())
        {
            top = top.max(n);
        }
    }
    Ok(format!("g{}", top + 1))
}

/// Deletes every index directory and old-format file in `dir` but `keep`.
fn remove_others(dir: &Path, keep: &str) -> StoreResult<()> {
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with('g') && name[1..].bytes().all(|b| b.is_ascii_digit());
        let old_format = name.starts_with("faces-") && name.ends_with(".idx");
        if (ours || old_format) && name != keep {
            let path = entry.path();
            let gone = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            gone.map_err(io_err(&path))?;
        }
    }
    Ok(())
}

/// Builds the index `rules` pick for the catalog's faces, in directory
/// `into` (or in memory): trains on up to [`TRAIN_MAX`] embeddings, then adds all.
fn build(
    catalog: &Catalog,
    into: Option<&Path>,
    rules: Rules,
    ctl: &JobControl,
) -> StoreResult<Box<dyn VectorIndex>> {
    let mark = catalog.face_mark()?;
    let count = mark.count as usize;
    let spec = rules.spec(count).to_spec_string();
    let mut index = index_factory(&spec, DIM, Metric::InnerProduct, count)?;
    if !index.is_trained() {
        let mut sample = Vec::with_capacity(count.min(TRAIN_MAX) * DIM);
        catalog.for_each_embedding(0, READ_CHUNK, |_, vectors| {
            let room = TRAIN_MAX * DIM - sample.len();
            sample.extend_from_slice(&vectors[..vectors.len().min(room)]);
            Ok(())
        })?;
        index.train(&sample, ctl)?;
    }
    if let Some(dir) = into {
        index = index.into_dir(dir)?;
    }
    add_after(&mut *index, catalog, 0, None, ctl)?;
    Ok(index)
}

/// Adds the catalog's faces with id above `after` (only those in `only`,
/// if given) in chunks, checking `ctl` between them.
fn add_after(
    index: &mut dyn VectorIndex,
    catalog: &Catalog,
    after: i64,
    only: Option<&HashSet<u64>>,
    ctl: &JobControl,
) -> StoreResult<usize> {
    let mut added = 0;
    catalog.for_each_embedding(after, READ_CHUNK, |ids, vectors| {
        if ctl.should_stop() {
            return Err(CatalogError::Cancelled);
        }
        let keep: Vec<usize> = (0..ids.len())
            .filter(|&i| only.is_none_or(|o| o.contains(&ids[i])))
            .collect();
        let pick: Vec<u64> = keep.iter().map(|&i| ids[i]).collect();
        let rows: Vec<f32> = keep
            .iter()
            .flat_map(|&i| vectors[i * DIM..(i + 1) * DIM].iter().copied())
            .collect();
        added += pick.len();
        if pick.is_empty() {
            return Ok(());
        }
        index
            .add(&rows, &pick)
            .map_err(|e| CatalogError::Index(e.to_string()))
    })?;
    Ok(added)
}

/// Brings `index` to hold exactly the catalog's faces: removes the ones the
/// catalog no longer has, adds the ones it lacks. Returns (added, removed).
fn reconcile(
    index: &mut Box<dyn VectorIndex>,
    catalog: &Catalog,
    writable: bool,
    ctl: &JobControl,
) -> StoreResult<(usize, usize)> {
    let wanted: HashSet<u64> = catalog.face_ids()?.into_iter().map(|i| i as u64).collect();
    let have: HashSet<u64> = live_ids(index.as_ref()).into_iter().collect();
    let gone: Vec<u64> = have.difference(&wanted).copied().collect();
    let missing: HashSet<u64> = wanted.difference(&have).copied().collect();
    if gone.is_empty() && missing.is_empty() {
        return Ok((0, 0));
    }
    if !writable {
        *index = index.to_memory()?;
    }
    if !gone.is_empty() {
        index.remove(&gone)?;
    }
    let after = missing.iter().min().map_or(0, |&m| m as i64 - 1);
    let added = add_after(&mut **index, catalog, after, Some(&missing), ctl)?;
    Ok((added, gone.len()))
}

impl VectorStore {
    /// Opens the index in `dir` (created if needed) and reconciles it with
    /// `catalog`; with `persist` false (a reader) it is mapped read-only and
    /// any catch-up stays in a private copy in memory.
    pub fn open(
        dir: &Path,
        catalog: &Catalog,
        ctl: &JobControl,
        persist: bool,
    ) -> StoreResult<(Self, Catchup)> {
        Self::open_with(dir, catalog, ctl, persist, Policy::default())
    }

    /// [`VectorStore::open`] with another index-kind policy.
    pub fn open_with(
        dir: &Path,
        catalog: &Catalog,
        ctl: &JobControl,
        persist: bool,
        policy: Policy,
    ) -> StoreResult<(Self, Catchup)> {
        Self::open_tuned(dir, catalog, ctl, persist, policy, Tuning::default())
    }

    /// [`VectorStore::open_with`] with what the settings fix.
    pub fn open_tuned(
        dir: &Path,
        catalog: &Catalog,
        ctl: &JobControl,
        persist: bool,
        policy: Policy,
        tuning: Tuning,
    ) -> StoreResult<(Self, Catchup)> {
        let rules = Rules { policy, tuning };
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let opened = match read_current(dir) {
            Ok(Some(name)) => match open_index_dir(&dir.join(&name), persist) {
                Ok(index) if index.dim() == DIM => Ok((name, index)),
                Ok(_) => Err("the saved index has another dimension"),
                Err(_) => Err("the saved index could not be read"),
            },
            Ok(None) => Err("there was no saved index"),
            Err(_) => Err("the index pointer could not be read"),
        };
        let mut store = Self {
            dir: dir.to_owned(),
            catalog_path: catalog.path().to_owned(),
            live: None,
            index: index_factory("Flat", DIM, Metric::InnerProduct, 0)?,
            mark: catalog.face_mark()?,
            rules,
            rebuild: None,
        };
        let catchup = match opened {
            Ok((name, mut index)) => {
                let (added, removed) = reconcile(&mut index, catalog, persist, ctl)?;
                store.live = persist.then_some(name);
                store.index = index;
                if added + removed == 0 {
                    Catchup::UpToDate
                } else {
                    Catchup::Appended(added)
                }
            }
            Err(why) => {
                if persist {
                    let name = next_name(dir)?;
                    store.index = build(catalog, Some(&dir.join(&name)), rules, ctl)?;
                    write_current(dir, &name)?;
                    store.live = Some(name);
                } else {
                    store.index = build(catalog, None, rules, ctl)?;
                }
                Catchup::Rebuilt(why)
            }
        };
        if let Some(live) = &store.live {
            remove_others(dir, live)?;
        }
        store.start_rebuild_if_outgrown()?;
        Ok((store, catchup))
    }

    /// Starts re-training in the background if the library outgrew the index kind.
    fn start_rebuild_if_outgrown(&mut self) -> StoreResult<()> {
        let count = self.mark.count as usize;
        if self.live.is_none()
            || self.rebuild.is_some()
            || !self.rules.outgrown(&self.index.spec(), count)
        {
            return Ok(());
        }
        let name = next_name(&self.dir)?;
        let (into, catalog_path, rules) =
            (self.dir.join(&name), self.catalog_path.clone(), self.rules);
        let ctl = JobControl::default();
        let job = ctl.clone();
        let thread = std::thread::Builder::new()
            .name("index re-training".into())
            .spawn(move || {
                let catalog = Catalog::open(&catalog_path)?;
                build(&catalog, Some(&into), rules, &job)
            })
            .map_err(io_err(&self.dir))?;
        self.rebuild = Some(Rebuild { thread, ctl, name });
        Ok(())
    }

    /// Whether a re-training runs in the background.
    pub fn rebuilding(&self) -> bool {
        self.rebuild.is_some()
    }

    /// Switches to the re-trained index if its thread is done (`wait`: waits for it).
    fn poll_rebuild(&mut self, wait: bool) -> StoreResult<()> {
        let ready = self
            .rebuild
            .as_ref()
            .is_some_and(|r| wait || r.thread.is_finished());
        let Some(job) = self.rebuild.take_if(|_| ready) else {
            return Ok(());
        };
        let built = job
            .thread
            .join()
            .map_err(|_| StoreError::Rebuild("the thread panicked".into()))?;
        let mut index = match built {
            Ok(index) => index,
            Err(e) => {
                let _ = std::fs::remove_dir_all(self.dir.join(&job.name));
                return Err(StoreError::Rebuild(e.to_string()));
            }
        };
        // changes made meanwhile went to the old index and the catalog
        let catalog = Catalog::open(&self.catalog_path)?;
        reconcile(&mut index, &catalog, true, &job.ctl)?;
        write_current(&self.dir, &job.name)?;
        self.index = index;
        self.live = Some(job.name.clone());
        remove_others(&self.dir, &job.name)
    }

    /// Waits for a background re-training, if one runs, and switches to it.
    pub fn wait_for_rebuild(&mut self) -> StoreResult<()> {
        self.poll_rebuild(true)
    }

    /// Adds faces just committed to the catalog (durable on return); `mark`
    /// is the catalog's mark after that commit.
    pub fn add(&mut self, ids: &[u64], vectors: &[f32], mark: FaceMark) -> StoreResult<()> {
        if !ids.is_empty() {
            self.index.add(vectors, ids)?;
        }
        self.mark = mark;
        self.poll_rebuild(false)?;
        self.start_rebuild_if_outgrown()
    }

    /// Removes faces the catalog just deleted (durable on return).
    pub fn remove(&mut self, ids: &[u64], mark: FaceMark) -> StoreResult<usize> {
        let removed = self.index.remove(ids)?;
        self.mark = mark;
        self.poll_rebuild(false)?;
        Ok(removed)
    }

    /// Records `mark` as reflected. Every change is already durable (each
    /// `add` and `remove` commits), so this only checks on a re-training.
    pub fn save(&mut self, mark: FaceMark) -> StoreResult<()> {
        self.mark = mark;
        self.poll_rebuild(false)
    }

    /// Reconciles the index with the catalog by id (after a scan removed faces).
    pub fn refresh(&mut self, catalog: &Catalog, ctl: &JobControl) -> StoreResult<Catchup> {
        let (added, removed) = reconcile(&mut self.index, catalog, self.live.is_some(), ctl)?;
        self.mark = catalog.face_mark()?;
        Ok(if added + removed == 0 {
            Catchup::UpToDate
        } else {
            Catchup::Appended(added)
        })
    }

    /// The mark the index reflects now.
    pub fn mark(&self) -> FaceMark {
        self.mark
    }

    pub fn search(&self, query: &[f32], k: usize) -> StoreResult<SearchResults> {
        let k = k.min(self.index.ntotal());
        if k == 0 {
            return Ok(SearchResults {
                k: 0,
                scores: vec![],
                ids: vec![],
            });
        }
        let params = search_params(self.index.as_ref(), &self.rules.tuning);
        Ok(self.index.search(query, k, &params)?)
    }

    pub fn index(&self) -> &dyn VectorIndex {
        self.index.as_ref()
    }
}

impl Drop for VectorStore {
    /// A re-training is finished and switched to rather than thrown away:
    /// on a large library it is minutes of work, and the next open would
    /// only start it again.
    fn drop(&mut self) {
        let _ = self.poll_rebuild(true);
    }
}

/// Search knobs for the library's own index: for IVF, a quarter of the lists
/// (face embeddings of one person scatter over many cells) and generous
/// re-ranking, unless the settings fix them (nprobe at most the lists).
pub fn search_params(index: &dyn VectorIndex, tuning: &Tuning) -> SearchParams {
    let (auto, nlist) = match Spec::parse(&index.spec(), DIM, index.ntotal()) {
        Ok(Spec::Ivf { nlist, .. }) => (
            SearchParams {
                nprobe: (nlist / 4).max(1),
                k_factor: 32,
            },
            nlist,
        ),
        _ => (SearchParams::default(), usize::MAX),
    };
    SearchParams {
        nprobe: tuning.nprobe.unwrap_or(auto.nprobe).clamp(1, nlist),
        k_factor: tuning.k_factor.unwrap_or(auto.k_factor).max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_switches_kind_as_the_library_grows() {
        let p = Rules {
            policy: Policy { flat_below: 1000 },
            ..Rules::default()
        };
        assert!(!p.outgrown("Flat", 999));
        assert!(p.outgrown("Flat", 1000));
        let ivf = p.spec(1000).to_spec_string();
        assert!(ivf.starts_with("IVF128,"), "{ivf}");
        assert!(
            !p.outgrown(&ivf, 4000),
            "4× the training size is not enough"
        );
        assert!(p.outgrown(&ivf, 16_000), "16× is");
    }

    #[test]
    fn a_fixed_spec_waits_for_enough_faces_then_stays() {
        let spec = Spec::parse("IVF64,PQ16x4fs,RFlat", DIM, 0).unwrap();
        let p = Rules {
            tuning: Tuning {
                spec: Some(spec),
                ..Tuning::default()
            },
            ..Rules::default()
        };
        assert_eq!(
            p.spec(64 * 38),
            Spec::Flat,
            "too few faces to train 64 lists"
        );
        assert_eq!(p.spec(64 * 39), spec);
        assert!(p.outgrown("Flat", 64 * 39));
        assert!(
            !p.outgrown("IVF64,PQ16x4fs,RFlat", 1_000_000),
            "never re-trained"
        );
        assert!(
            p.outgrown("IVF128,PQ16x4fs,RFlat", 10_000),
            "another spec is"
        );
    }

    #[test]
    fn fixed_search_knobs_replace_the_automatic_ones_within_the_lists() {
        let index = index_factory("IVF8,Flat", DIM, Metric::InnerProduct, 0).unwrap();
        let auto = search_params(index.as_ref(), &Tuning::default());
        assert_eq!((auto.nprobe, auto.k_factor), (2, 32));
        let fixed = Tuning {
            nprobe: Some(100),
            k_factor: Some(8),
            ..Tuning::default()
        };
        let params = search_params(index.as_ref(), &fixed);
        assert_eq!(
            (params.nprobe, params.k_factor),
            (8, 8),
            "nprobe at most nlist"
        );
    }
}
