//! Benchmarks of the vector index on face-like data: `facefind bench gen`
//! writes a data set, `facefind bench ann` measures an index spec on it.
//! `benches/vs_faiss.sh` runs FAISS and hnswlib on the same files.

pub mod ann;
pub mod churn;
pub mod data;
pub mod disk;
pub mod kernels;
pub mod people;
pub mod rss;
pub mod stats;
pub mod synth;

use std::path::{Path, PathBuf};

use crate::error::IndexError;

/// What the benchmark commands can refuse, naming the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is missing: {why}")]
    Missing { path: PathBuf, why: String },
    #[error(
        "{path} has {got} bytes, but meta.json says {rows}×{cols} 4-byte values = {expected} bytes"
    )]
    Size {
        path: PathBuf,
        rows: usize,
        cols: usize,
        expected: u64,
        got: u64,
    },
    #[error("{0}")]
    Format(String),
    #[error("bad built-in face statistics: {0}")]
    Stats(String),
    #[error("invalid argument: {0}")]
    Param(String),
    #[error(transparent)]
    Index(#[from] IndexError),
}

impl BenchError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}

pub type BenchResult<T> = Result<T, BenchError>;

/// Runs `f` on a rayon pool of `threads` threads (None: the global pool).
pub fn on_pool<T: Send>(
    threads: Option<usize>,
    f: impl FnOnce() -> BenchResult<T> + Send,
) -> BenchResult<T> {
    match threads {
        Some(threads) => rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| BenchError::Param(format!("--threads {threads}: {e}")))?
            .install(f),
        None => f(),
    }
}

/// Prints `report` as one JSON object, or as the tables `table` prints.
pub fn emit<T: serde::Serialize>(report: &T, json: bool, table: impl FnOnce(&T)) {
    if json {
        println!(
            "{}",
            serde_json::to_string(report).expect("the report serialises")
        );
    } else {
        table(report);
    }
}

/// `facefind bench ...`
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Write a face-like data set (vectors, queries, exact ground truth, identities).
    Gen(synth::GenArgs),
    /// (Re)compute a data set's exact ground truth, gt.i32.
    Gt(synth::GtArgs),
    /// Build an index spec on a data set and measure recall, speed and memory.
    Ann(ann::AnnArgs),
    /// Every compute kernel on the CPU and the GPU, beside the machine's measured limits.
    Kernels(kernels::KernelsArgs),
    /// People: clustering quality on a labelled library, or clustering and path time on a data set.
    People(people::PeopleArgs),
    /// Seeded random adds, removes, merges and compactions on an on-disk
    /// index, printing each acknowledged one (for the kill test).
    Churn(churn::ChurnArgs),
    /// An on-disk index built in chunks, then searched in a process of its own.
    #[command(subcommand)]
    Disk(disk::DiskCommand),
}

pub fn run(command: BenchCommand) -> BenchResult<()> {
    match command {
        BenchCommand::Gen(args) => synth::run(&args),
        BenchCommand::Gt(args) => synth::run_gt(&args),
        BenchCommand::Ann(args) => ann::run(&args),
        BenchCommand::People(args) => people::run(&args),
        BenchCommand::Churn(args) => churn::run(&args),
        BenchCommand::Disk(command) => disk::run(&command),
        BenchCommand::Kernels(args) => {
            kernels::run(&args).map_err(|e| BenchError::io(Path::new("bench kernels"), e))
        }
    }
}
