//! SFace: aligned 112×112 RGB crops (0–255, planar) in, 128-d L2-normalised embeddings out, in batches.
use ort::session::Session;
use ort::value::TensorRef;

use super::FaceError;
use super::align::CROP_SIDE;

/// The embedding width.
pub const DIM: usize = 128;

/// The SFace recognizer.
pub struct Embedder {
    session: Session,
    batch: usize,
}

/// Scales a vector to unit length (a zero vector stays zero).
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

impl Embedder {
    pub fn new(session: Session, batch: usize) -> Self {
        Self {
            session,
            batch: batch.max(1),
        }
    }

    /// Embeds aligned crops (each `CROP_SIDE`² RGB bytes), `batch` per run.
    pub fn embed(&mut self, crops: &[&[u8]]) -> Result<Vec<[f32; DIM]>, FaceError> {
        let plane = CROP_SIDE * CROP_SIDE;
        let mut out = Vec::with_capacity(crops.len());
        for chunk in crops.chunks(self.batch) {
            let mut input = vec![0f32; chunk.len() * 3 * plane];
            for (crop, dst) in chunk.iter().zip(input.chunks_exact_mut(3 * plane)) {
                if crop.len() != 3 * plane {
                    return Err(FaceError::Input(format!(
                        "a crop of {} bytes is not {CROP_SIDE}×{CROP_SIDE} RGB",
                        crop.len()
                    )));
                }
                for (i, px) in crop.chunks_exact(3).enumerate() {
                    for c in 0..3 {
                        dst[c * plane + i] = f32::from(px[c]);
                    }
                }
            }
            let tensor = TensorRef::from_array_view((
                [chunk.len(), 3, CROP_SIDE, CROP_SIDE],
                input.as_slice(),
            ))
            .map_err(|e| FaceError::Inference(format!("SFace input: {e}")))?;
            let outputs = self
                .session
                .run(ort::inputs!["data" => tensor])
                .map_err(|e| FaceError::Inference(format!("SFace: {e}")))?;
            let (_, data) = outputs[0]
                .try_extract_tensor::<f32>()
                .map_err(|e| FaceError::Inference(format!("SFace output: {e}")))?;
            if data.len() != chunk.len() * DIM {
                return Err(FaceError::Inference(format!(
                    "SFace gave {} values for {} faces",
                    data.len(),
                    chunk.len()
                )));
            }
            for row in data.chunks_exact(DIM) {
                let mut v = [0f32; DIM];
                v.copy_from_slice(row);
                l2_normalize(&mut v);
                out.push(v);
            }
        }
        Ok(out)
    }
}
