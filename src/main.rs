//! The `facefind` command. Parsing and dispatch only; the work lives in the library.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "facefind",
    version,
    about = "Find faces in a local photo library, offline"
)]
struct Cli {
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
}

fn config() -> anyhow::Result<facefind::config::Config> {
    Ok(facefind::config::Config::load(
        &facefind::config::data_dir()?,
    )?)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        None => {
            Cli::command().print_help()?;
            Ok(())
        }
        Some(Command::Bench { command }) => Ok(facefind::bench::run(command)?),
        Some(Command::Faces {
            photos,
            json,
            embedding,
            crops,
        }) => faces(&photos, json, embedding, crops.as_deref()),
        Some(Command::Doctor) => {
            let config = config()?;
            let mut ok = true;
            for (what, state) in facefind::faces::models::doctor(&config.faces) {
                match state {
                    Ok(detail) => println!("ok    {what}: {detail}"),
                    Err(problem) => {
                        ok = false;
                        println!("FAIL  {what}: {problem}");
                    }
                }
            }
            anyhow::ensure!(ok, "some checks failed");
            Ok(())
        }
    }
}

fn faces(
    photos: &[PathBuf],
    json: bool,
    embedding: bool,
    crops: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use facefind::faces::{FacePipeline, decode::decode_ahead, report::PhotoReport, write_crop};
    let mut pipeline = FacePipeline::new(&config()?)?;
    if let Some(dir) = crops {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    }
    let mut failed = 0;
    let decoded = decode_ahead(photos.to_vec(), pipeline.limits(), 2);
    for (n, (path, photo)) in decoded.enumerate() {
        let path = &path;
        let result = photo.and_then(|photo| pipeline.process(&photo));
        if let (Some(dir), Ok(found)) = (crops, &result) {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            for (i, face) in found.iter().enumerate() {
                write_crop(&dir.join(format!("{n:04}-{stem}-{i}.png")), face)?;
            }
        }
        failed += usize::from(result.is_err());
        let report = PhotoReport::new(path, &result, embedding);
        if json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            print!("{}", report.text());
        }
    }
    anyhow::ensure!(
        failed == 0,
        "{failed} of {} photo(s) could not be read",
        photos.len()
    );
    Ok(())
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
