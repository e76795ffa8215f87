//! Search by photo: the faces in a photo, and the library's faces most
//! similar to one of them. The CLI's `search` and the GUI's drop target
//! both go through here.
use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use crate::faces::{Face, FacePipeline};
use crate::library::Library;
use crate::library::catalog::FaceHit;

/// One library face found for a query, with its cosine similarity.
#[derive(Clone, Debug, Serialize)]
pub struct Hit {
    #[serde(flatten)]
    pub face: FaceHit,
    pub similarity: f32,
}

/// Why a search by photo has no answer.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(transparent)]
    Faces(#[from] crate::faces::FaceError),
    #[error(transparent)]
    Vectors(#[from] crate::library::vectors::StoreError),
    #[error(transparent)]
    Catalog(#[from] crate::error::CatalogError),
    #[error("{0}: no face found in the photo")]
    NoFace(String),
    #[error("face {chosen}: {path} has {count} face(s), numbered from 0")]
    NoSuchFace {
        path: String,
        chosen: usize,
        count: usize,
    },
}

/// The faces of the photo at `path`, and the one to search with: `chosen`,
/// else the largest.
pub fn photo_faces(
    pipeline: &mut FacePipeline,
    path: &Path,
    chosen: Option<usize>,
) -> Result<(Vec<Face>, usize), SearchError> {
    let faces = pipeline.process_file(path)?;
    if faces.is_empty() {
        return Err(SearchError::NoFace(path.display().to_string()));
    }
    let chosen = chosen.unwrap_or_else(|| largest_face(&faces));
    if chosen >= faces.len() {
        return Err(SearchError::NoSuchFace {
            path: path.display().to_string(),
            chosen,
            count: faces.len(),
        });
    }
    Ok((faces, chosen))
}

/// The position of the face with the largest box.
pub fn largest_face(faces: &[Face]) -> usize {
    let area = |f: &Face| f.bbox[2].max(0.0) * f.bbox[3].max(0.0);
    (0..faces.len())
        .max_by(|&a, &b| area(&faces[a]).total_cmp(&area(&faces[b])))
        .unwrap_or(0)
}

/// The library's `k` faces most similar to `embedding`, best first, leaving
/// out those below `min_sim`.
pub fn similar_faces(
    library: &Library,
    embedding: &[f32],
    k: usize,
    min_sim: f32,
) -> Result<Vec<Hit>, SearchError> {
    let found = library.vectors.search(embedding, k)?;
    let (ids, sims): (Vec<i64>, Vec<f32>) = found
        .ids
        .iter()
        .zip(&found.scores)
        .filter(|(_, s)| **s >= min_sim)
        .map(|(id, s)| (*id as i64, *s))
        .unzip();
    let similarity: HashMap<i64, f32> = ids.iter().copied().zip(sims).collect();
    // `face_hits` keeps the order of `ids`, so the hits stay best first.
    Ok(library
        .catalog
        .face_hits(&ids)?
        .into_iter()
        .map(|face| Hit {
            similarity: similarity[&face.face_id],
            face,
        })
        .collect())
}
