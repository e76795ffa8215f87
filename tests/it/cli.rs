//! The library commands end to end, through the real binary, on real photos:
//! `facefind index`, `status` and `search`, re-runs after adding, moving and
//! deleting photos, bad files, a second writer, and a run killed mid-way.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn facefind(data: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_facefind"));
    cmd.arg("--data-dir")
        .arg(data)
        .args(args)
        .env("FACEFIND_BACKEND", "cpu");
    cmd
}

pub fn run(data: &Path, args: &[&str]) -> Output {
    let out = facefind(data, args).output().expect("running facefind");
    assert!(
        out.status.success(),
        "facefind {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn json(data: &Path, args: &[&str]) -> Value {
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
    // 3 GiB of holes: refused by size before it is read.
    let huge = std::fs::File::create(photos.join("huge.jpg")).unwrap();
    huge.set_len(3 << 30).unwrap();
    let summary = json(&data, &["index", photos.to_str().unwrap()]);
    assert_eq!(summary["indexing"]["done"], 8, "{summary}");
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
    for name in ["empty.jpg", "notes.png", "huge.jpg"] {
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
        8
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
    // The killed run's record counts exactly what its committed batches did.
    let killed = json(&data, &["status"]);
    let run = &killed["last_run"];
    assert!(run["outcome"].is_null(), "{run}");
    assert_eq!(
        run["photos_done"].as_u64().unwrap(),
        killed["counts"]["indexed"].as_u64().unwrap()
            + killed["counts"]["errors"].as_u64().unwrap()
    );
    assert_eq!(run["faces_found"], killed["counts"]["faces"]);
    let resumed = json(&data, &["index", photos_arg]);
    assert_eq!(json(&data, &["status"])["last_run"]["outcome"], "completed");
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

/// Runs `script` with `sh` as root of new user and mount namespaces
/// (`unshare -rm`): there a tmpfs of a chosen size can be mounted, and a
/// folder whose owner is not mapped cannot be read, even by root. None, with
/// the reason printed, where the system allows no such namespaces.
fn in_namespaces(script: &str, vars: &[(&str, &Path)]) -> Option<Output> {
    let probe = Command::new("unshare").args(["-rm", "true"]).output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: `unshare -rm` is not allowed here ({probe:?})");
        return None;
    }
    let mut cmd = Command::new("unshare");
    cmd.args(["-rm", "sh", "-c", script])
        .env("BIN", env!("CARGO_BIN_EXE_facefind"))
        .env("FACEFIND_BACKEND", "cpu");
    for (name, path) in vars {
        cmd.env(name, path);
    }
    Some(cmd.output().expect("running unshare"))
}

#[test]
fn a_full_disk_stops_the_job_with_the_reason_and_the_next_run_finishes_it() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    let Some(total) = lfw_sample(60, &photos) else {
        return;
    };
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    // The data dir is a 512 KiB tmpfs: the catalog and a few batches fit, the
    // thumbnails of 60 photos do not. Then it grows, and indexing resumes.
    let script = r#"
        mount -t tmpfs -o size=512k facefind-test "$DATA" || exit 90
        "$BIN" --data-dir "$DATA" index "$PHOTOS" >"$OUT/full.out" 2>"$OUT/full.err"
        echo $? >"$OUT/full.rc"
        "$BIN" --data-dir "$DATA" status --json >"$OUT/full-status.json" 2>&1
        mount -o remount,size=64m "$DATA" || exit 91
        "$BIN" --data-dir "$DATA" index --json "$PHOTOS" >"$OUT/resumed.json" 2>"$OUT/resumed.err" || exit 92
        "$BIN" --data-dir "$DATA" status --json >"$OUT/status.json" || exit 93
    "#;
    let Some(ran) = in_namespaces(
        script,
        &[("DATA", &data), ("PHOTOS", &photos), ("OUT", &out)],
    ) else {
        return;
    };
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap_or_default();
    assert!(
        ran.status.success(),
        "{ran:?}\n{}\n{}",
        read("full.err"),
        read("resumed.err")
    );
    assert_ne!(read("full.rc").trim(), "0", "the full disk was noticed");
    let err = read("full.err");
    assert!(
        err.contains("No space left on device") || err.contains("disk is full"),
        "the reason is given: {err}"
    );
    assert!(
        err.lines().count() == 1 && err.matches("os error 28").count() <= 1,
        "said once, on one line: {err}"
    );
    let full: Value =
        serde_json::from_str(&read("full-status.json")).expect("status works on a full disk");
    let resumed: Value = serde_json::from_str(&read("resumed.json")).unwrap();
    let before = full["counts"]["indexed"].as_u64().unwrap();
    assert!(
        before > 0,
        "some batches committed before the disk filled: {full}"
    );
    assert_eq!(
        before + resumed["indexing"]["done"].as_u64().unwrap(),
        total as u64
    );
    let status: Value = serde_json::from_str(&read("status.json")).unwrap();
    assert_eq!(status["counts"]["indexed"].as_u64().unwrap(), total as u64);
    assert_eq!(
        status["skipped"].as_array().unwrap().len(),
        0,
        "a full disk is not a bad photo"
    );
    assert_eq!(status["index"]["vectors"], status["counts"]["faces"]);
    assert_eq!(status["last_run"]["outcome"], "completed");
}

#[test]
fn an_unreadable_folder_is_reported_and_its_photos_kept() {
    let (_dir, photos, data) = sample_library();
    run(&data, &["index", photos.to_str().unwrap()]);
    // Owned by a user the namespace does not map, and closed to others.
    let family = photos.join("family");
    std::os::unix::fs::chown(&family, Some(54321), Some(54321)).unwrap();
    std::fs::set_permissions(&family, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let script = r#""$BIN" --data-dir "$DATA" index --json "$PHOTOS""#;
    let Some(out) = in_namespaces(script, &[("DATA", &data), ("PHOTOS", &photos)]) else {
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems = summary["scan"]["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p["path"].as_str().unwrap().ends_with("family")
                && p["reason"].as_str().unwrap().contains("ermission")),
        "{summary}"
    );
    assert_eq!(summary["scan"]["deleted"], 0, "{summary}");
    assert_eq!(json(&data, &["status"])["counts"]["photos"], 4);
}
