//! Thumbnails for the GUI, made once while a photo is indexed and cached in
//! the data dir: one per photo (long side [`PHOTO_SIDE`]) and one square crop
//! per face ([`FACE_SIDE`], with a margin around the box). Files are written
//! to a temporary name and renamed, so a crash never leaves half a picture.

use std::path::{Path, PathBuf};

use image::{ImageDecoder, ImageReader};

use crate::faces::decode::{Limits, decode_file, write_jpeg};
use crate::faces::detect::resize;
use crate::faces::{FaceError, Photo};

/// Long side of a photo thumbnail, in pixels.
pub const PHOTO_SIDE: u32 = 320;
/// Side of a face thumbnail, in pixels.
pub const FACE_SIDE: u32 = 128;
/// The preview kept while a batch commits is at most this long: enough for
/// every thumbnail, far less memory than a full photo.
const PREVIEW_SIDE: u32 = 1024;
/// The face crop reaches this share of the box's size past each side.
const FACE_MARGIN: f32 = 0.25;
/// The box drawn around a face on its photo's thumbnail: its colour, and its
/// line width as a share of the long side (at least 2 pixels), so that it
/// still shows when the thumbnail is drawn small.
const BOX_RGB: [u8; 3] = [255, 200, 0];
const BOX_LINE_PER_SIDE: u32 = 80;

/// A downscaled copy of a photo and the factor from photo to preview pixels.
pub struct Preview {
    pub photo: Photo,
    pub scale: f32,
}

/// The preview thumbnails are cut from (never larger than the photo).
pub fn preview(photo: &Photo) -> Preview {
    let long = photo.width.max(photo.height);
    if long <= PREVIEW_SIDE {
        return Preview {
            photo: photo.clone(),
            scale: 1.0,
        };
    }
    let scale = PREVIEW_SIDE as f32 / long as f32;
    let (w, h) = (scaled(photo.width, scale), scaled(photo.height, scale));
    Preview {
        photo: resize(photo, w, h),
        scale,
    }
}

fn scaled(side: u32, scale: f32) -> u32 {
    ((side as f32 * scale).round() as u32).max(1)
}

/// The thumbnail cache of a data dir.
pub struct Thumbs {
    dir: PathBuf,
}

impl Thumbs {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("thumbs"),
        }
    }

    /// Spread over 256 folders so no folder grows to millions of files.
    fn path(&self, kind: &str, id: i64) -> PathBuf {
        self.dir
            .join(kind)
            .join(format!("{:02x}", id.rem_euclid(256)))
            .join(format!("{id}.jpg"))
    }

    pub fn photo_path(&self, photo_id: i64) -> PathBuf {
        self.path("photos", photo_id)
    }

    pub fn face_path(&self, face_id: i64) -> PathBuf {
        self.path("faces", face_id)
    }

    /// Writes the thumbnails of a photo and of its faces (`(face id, box in
    /// photo pixels)`).
    pub fn make(
        &self,
        preview: &Preview,
        photo_id: i64,
        faces: &[(i64, [f32; 4])],
    ) -> Result<(), FaceError> {
        // Always written: a changed photo keeps its id, and the ids of a
        // batch that did not commit are given again.
        let p = &preview.photo;
        let s = PHOTO_SIDE as f32 / p.width.max(p.height) as f32;
        let small = if s < 1.0 {
            resize(p, scaled(p.width, s), scaled(p.height, s))
        } else {
            p.clone()
        };
        save(&self.photo_path(photo_id), &small)?;
        for &(face_id, bbox) in faces {
            save(&self.face_path(face_id), &face_crop(preview, bbox))?;
        }
        Ok(())
    }

    /// The thumbnail of photo `photo_id` (the file at `photo`), made again
    /// from the photo when the cache lacks it: it is a cache, which a full
    /// disk or a crash right after a commit may have left without a file.
    pub fn ensure_photo(
        &self,
        photo_id: i64,
        photo: &Path,
        limits: Limits,
    ) -> Result<PathBuf, FaceError> {
        let target = self.photo_path(photo_id);
        if !target.exists() {
            self.make(&preview(&decode_file(photo, limits)?), photo_id, &[])?;
        }
        Ok(target)
    }

    /// The thumbnail of face `face_id` (box `bbox` in the photo at `photo`),
    /// made again when missing, as [`Thumbs::ensure_photo`].
    pub fn ensure_face(
        &self,
        face_id: i64,
        bbox: [f32; 4],
        photo: &Path,
        limits: Limits,
    ) -> Result<PathBuf, FaceError> {
        let target = self.face_path(face_id);
        if !target.exists() {
            let preview = preview(&decode_file(photo, limits)?);
            save(&target, &face_crop(&preview, bbox))?;
        }
        Ok(target)
    }
}

impl Thumbs {
    /// The thumbnail of photo `photo_id` (the file at `photo`) with the face box
    /// `bbox` (photo pixels) drawn on it; the thumbnail is made again when missing.
    pub fn boxed_photo(
        &self,
        photo_id: i64,
        photo: &Path,
        bbox: [f32; 4],
        limits: Limits,
    ) -> Result<Photo, FaceError> {
        let mut thumb = decode_file(&self.ensure_photo(photo_id, photo, limits)?, limits)?;
        let (width, _) = upright_size(photo)?;
        let scale = thumb.width as f32 / width.max(1) as f32;
        draw_box(&mut thumb, bbox.map(|v| v * scale));
        Ok(thumb)
    }
}

/// The size of the photo at `path` once turned upright (its EXIF orientation
/// applied), from its header alone: face boxes are in upright pixels.
pub fn upright_size(path: &Path) -> Result<(u32, u32), FaceError> {
    let bad = |reason: String| FaceError::Input(format!("{}: {reason}", path.display()));
    let mut decoder = ImageReader::open(path)
        .map_err(|source| FaceError::Io {
            path: path.to_owned(),
            source,
        })?
        .with_guessed_format()
        .map_err(|e| bad(e.to_string()))?
        .into_decoder()
        .map_err(|e| bad(e.to_string()))?;
    let (w, h) = decoder.dimensions();
    use image::metadata::Orientation::*;
    // As in decoding, a broken EXIF block means upright.
    Ok(match decoder.orientation().unwrap_or(NoTransforms) {
        Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH => (h, w),
        _ => (w, h),
    })
}

/// Draws the outline of `bbox` (`[x, y, w, h]` in `photo` pixels), clipped to the photo.
fn draw_box(photo: &mut Photo, bbox: [f32; 4]) {
    let (pw, ph) = (photo.width as i64, photo.height as i64);
    let [x, y, w, h] = bbox.map(|v| v.round() as i64);
    let (x0, y0) = (x.clamp(0, pw - 1), y.clamp(0, ph - 1));
    let (x1, y1) = ((x + w).clamp(x0, pw - 1), (y + h).clamp(y0, ph - 1));
    let line = i64::from((photo.width.max(photo.height) / BOX_LINE_PER_SIDE).max(2));
    for py in y0..=y1 {
        for px in x0..=x1 {
            let edge = px < x0 + line || px > x1 - line || py < y0 + line || py > y1 - line;
            if edge {
                let i = (py * pw + px) as usize * 3;
                photo.rgb[i..i + 3].copy_from_slice(&BOX_RGB);
            }
        }
    }
}

/// A square around the face box (in photo pixels), with a margin, inside the preview.
fn face_crop(preview: &Preview, bbox: [f32; 4]) -> Photo {
    let p = &preview.photo;
    let [x, y, w, h] = bbox.map(|v| v * preview.scale);
    let side = (w.max(h) * (1.0 + 2.0 * FACE_MARGIN)).clamp(1.0, p.width.min(p.height) as f32);
    let (cx, cy) = (x + w / 2.0, y + h / 2.0);
    let x0 = (cx - side / 2.0).clamp(0.0, p.width as f32 - side) as u32;
    let y0 = (cy - side / 2.0).clamp(0.0, p.height as f32 - side) as u32;
    let side = (side as u32).max(1).min(p.width - x0).min(p.height - y0);
    let mut rgb = Vec::with_capacity(side as usize * side as usize * 3);
    for row in y0..y0 + side {
        let start = (row as usize * p.width as usize + x0 as usize) * 3;
        rgb.extend_from_slice(&p.rgb[start..start + side as usize * 3]);
    }
    resize(
        &Photo {
            width: side,
            height: side,
            rgb,
        },
        FACE_SIDE,
        FACE_SIDE,
    )
}

fn save(target: &Path, photo: &Photo) -> Result<(), FaceError> {
    let io = |source| FaceError::Io {
        path: target.to_owned(),
        source,
    };
    std::fs::create_dir_all(target.parent().expect("thumbnail paths have a folder")).map_err(io)?;
    let tmp = target.with_extension("jpg.tmp");
    write_jpeg(&tmp, photo.width, photo.height, &photo.rgb)?;
    std::fs::rename(&tmp, target).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_box_is_drawn_on_its_outline_only_and_clipped() {
        let mut photo = Photo::from_rgb(10, 8, vec![0; 10 * 8 * 3]).unwrap();
        draw_box(&mut photo, [2.0, 1.0, 5.0, 4.0]);
        let on = |photo: &Photo, x, y| photo.pixel(x, y) == BOX_RGB;
        assert!(on(&photo, 2, 1) && on(&photo, 7, 5) && on(&photo, 3, 3) && on(&photo, 6, 2));
        assert!(!on(&photo, 4, 3), "the inside stays");
        assert!(!on(&photo, 1, 1) && !on(&photo, 8, 5) && !on(&photo, 2, 6));
        // A box reaching past the photo is drawn up to its edges, never beyond.
        draw_box(&mut photo, [-5.0, -5.0, 100.0, 100.0]);
        assert!(on(&photo, 0, 0) && on(&photo, 9, 7) && !on(&photo, 4, 3));
    }
}
