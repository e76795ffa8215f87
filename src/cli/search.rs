//! `facefind search PHOTO`: the faces in a photo, and the library's faces
//! most similar to the chosen one.
use std::path::Path;

use serde::Serialize;

use crate::faces::FacePipeline;
use crate::faces::report::{FaceReport, PhotoReport};
use crate::index::JobControl;
use crate::jobs::search::{Hit, photo_faces, similar_faces};
use crate::library::Library;

#[derive(Serialize)]
struct Query {
    path: String,
    faces: Vec<FaceReport>,
    chosen: usize,
}

#[derive(Serialize)]
struct Answer {
    query: Query,
    results: Vec<Hit>,
}

pub struct SearchArgs<'a> {
    pub photo: &'a Path,
    /// The face to search with; the largest when unset.
    pub face: Option<usize>,
    pub k: usize,
    pub min_sim: f32,
    pub json: bool,
}

pub fn search(data_dir: &Path, args: &SearchArgs<'_>) -> anyhow::Result<()> {
    anyhow::ensure!(
        data_dir.join("catalog.sqlite").exists(),
        "{}: no library here yet; start one with `facefind index DIR`",
        data_dir.display()
    );
    let (library, _) = Library::open_reader(data_dir, &JobControl::default())?;
    let mut pipeline = FacePipeline::new(&library.config)?;
    let (faces, chosen) = photo_faces(&mut pipeline, args.photo, args.face)?;
    let results = similar_faces(&library, &faces[chosen].embedding, args.k, args.min_sim)?;
    let report = PhotoReport::new(args.photo, &Ok(faces), false);
    let answer = Answer {
        query: Query {
            path: report.path,
            faces: report.faces,
            chosen,
        },
        results,
    };
    if args.json {
        return super::print_json(&answer);
    }
    println!(
        "{}: {} face(s), searching with face {chosen}",
        answer.query.path,
        answer.query.faces.len()
    );
    println!("{:>10}  {:>8}  {:>28}  photo", "similarity", "face", "box");
    for hit in &answer.results {
        let [x, y, w, h] = hit.face.bbox;
        let bbox = format!("{x:.0},{y:.0} {w:.0}×{h:.0}");
        println!(
            "{:>10.3}  {:>8}  {:>28}  {}",
            hit.similarity,
            hit.face.face_id,
            bbox,
            hit.face.path.display()
        );
    }
    if answer.results.is_empty() {
        println!(
            "no face in the library at similarity {} or more",
            args.min_sim
        );
    }
    Ok(())
}
