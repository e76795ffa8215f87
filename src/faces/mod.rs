//! Faces: decode a photo, detect faces (YuNet), align them (5 landmarks → 112×112) and embed
//! them (SFace, 128-d, unit length), all through ONNX Runtime. The only module that knows
//! `ort` and `image`; callers see [`Photo`], [`Face`] and [`FacePipeline`].
pub mod align;
pub mod decode;
pub mod detect;
pub mod embed;
pub mod models;
pub mod report;

use std::path::{Path, PathBuf};

pub use decode::{Limits, Photo};
pub use detect::Detection;
pub use embed::DIM;

use crate::config::Config;

/// Everything the face pipeline can refuse, with the file or model it concerns.
#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    /// The ONNX Runtime library is missing or unusable (one line, with how to get it).
    #[error("{0}")]
    Runtime(String),
    #[error("{path}: {reason}")]
    Model { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Decode { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid input: {0}")]
    Input(String),
    #[error("inference failed: {0}")]
    Inference(String),
}

/// One face of a photo: where it is, how good it is, and its embedding.
#[derive(Clone, Debug)]
pub struct Face {
    /// x, y (top left), width, height, in photo pixels (may reach past the border for cut faces).
    pub bbox: [f32; 4],
    pub landmarks: [[f32; 2]; 5],
    /// The detector's confidence, √(cls·obj).
    pub score: f32,
    /// 0–1: detector score × size term × sharpness term (see [`quality`]).
    pub quality: f32,
    /// Unit-length SFace embedding.
    pub embedding: [f32; DIM],
    /// The aligned 112×112 RGB crop the embedding was taken from.
    pub crop: Vec<u8>,
}

/// The quality score: the detector's score, times min(1, √(w·h)/112) (faces smaller than the
/// recognizer's input lose detail), times v/(v+50) for the crop's Laplacian variance v (blur).
pub fn quality(score: f32, bbox: &[f32; 4], sharpness: f32) -> f32 {
    let size = ((bbox[2].max(0.0) * bbox[3].max(0.0)).sqrt() / align::CROP_SIDE as f32).min(1.0);
    let sharp = sharpness / (sharpness + 50.0);
    (score * size * sharp).clamp(0.0, 1.0)
}

/// Decode, detect, align and embed, with the two ORT sessions kept open.
pub struct FacePipeline {
    detector: detect::Detector,
    embedder: embed::Embedder,
    limits: Limits,
}

impl FacePipeline {
    /// Loads ONNX Runtime and both models (checksums checked) with the settings of `config`.
    pub fn new(config: &Config) -> Result<Self, FaceError> {
        let settings = &config.faces;
        let dir = models::models_dir(settings)?;
        let detector = models::open_session(&dir.join(models::DETECTOR_FILE), settings)?;
        let recognizer = models::open_session(&dir.join(models::RECOGNIZER_FILE), settings)?;
        Ok(Self {
            detector: detect::Detector::new(detector, settings),
            embedder: embed::Embedder::new(recognizer, settings.embed_batch),
            limits: Limits::from_settings(settings),
        })
    }

    /// Turns the tiled second pass (small faces in large photos) on or off.
    pub fn set_tiled_pass(&mut self, on: bool) {
        self.detector.set_tiled_pass(on);
    }

    /// Faces of a decoded photo, best detector score first; embeddings computed in batches.
    pub fn process(&mut self, photo: &Photo) -> Result<Vec<Face>, FaceError> {
        let detections = self.detector.detect(photo)?;
        let crops: Vec<Vec<u8>> = detections
            .iter()
            .map(|d| {
                align::warp(
                    photo,
                    &align::similarity(&d.landmarks, &align::TEMPLATE),
                    align::CROP_SIDE,
                )
            })
            .collect();
        let refs: Vec<&[u8]> = crops.iter().map(Vec::as_slice).collect();
        let embeddings = self.embedder.embed(&refs)?;
        Ok(detections
            .into_iter()
            .zip(crops)
            .zip(embeddings)
            .map(|((d, crop), embedding)| Face {
                quality: quality(d.score, &d.bbox, align::sharpness(&crop, align::CROP_SIDE)),
                bbox: d.bbox,
                landmarks: d.landmarks,
                score: d.score,
                embedding,
                crop,
            })
            .collect())
    }

    /// Detections only (no alignment or embedding).
    pub fn detect(&mut self, photo: &Photo) -> Result<Vec<Detection>, FaceError> {
        self.detector.detect(photo)
    }

    /// Embeds aligned 112×112 RGB crops, e.g. gathered from many photos, in batches.
    pub fn embed(&mut self, crops: &[&[u8]]) -> Result<Vec<[f32; DIM]>, FaceError> {
        self.embedder.embed(crops)
    }

    /// Decodes a file (with the configured limits and EXIF orientation) and processes it.
    pub fn process_file(&mut self, path: &Path) -> Result<Vec<Face>, FaceError> {
        let photo = decode::decode_file(path, self.limits)?;
        self.process(&photo)
    }

    /// The decode limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }
}

/// Writes a face's aligned crop as a PNG.
pub fn write_crop(path: &Path, face: &Face) -> Result<(), FaceError> {
    let side = align::CROP_SIDE as u32;
    decode::write_png(path, side, side, &face.crop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_rises_with_score_size_and_sharpness() {
        let big = [0.0, 0.0, 120.0, 120.0];
        let small = [0.0, 0.0, 30.0, 30.0];
        assert!(quality(0.9, &big, 400.0) > quality(0.9, &small, 400.0));
        assert!(quality(0.9, &big, 400.0) > quality(0.9, &big, 5.0));
        assert!(quality(0.95, &big, 400.0) > quality(0.85, &big, 400.0));
        assert!((0.0..=1.0).contains(&quality(1.0, &big, 1e9)));
    }
}
