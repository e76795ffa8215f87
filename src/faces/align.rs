//! Alignment: a similarity transform (Umeyama, no reflection) from the five landmarks to the
//! ArcFace 112×112 template, a bilinear warp, and the sharpness used in the quality score.
use super::decode::Photo;

/// The recognizer's input side.
pub const CROP_SIDE: usize = 112;
/// Where the five landmarks sit in an aligned 112×112 crop (ArcFace / SFace template).
pub const TEMPLATE: [[f32; 2]; 5] = [
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
];

/// A 2×3 affine matrix mapping photo points to crop points.
pub type Affine = [[f64; 3]; 2];

/// The least-squares similarity (rotation, uniform scale, shift; never a reflection) taking
/// `from` onto `to`. In 2-D, Umeyama's solution with reflection excluded is the complex
/// least-squares fit w = c·z + t, c = Σ conj(z')·w' / Σ|z'|² over centred points.
pub fn similarity(from: &[[f32; 2]; 5], to: &[[f32; 2]; 5]) -> Affine {
    let n = from.len() as f64;
    let mean = |pts: &[[f32; 2]; 5]| {
        let (sx, sy) = pts.iter().fold((0.0, 0.0), |(x, y), p| {
            (x + f64::from(p[0]), y + f64::from(p[1]))
        });
        (sx / n, sy / n)
    };
    let ((fx, fy), (tx, ty)) = (mean(from), mean(to));
    let (mut re, mut im, mut norm) = (0.0, 0.0, 0.0);
    for (p, q) in from.iter().zip(to) {
        let (zx, zy) = (f64::from(p[0]) - fx, f64::from(p[1]) - fy);
        let (wx, wy) = (f64::from(q[0]) - tx, f64::from(q[1]) - ty);
        re += zx * wx + zy * wy;
        im += zx * wy - zy * wx;
        norm += zx * zx + zy * zy;
    }
    if norm == 0.0 {
        // All landmarks on one point: no rotation or scale can be read; centre it unscaled.
        return [[1.0, 0.0, tx - fx], [0.0, 1.0, ty - fy]];
    }
    let (a, b) = (re / norm, im / norm);
    [
        [a, -b, tx - (a * fx - b * fy)],
        [b, a, ty - (b * fx + a * fy)],
    ]
}

/// Warps `photo` into a `side`×`side` RGB crop through `m` (photo → crop), bilinear, black outside.
pub fn warp(photo: &Photo, m: &Affine, side: usize) -> Vec<u8> {
    let [[a, b, c], [d, e, f]] = *m;
    let det = a * e - b * d;
    let mut out = vec![0u8; side * side * 3];
    if det.abs() < 1e-12 {
        return out;
    }
    // The inverse maps crop pixels back to photo pixels.
    let (ia, ib, id, ie) = (e / det, -b / det, -d / det, a / det);
    let (ic, if_) = (-(ia * c + ib * f), -(id * c + ie * f));
    let (w, h) = (i64::from(photo.width), i64::from(photo.height));
    let texel = |x: i64, y: i64, ch: usize| -> f64 {
        if x < 0 || y < 0 || x >= w || y >= h {
            0.0
        } else {
            f64::from(photo.rgb[((y * w + x) * 3) as usize + ch])
        }
    };
    for v in 0..side {
        for u in 0..side {
            let (uf, vf) = (u as f64, v as f64);
            let sx = ia * uf + ib * vf + ic;
            let sy = id * uf + ie * vf + if_;
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as i64, y0 as i64);
            for ch in 0..3 {
                let top = texel(x0, y0, ch) * (1.0 - fx) + texel(x0 + 1, y0, ch) * fx;
                let bottom = texel(x0, y0 + 1, ch) * (1.0 - fx) + texel(x0 + 1, y0 + 1, ch) * fx;
                out[(v * side + u) * 3 + ch] =
                    (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

/// Variance of the 4-neighbour Laplacian of the crop's luma: high when sharp, near 0 when blurred.
pub fn sharpness(crop: &[u8], side: usize) -> f32 {
    let luma = |x: usize, y: usize| {
        let p = &crop[(y * side + x) * 3..];
        0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2])
    };
    let (mut sum, mut sq, mut n) = (0.0, 0.0, 0.0);
    for y in 1..side - 1 {
        for x in 1..side - 1 {
            let lap = luma(x - 1, y) + luma(x + 1, y) + luma(x, y - 1) + luma(x, y + 1)
                - 4.0 * luma(x, y);
            sum += lap;
            sq += lap * lap;
            n += 1.0;
        }
    }
    let mean = sum / n;
    (sq / n - mean * mean) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(m: &Affine, p: [f32; 2]) -> [f64; 2] {
        let (x, y) = (f64::from(p[0]), f64::from(p[1]));
        [
            m[0][0] * x + m[0][1] * y + m[0][2],
            m[1][0] * x + m[1][1] * y + m[1][2],
        ]
    }

    #[test]
    fn similarity_recovers_a_known_transform() {
        // Rotate 30°, scale 1.7, shift (5, -3): the fit must give it back exactly.
        let (s, t) = (1.7f64, 30f64.to_radians());
        let to = TEMPLATE;
        let from = to.map(|[x, y]| {
            let (x, y) = (f64::from(x) - 5.0, f64::from(y) + 3.0);
            let (c, sn) = (t.cos() / s, -t.sin() / s);
            [(c * x - sn * y) as f32, (sn * x + c * y) as f32]
        });
        let m = similarity(&from, &to);
        for (p, q) in from.iter().zip(&to) {
            let got = apply(&m, *p);
            assert!(
                (got[0] - f64::from(q[0])).abs() < 1e-3 && (got[1] - f64::from(q[1])).abs() < 1e-3,
                "{got:?} vs {q:?}"
            );
        }
    }

    #[test]
    fn similarity_never_reflects() {
        let mirrored = TEMPLATE.map(|[x, y]| [112.0 - x, y]);
        let m = similarity(&mirrored, &TEMPLATE);
        let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
        assert!(det > 0.0);
    }

    #[test]
    fn identity_warp_copies_and_sharpness_sees_blur() {
        let side = CROP_SIDE;
        let rgb: Vec<u8> = (0..side * side * 3)
            .map(|i| ((i / 3) % 7 * 36) as u8)
            .collect();
        let photo = Photo::from_rgb(side as u32, side as u32, rgb.clone()).unwrap();
        let crop = warp(&photo, &[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], side);
        assert_eq!(crop, rgb);
        let flat = vec![128u8; side * side * 3];
        assert!(sharpness(&crop, side) > 100.0);
        assert_eq!(sharpness(&flat, side), 0.0);
    }
}
