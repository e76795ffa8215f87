//! Frame times of the window. A library of FACES faces (a thumbnail file for
//! each) is scrolled through its face grid by the mouse wheel, every frame laid
//! out and tessellated as eframe does before handing it to the GPU; and the
//! time to the first frame, which never waits for the library to open.
//!
//! `cargo bench --bench ui -- [FACES] [FRAMES] [WHEEL_POINTS_PER_FRAME]`
//! (default 100000 600 120). `--library DIR`: time the first frame and the
//! opening of an existing data dir instead. `--make-library N DIR`: write a
//! data dir of N photos with one face each (seeded random unit embeddings,
//! no thumbnails) for `--library`.
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Event, Modifiers, MouseWheelSource, MouseWheelUnit, RawInput, Rect, TouchPhase};
use facefind::library::thumbs::{FACE_SIDE, Thumbs};
use facefind::ui::FacefindApp;

const SCREEN: [f32; 2] = [1280.0, 800.0];

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if let Some(at) = args.iter().position(|a| a == "--make-library") {
        let n = args.get(at + 1).and_then(|n| n.parse().ok());
        let dir = args.get(at + 2);
        let (Some(n), Some(dir)) = (n, dir) else {
            panic!("--make-library N DIR");
        };
        return make_library(n, Path::new(dir));
    }
    if let Some(at) = args.iter().position(|a| a == "--library") {
        let dir = args.get(at + 1).expect("--library DIR").clone();
        return open_existing(Path::new(&dir));
    }
    let number = |i: usize, default: usize| {
        args.get(i)
            .map_or(default, |a| a.parse().expect("FACES FRAMES WHEEL: numbers"))
    };
    let (faces, frames, wheel) = (number(0, 100_000), number(1, 600), number(2, 120));
    let dir = tempfile::tempdir().expect("a temporary data dir");
    thumbnails(dir.path(), faces);
    let ctx = egui::Context::default();
    let started = Instant::now();
    let mut app = FacefindApp::new(dir.path().to_owned());
    let first = frame(&ctx, &mut app, 0, Vec::new());
    let first_at = started.elapsed();
    let mut n = 1;
    while app.state.library.is_none() || app.state.busy.is_some() {
        frame(&ctx, &mut app, n, Vec::new());
        n += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    // The library is the empty one the worker opened; give it FACES faces.
    app.state.face_ids = Arc::new((1..=faces as i64).collect());
    if let Some(library) = app.state.library.as_mut() {
        library.folders.push(dir.path().to_owned());
        library.counts.faces = faces as u64;
    }
    let grid_at = egui::pos2(SCREEN[0] * 0.6, SCREEN[1] * 0.5);
    let mut times = Vec::with_capacity(frames);
    for i in 0..frames {
        let events = vec![
            Event::PointerMoved(grid_at),
            Event::MouseWheel {
                unit: MouseWheelUnit::Point,
                delta: egui::vec2(0.0, -(wheel as f32)),
                phase: TouchPhase::Move,
                source: MouseWheelSource::Unknown,
                modifiers: Modifiers::NONE,
            },
        ];
        times.push(frame(&ctx, &mut app, n + i, events));
    }
    let loaded = app.thumbs_loaded();
    times.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let pick = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    println!(
        "| faces | frames | wheel pt/frame | first frame ms | frame mean ms | p50 | p95 | p99 | max | fps at p99 | textures loaded |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    println!(
        "| {faces} | {frames} | {wheel} | {:.1} (pass {:.1}) | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} | {loaded} |",
        ms(first_at),
        ms(first),
        ms(mean),
        ms(pick(0.5)),
        ms(pick(0.95)),
        ms(pick(0.99)),
        ms(*times.last().expect("at least one frame")),
        1e3 / ms(pick(0.99)),
    );
}

/// Sixteen 128² JPEGs, hard-linked in turn at the cache path of every face
/// (a file takes at most some 65k links).
fn thumbnails(data_dir: &Path, faces: usize) {
    let cache = Thumbs::new(data_dir);
    let sources: Vec<_> = (0..16u32)
        .map(|k| {
            let source = data_dir.join(format!("face{k}.jpg"));
            image::RgbImage::from_fn(FACE_SIDE, FACE_SIDE, |x, y| {
                image::Rgb([(x * 2) as u8, (y * 2) as u8, (k * 16) as u8])
            })
            .save(&source)
            .expect("writing a thumbnail");
            source
        })
        .collect();
    for id in 1..=faces as i64 {
        let path = cache.face_path(id);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("thumbnail folder");
        std::fs::hard_link(&sources[id as usize % sources.len()], &path)
            .expect("linking a thumbnail");
    }
}

/// Runs one frame as eframe would (pass, then tessellation) and returns its time.
fn frame(ctx: &egui::Context, app: &mut FacefindApp, n: usize, events: Vec<Event>) -> Duration {
    let input = RawInput {
        screen_rect: Some(Rect::from_min_size(egui::Pos2::ZERO, SCREEN.into())),
        time: Some(n as f64 / 60.0),
        predicted_dt: 1.0 / 60.0,
        events,
        ..RawInput::default()
    };
    let start = Instant::now();
    let mut output = ctx.run_ui(input, |ui| app.frame(ui));
    // No GPU here: the texture uploads a renderer would make are dropped.
    output.textures_delta.clear();
    let primitives = ctx.tessellate(output.shapes, output.pixels_per_point);
    std::hint::black_box(primitives);
    start.elapsed()
}

/// The first frame on an existing library, and how long the worker takes to open it.
fn open_existing(dir: &Path) {
    let ctx = egui::Context::default();
    let started = Instant::now();
    let mut app = FacefindApp::new(dir.to_owned());
    let pass = frame(&ctx, &mut app, 0, Vec::new());
    let first_at = started.elapsed();
    let mut n = 1;
    let mut slowest = Duration::ZERO;
    while app.state.library.is_none() || app.state.busy.is_some() {
        slowest = slowest.max(frame(&ctx, &mut app, n, Vec::new()));
        n += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    let open_at = started.elapsed();
    let faces = app.state.face_ids.len();
    println!(
        "| library | faces | first frame ms | slowest frame while opening ms | library shown after s |"
    );
    println!("| --- | ---: | ---: | ---: | ---: |");
    println!(
        "| {} | {faces} | {:.1} (pass {:.1}) | {:.1} | {:.2} |",
        dir.display(),
        first_at.as_secs_f64() * 1e3,
        pass.as_secs_f64() * 1e3,
        slowest.as_secs_f64() * 1e3,
        open_at.as_secs_f64()
    );
}

/// A data dir of `n` photos (that need not exist) with one face each.
fn make_library(n: usize, dir: &Path) {
    use facefind::library::catalog::{Catalog, FaceRow, FileFacts, PhotoInfo};
    std::fs::create_dir_all(dir).expect("creating the data dir");
    let mut catalog = Catalog::open(&dir.join("catalog.sqlite")).expect("the catalog");
    let photos = dir.join("photos");
    let folder = catalog.add_folder(&photos).expect("adding the folder");
    let mut rng = facefind::compute::rng::Rng::new(8);
    let started = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(10_000) {
        catalog
            .write(|tx| {
                for &i in chunk {
                    let facts = FileFacts {
                        path: photos.join(format!("{i:07}.jpg")),
                        size: 1,
                        mtime_ns: 0,
                        hash: (i as u128).to_le_bytes(),
                    };
                    let id = tx.insert_photo(folder, &facts)?;
                    let mut embedding: Vec<f32> = (0..128).map(|_| rng.normal()).collect();
                    let norm = embedding.iter().map(|v| v * v).sum::<f32>().sqrt();
                    embedding.iter_mut().for_each(|v| *v /= norm);
                    let face = FaceRow {
                        bbox: [10.0, 10.0, 100.0, 100.0],
                        landmarks: [[50.0, 50.0]; 5],
                        score: 0.9,
                        quality: 0.8,
                        embedding,
                    };
                    let info = PhotoInfo {
                        width: 200,
                        height: 200,
                        taken_at: None,
                    };
                    tx.finish_photo(id, &info, &[face])?;
                }
                Ok(())
            })
            .expect("writing photos");
    }
    println!(
        "{n} photos with one face each in {} ({:.1} s)",
        dir.display(),
        started.elapsed().as_secs_f64()
    );
}
