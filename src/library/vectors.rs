//! The library's face-vector index, kept in step with the catalog.
//!
//! The catalog holds every face's embedding and is the source of truth; the
//! index is derived from it. Each saved index file is named after the
//! catalog's [`FaceMark`] it reflects (`faces-{count}-{max_id}.idx`, written
//! to a temporary file and renamed), so file and mark can never disagree,
//! even after a crash between two saves. On open the index catches up with
//! the catalog: faces added since are appended, and anything else (faces
//! removed, a damaged file, an index kind outgrown) rebuilds it from the
//! catalog's embeddings.

use std::path::{Path, PathBuf};

use crate::error::{CatalogError, IndexError};
use crate::faces::DIM;
use crate::index::factory::{Spec, index_factory};
use crate::index::{JobControl, Metric, SearchParams, SearchResults, VectorIndex, load_index};
use crate::library::catalog::{Catalog, FaceMark};

/// Embeddings read from the catalog per batch when (re)building.
const READ_CHUNK: usize = 8192;

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
}

pub type StoreResult<T> = Result<T, StoreError>;

/// How the index was brought up to date on open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Catchup {
    UpToDate,
    /// This many faces were appended.
    Appended(usize),
    /// Rebuilt from the catalog, for the reason given.
    Rebuilt(&'static str),
}

pub struct VectorStore {
    dir: PathBuf,
    index: Box<dyn VectorIndex>,
    mark: FaceMark,
}

impl VectorStore {
    /// Opens the index in `dir` (created if needed) and brings it up to date
    /// with `catalog`; with `persist` false (a reader) the catch-up stays in memory.
    pub fn open(
        dir: &Path,
        catalog: &Catalog,
        ctl: &JobControl,
        persist: bool,
    ) -> StoreResult<(Self, Catchup)> {
        let (mut store, catchup) = Self::catch_up(dir, catalog, ctl)?;
        if persist && catchup != Catchup::UpToDate {
            store.save(store.mark)?;
        }
        Ok((store, catchup))
    }

    fn catch_up(dir: &Path, catalog: &Catalog, ctl: &JobControl) -> StoreResult<(Self, Catchup)> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let target = catalog.face_mark()?;
        let saved = newest_saved(dir)?;
        let mut store = match saved.as_ref().map(|(mark, path)| (mark, load_index(path))) {
            Some((mark, Ok(index))) if index.dim() == DIM => Self {
                dir: dir.to_owned(),
                index,
                mark: *mark,
            },
            Some((_, Ok(_))) => {
                return Self::rebuilt(dir, catalog, ctl, "the saved index has another dimension");
            }
            Some((_, Err(_))) => {
                return Self::rebuilt(dir, catalog, ctl, "the saved index could not be read");
            }
            None if target.count == 0 => {
                let index = index_factory("Flat", DIM, Metric::InnerProduct, 0)?;
                Self {
                    dir: dir.to_owned(),
                    index,
                    mark: FaceMark::default(),
                }
            }
            None => return Self::rebuilt(dir, catalog, ctl, "there was no saved index"),
        };
        if store.mark == target {
            return Ok((store, Catchup::UpToDate));
        }
        let newer = catalog.face_count_after(store.mark.max_id)?;
        if store.mark.count + newer != target.count {
            return Self::rebuilt(dir, catalog, ctl, "faces were removed since the last save");
        }
        if store.outgrown(target.count as usize) {
            return Self::rebuilt(dir, catalog, ctl, "the library outgrew the index kind");
        }
        let after = store.mark.max_id;
        store.append_from(catalog, after)?;
        store.mark = target;
        Ok((store, Catchup::Appended(newer as usize)))
    }

    fn rebuilt(
        dir: &Path,
        catalog: &Catalog,
        ctl: &JobControl,
        why: &'static str,
    ) -> StoreResult<(Self, Catchup)> {
        let mark = catalog.face_mark()?;
        let spec = Spec::auto(DIM, mark.count as usize).to_spec_string();
        let mut index = index_factory(&spec, DIM, Metric::InnerProduct, mark.count as usize)?;
        if !index.is_trained() {
            let mut all = Vec::with_capacity(mark.count as usize * DIM);
            catalog.for_each_embedding(0, READ_CHUNK, |_, vectors| {
                all.extend_from_slice(vectors);
                Ok(())
            })?;
            index.train(&all, ctl)?;
        }
        let mut store = Self {
            dir: dir.to_owned(),
            index,
            mark,
        };
        store.append_from(catalog, 0)?;
        Ok((store, Catchup::Rebuilt(why)))
    }

    /// Whether `count` faces call for another index kind than the one in use:
    /// Flat past the `auto` threshold, or an IVF whose list count `auto` would
    /// now make four times larger (the library grew about 16-fold).
    fn outgrown(&self, count: usize) -> bool {
        let now = Spec::parse(&self.index.spec(), DIM, count);
        match (now, Spec::auto(DIM, count)) {
            (Ok(Spec::Flat), Spec::Flat) => false,
            (Ok(Spec::Ivf { nlist, .. }), Spec::Ivf { nlist: wanted, .. }) => wanted >= 4 * nlist,
            _ => true,
        }
    }

    fn append_from(&mut self, catalog: &Catalog, after: i64) -> StoreResult<()> {
        let index = &mut self.index;
        catalog.for_each_embedding(after, READ_CHUNK, |ids, vectors| {
            index
                .add(vectors, ids)
                .map_err(|e| CatalogError::Index(e.to_string()))
        })?;
        Ok(())
    }

    /// Adds faces just committed to the catalog; `mark` is the catalog's mark after that commit.
    pub fn add(&mut self, ids: &[u64], vectors: &[f32], mark: FaceMark) -> StoreResult<()> {
        if !ids.is_empty() {
            self.index.add(vectors, ids)?;
        }
        self.mark = mark;
        Ok(())
    }

    /// Writes the index under the name of `mark`, then drops older files.
    pub fn save(&mut self, mark: FaceMark) -> StoreResult<()> {
        let path = self.dir.join(file_name(mark));
        self.index.save(&path)?;
        self.mark = mark;
        for (old, old_path) in saved_files(&self.dir)? {
            if old != mark {
                std::fs::remove_file(&old_path).map_err(|source| StoreError::Io {
                    path: old_path,
                    source,
                })?;
            }
        }
        Ok(())
    }

    /// The mark the index reflects now (it may be ahead of the last save).
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
        Ok(self
            .index
            .search(query, k, &search_params(self.index.as_ref()))?)
    }

    pub fn index(&self) -> &dyn VectorIndex {
        self.index.as_ref()
    }
}

/// Search knobs for the library's own index: for IVF, a quarter of the lists
/// (face embeddings of one person scatter over many cells) and generous re-ranking.
fn search_params(index: &dyn VectorIndex) -> SearchParams {
    match Spec::parse(&index.spec(), DIM, index.ntotal()) {
        Ok(Spec::Ivf { nlist, .. }) => SearchParams {
            nprobe: (nlist / 4).max(1),
            k_factor: 32,
        },
        _ => SearchParams::default(),
    }
}

fn file_name(mark: FaceMark) -> String {
    format!("faces-{}-{}.idx", mark.count, mark.max_id)
}

fn parse_name(name: &str) -> Option<FaceMark> {
    let (count, max_id) = name
        .strip_prefix("faces-")?
        .strip_suffix(".idx")?
        .split_once('-')?;
    Some(FaceMark {
        count: count.parse().ok()?,
        max_id: max_id.parse().ok()?,
    })
}

fn saved_files(dir: &Path) -> StoreResult<Vec<(FaceMark, PathBuf)>> {
    let io = |source| StoreError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if let Some(mark) = entry.file_name().to_str().and_then(parse_name) {
            found.push((mark, entry.path()));
        }
    }
    Ok(found)
}

/// The most recent save: ids only grow, so the highest `max_id` is the newest.
fn newest_saved(dir: &Path) -> StoreResult<Option<(FaceMark, PathBuf)>> {
    Ok(saved_files(dir)?
        .into_iter()
        .max_by_key(|(mark, _)| (mark.max_id, mark.count)))
}
