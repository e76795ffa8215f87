//! The `facefind` command. Parsing and dispatch only; the work lives in the library.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "facefind",
    version,
    about = "Find faces in a local photo library, offline",
    long_about = "Find faces in a local photo library, offline. With no command, opens the window."
)]
struct Cli {
    /// Where the library's catalog, index and settings live (default: the platform's data dir).
    #[arg(long, global = true, env = "FACEFIND_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Where the numeric kernels run: auto (a hardware GPU where it is measured to win,
    /// else the CPU), gpu (any adapter, software ones included) or cpu. Default: the
    /// FACEFIND_BACKEND environment variable, else auto.
    #[arg(long, global = true, value_name = "auto|gpu|cpu")]
    backend: Option<facefind::compute::select::BackendChoice>,
    /// With no command: open the window and search with this photo (a file manager's "open with").
    #[arg(long, value_name = "PHOTO")]
    open: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Benchmarks: synthetic face-like data sets and index measurements.
    Bench {
        #[command(subcommand)]
        command: facefind::bench::BenchCommand,
    },
    /// Find the faces in photos: box, 5 landmarks, score, quality (and embeddings, crops).
    Faces {
        #[arg(required = true, value_name = "PHOTO")]
        photos: Vec<PathBuf>,
        /// One JSON object per photo, one per line.
        #[arg(long)]
        json: bool,
        /// Also print each face's 128 embedding numbers.
        #[arg(long)]
        embedding: bool,
        /// Write each face's aligned 112×112 crop as a PNG into this directory.
        #[arg(long, value_name = "DIR")]
        crops: Option<PathBuf>,
    },
    /// Check that everything facefind needs is in place.
    Doctor,
    /// Add folders to the library and index their photos; re-running is incremental.
    Index {
        #[arg(required = true, value_name = "DIR")]
        dirs: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Counts, index kind and size, and the files skipped with the reason.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// The faces in PHOTO, and the library's faces most similar to the chosen one.
    Search {
        photo: PathBuf,
        /// The face to search with (numbered from 0, as `facefind faces` lists them); default: the largest.
        #[arg(long)]
        face: Option<usize>,
        /// How many results at most.
        #[arg(long, default_value_t = 50)]
        k: usize,
        /// Leave out results below this cosine similarity.
        #[arg(long, default_value_t = 0.3)]
        min_sim: f32,
        #[arg(long)]
        json: bool,
    },
}

fn run(cli: Cli) -> anyhow::Result<()> {
    facefind::compute::select::request(cli.backend)?;
    let data_dir = || facefind::cli::resolve_data_dir(cli.data_dir.as_deref());
    match cli.command {
        None => Ok(facefind::ui::run(data_dir()?, cli.open)?),
        Some(Command::Bench { command }) => Ok(facefind::bench::run(command)?),
        Some(Command::Faces {
            photos,
            json,
            embedding,
            crops,
        }) => facefind::cli::faces::faces(&data_dir()?, &photos, json, embedding, crops.as_deref()),
        Some(Command::Index { dirs, json }) => {
            facefind::cli::library::index(&data_dir()?, &dirs, json)
        }
        Some(Command::Status { json }) => facefind::cli::library::status(&data_dir()?, json),
        Some(Command::Search {
            photo,
            face,
            k,
            min_sim,
            json,
        }) => {
            let args = facefind::cli::search::SearchArgs {
                photo: &photo,
                face,
                k,
                min_sim,
                json,
            };
            facefind::cli::search::search(&data_dir()?, &args)
        }
        Some(Command::Doctor) => facefind::cli::doctor::doctor(&data_dir()?),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("facefind: {err:#}");
            ExitCode::FAILURE
        }
    }
}
