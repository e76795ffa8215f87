//! YuNet face detection: resize and pad to a multiple of 32 (at most 640 on the long side,
//! BGR 0–255), decode the three strides (score = √(cls·obj)), NMS as OpenCV's
//! `FaceDetectorYN` does it, and a tiled second pass at twice the resolution for small
//! faces in large photos.
use ort::session::Session;
use ort::value::TensorRef;

use super::FaceError;
use super::decode::Photo;
use crate::config::FaceSettings;

/// The detector's long side; photos are scaled down (never up) to fit.
pub const INPUT_SIDE: u32 = 640;
const STRIDES: [usize; 3] = [8, 16, 32];
/// Photos whose long side exceeds this also get the tiled pass.
pub const TILED_MIN_SIDE: u32 = 960;
/// Tiles overlap by this much (tile pixels), so a small face is whole in at least one tile.
const TILE_OVERLAP: u32 = 128;

/// A face found in a photo, in the photo's pixel coordinates.
#[derive(Clone, Debug, PartialEq)]
pub struct Detection {
    /// x, y (top left), width, height.
    pub bbox: [f32; 4],
    /// Right eye, left eye, nose tip, right and left mouth corners (as seen: "right" is the viewer's left).
    pub landmarks: [[f32; 2]; 5],
    pub score: f32,
}

impl Detection {
    /// From a region at (dx, dy) of a copy scaled by (sx, sy) back to the photo.
    fn mapped(&self, (sx, sy): (f32, f32), dx: f32, dy: f32) -> Self {
        let map = |x: f32, y: f32| [(x + dx) / sx, (y + dy) / sy];
        let [x, y] = map(self.bbox[0], self.bbox[1]);
        Self {
            bbox: [x, y, self.bbox[2] / sx, self.bbox[3] / sy],
            landmarks: self.landmarks.map(|[lx, ly]| map(lx, ly)),
            score: self.score,
        }
    }
}

/// Source index and weight of the right/lower neighbour for each destination pixel along one
/// axis: OpenCV's `INTER_LINEAR` sampling (pixel centres, clamped edges).
fn taps(dst: u32, src: u32) -> Vec<(usize, f32)> {
    let scale = f64::from(src) / f64::from(dst);
    (0..dst)
        .map(|d| {
            let f = (f64::from(d) + 0.5) * scale - 0.5;
            let i = f.floor();
            if i < 0.0 {
                (0, 0.0)
            } else if i as u32 >= src - 1 {
                (src as usize - 1, 0.0)
            } else {
                (i as usize, (f - i) as f32)
            }
        })
        .collect()
}

/// Bilinear resize with OpenCV's `INTER_LINEAR` sampling, float weights, rounded once to u8.
/// Separable: each source row is interpolated horizontally once and reused by every output
/// row that needs it; the arithmetic is the same as [`resize_reference`], bit for bit.
pub fn resize(photo: &Photo, width: u32, height: u32) -> Photo {
    if (width, height) == (photo.width, photo.height) {
        return photo.clone();
    }
    let (xs, ys) = (taps(width, photo.width), taps(height, photo.height));
    let (sw, sh) = (photo.width as usize, photo.height as usize);
    let horizontal = |y: usize, out: &mut Vec<f32>| {
        out.clear();
        let row = &photo.rgb[y * sw * 3..(y + 1) * sw * 3];
        for &(x0, wx) in &xs {
            let x1 = (x0 + 1).min(sw - 1);
            for c in 0..3 {
                let (a, b) = (f32::from(row[x0 * 3 + c]), f32::from(row[x1 * 3 + c]));
                out.push(a + (b - a) * wx);
            }
        }
    };
    let (mut top, mut bottom) = (Vec::new(), Vec::new());
    let mut cached: Option<(usize, usize)> = None;
    let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
    for &(y0, wy) in &ys {
        let y1 = (y0 + 1).min(sh - 1);
        match cached {
            Some(rows) if rows == (y0, y1) => {}
            // Moving down by one source row: the old lower row is the new upper one.
            Some((_, old1)) if old1 == y0 => {
                std::mem::swap(&mut top, &mut bottom);
                horizontal(y1, &mut bottom);
            }
            _ => {
                horizontal(y0, &mut top);
                horizontal(y1, &mut bottom);
            }
        }
        cached = Some((y0, y1));
        rgb.extend(
            top.iter()
                .zip(&bottom)
                .map(|(&t, &b)| (t + (b - t) * wy).round().clamp(0.0, 255.0) as u8),
        );
    }
    Photo { width, height, rgb }
}

/// The plain per-pixel form of [`resize`], kept as its reference.
pub fn resize_reference(photo: &Photo, width: u32, height: u32) -> Photo {
    let (xs, ys) = (taps(width, photo.width), taps(height, photo.height));
    let (sw, sh) = (photo.width as usize, photo.height as usize);
    let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
    for &(y0, wy) in &ys {
        let y1 = (y0 + 1).min(sh - 1);
        for &(x0, wx) in &xs {
            let x1 = (x0 + 1).min(sw - 1);
            for c in 0..3 {
                let p = |x: usize, y: usize| f32::from(photo.rgb[(y * sw + x) * 3 + c]);
                let top = p(x0, y0) + (p(x1, y0) - p(x0, y0)) * wx;
                let bottom = p(x0, y1) + (p(x1, y1) - p(x0, y1)) * wx;
                rgb.push((top + (bottom - top) * wy).round().clamp(0.0, 255.0) as u8);
            }
        }
    }
    Photo { width, height, rgb }
}

/// A region of a photo as the detector's input: planar BGR f32, zero-padded right and
/// bottom to multiples of 32. Returns the data and the padded width and height.
pub fn to_input(
    photo: &Photo,
    x0: u32,
    y0: u32,
    width: u32,
    height: u32,
) -> (Vec<f32>, usize, usize) {
    let pad = |v: u32| v.div_ceil(32) as usize * 32;
    let (pw, ph) = (pad(width), pad(height));
    let mut data = vec![0f32; 3 * pw * ph];
    for y in 0..height as usize {
        for x in 0..width as usize {
            let [r, g, b] = photo.pixel(x0 + x as u32, y0 + y as u32);
            let at = y * pw + x;
            data[at] = f32::from(b);
            data[pw * ph + at] = f32::from(g);
            data[2 * pw * ph + at] = f32::from(r);
        }
    }
    (data, pw, ph)
}

/// The raw heads of one YuNet run, per stride 8, 16, 32: cls, obj (1 per anchor), bbox (4), kps (10).
pub struct Heads<'a> {
    pub cls: [&'a [f32]; 3],
    pub obj: [&'a [f32]; 3],
    pub bbox: [&'a [f32]; 3],
    pub kps: [&'a [f32]; 3],
}

/// Decodes the heads of an input of `width`×`height` into candidates scoring at least `threshold`.
pub fn decode_heads(
    heads: &Heads<'_>,
    width: usize,
    height: usize,
    threshold: f32,
) -> Result<Vec<Detection>, FaceError> {
    let mut out = Vec::new();
    for (level, &stride) in STRIDES.iter().enumerate() {
        let (cols, rows) = (width / stride, height / stride);
        let n = cols * rows;
        let lens = [
            heads.cls[level].len(),
            heads.obj[level].len(),
            heads.bbox[level].len(),
            heads.kps[level].len(),
        ];
        if lens != [n, n, 4 * n, 10 * n] {
            return Err(FaceError::Inference(format!(
                "YuNet stride {stride}: head sizes {lens:?} do not fit {n} anchors"
            )));
        }
        let s = stride as f32;
        for r in 0..rows {
            for c in 0..cols {
                let idx = r * cols + c;
                let cls = heads.cls[level][idx].clamp(0.0, 1.0);
                let obj = heads.obj[level][idx].clamp(0.0, 1.0);
                let score = (cls * obj).sqrt();
                if score < threshold {
                    continue;
                }
                let b = &heads.bbox[level][idx * 4..idx * 4 + 4];
                let (cx, cy) = ((c as f32 + b[0]) * s, (r as f32 + b[1]) * s);
                let (w, h) = (b[2].exp() * s, b[3].exp() * s);
                let k = &heads.kps[level][idx * 10..idx * 10 + 10];
                let landmarks = std::array::from_fn(|i| {
                    [(k[2 * i] + c as f32) * s, (k[2 * i + 1] + r as f32) * s]
                });
                out.push(Detection {
                    bbox: [cx - w / 2.0, cy - h / 2.0, w, h],
                    landmarks,
                    score,
                });
            }
        }
    }
    Ok(out)
}

/// Greedy NMS as OpenCV's `dnn::NMSBoxes` runs it for YuNet: boxes truncated to integers,
/// scores strictly above `threshold`, best first (stable), at most `top_k` candidates, a box
/// dropped when its IoU with a kept one exceeds `iou`.
pub fn nms(mut dets: Vec<Detection>, threshold: f32, iou: f32, top_k: usize) -> Vec<Detection> {
    dets.retain(|d| d.score > threshold);
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    dets.truncate(top_k);
    let int_box = |d: &Detection| d.bbox.map(|v| v as i32 as f32);
    let mut kept: Vec<Detection> = Vec::new();
    let mut kept_boxes: Vec<[f32; 4]> = Vec::new();
    for det in dets {
        let a = int_box(&det);
        let overlaps = kept_boxes.iter().any(|b| {
            let iw = ((a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0])).max(0.0);
            let ih = ((a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1])).max(0.0);
            let inter = iw * ih;
            let union = a[2] * a[3] + b[2] * b[3] - inter;
            union > 0.0 && inter / union > iou
        });
        if !overlaps {
            kept_boxes.push(a);
            kept.push(det);
        }
    }
    kept
}

/// The share of box `a` that lies inside box `b` (x, y, w, h).
pub fn covered(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = ((a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0])).max(0.0);
    let ih = ((a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1])).max(0.0);
    let area = a[2] * a[3];
    if area > 0.0 { iw * ih / area } else { 0.0 }
}

/// Start offsets of tiles of `tile` pixels covering `len` with at least `overlap` shared.
pub fn tile_starts(len: u32, tile: u32, overlap: u32) -> Vec<u32> {
    if len <= tile {
        return vec![0];
    }
    let n = (len - overlap).div_ceil(tile - overlap);
    (0..n)
        .map(|i| ((u64::from(i) * u64::from(len - tile)) / u64::from(n - 1)) as u32)
        .collect()
}

/// The YuNet detector and its thresholds.
pub struct Detector {
    session: Session,
    score_threshold: f32,
    nms_threshold: f32,
    top_k: usize,
    tiled_pass: bool,
}

impl Detector {
    pub fn new(session: Session, settings: &FaceSettings) -> Self {
        Self {
            session,
            score_threshold: settings.score_threshold,
            nms_threshold: settings.nms_threshold,
            top_k: settings.top_k,
            tiled_pass: settings.tiled_pass,
        }
    }

    /// Turns the tiled second pass on or off (it is on by default for large photos).
    pub fn set_tiled_pass(&mut self, on: bool) {
        self.tiled_pass = on;
    }

    /// Runs YuNet on one region of `photo`, returning NMS'd candidates in the region's pixels.
    fn run(
        &mut self,
        photo: &Photo,
        x0: u32,
        y0: u32,
        width: u32,
        height: u32,
    ) -> Result<Vec<Detection>, FaceError> {
        let (input, pw, ph) = to_input(photo, x0, y0, width, height);
        let tensor = TensorRef::from_array_view(([1usize, 3, ph, pw], input.as_slice()))
            .map_err(|e| FaceError::Inference(format!("YuNet input: {e}")))?;
        let outputs = self
            .session
            .run(ort::inputs!["input" => tensor])
            .map_err(|e| FaceError::Inference(format!("YuNet: {e}")))?;
        let head = |name: String| -> Result<&[f32], FaceError> {
            let value = outputs
                .get(&name)
                .ok_or_else(|| FaceError::Inference(format!("YuNet has no output {name}")))?;
            value
                .try_extract_tensor::<f32>()
                .map(|(_, data)| data)
                .map_err(|e| FaceError::Inference(format!("YuNet output {name}: {e}")))
        };
        let level = |kind: &str| -> Result<[&[f32]; 3], FaceError> {
            Ok([
                head(format!("{kind}_8"))?,
                head(format!("{kind}_16"))?,
                head(format!("{kind}_32"))?,
            ])
        };
        let heads = Heads {
            cls: level("cls")?,
            obj: level("obj")?,
            bbox: level("bbox")?,
            kps: level("kps")?,
        };
        let candidates = decode_heads(&heads, pw, ph, self.score_threshold)?;
        Ok(nms(
            candidates,
            self.score_threshold,
            self.nms_threshold,
            self.top_k,
        ))
    }

    /// All faces in `photo`, best first, in photo coordinates.
    pub fn detect(&mut self, photo: &Photo) -> Result<Vec<Detection>, FaceError> {
        let long = photo.width.max(photo.height);
        let scale = (INPUT_SIDE as f32 / long as f32).min(1.0);
        let fit = |v: u32, s: f32| ((v as f32 * s).round() as u32).max(1);
        // Rounding the size makes the two axes' scales differ slightly: map each by its own.
        let scales = |copy: &Photo| {
            (
                copy.width as f32 / photo.width as f32,
                copy.height as f32 / photo.height as f32,
            )
        };
        let small = resize(photo, fit(photo.width, scale), fit(photo.height, scale));
        let first: Vec<Detection> = self
            .run(&small, 0, 0, small.width, small.height)?
            .iter()
            .map(|d| d.mapped(scales(&small), 0.0, 0.0))
            .collect();
        if !self.tiled_pass || long <= TILED_MIN_SIDE {
            return Ok(first);
        }
        // Second pass: twice the first pass's resolution (at most native), cut in tiles.
        let fine_scale = (2.0 * scale).min(1.0);
        let fine = resize(
            photo,
            fit(photo.width, fine_scale),
            fit(photo.height, fine_scale),
        );
        let mut all = first.clone();
        for &ty in &tile_starts(fine.height, INPUT_SIDE, TILE_OVERLAP) {
            for &tx in &tile_starts(fine.width, INPUT_SIDE, TILE_OVERLAP) {
                let (tw, th) = (
                    INPUT_SIDE.min(fine.width - tx),
                    INPUT_SIDE.min(fine.height - ty),
                );
                for det in self.run(&fine, tx, ty, tw, th)? {
                    // A face cut by an inner tile edge is whole in a neighbour tile or in the first pass.
                    let [x, y, w, h] = det.bbox;
                    let cut = (tx > 0 && x < 2.0)
                        || (ty > 0 && y < 2.0)
                        || (tx + tw < fine.width && x + w > tw as f32 - 2.0)
                        || (ty + th < fine.height && y + h > th as f32 - 2.0);
                    let det = det.mapped(scales(&fine), tx as f32, ty as f32);
                    // A part of a big face (an eye and a cheek) can pass for a face at tile scale.
                    let part_of_bigger = first
                        .iter()
                        .any(|f| f.bbox[2] > det.bbox[2] && covered(&det.bbox, &f.bbox) > 0.5);
                    if !cut && !part_of_bigger {
                        all.push(det);
                    }
                }
            }
        }
        Ok(nms(
            all,
            self.score_threshold,
            self.nms_threshold,
            self.top_k,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, y: f32, w: f32, h: f32, score: f32) -> Detection {
        Detection {
            bbox: [x, y, w, h],
            landmarks: [[0.0; 2]; 5],
            score,
        }
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes() {
        let kept = nms(
            vec![
                det(0.0, 0.0, 10.0, 10.0, 0.85),
                det(1.0, 1.0, 10.0, 10.0, 0.95),
                det(50.0, 50.0, 10.0, 10.0, 0.9),
            ],
            0.8,
            0.3,
            100,
        );
        let scores: Vec<f32> = kept.iter().map(|d| d.score).collect();
        assert_eq!(scores, vec![0.95, 0.9]);
        // Strictly above the threshold, like OpenCV.
        assert!(nms(vec![det(0.0, 0.0, 5.0, 5.0, 0.8)], 0.8, 0.3, 10).is_empty());
    }

    #[test]
    fn decode_places_an_anchor() {
        // A 32×32 input: 16 anchors at stride 8, 4 at 16, 1 at 32; one hit at stride 8, row 1, col 2.
        let (n8, n16, n32) = (16, 4, 1);
        let mut cls8 = vec![0.0; n8];
        cls8[6] = 1.0;
        let obj8 = cls8.clone();
        let mut bbox8 = vec![0.0; 4 * n8];
        bbox8[24..28].copy_from_slice(&[0.5, 0.5, 0.0, 0.0]);
        let zeros = |n: usize| vec![0.0f32; n];
        let (z16, z32, b16, b32, k8, k16, k32) = (
            zeros(n16),
            zeros(n32),
            zeros(4 * n16),
            zeros(4 * n32),
            zeros(10 * n8),
            zeros(10 * n16),
            zeros(10 * n32),
        );
        let heads = Heads {
            cls: [&cls8, &z16, &z32],
            obj: [&obj8, &z16, &z32],
            bbox: [&bbox8, &b16, &b32],
            kps: [&k8, &k16, &k32],
        };
        let found = decode_heads(&heads, 32, 32, 0.5).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].bbox, [16.0, 8.0, 8.0, 8.0]);
        assert_eq!(found[0].landmarks[0], [16.0, 8.0]);
        let short = Heads {
            cls: [&cls8[..3], &z16, &z32],
            ..heads
        };
        assert!(decode_heads(&short, 32, 32, 0.5).is_err());
    }

    #[test]
    fn covered_is_the_inside_share() {
        assert_eq!(
            covered(&[0.0, 0.0, 10.0, 10.0], &[5.0, 0.0, 100.0, 100.0]),
            0.5
        );
        assert_eq!(
            covered(&[0.0, 0.0, 10.0, 10.0], &[20.0, 20.0, 5.0, 5.0]),
            0.0
        );
    }

    #[test]
    fn tiles_cover_with_overlap() {
        assert_eq!(tile_starts(500, 640, 128), vec![0]);
        let starts = tile_starts(1200, 640, 128);
        assert_eq!(*starts.first().unwrap(), 0);
        assert_eq!(*starts.last().unwrap(), 1200 - 640);
        for pair in starts.windows(2) {
            assert!(pair[0] + 640 >= pair[1] + 128, "{starts:?}");
        }
    }

    #[test]
    fn resize_equals_its_reference() {
        let mut seed = 0x1234_5678u32;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for (w, h, dw, dh) in [
            (97, 61, 40, 25),
            (50, 80, 49, 79),
            (33, 20, 70, 45),
            (640, 480, 211, 160),
            (3, 2, 1, 1),
        ] {
            let rgb: Vec<u8> = (0..w * h * 3).map(|_| next() as u8).collect();
            let photo = Photo::from_rgb(w, h, rgb).unwrap();
            assert_eq!(
                resize(&photo, dw, dh),
                resize_reference(&photo, dw, dh),
                "{w}×{h} → {dw}×{dh}"
            );
        }
    }

    #[test]
    fn resize_matches_a_direct_bilinear_sample() {
        let rgb: Vec<u8> = (0..5 * 4 * 3).map(|i| (i * 37 % 251) as u8).collect();
        let photo = Photo::from_rgb(5, 4, rgb).unwrap();
        let same = resize(&photo, 5, 4);
        assert_eq!(same, photo);
        let half = resize(&photo, 2, 2);
        // Downscale by 2.5 × 2: dst (0,0) samples src (0.75, 0.5).
        let p = |x: u32, y: u32| f32::from(photo.pixel(x, y)[0]);
        let top = p(0, 0) + (p(1, 0) - p(0, 0)) * 0.75;
        let bottom = p(0, 1) + (p(1, 1) - p(0, 1)) * 0.75;
        assert_eq!(
            half.pixel(0, 0)[0],
            (top + (bottom - top) * 0.5).round() as u8
        );
    }
}
