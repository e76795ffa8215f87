//! The indexing job: every pending photo of the catalog is decoded, its faces
//! found and embedded, and the result committed to the catalog and the
//! vector index, a batch at a time.
//!
//! Decoding runs on its own thread (photos decoded in parallel with rayon)
//! while inference runs on the caller's, so the two overlap. Each batch is
//! one catalog transaction: killed mid-way, the next run starts at the
//! first photo whose batch did not commit, and nothing is done twice. A
//! photo that cannot be read is recorded with the reason and the job goes on.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::faces::{Face, FaceError, FacePipeline, Photo, decode};
use crate::index::JobControl;
use crate::library::Library;
use crate::library::catalog::{FaceRow, PhotoInfo, PhotoRecord, PhotoStatus};
use crate::library::thumbs::{self, Preview, Thumbs};
use crate::library::vectors::StoreError;

/// Photos per catalog transaction.
const BATCH: usize = 16;
/// The vector index is written at most this often (and at the end): the
/// catalog already holds every committed face, so a crash loses no work.
const SAVE_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum IndexingError {
    #[error(transparent)]
    Catalog(#[from] crate::error::CatalogError),
    #[error(transparent)]
    Vectors(#[from] StoreError),
    #[error("thumbnail: {0}")]
    Thumbnail(#[from] FaceError),
}

/// Where the job stands; sent after every batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    pub faces: usize,
    pub failed: usize,
    pub elapsed_s: f64,
}

impl Progress {
    /// Photos per second so far.
    pub fn rate(&self) -> f64 {
        if self.elapsed_s > 0.0 {
            self.done as f64 / self.elapsed_s
        } else {
            0.0
        }
    }

    /// Seconds left at the rate so far.
    pub fn eta_s(&self) -> Option<f64> {
        let rate = self.rate();
        (rate > 0.0).then(|| (self.total - self.done) as f64 / rate)
    }
}

/// Indexes every pending photo of `library`. Returns the final progress;
/// a stop request ends the job after the batch in flight, with all done so far kept.
pub fn index_pending(
    library: &mut Library,
    pipeline: &mut FacePipeline,
    ctl: &JobControl,
    mut on_progress: impl FnMut(&Progress),
) -> Result<Progress, IndexingError> {
    let pending = library.catalog.photos_with_status(PhotoStatus::Pending)?;
    let run = library.catalog.start_run()?;
    let started = Instant::now();
    let mut progress = Progress {
        total: pending.len(),
        ..Progress::default()
    };
    let limits = pipeline.limits();
    let (tx, rx) =
        mpsc::sync_channel::<Vec<(PhotoRecord, Result<(Photo, Option<String>), FaceError>)>>(2);
    let mut last_save = Instant::now();
    let result = std::thread::scope(|scope| {
        let decoder = std::thread::Builder::new()
            .name("facefind-decode".into())
            .spawn_scoped(scope, move || {
                for batch in pending.chunks(BATCH) {
                    let decoded = batch
                        .par_iter()
                        .map(|p| (p.clone(), decode::decode_file_dated(&p.path, limits)))
                        .collect();
                    if tx.send(decoded).is_err() {
                        return;
                    }
                }
            })
            .expect("spawning the decoder thread");
        let outcome = (|| {
            for batch in rx.iter() {
                ctl.wait_while_paused();
                if ctl.should_stop() {
                    break;
                }
                let found: Vec<_> = batch
                    .into_iter()
                    .map(|(record, photo)| {
                        let faces = photo.and_then(|(photo, taken_at)| {
                            let info = PhotoInfo {
                                width: photo.width,
                                height: photo.height,
                                taken_at,
                            };
                            Ok((info, pipeline.process(&photo)?, thumbs::preview(&photo)))
                        });
                        (record, faces)
                    })
                    .collect();
                commit_batch(library, run, found, &mut progress)?;
                progress.elapsed_s = started.elapsed().as_secs_f64();
                if last_save.elapsed() >= SAVE_EVERY {
                    let mark = library.vectors.mark();
                    library.vectors.save(mark)?;
                    last_save = Instant::now();
                }
                on_progress(&progress);
                ctl.report(
                    "indexing photos",
                    progress.done as f32 / progress.total.max(1) as f32,
                );
            }
            Ok::<_, IndexingError>(())
        })();
        // Dropping the receiver ends the decoder at its next send.
        drop(rx);
        decoder.join().ok();
        outcome
    });
    let mark = library.vectors.mark();
    let saved = library.vectors.save(mark);
    let result = result.and_then(|()| Ok(saved?));
    let outcome = match &result {
        Err(err) => format!("failed: {err}"),
        Ok(()) if progress.done < progress.total => "cancelled".into(),
        Ok(()) => "completed".into(),
    };
    let finished = library.catalog.finish_run(run, &outcome);
    // A failed job reports its own error; on a full disk this write fails too.
    result?;
    finished?;
    Ok(progress)
}

type Found = Result<(PhotoInfo, Vec<Face>, Preview), FaceError>;

/// Records one batch in one transaction, hands its vectors to the index, then
/// makes its thumbnails.
fn commit_batch(
    library: &mut Library,
    run: i64,
    found: Vec<(PhotoRecord, Found)>,
    progress: &mut Progress,
) -> Result<(), IndexingError> {
    let (ids, vectors, thumbnails) = library.catalog.write(|tx| {
        let (mut ids, mut vectors, mut thumbnails) = (Vec::new(), Vec::new(), Vec::new());
        for (record, faces) in &found {
            match faces {
                Ok((info, faces, preview)) => {
                    let rows: Vec<FaceRow> = faces.iter().map(face_row).collect();
                    let face_ids = tx.finish_photo(record.id, info, &rows)?;
                    ids.extend(face_ids.iter().map(|&id| id as u64));
                    let boxes: Vec<(i64, [f32; 4])> = face_ids
                        .iter()
                        .copied()
                        .zip(faces.iter().map(|f| f.bbox))
                        .collect();
                    thumbnails.push((preview, record.id, boxes));
                    vectors.extend(faces.iter().flat_map(|f| f.embedding));
                    progress.faces += faces.len();
                }
                Err(err) => {
                    tx.fail_photo(record.id, &err.to_string())?;
                    progress.failed += 1;
                }
            }
        }
        tx.count_run(run, found.len(), ids.len())?;
        Ok((ids, vectors, thumbnails))
    })?;
    progress.done += found.len();
    let mark = library.catalog.face_mark()?;
    library.vectors.add(&ids, &vectors, mark)?;
    let cache = Thumbs::new(library.dir());
    for (preview, photo_id, boxes) in thumbnails {
        cache.make(preview, photo_id, &boxes)?;
    }
    Ok(())
}

fn face_row(face: &Face) -> FaceRow {
    FaceRow {
        bbox: face.bbox,
        landmarks: face.landmarks,
        score: face.score,
        quality: face.quality,
        embedding: face.embedding.to_vec(),
    }
}
