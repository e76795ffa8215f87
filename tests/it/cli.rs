//! The library commands end to end, through the real binary, on real photos:
//! `facefind index`, `status` and `search`, re-runs after adding, moving and
//! deleting photos, bad files, a second writer, and a run killed mid-way.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn facefind(data: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_facefind"));
    cmd.arg("--data-dir")
        .arg(data)
        .args(args)
        .env("FACEFIND_BACKEND", "cpu");
    cmd
}

fn run(data: &Path, args: &[&str]) -> Output {
    let out = facefind(data, args).output().expect("running facefind");
    assert!(
        out.status.success(),
        "facefind {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(data: &Path, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    serde_json::from_slice(&run(data, &args).stdout).expect("JSON on stdout")
}

/// The sample photos of `assets/`, copied where the test may change them.
fn sample_library() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    std::fs::create_dir_all(photos.join("family")).unwrap();
    for name in ["obama.jpg", "obama2.jpg", "obama_partial_face.jpg"] {
        std::fs::copy(root().join("assets").join(name), photos.join(name)).unwrap();
    }
    std::fs::copy(
        root().join("assets/biden.jpg"),
        photos.join("family/biden.jpg"),
    )
    .unwrap();
    let data = dir.path().join("data");
    (dir, photos, data)
}

fn walk_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        walk_files(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn result_paths(answer: &Value) -> Vec<String> {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_owned())
        .collect()
}

fn search(data: &Path, photo: &Path) -> Value {
    json(
        data,
        &["search", photo.to_str().unwrap(), "--min-sim", "0.4"],
    )
}

#[test]
fn index_then_search_finds_the_same_person_and_follows_changes() {
    let (_dir, photos, data) = sample_library();
    let first = json(&data, &["index", photos.to_str().unwrap()]);
    assert_eq!(first["scan"]["new"], 4, "{first}");
    assert_eq!(first["indexing"]["done"], 4);
    assert!(first["indexing"]["faces"].as_u64().unwrap() >= 4);
    // Thumbnails are made once, while indexing: one per photo, one per face.
    let count = |kind: &str| walk_files(&data.join("thumbs").join(kind));
    assert_eq!(count("photos"), 4);
    assert_eq!(
        count("faces") as u64,
        first["indexing"]["faces"].as_u64().unwrap()
    );

    let query = root().join("assets/obama2.jpg");
    let answer = search(&data, &query);
    assert_eq!(answer["query"]["chosen"], 0);
    let paths = result_paths(&answer);
    assert!(paths[0].ends_with("obama2.jpg"), "{paths:?}");
    assert!(paths.iter().any(|p| p.ends_with("/obama.jpg")), "{paths:?}");
    assert!(
        !paths.iter().any(|p| p.ends_with("biden.jpg")),
        "Biden is not Obama: {answer}"
    );
    let top = &answer["results"][0];
    assert!(
        top["similarity"].as_f64().unwrap() > 0.99 && top["box"].as_array().unwrap().len() == 4
    );

    // Nothing changed: nothing is done again.
    let again = json(&data, &["index", photos.to_str().unwrap()]);
    assert_eq!(
        (
            again["scan"]["unchanged"].as_u64(),
            again["indexing"]["done"].as_u64()
        ),
        (Some(4), Some(0))
    );

    // Move one photo, delete another: the moved one keeps its faces, the deleted one leaves the results.
    std::fs::rename(
        photos.join("obama.jpg"),
        photos.join("family/obama-moved.jpg"),
    )
    .unwrap();
    std::fs::remove_file(photos.join("obama2.jpg")).unwrap();
    let changed = json(&data, &["index", photos.to_str().unwrap()]);
    assert_eq!(
        (
            changed["scan"]["moved"].as_u64(),
            changed["scan"]["deleted"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        changed["indexing"]["done"], 0,
        "a moved photo is not indexed again"
    );
    let paths = result_paths(&search(&data, &query));
    assert!(paths[0].ends_with("family/obama-moved.jpg"), "{paths:?}");
    assert!(
        !paths.iter().any(|p| p.ends_with("/obama2.jpg")),
        "{paths:?}"
    );

    let status = json(&data, &["status"]);
    assert_eq!(status["counts"]["photos"], 3);
    assert_eq!(status["index"]["vectors"], status["counts"]["faces"]);
}

#[test]
fn bad_files_are_recorded_with_the_reason_and_the_job_goes_on() {
    let (_dir, photos, data) = sample_library();
    std::fs::write(photos.join("empty.jpg"), b"").unwrap();
    std::fs::write(photos.join("notes.png"), b"this is not a picture").unwrap();
    let jpeg = std::fs::read(root().join("assets/obama.jpg")).unwrap();
    std::fs::write(photos.join("truncated.jpg"), &jpeg[..jpeg.len() / 3]).unwrap();
    let summary = json(&data, &["index", photos.to_str().unwrap()]);
    assert_eq!(summary["indexing"]["done"], 7, "{summary}");
    let status = json(&data, &["status"]);
    let skipped: Vec<(String, String)> = status["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["path"].as_str().unwrap().to_owned(),
                s["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for name in ["empty.jpg", "notes.png"] {
        let (_, reason) = skipped
            .iter()
            .find(|(p, _)| p.ends_with(name))
            .unwrap_or_else(|| panic!("{name}: {skipped:?}"));
        assert!(
            reason.contains(name) && reason.len() > name.len() + 10,
            "{name}: {reason}"
        );
    }
    assert_eq!(
        status["counts"]["indexed"].as_u64().unwrap()
            + status["counts"]["errors"].as_u64().unwrap(),
        7
    );
    assert!(
        status["counts"]["faces"].as_u64().unwrap() >= 4,
        "the good photos were indexed: {status}"
    );
}

#[test]
fn a_second_writer_is_refused_while_readers_still_work() {
    let (_dir, photos, data) = sample_library();
    run(&data, &["index", photos.to_str().unwrap()]);
    let _held = facefind::library::lock::WriterLock::acquire(&data).unwrap();
    let out = facefind(&data, &["index", photos.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another facefind process"), "{err}");
    assert_eq!(json(&data, &["status"])["counts"]["photos"], 4);
}

/// The first `n` photos of LFW (in `../shared`), linked into a folder of their own.
fn lfw_sample(n: usize, into: &Path) -> Option<usize> {
    let lfw = root().join("../shared/data/faces/lfw");
    let labels = std::fs::read_to_string(lfw.join("labels.csv"))
        .ok()
        .or_else(|| {
            eprintln!("skipped: {} is absent", lfw.display());
            None
        })?;
    std::fs::create_dir_all(into).unwrap();
    let mut linked = 0;
    for line in labels.lines().skip(1).take(n) {
        let rel = line.split(',').next().unwrap();
        let name = rel.replace('/', "_");
        std::os::unix::fs::symlink(lfw.join(rel), into.join(name)).unwrap();
        linked += 1;
    }
    Some(linked)
}

#[test]
fn a_run_killed_mid_way_resumes_without_losing_or_repeating_work() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    let Some(total) = lfw_sample(120, &photos) else {
        return;
    };
    let data = dir.path().join("data");
    let photos_arg = photos.to_str().unwrap();
    let mut child = facefind(&data, &["index", photos_arg]).spawn().unwrap();
    // Kill it once some batches have committed, well before the end.
    let catalog = data.join("catalog.sqlite");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let done = catalog
            .exists()
            .then(|| {
                let conn = rusqlite::Connection::open(&catalog).ok()?;
                conn.query_row(
                    "SELECT count(*) FROM photos WHERE status != 'pending'",
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .ok()
            })
            .flatten()
            .unwrap_or(0);
        if done >= 16 || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let resumed = json(&data, &["index", photos_arg]);
    let finished_before = total as u64 - resumed["indexing"]["done"].as_u64().unwrap();
    assert!(
        finished_before >= 16,
        "the killed run's committed batches were kept: {resumed}"
    );

    // The same photos indexed in one go give exactly the same faces.
    let clean = dir.path().join("clean");
    json(&clean, &["index", photos_arg]);
    let (a, b) = (json(&data, &["status"]), json(&clean, &["status"]));
    assert_eq!(a["counts"], b["counts"]);
    assert_eq!(a["index"]["vectors"], a["counts"]["faces"]);
    assert_eq!(a["counts"]["indexed"].as_u64().unwrap(), total as u64);
}
