//! `facefind index DIR...` and `facefind status`.
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::faces::FacePipeline;
use crate::index::JobControl;
use crate::jobs::indexing::{Progress, index_pending};
use crate::library::Library;
use crate::library::catalog::Counts;
use crate::library::scan::{ScanProblem, scan};
use crate::library::vectors::Catchup;

#[derive(Serialize)]
struct ScanSummary {
    new: usize,
    changed: usize,
    moved: usize,
    deleted: usize,
    unchanged: usize,
    touched: usize,
    problems: Vec<ScanProblem>,
}

#[derive(Serialize)]
struct IndexSummary {
    folders: Vec<PathBuf>,
    scan: ScanSummary,
    indexing: Progress,
    photos_per_s: f64,
    counts: Counts,
}

/// Adds `dirs` to the library (if new), scans every folder and indexes what changed.
pub fn index(data_dir: &Path, dirs: &[PathBuf], json: bool) -> anyhow::Result<()> {
    let ctl = JobControl::default();
    let (mut library, _) = Library::open_writer(data_dir, &ctl)?;
    let mut folders = Vec::new();
    for dir in dirs {
        let dir = dir
            .canonicalize()
            .with_context(|| format!("{}: cannot open the folder", dir.display()))?;
        anyhow::ensure!(dir.is_dir(), "{}: not a folder", dir.display());
        library.catalog.add_folder(&dir)?;
        folders.push(dir);
    }
    let report = scan(&mut library.catalog, &ctl)?;
    if !report.removed_faces.is_empty() {
        library.refresh_vectors(&ctl)?;
    }
    let mut pipeline = FacePipeline::new(&library.config)?;
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} photos  {per_sec}  ETA {eta}  {msg}")
            .expect("a valid progress template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let progress = index_pending(&mut library, &mut pipeline, &ctl, |p| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
        bar.set_message(format!("{} faces, {} skipped", p.faces, p.failed));
    })?;
    bar.finish_and_clear();
    crate::jobs::people::update(&mut library, &ctl)?;
    let summary = IndexSummary {
        folders,
        scan: ScanSummary {
            new: report.new.len(),
            changed: report.changed.len(),
            moved: report.moved.len(),
            deleted: report.deleted.len(),
            unchanged: report.unchanged,
            touched: report.touched,
            problems: report.problems,
        },
        photos_per_s: progress.rate(),
        indexing: progress,
        counts: library.catalog.counts()?,
    };
    if json {
        return super::print_json(&summary);
    }
    let s = &summary.scan;
    println!(
        "scan: {} new, {} changed, {} moved, {} deleted, {} unchanged, {} touched",
        s.new, s.changed, s.moved, s.deleted, s.unchanged, s.touched
    );
    for p in &s.problems {
        println!("  could not read {}: {}", p.path.display(), p.reason);
    }
    let p = &summary.indexing;
    println!(
        "indexed {} photos in {:.1} s ({:.1} photos/s): {} faces, {} skipped",
        p.done, p.elapsed_s, summary.photos_per_s, p.faces, p.failed
    );
    print_counts(&summary.counts);
    Ok(())
}

#[derive(Serialize)]
struct Status {
    data_dir: PathBuf,
    counts: Counts,
    index: IndexStatus,
    skipped: Vec<Skipped>,
}

#[derive(Serialize)]
struct IndexStatus {
    kind: String,
    vectors: usize,
    bytes_on_disk: u64,
    /// How the index caught up with the catalog on open.
    catchup: String,
}

#[derive(Serialize)]
struct Skipped {
    path: PathBuf,
    reason: String,
}

/// Counts, index kind and size, and the files skipped with the reason.
pub fn status(data_dir: &Path, json: bool) -> anyhow::Result<()> {
    anyhow::ensure!(
        data_dir.join("catalog.sqlite").exists(),
        "{}: no library here yet; start one with `facefind index DIR`",
        data_dir.display()
    );
    let (library, catchup) = Library::open_reader(data_dir, &JobControl::default())?;
    let index = library.vectors.index();
    let status = Status {
        data_dir: data_dir.to_owned(),
        counts: library.catalog.counts()?,
        index: IndexStatus {
            kind: index.spec(),
            vectors: index.ntotal(),
            bytes_on_disk: index.bytes_on_disk(),
            catchup: match catchup {
                Catchup::UpToDate => "up to date".into(),
                Catchup::Appended(n) => format!("{n} faces not yet saved in the index"),
                Catchup::Rebuilt(why) => format!("rebuilt in memory: {why}"),
            },
        },
        skipped: library
            .catalog
            .skipped()?
            .into_iter()
            .map(|(path, reason)| Skipped { path, reason })
            .collect(),
    };
    if json {
        return super::print_json(&status);
    }
    println!("data dir: {}", status.data_dir.display());
    print_counts(&status.counts);
    let i = &status.index;
    println!(
        "index: {} with {} vectors, {} bytes on disk ({})",
        i.kind, i.vectors, i.bytes_on_disk, i.catchup
    );
    if !status.skipped.is_empty() {
        println!("skipped {} file(s):", status.skipped.len());
        for s in &status.skipped {
            println!("  {}: {}", s.path.display(), s.reason);
        }
    }
    Ok(())
}

fn print_counts(c: &Counts) {
    println!(
        "library: {} folder(s), {} photos ({} indexed, {} skipped), {} faces, {} people",
        c.folders, c.photos, c.indexed, c.errors, c.faces, c.people
    );
}
