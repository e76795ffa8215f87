//! What `facefind faces` prints: one record per photo, as JSON or as text.
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::{Face, FaceError};

/// One photo's result: its faces, or why it could not be read.
#[derive(Debug, Serialize)]
pub struct PhotoReport {
    pub path: String,
    pub faces: Vec<FaceReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct FaceReport {
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    pub landmarks: [[f32; 2]; 5],
    pub score: f32,
    pub quality: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vec<f32>>,
}

impl PhotoReport {
    pub fn new(path: &Path, result: &Result<Vec<Face>, FaceError>, with_embedding: bool) -> Self {
        let path = path.display().to_string();
        match result {
            Ok(faces) => Self {
                path,
                faces: faces
                    .iter()
                    .map(|f| FaceReport {
                        bbox: f.bbox,
                        landmarks: f.landmarks,
                        score: f.score,
                        quality: f.quality,
                        embedding: with_embedding.then(|| f.embedding.to_vec()),
                    })
                    .collect(),
                error: None,
            },
            Err(err) => Self {
                path,
                faces: Vec::new(),
                error: Some(err.to_string()),
            },
        }
    }

    /// Human-readable lines: the photo, then one line per face.
    pub fn text(&self) -> String {
        let mut out = String::new();
        match &self.error {
            Some(err) => writeln!(out, "{}: error: {err}", self.path),
            None => writeln!(out, "{}: {} face(s)", self.path, self.faces.len()),
        }
        .expect("writing to a String");
        for (i, f) in self.faces.iter().enumerate() {
            let [x, y, w, h] = f.bbox;
            let marks: Vec<String> = f
                .landmarks
                .iter()
                .map(|[a, b]| format!("({a:.1},{b:.1})"))
                .collect();
            writeln!(
                out,
                "  face {i}: box {x:.1},{y:.1} {w:.1}×{h:.1}  score {:.3}  quality {:.3}  landmarks {}",
                f.score,
                f.quality,
                marks.join(" ")
            )
            .expect("writing to a String");
            if let Some(e) = &f.embedding {
                let nums: Vec<String> = e.iter().map(|v| format!("{v:.6}")).collect();
                writeln!(out, "    embedding {}", nums.join(" ")).expect("writing to a String");
            }
        }
        out
    }
}
