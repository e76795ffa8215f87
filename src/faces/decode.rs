//! Reading photos: format sniffing, limits against decompression bombs, EXIF orientation,
//! and conversion of every supported layout (grayscale, 16-bit, CMYK JPEG, alpha) to 8-bit RGB.
use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageDecoder, ImageReader};

use super::FaceError;

/// An upright 8-bit RGB photo, rows top to bottom, 3 bytes a pixel.
#[derive(Clone, Debug, PartialEq)]
pub struct Photo {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl Photo {
    /// Wraps RGB bytes; refuses a buffer whose length does not match the size.
    pub fn from_rgb(width: u32, height: u32, rgb: Vec<u8>) -> Result<Self, FaceError> {
        if rgb.len() as u64 != u64::from(width) * u64::from(height) * 3 || width == 0 || height == 0
        {
            return Err(FaceError::Input(format!(
                "{} RGB bytes do not make a {width}×{height} photo",
                rgb.len()
            )));
        }
        Ok(Self { width, height, rgb })
    }

    /// The pixel at (x, y) as [r, g, b]; the caller keeps x, y in range.
    #[inline]
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }
}

/// What a photo may cost before it is decoded.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_file_bytes: u64,
    pub max_pixels: u64,
}

impl Limits {
    pub fn from_settings(settings: &crate::config::FaceSettings) -> Self {
        Self {
            max_file_bytes: settings.max_file_bytes,
            max_pixels: settings.max_pixels,
        }
    }
}

/// Reads and decodes a photo file (JPEG, PNG, WebP, TIFF, BMP, GIF: first frame), upright.
pub fn decode_file(path: &Path, limits: Limits) -> Result<Photo, FaceError> {
    let bytes = read_limited(path, limits)?;
    decode_bytes(&bytes, limits).map_err(|reason| bad_file(path, reason))
}

/// [`decode_file`], plus the capture time its EXIF block records, if any.
pub fn decode_file_dated(
    path: &Path,
    limits: Limits,
) -> Result<(Photo, Option<String>), FaceError> {
    let bytes = read_limited(path, limits)?;
    let photo = decode_bytes(&bytes, limits).map_err(|reason| bad_file(path, reason))?;
    Ok((photo, capture_time(&bytes)))
}

fn bad_file(path: &Path, reason: String) -> FaceError {
    FaceError::Decode {
        path: path.to_path_buf(),
        reason,
    }
}

/// A photo file's bytes, refused before reading when over the size limit.
fn read_limited(path: &Path, limits: Limits) -> Result<Vec<u8>, FaceError> {
    let io = |source| FaceError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(bad_file(path, "not a regular file".into()));
    }
    if meta.len() > limits.max_file_bytes {
        return Err(bad_file(
            path,
            format!(
                "{} bytes is over the limit of {} bytes",
                meta.len(),
                limits.max_file_bytes
            ),
        ));
    }
    std::fs::read(path).map_err(io)
}

/// The capture time (`YYYY:MM:DD HH:MM:SS`) of a photo's EXIF block: DateTimeOriginal, else
/// DateTimeDigitized, else the file's DateTime. None where there is no EXIF or no valid time.
pub fn capture_time(bytes: &[u8]) -> Option<String> {
    let mut decoder = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?
        .into_decoder()
        .ok()?;
    let raw = decoder.exif_metadata().ok()??;
    exif_datetime(raw.strip_prefix(b"Exif\0\0").unwrap_or(&raw))
}

/// Reads the time tags of a TIFF-structured EXIF block, every offset checked against its length.
fn exif_datetime(tiff: &[u8]) -> Option<String> {
    let little = match tiff.get(..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b: [u8; 2] = tiff.get(at..at + 2)?.try_into().ok()?;
        Some(if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |at: usize| -> Option<usize> {
        let b: [u8; 4] = tiff.get(at..at + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        } as usize)
    };
    // The 12-byte entry of `tag` in the directory at `ifd`.
    let entry = |ifd: usize, tag: u16| -> Option<usize> {
        let count = usize::from(u16_at(ifd)?);
        (0..count)
            .map(|i| ifd + 2 + 12 * i)
            .find(|&at| u16_at(at) == Some(tag))
    };
    let ascii = |at: usize| -> Option<String> {
        let (kind, count) = (u16_at(at + 2)?, u32_at(at + 4)?);
        if kind != 2 || count < 19 {
            return None;
        }
        let start = u32_at(at + 8)?;
        let text = std::str::from_utf8(tiff.get(start..start + 19)?).ok()?;
        let shape_ok = text.char_indices().all(|(i, c)| match i {
            4 | 7 => c == ':',
            10 => c == ' ',
            13 | 16 => c == ':',
            _ => c.is_ascii_digit(),
        });
        (shape_ok && !text.starts_with("0000")).then(|| text.to_owned())
    };
    let ifd0 = u32_at(4)?;
    let exif_ifd = entry(ifd0, 0x8769).and_then(|at| u32_at(at + 8));
    let in_exif = |tag| exif_ifd.and_then(|ifd| entry(ifd, tag)).and_then(ascii);
    in_exif(0x9003)
        .or_else(|| in_exif(0x9004))
        .or_else(|| entry(ifd0, 0x0132).and_then(ascii))
}

/// Decodes an in-memory photo; the error is a reason without a path.
pub fn decode_bytes(bytes: &[u8], limits: Limits) -> Result<Photo, String> {
    if bytes.is_empty() {
        return Err("empty file (0 bytes)".into());
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let Some(format) = reader.format() else {
        return Err("not an image (unknown format)".into());
    };
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| format!("{format:?}: {e}"))?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels {
        return Err(format!(
            "{width}×{height} is over the limit of {} pixels",
            limits.max_pixels
        ));
    }
    if pixels == 0 {
        return Err(format!(
            "{format:?}: the image has no pixels ({width}×{height})"
        ));
    }
    let mut image_limits = image::Limits::default();
    // Room for the widest layout (16-bit RGBA) plus decoder scratch.
    image_limits.max_alloc = Some(limits.max_pixels.saturating_mul(16));
    decoder
        .set_limits(image_limits)
        .map_err(|e| e.to_string())?;
    // A broken EXIF block is no reason to lose the photo: it is then taken as upright.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| format!("{format:?}: {e}"))?;
    image.apply_orientation(orientation);
    let rgb = match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        // 16-bit and float channels are scaled to 8 bits, gray is replicated, alpha is dropped.
        other => other.to_rgb8(),
    };
    let (width, height) = rgb.dimensions();
    Ok(Photo {
        width,
        height,
        rgb: rgb.into_raw(),
    })
}

/// Decodes `paths` in order on a background thread, at most `depth` photos ahead, so that
/// decoding the next photo overlaps the inference on this one. Stops when dropped.
pub fn decode_ahead(
    paths: Vec<PathBuf>,
    limits: Limits,
    depth: usize,
) -> impl Iterator<Item = (PathBuf, Result<Photo, FaceError>)> {
    let (send, receive) = std::sync::mpsc::sync_channel(depth.max(1));
    let worker = std::thread::Builder::new()
        .name("facefind-decode".into())
        .spawn(move || {
            for path in paths {
                let photo = decode_file(&path, limits);
                if send.send((path, photo)).is_err() {
                    break;
                }
            }
        });
    if let Err(err) = worker {
        // No thread to be had: say so once, as the result of the first photo.
        let (send, fallback) = std::sync::mpsc::sync_channel(1);
        let _ = send.send((
            PathBuf::new(),
            Err(FaceError::Input(format!(
                "cannot start the decode thread: {err}"
            ))),
        ));
        return fallback.into_iter();
    }
    receive.into_iter()
}

/// Writes an RGB image as PNG (for aligned crops).
pub fn write_png(path: &Path, width: u32, height: u32, rgb: &[u8]) -> Result<(), FaceError> {
    write_rgb(path, width, height, rgb, image::ImageFormat::Png)
}

/// Writes 8-bit RGB as a JPEG (thumbnails).
pub fn write_jpeg(path: &Path, width: u32, height: u32, rgb: &[u8]) -> Result<(), FaceError> {
    write_rgb(path, width, height, rgb, image::ImageFormat::Jpeg)
}

fn write_rgb(
    path: &Path,
    width: u32,
    height: u32,
    rgb: &[u8],
    format: image::ImageFormat,
) -> Result<(), FaceError> {
    image::save_buffer_with_format(
        path,
        rgb,
        width,
        height,
        image::ExtendedColorType::Rgb8,
        format,
    )
    .map_err(|e| FaceError::Io {
        path: path.to_path_buf(),
        source: match e {
            image::ImageError::IoError(io) => io,
            other => std::io::Error::other(other),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian TIFF block: IFD0 → Exif IFD → DateTimeOriginal = `time`.
    fn exif_block(time: &str) -> Vec<u8> {
        let mut t = b"II*\0".to_vec();
        t.extend(8u32.to_le_bytes());
        // IFD0 at 8: one entry, the Exif IFD pointer (LONG) to 26.
        t.extend(1u16.to_le_bytes());
        t.extend([0x69, 0x87, 4, 0]);
        t.extend(1u32.to_le_bytes());
        t.extend(26u32.to_le_bytes());
        t.extend(0u32.to_le_bytes());
        // Exif IFD at 26: one entry, DateTimeOriginal (ASCII, 20 bytes at 44).
        t.extend(1u16.to_le_bytes());
        t.extend([0x03, 0x90, 2, 0]);
        t.extend(20u32.to_le_bytes());
        t.extend(44u32.to_le_bytes());
        t.extend(0u32.to_le_bytes());
        t.extend(time.as_bytes());
        t.push(0);
        t
    }

    #[test]
    fn exif_capture_time_is_read_and_checked() {
        assert_eq!(
            exif_datetime(&exif_block("2024:05:06 07:08:09")).as_deref(),
            Some("2024:05:06 07:08:09")
        );
        assert_eq!(exif_datetime(&exif_block("0000:00:00 00:00:00")), None);
        assert_eq!(exif_datetime(&exif_block("not a time at all!!")), None);
        let block = exif_block("2024:05:06 07:08:09");
        for cut in 0..block.len() {
            // Truncated anywhere: no panic, and no time read from outside the block.
            let _ = exif_datetime(&block[..cut]);
        }
        assert_eq!(exif_datetime(&block[..block.len() - 5]), None);
    }

    const LIMITS: Limits = Limits {
        max_file_bytes: 1 << 20,
        max_pixels: 1 << 20,
    };

    fn png(image: DynamicImage) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn gray_and_16_bit_become_rgb() {
        let gray = DynamicImage::ImageLuma8(image::GrayImage::from_pixel(3, 2, image::Luma([77])));
        let photo = decode_bytes(&png(gray), LIMITS).unwrap();
        assert_eq!((photo.width, photo.height), (3, 2));
        assert_eq!(photo.pixel(2, 1), [77, 77, 77]);
        let deep = image::ImageBuffer::<image::Rgb<u16>, _>::from_pixel(
            2,
            2,
            image::Rgb([65535, 0, 32896]),
        );
        let photo = decode_bytes(&png(DynamicImage::ImageRgb16(deep)), LIMITS).unwrap();
        assert_eq!(photo.pixel(0, 0), [255, 0, 128]);
    }

    #[test]
    fn over_the_pixel_limit_is_refused_before_decoding() {
        let big = DynamicImage::ImageLuma8(image::GrayImage::new(2000, 1000));
        let err = decode_bytes(&png(big), LIMITS).unwrap_err();
        assert!(err.contains("2000×1000"), "{err}");
    }

    #[test]
    fn decode_ahead_keeps_the_order_and_the_errors() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("a.png");
        std::fs::write(
            &good,
            png(DynamicImage::ImageLuma8(image::GrayImage::new(4, 3))),
        )
        .unwrap();
        let missing = dir.path().join("b.png");
        let got: Vec<_> =
            decode_ahead(vec![good.clone(), missing.clone(), good.clone()], LIMITS, 1).collect();
        assert_eq!(
            got.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
            vec![good.clone(), missing, good]
        );
        assert!(got[0].1.is_ok() && got[1].1.is_err() && got[2].1.is_ok());
    }

    #[test]
    fn wrong_rgb_length_is_refused() {
        assert!(Photo::from_rgb(2, 2, vec![0; 11]).is_err());
        assert!(Photo::from_rgb(2, 2, vec![0; 12]).is_ok());
    }
}
