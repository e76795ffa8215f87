//! Faces: agreement with OpenCV's YuNet + SFace (committed golden file), every kind of bad
//! input on real files, EXIF orientation, and verification accuracy on LFW.
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use crate::cli::root;
use facefind::compute::rng::Rng;
use facefind::config::Config;
use facefind::faces::decode::{Limits, decode_file};
use facefind::faces::{Face, FaceError, FacePipeline};

/// The labelled photos in `../shared`, or None (with the reason printed) where they are absent.
fn shared_faces(set: &str) -> Option<PathBuf> {
    let dir = root().join("../shared/data/faces").join(set);
    if dir.join("labels.csv").is_file() {
        Some(dir)
    } else {
        eprintln!("skipped: {} is absent", dir.display());
        None
    }
}

/// One pipeline for the whole test binary (loading the models takes a while); tests take turns.
pub fn pipeline() -> MutexGuard<'static, FacePipeline> {
    static PIPELINE: OnceLock<Mutex<FacePipeline>> = OnceLock::new();
    let mut config = Config::default();
    config.faces.intra_threads = 2;
    PIPELINE
        .get_or_init(|| {
            Mutex::new(FacePipeline::new(&config).expect("the face pipeline (run scripts/setup)"))
        })
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn asset(name: &str) -> PathBuf {
    root().join("assets").join(name)
}

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/faces").join(name)
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = ((a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0])).max(0.0);
    let ih = ((a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1])).max(0.0);
    iw * ih / (a[2] * a[3] + b[2] * b[3] - iw * ih)
}

fn faces_of(path: &Path, tiled: bool) -> Result<Vec<Face>, FaceError> {
    let mut p = pipeline();
    p.set_tiled_pass(tiled);
    let result = p.process_file(path);
    p.set_tiled_pass(true);
    result
}

#[test]
fn golden_agrees_with_opencv() {
    let golden: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("golden.json")).unwrap()).unwrap();
    let lfw = shared_faces("lfw");
    let mut checked = 0;
    for photo in golden["photos"].as_array().unwrap() {
        let name = photo["photo"].as_str().unwrap();
        let path = match name.strip_prefix("lfw:") {
            Some(rel) => match &lfw {
                Some(dir) => dir.join(rel),
                None => continue,
            },
            None => root().join(name),
        };
        let faces = faces_of(&path, false).unwrap();
        let want = photo["faces"].as_array().unwrap();
        assert_eq!(faces.len(), want.len(), "{name}: face count");
        for (got, want) in faces.iter().zip(want) {
            let num = |v: &serde_json::Value| v.as_f64().unwrap() as f32;
            for (g, w) in got.bbox.iter().zip(want["box"].as_array().unwrap()) {
                assert!(
                    (g - num(w)).abs() <= 1.0,
                    "{name}: box {:?} vs {}",
                    got.bbox,
                    want["box"]
                );
            }
            for (g, w) in got
                .landmarks
                .iter()
                .zip(want["landmarks"].as_array().unwrap())
            {
                let w = w.as_array().unwrap();
                assert!(
                    (g[0] - num(&w[0])).abs() <= 1.0 && (g[1] - num(&w[1])).abs() <= 1.0,
                    "{name}: landmark {g:?} vs {w:?}"
                );
            }
            assert!(
                (got.score - num(&want["score"])).abs() < 0.01,
                "{name}: score {}",
                got.score
            );
            let embedding: Vec<f32> = want["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(num)
                .collect();
            let cos = cosine(&got.embedding, &embedding);
            assert!(cos >= 0.999, "{name}: cosine {cos} with OpenCV's embedding");
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} faces compared");
}

/// Where a test writes the files it makes (removed when dropped).
fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn save(dir: &Path, name: &str, image: &image::DynamicImage) -> PathBuf {
    let path = dir.join(name);
    image.save(&path).unwrap();
    path
}

fn upright() -> image::DynamicImage {
    image::open(fixture("upright.jpg")).unwrap()
}

/// A per-file error that names the file and says why (never a panic).
fn assert_refused(path: &Path, why: &str) {
    let err = pipeline().process_file(path).unwrap_err().to_string();
    assert!(
        err.contains(&path.display().to_string()) && err.contains(why),
        "{}: {err}",
        path.display()
    );
}

fn assert_one_face(path: &Path) -> Face {
    let faces = faces_of(path, true).unwrap();
    assert_eq!(faces.len(), 1, "{}", path.display());
    faces.into_iter().next().unwrap()
}

#[test]
fn zero_byte_non_image_and_directory_are_refused() {
    let dir = scratch();
    let empty = dir.path().join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    assert_refused(&empty, "empty file");
    let text = dir.path().join("notes.jpg");
    std::fs::write(&text, "these are not the pixels you are looking for\n").unwrap();
    assert_refused(&text, "not an image");
    assert_refused(dir.path(), "not a regular file");
    assert_refused(&dir.path().join("missing.jpg"), "No such file");
}

#[test]
fn truncated_files_give_a_result_not_a_crash() {
    let dir = scratch();
    let bytes = std::fs::read(asset("obama.jpg")).unwrap();
    let jpeg = dir.path().join("truncated.jpg");
    std::fs::write(&jpeg, &bytes[..bytes.len() * 2 / 5]).unwrap();
    // The JPEG decoder is lenient: the missing rows come out grey, the top of the photo still counts.
    match pipeline().process_file(&jpeg) {
        Ok(faces) => assert!(faces.len() <= 1),
        Err(err) => assert!(err.to_string().contains("truncated.jpg"), "{err}"),
    }
    let png_bytes = std::fs::read(save(dir.path(), "whole.png", &upright())).unwrap();
    let png = dir.path().join("truncated.png");
    std::fs::write(&png, &png_bytes[..png_bytes.len() / 2]).unwrap();
    assert_refused(&png, "Png");
    let header_only = dir.path().join("header.jpg");
    std::fs::write(&header_only, &bytes[..200]).unwrap();
    assert_refused(&header_only, "Jpeg");
}

/// A small PNG that declares `width`×`height` pixels: a decompression bomb's header and the
/// start of its image data (the decoder must refuse it before inflating anything).
fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let chunk = |out: &mut Vec<u8>, kind: &[u8], data: &[u8]| {
        let body = [kind, data].concat();
        out.extend((data.len() as u32).to_be_bytes());
        out.extend(&body);
        out.extend(crc32fast::hash(&body).to_be_bytes());
    };
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    // zlib header and a deflate block of zeros, as a bomb's (much longer) stream starts.
    chunk(
        &mut out,
        b"IDAT",
        &[
            0x78, 0x9c, 0xed, 0xc1, 0x01, 0x0d, 0x00, 0x00, 0x00, 0xc2, 0xa0,
        ],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

#[test]
fn huge_photos_are_refused_before_decoding() {
    let dir = scratch();
    let bomb = dir.path().join("bomb.png");
    std::fs::write(&bomb, png_bomb(60_000, 60_000)).unwrap();
    assert_refused(&bomb, "60000×60000 is over the limit");
    let limits = Limits {
        max_file_bytes: 1000,
        max_pixels: 1 << 30,
    };
    let err = decode_file(&asset("obama.jpg"), limits)
        .unwrap_err()
        .to_string();
    assert!(err.contains("over the limit of 1000 bytes"), "{err}");
}

#[test]
fn animated_gif_uses_its_first_frame() {
    use image::codecs::gif::GifEncoder;
    let dir = scratch();
    let path = dir.path().join("animated.gif");
    let first = upright().to_rgba8();
    let blank = image::RgbaImage::new(first.width(), first.height());
    let mut encoder = GifEncoder::new(std::fs::File::create(&path).unwrap());
    encoder
        .encode_frames([image::Frame::new(first), image::Frame::new(blank)])
        .unwrap();
    drop(encoder);
    assert_one_face(&path);
}

#[test]
fn gray_16_bit_and_cmyk_photos_are_read() {
    let dir = scratch();
    let reference = assert_one_face(&fixture("upright.jpg"));
    let gray = save(
        dir.path(),
        "gray.png",
        &image::DynamicImage::ImageLuma8(upright().to_luma8()),
    );
    let deep = save(
        dir.path(),
        "deep.png",
        &image::DynamicImage::ImageRgb16(upright().to_rgb16()),
    );
    let gray16 = save(
        dir.path(),
        "gray16.png",
        &image::DynamicImage::ImageLuma16(upright().to_luma16()),
    );
    for path in [gray, deep, gray16, fixture("cmyk.jpg")] {
        let face = assert_one_face(&path);
        let overlap = iou(&face.bbox, &reference.bbox);
        assert!(
            overlap > 0.8,
            "{}: box {:?} vs {:?}",
            path.display(),
            face.bbox,
            reference.bbox
        );
        let cos = cosine(&face.embedding, &reference.embedding);
        assert!(
            cos > 0.9,
            "{}: cosine {cos} with the colour photo",
            path.display()
        );
    }
}

#[test]
fn exif_orientation_is_applied_before_detection() {
    let turned = decode_file(&fixture("exif_rotated.jpg"), pipeline().limits()).unwrap();
    let straight = decode_file(&fixture("upright.jpg"), pipeline().limits()).unwrap();
    assert_eq!(
        (turned.width, turned.height),
        (straight.width, straight.height)
    );
    let mean_diff = turned
        .rgb
        .iter()
        .zip(&straight.rgb)
        .map(|(a, b)| f64::from(a.abs_diff(*b)))
        .sum::<f64>()
        / turned.rgb.len() as f64;
    assert!(
        mean_diff < 4.0,
        "the turned photo differs from the upright one by {mean_diff} a channel"
    );
    let face = assert_one_face(&fixture("exif_rotated.jpg"));
    let reference = assert_one_face(&fixture("upright.jpg"));
    assert!(
        (face.bbox[1] - reference.bbox[1]).abs() < 3.0,
        "{:?} vs {:?}",
        face.bbox,
        reference.bbox
    );
}

#[test]
fn no_face_and_cut_faces_give_clear_results() {
    let dir = scratch();
    // The bottom of the photo: suit and tie, no face.
    let photo = upright();
    let body = photo.crop_imm(
        0,
        photo.height() * 3 / 5,
        photo.width(),
        photo.height() * 2 / 5,
    );
    assert!(
        faces_of(&save(dir.path(), "body.png", &body), true)
            .unwrap()
            .is_empty()
    );
    // A face cut by the border (the project's sample photo, and half a face made from it).
    let partial = faces_of(&asset("obama_partial_face.jpg"), true).unwrap();
    assert_eq!(partial.len(), 1);
    let reference = assert_one_face(&fixture("upright.jpg"));
    let cut_at = (reference.bbox[0] + reference.bbox[2] * 0.6) as u32;
    let half = photo.crop_imm(cut_at, 0, photo.width() - cut_at, photo.height());
    for face in partial
        .iter()
        .chain(&faces_of(&save(dir.path(), "half.png", &half), true).unwrap())
    {
        assert!(
            face.bbox
                .iter()
                .chain(face.landmarks.as_flattened())
                .all(|v| v.is_finite())
        );
        let norm = face.embedding.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4 && (0.0..=1.0).contains(&face.quality));
    }
}

/// Accuracy at the best threshold over balanced same/different scores, and that threshold.
fn best_accuracy(same: &[f32], different: &[f32]) -> (f64, f32) {
    let mut all: Vec<(f32, bool)> = same
        .iter()
        .map(|&s| (s, true))
        .chain(different.iter().map(|&s| (s, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Threshold just above all[i]: everything at or below is "different".
    let mut correct = different.len(); // threshold below everything: all called "same"
    let (mut best, mut at) = (correct, f32::NEG_INFINITY);
    for (score, is_same) in &all {
        if *is_same {
            correct -= 1;
        } else {
            correct += 1;
        }
        if correct > best {
            (best, at) = (correct, *score);
        }
    }
    (best as f64 / all.len() as f64, at)
}

#[test]
fn lfw_verification_accuracy() {
    let Some(lfw) = shared_faces("lfw") else {
        return;
    };
    let labels = std::fs::read_to_string(lfw.join("labels.csv")).unwrap();
    let mut people: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for line in labels.lines().skip(1) {
        let (path, person) = line.split_once(',').unwrap();
        people.entry(person).or_default().push(path);
    }
    let mut rng = Rng::new(0x5eed_face);
    let mut names: Vec<&str> = people
        .iter()
        .filter(|(_, p)| p.len() >= 2)
        .map(|(n, _)| *n)
        .collect();
    rng.shuffle(&mut names);
    // 200 people, 3 photos each: 600 same-person pairs, ~180,000 different-person pairs.
    let mut photos: Vec<(usize, PathBuf)> = Vec::new();
    for (id, name) in names.iter().take(200).enumerate() {
        let mut theirs = people[name].clone();
        rng.shuffle(&mut theirs);
        photos.extend(theirs.iter().take(3).map(|p| (id, lfw.join(p))));
    }
    let mut embedded: Vec<(usize, [f32; 128])> = Vec::new();
    let mut pipeline = pipeline();
    for (id, path) in &photos {
        let faces = pipeline.process_file(path).unwrap();
        // The labelled person is the central face.
        let centre = |f: &Face| {
            (f.bbox[0] + f.bbox[2] / 2.0 - 125.0).powi(2)
                + (f.bbox[1] + f.bbox[3] / 2.0 - 125.0).powi(2)
        };
        if let Some(face) = faces.iter().min_by(|a, b| centre(a).total_cmp(&centre(b))) {
            embedded.push((*id, face.embedding));
        }
    }
    drop(pipeline);
    let found = embedded.len() as f64 / photos.len() as f64;
    let (mut same, mut different) = (Vec::new(), Vec::new());
    for i in 0..embedded.len() {
        for j in i + 1..embedded.len() {
            let score = cosine(&embedded[i].1, &embedded[j].1);
            if embedded[i].0 == embedded[j].0 {
                same.push(score)
            } else {
                different.push(score)
            }
        }
    }
    // Balanced set for accuracy: every same pair and as many seeded different pairs.
    let balanced: Vec<f32> = (0..same.len())
        .map(|_| different[rng.below(different.len())])
        .collect();
    let (accuracy, threshold) = best_accuracy(&same, &balanced);
    different.sort_by(|a, b| b.total_cmp(a));
    let far_threshold = different[different.len() / 1000];
    let tar = same.iter().filter(|&&s| s > far_threshold).count() as f64 / same.len() as f64;
    eprintln!(
        "LFW: {} photos of 200 people, faces found {:.2}%, {} same / {} different pairs; \
         accuracy {:.2}% at cosine {threshold:.3}; TAR {:.2}% at FAR 1e-3 (cosine {far_threshold:.3})",
        photos.len(),
        100.0 * found,
        same.len(),
        different.len(),
        100.0 * accuracy,
        100.0 * tar
    );
    assert!(
        found >= 0.99,
        "faces found in only {:.2}% of LFW photos",
        100.0 * found
    );
    assert!(
        accuracy >= 0.99,
        "LFW verification accuracy {:.2}%",
        100.0 * accuracy
    );
    assert!(tar >= 0.97, "LFW TAR at FAR 1e-3 {:.2}%", 100.0 * tar);
}

#[test]
fn best_accuracy_finds_the_separating_threshold() {
    let (acc, at) = best_accuracy(&[0.9, 0.8, 0.7], &[0.1, 0.2, 0.75]);
    assert_eq!((acc, at), (5.0 / 6.0, 0.2));
    let (acc, _) = best_accuracy(&[0.9, 0.8], &[0.1, 0.2]);
    assert_eq!(acc, 1.0);
}

fn facefind_cli(args: &[&std::ffi::OsStr], ort: Option<&Path>) -> std::process::Output {
    let data = scratch();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_facefind"));
    command.args(args).env("FACEFIND_DATA_DIR", data.path());
    if let Some(lib) = ort {
        command.env("ORT_DYLIB_PATH", lib);
    }
    command.output().unwrap()
}

#[test]
fn faces_command_prints_json_and_writes_crops() {
    let dir = scratch();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "no pixels here").unwrap();
    let crops = dir.path().join("crops");
    let photo = asset("obama.jpg");
    let args = [
        "faces".as_ref(),
        "--json".as_ref(),
        "--embedding".as_ref(),
        "--crops".as_ref(),
        crops.as_os_str(),
        photo.as_os_str(),
        text.as_os_str(),
    ];
    let out = facefind_cli(&args, None);
    assert!(
        !out.status.success(),
        "one photo could not be read: the exit status says so"
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["path"], photo.display().to_string());
    let face = &lines[0]["faces"][0];
    assert_eq!(lines[0]["faces"].as_array().unwrap().len(), 1);
    assert_eq!(face["box"].as_array().unwrap().len(), 4);
    assert_eq!(face["landmarks"].as_array().unwrap().len(), 5);
    assert_eq!(face["embedding"].as_array().unwrap().len(), 128);
    assert!(face["score"].as_f64().unwrap() > 0.8 && face["quality"].as_f64().is_some());
    assert!(lines[0].get("error").is_none());
    assert!(
        lines[1]["error"].as_str().unwrap().contains("not an image"),
        "{}",
        lines[1]
    );
    assert_eq!(std::fs::read_dir(&crops).unwrap().count(), 1);
    let crop = image::open(
        std::fs::read_dir(&crops)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path(),
    )
    .unwrap();
    assert_eq!((crop.width(), crop.height()), (112, 112));
}

#[test]
fn a_missing_or_wrong_runtime_is_one_clear_line() {
    let dir = scratch();
    let not_a_library = dir.path().join("libonnxruntime.so.1.31.1");
    std::fs::write(&not_a_library, "not a shared object").unwrap();
    // A real shared object that is not ONNX Runtime stands in for a wrong build.
    let libc = Path::new("/lib/x86_64-linux-gnu/libc.so.6");
    let mut libraries = vec![dir.path().join("absent.so"), not_a_library];
    if libc.is_file() {
        libraries.push(libc.to_path_buf());
    }
    for lib in &libraries {
        let out = facefind_cli(
            &["faces".as_ref(), asset("obama.jpg").as_os_str()],
            Some(lib),
        );
        assert!(!out.status.success());
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("ONNX Runtime")
                && stderr.contains("scripts/setup")
                && !stderr.contains("panicked"),
            "{stderr}"
        );
        assert!(stderr.contains(&lib.display().to_string()), "{stderr}");
    }
}
