//! The photo library: folders on disk, the catalog that remembers them, the
//! scan that keeps the two in step, and the face-vector index beside them.
pub mod catalog;
pub mod lock;
pub mod scan;
pub mod thumbs;
pub mod vectors;

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::index::JobControl;
use catalog::Catalog;
use lock::WriterLock;
use vectors::{Catchup, Policy, Tuning, VectorStore};

/// A library's data dir opened for use: its settings, catalog and vector index.
/// A writer holds the data dir's lock; readers may open it alongside.
pub struct Library {
    dir: PathBuf,
    pub config: Config,
    pub catalog: Catalog,
    pub vectors: VectorStore,
    writer: Option<WriterLock>,
}

/// Why a library could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Lock(#[from] lock::LockError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Catalog(#[from] crate::error::CatalogError),
    #[error(transparent)]
    Vectors(#[from] vectors::StoreError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Library {
    /// Opens `dir` to change it: takes the writer lock, then the catalog and index.
    pub fn open_writer(dir: &Path, ctl: &JobControl) -> Result<(Self, Catchup), OpenError> {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let lock = WriterLock::acquire(dir)?;
        Self::open(dir, Some(lock), ctl)
    }

    /// Opens `dir` to read it, while a writer may be at work.
    pub fn open_reader(dir: &Path, ctl: &JobControl) -> Result<(Self, Catchup), OpenError> {
        Self::open(dir, None, ctl)
    }

    fn open(
        dir: &Path,
        writer: Option<WriterLock>,
        ctl: &JobControl,
    ) -> Result<(Self, Catchup), OpenError> {
        let config = Config::load(dir)?;
        let catalog = Catalog::open(&dir.join("catalog.sqlite"))?;
        // The index kind and search knobs of the settings (`Config::load` checked them).
        let tuning = Tuning {
            spec: config.index.fixed_spec()?,
            nprobe: config.index.nprobe,
            k_factor: config.index.k_factor,
        };
        let (vectors, catchup) = VectorStore::open_tuned(
            &dir.join("index"),
            &catalog,
            ctl,
            writer.is_some(),
            Policy::default(),
            tuning,
        )?;
        Ok((
            Self {
                dir: dir.to_owned(),
                config,
                catalog,
                vectors,
                writer,
            },
            catchup,
        ))
    }

    /// Re-syncs the vector index with the catalog, e.g. after a scan removed faces.
    pub fn refresh_vectors(&mut self, ctl: &JobControl) -> Result<Catchup, OpenError> {
        Ok(self.vectors.refresh(&self.catalog, ctl)?)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn is_writer(&self) -> bool {
        self.writer.is_some()
    }
}
