//! Keeps the catalog in step with the folders on disk.
//!
//! Each file is new, unchanged, touched (same bytes, new mtime), changed
//! (its faces are re-done), moved or renamed (same bytes at a new path: it
//! keeps its faces and names), or deleted (its faces leave the index).
//! A folder that cannot be read is reported and its photos are kept: an
//! unplugged drive must not empty the catalog.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use rayon::prelude::*;

use crate::error::{CatalogError, CatalogResult};
use crate::index::JobControl;
use crate::library::catalog::{Catalog, FileFacts, PhotoRecord};

/// File name endings the scan treats as photos (compared case-insensitively).
pub const PHOTO_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "tif", "tiff", "bmp", "gif"];

/// Folder names of system and application bookkeeping that never hold a library's photos.
const SKIPPED_DIRS: &[&str] = &[
    "@eaDir",
    "$RECYCLE.BIN",
    "System Volume Information",
    "lost+found",
];

/// New files are hashed and recorded in chunks of this many, each in its own
/// transaction, so an interrupted first scan of a large library keeps its progress.
const INSERT_CHUNK: usize = 512;

/// Something the scan could not read; the scan goes on without it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ScanProblem {
    pub path: PathBuf,
    pub reason: String,
}

/// What a scan changed.
#[derive(Debug, Default)]
pub struct ScanReport {
    /// Photos recorded for the first time (pending indexing).
    pub new: Vec<i64>,
    /// Photos whose bytes changed (their faces were dropped; pending again).
    pub changed: Vec<i64>,
    /// Photos found at a new path, with the old one.
    pub moved: Vec<(i64, PathBuf)>,
    /// Photos gone from disk.
    pub deleted: Vec<i64>,
    pub unchanged: usize,
    /// Same bytes, new modification time.
    pub touched: usize,
    /// Faces that must leave the vector index (of changed and deleted photos).
    pub removed_faces: Vec<i64>,
    pub problems: Vec<ScanProblem>,
}

struct DiskFile {
    folder_id: i64,
    size: u64,
    mtime_ns: i64,
}

/// The photos found on disk, and the folders that could not be listed.
#[derive(Default)]
struct Walk {
    files: HashMap<PathBuf, DiskFile>,
    unreadable: Vec<PathBuf>,
    problems: Vec<ScanProblem>,
}

impl Walk {
    fn problem(&mut self, path: &Path, reason: impl std::fmt::Display) {
        self.problems.push(ScanProblem {
            path: path.to_owned(),
            reason: reason.to_string(),
        });
    }

    /// True if `path` lies under a folder whose listing failed, so its absence proves nothing.
    fn hidden_by_failure(&self, path: &Path) -> bool {
        self.unreadable.iter().any(|dir| path.starts_with(dir))
    }
}

/// Scans every library folder of the catalog and records what changed.
pub fn scan(catalog: &mut Catalog, ctl: &JobControl) -> CatalogResult<ScanReport> {
    let mut walk = Walk::default();
    for (folder_id, root) in catalog.folders()? {
        walk_folder(folder_id, &root, &mut walk);
    }
    let known = all_photos(catalog)?;
    let mut report = ScanReport {
        problems: std::mem::take(&mut walk.problems),
        ..Default::default()
    };

    // Pass 1: photos the catalog knows, against what is on disk now.
    let mut missing: HashMap<[u8; 16], Vec<PhotoRecord>> = HashMap::new();
    let mut rehash = Vec::new();
    for photo in known {
        match walk.files.remove(&photo.path) {
            Some(disk) if disk.size == photo.size && disk.mtime_ns == photo.mtime_ns => {
                report.unchanged += 1
            }
            Some(disk) => rehash.push((photo, disk)),
            None if walk.hidden_by_failure(&photo.path) => report.unchanged += 1,
            None => missing.entry(photo.hash).or_default().push(photo),
        }
    }
    let rehashed: Vec<_> = rehash
        .into_par_iter()
        .map(|(photo, disk)| {
            let hash = hash_file(&photo.path);
            (photo, disk, hash)
        })
        .collect();
    catalog.write(|tx| {
        for (photo, disk, hash) in rehashed {
            match hash {
                Ok(hash) if hash == photo.hash => {
                    tx.touch_photo(photo.id, disk.mtime_ns)?;
                    report.touched += 1;
                }
                Ok(hash) => {
                    let facts = FileFacts {
                        path: photo.path.clone(),
                        size: disk.size,
                        mtime_ns: disk.mtime_ns,
                        hash,
                    };
                    report
                        .removed_faces
                        .extend(tx.reset_photo(photo.id, &facts)?);
                    report.changed.push(photo.id);
                }
                Err(reason) => {
                    report.problems.push(ScanProblem {
                        path: photo.path.clone(),
                        reason,
                    });
                    report.unchanged += 1;
                }
            }
        }
        Ok(())
    })?;

    // Pass 2: paths the catalog does not know: moves of missing photos, or new photos.
    let mut fresh: Vec<(PathBuf, DiskFile)> = walk.files.into_iter().collect();
    fresh.sort_by(|a, b| a.0.cmp(&b.0));
    let total = fresh.len();
    for (done, chunk) in fresh.chunks(INSERT_CHUNK).enumerate() {
        if ctl.should_stop() {
            return Err(CatalogError::Cancelled);
        }
        ctl.report(
            "hashing new photos",
            (done * INSERT_CHUNK) as f32 / total.max(1) as f32,
        );
        let hashed: Vec<_> = chunk
            .par_iter()
            .map(|(path, disk)| (path, disk, hash_file(path)))
            .collect();
        catalog.write(|tx| {
            for (path, disk, hash) in hashed {
                let hash = match hash {
                    Ok(hash) => hash,
                    Err(reason) => {
                        report.problems.push(ScanProblem {
                            path: path.clone(),
                            reason,
                        });
                        continue;
                    }
                };
                let facts = FileFacts {
                    path: path.clone(),
                    size: disk.size,
                    mtime_ns: disk.mtime_ns,
                    hash,
                };
                let moved_from = missing.get_mut(&hash).and_then(|same| {
                    let at = same.iter().position(|p| p.size == disk.size)?;
                    Some(same.swap_remove(at))
                });
                match moved_from {
                    Some(old) => {
                        tx.move_photo(old.id, disk.folder_id, &facts)?;
                        report.moved.push((old.id, old.path));
                    }
                    None => report.new.push(tx.insert_photo(disk.folder_id, &facts)?),
                }
            }
            Ok(())
        })?;
    }

    // Pass 3: what is still missing was deleted.
    catalog.write(|tx| {
        for photo in missing.into_values().flatten() {
            report.removed_faces.extend(tx.delete_photo(photo.id)?);
            report.deleted.push(photo.id);
        }
        Ok(())
    })?;
    report.removed_faces.sort_unstable();
    ctl.report("hashing new photos", 1.0);
    Ok(report)
}

fn all_photos(catalog: &Catalog) -> CatalogResult<Vec<PhotoRecord>> {
    let mut all = Vec::new();
    for (folder_id, _) in catalog.folders()? {
        all.extend(catalog.photos_in_folder(folder_id)?);
    }
    Ok(all)
}

/// Lists the photos under `root`, following symbolic links but never entering
/// a folder twice (so link loops end).
fn walk_folder(folder_id: i64, root: &Path, walk: &mut Walk) {
    let mut seen_dirs = HashSet::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let entries = match fs::metadata(&dir).and_then(|meta| {
            let first_visit = seen_dirs.insert((meta.dev(), meta.ino()));
            Ok((first_visit, fs::read_dir(&dir)?))
        }) {
            Ok((false, _)) => continue,
            Ok((true, entries)) => entries,
            Err(err) => {
                walk.problem(&dir, format!("cannot read folder: {err}"));
                walk.unreadable.push(dir);
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    walk.problem(&dir, format!("cannot list folder: {err}"));
                    walk.unreadable.push(dir.clone());
                    continue;
                }
            };
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || SKIPPED_DIRS.contains(&name.as_ref()) {
                continue;
            }
            // `fs::metadata` follows links: a link to a folder is walked, a dangling one reported.
            let meta = match fs::metadata(&path) {
                Ok(meta) => meta,
                Err(err) => {
                    walk.problem(&path, format!("cannot read: {err}"));
                    continue;
                }
            };
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() && is_photo_name(&name) {
                let mtime_ns = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos() as i64);
                walk.files.insert(
                    path,
                    DiskFile {
                        folder_id,
                        size: meta.len(),
                        mtime_ns,
                    },
                );
            }
        }
    }
}

fn is_photo_name(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(_, ext)| {
        PHOTO_EXTENSIONS
            .iter()
            .any(|known| known.eq_ignore_ascii_case(ext))
    })
}

/// The content hash that recognises a moved photo: XXH3-128 of all its bytes.
pub fn hash_file(path: &Path) -> Result<[u8; 16], String> {
    let mut file = fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("cannot read: {e}")),
        }
    }
    Ok(hasher.digest128().to_le_bytes())
}
