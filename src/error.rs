//! Typed errors of the library. Binaries wrap them in `anyhow` at the edge.
use std::path::PathBuf;

/// Everything the index engine can refuse, with enough context to act on.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(
        "dimension mismatch: the index holds {expected}-d vectors, got {got} values per vector"
    )]
    Dimension { expected: usize, got: usize },
    #[error("input length {len} is not a multiple of the dimension {dim}")]
    Ragged { len: usize, dim: usize },
    #[error("vector {row} has a non-finite component (NaN or infinity) at position {col}")]
    NonFinite { row: usize, col: usize },
    #[error("{count} ids given for {vectors} vectors")]
    IdCount { count: usize, vectors: usize },
    #[error("the index is empty")]
    Empty,
    #[error("k = {k} is larger than the {ntotal} vectors in the index")]
    KTooLarge { k: usize, ntotal: usize },
    #[error("nprobe = {nprobe} is outside 1..={nlist} (the index has {nlist} inverted lists)")]
    Nprobe { nprobe: usize, nlist: usize },
    #[error("the index is not trained yet")]
    NotTrained,
    #[error("training needs at least {needed} vectors, got {got}")]
    TooFewTrainingVectors { needed: usize, got: usize },
    #[error("invalid parameter: {0}")]
    Param(String),
    #[error("invalid index spec {spec:?}: {reason}")]
    Spec { spec: String, reason: String },
    #[error("stopped on request")]
    Cancelled,
    #[error("{path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path}: format version {found} is not supported (this build reads {supported})")]
    Version {
        path: PathBuf,
        found: u32,
        supported: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl IndexError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
    pub fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

pub type IndexResult<T> = Result<T, IndexError>;

/// Errors of the photo catalog (SQLite) and the library scan.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog {path}: {source}")]
    Sql {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "catalog {path}: schema version {found} is newer than this build understands ({supported}); update facefind"
    )]
    NewerSchema {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{0}: the path is not valid UTF-8, so the catalog cannot record it")]
    NonUtf8Path(PathBuf),
    #[error("stopped on request")]
    Cancelled,
}

impl CatalogError {
    pub fn sql(path: &std::path::Path, source: rusqlite::Error) -> Self {
        Self::Sql {
            path: path.to_owned(),
            source,
        }
    }
}

pub type CatalogResult<T> = Result<T, CatalogError>;
