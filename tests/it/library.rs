//! The catalog and the scan, on real files in a temporary folder.
use std::fs;
use std::path::Path;

use facefind::index::JobControl;
use facefind::library::catalog::{Catalog, FaceRow, PhotoInfo};
use facefind::library::scan::{ScanReport, scan};

fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

fn rescan(catalog: &mut Catalog) -> ScanReport {
    scan(catalog, &JobControl::default()).unwrap()
}

fn a_face() -> FaceRow {
    FaceRow {
        bbox: [1.0, 2.0, 30.0, 40.0],
        landmarks: [[5.0, 6.0]; 5],
        score: 0.9,
        quality: 0.8,
        embedding: vec![0.6, 0.8],
    }
}

/// A library of three photos, scanned once, with one face on each.
fn library() -> (tempfile::TempDir, Catalog) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("a.jpg"), b"photo a");
    write(&root.join("trip/b.PNG"), b"photo b");
    write(&root.join("trip/c.webp"), b"photo c");
    let mut catalog = Catalog::open(&root.join("catalog.sqlite")).unwrap();
    catalog.add_folder(root).unwrap();
    let report = rescan(&mut catalog);
    assert_eq!(report.new.len(), 3, "{report:?}");
    catalog
        .write(|tx| {
            for id in &report.new {
                tx.finish_photo(
                    *id,
                    &PhotoInfo {
                        width: 10,
                        height: 10,
                        taken_at: None,
                    },
                    &[a_face()],
                )?;
            }
            Ok(())
        })
        .unwrap();
    (dir, catalog)
}

#[test]
fn rescan_of_an_unchanged_library_changes_nothing() {
    let (_dir, mut catalog) = library();
    let report = rescan(&mut catalog);
    assert_eq!(report.unchanged, 3);
    assert!(report.new.is_empty() && report.changed.is_empty() && report.deleted.is_empty());
    assert_eq!(catalog.counts().unwrap().faces, 3);
}

#[test]
fn skips_hidden_system_and_non_photo_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join(".hidden.jpg"), b"x");
    write(&root.join(".cache/inside.jpg"), b"x");
    write(&root.join("@eaDir/thumb.jpg"), b"x");
    write(&root.join("notes.txt"), b"x");
    write(&root.join("real.JPEG"), b"x");
    let mut catalog = Catalog::in_memory().unwrap();
    catalog.add_folder(root).unwrap();
    let report = rescan(&mut catalog);
    assert_eq!(report.new.len(), 1);
    assert_eq!(
        catalog.photo(report.new[0]).unwrap().unwrap().path,
        root.join("real.JPEG")
    );
}

#[test]
fn a_touched_photo_keeps_its_faces() {
    let (dir, mut catalog) = library();
    let path = dir.path().join("a.jpg");
    let file = fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(
        std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000),
    )
    .unwrap();
    let report = rescan(&mut catalog);
    assert_eq!((report.touched, report.unchanged), (1, 2));
    assert!(report.removed_faces.is_empty());
    assert_eq!(rescan(&mut catalog).unchanged, 3);
}

#[test]
fn a_changed_photo_loses_its_faces_and_is_pending_again() {
    let (dir, mut catalog) = library();
    let path = dir.path().join("trip/b.PNG");
    let before = catalog
        .photos_with_status(facefind::library::catalog::PhotoStatus::Indexed)
        .unwrap();
    let b = before.iter().find(|p| p.path == path).unwrap();
    let old_faces = catalog.face_ids_of_photo(b.id).unwrap();
    write(&path, b"photo b, edited and longer");
    let report = rescan(&mut catalog);
    assert_eq!(report.changed, vec![b.id]);
    assert_eq!(report.removed_faces, old_faces);
    assert!(catalog.face_ids_of_photo(b.id).unwrap().is_empty());
    let pending = catalog
        .photos_with_status(facefind::library::catalog::PhotoStatus::Pending)
        .unwrap();
    assert_eq!(pending.iter().map(|p| p.id).collect::<Vec<_>>(), vec![b.id]);
}

#[test]
fn moved_and_renamed_photos_keep_their_ids_and_faces() {
    let (dir, mut catalog) = library();
    let root = dir.path();
    let ids_before: Vec<_> = catalog
        .photos_in_folder(1)
        .unwrap()
        .into_iter()
        .map(|p| (p.id, p.path))
        .collect();
    fs::rename(root.join("a.jpg"), root.join("renamed.jpg")).unwrap();
    fs::create_dir_all(root.join("elsewhere/deep")).unwrap();
    fs::rename(root.join("trip/c.webp"), root.join("elsewhere/deep/c.webp")).unwrap();
    let report = rescan(&mut catalog);
    assert_eq!(report.moved.len(), 2, "{report:?}");
    assert!(report.new.is_empty() && report.deleted.is_empty() && report.removed_faces.is_empty());
    let a_id = ids_before
        .iter()
        .find(|(_, p)| p.ends_with("a.jpg"))
        .unwrap()
        .0;
    assert_eq!(
        catalog.photo(a_id).unwrap().unwrap().path,
        root.join("renamed.jpg")
    );
    assert_eq!(catalog.face_ids_of_photo(a_id).unwrap().len(), 1);
}

#[test]
fn a_deleted_photo_takes_its_faces_out() {
    let (dir, mut catalog) = library();
    fs::remove_file(dir.path().join("a.jpg")).unwrap();
    let report = rescan(&mut catalog);
    assert_eq!(report.deleted.len(), 1);
    assert_eq!(report.removed_faces.len(), 1);
    assert_eq!(catalog.counts().unwrap().photos, 2);
    assert_eq!(catalog.counts().unwrap().faces, 2);
}

#[test]
fn a_missing_library_folder_is_reported_and_its_photos_kept() {
    let (dir, mut catalog) = library();
    let gone = dir.path().join("unplugged-drive");
    write(&gone.join("x.jpg"), b"photo x");
    catalog.add_folder(&gone).unwrap();
    assert_eq!(rescan(&mut catalog).new.len(), 1);
    fs::remove_dir_all(&gone).unwrap();
    let report = rescan(&mut catalog);
    assert!(report.deleted.is_empty(), "{report:?}");
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.path == gone && p.reason.contains("cannot read folder"))
    );
    assert_eq!(catalog.counts().unwrap().photos, 4);
}

#[test]
fn symlink_loops_end() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("sub/p.jpg"), b"p");
    std::os::unix::fs::symlink(root, root.join("sub/loop")).unwrap();
    std::os::unix::fs::symlink(root.join("nowhere"), root.join("dangling.jpg")).unwrap();
    let mut catalog = Catalog::in_memory().unwrap();
    catalog.add_folder(root).unwrap();
    let report = rescan(&mut catalog);
    assert_eq!(report.new.len(), 1);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.path.ends_with("dangling.jpg"))
    );
}

#[test]
fn a_cancelled_scan_stops_and_the_next_one_finishes_the_work() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..20 {
        write(
            &dir.path().join(format!("{i}.jpg")),
            format!("photo {i}").as_bytes(),
        );
    }
    let mut catalog = Catalog::in_memory().unwrap();
    catalog.add_folder(dir.path()).unwrap();
    let ctl = JobControl::default();
    ctl.stop();
    assert!(scan(&mut catalog, &ctl).is_err());
    assert_eq!(rescan(&mut catalog).new.len(), 20);
}

#[test]
fn a_catalog_of_a_newer_schema_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.sqlite");
    drop(Catalog::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = Catalog::open(&path).err().unwrap().to_string();
    assert!(
        err.contains("catalog.sqlite") && err.contains("99"),
        "{err}"
    );
}

#[test]
fn a_second_writer_is_refused_with_the_holders_pid_until_the_first_lets_go() {
    use facefind::library::lock::WriterLock;
    let dir = tempfile::tempdir().unwrap();
    let first = WriterLock::acquire(dir.path()).unwrap();
    let err = WriterLock::acquire(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains(&std::process::id().to_string()) && err.contains("read-only"),
        "{err}"
    );
    drop(first);
    WriterLock::acquire(dir.path()).unwrap();
}

#[test]
fn a_paused_job_waits_until_resumed_or_stopped() {
    use std::time::Duration;
    let ctl = JobControl::default();
    ctl.pause();
    let waiter = {
        let ctl = ctl.clone();
        std::thread::spawn(move || ctl.wait_while_paused())
    };
    std::thread::sleep(Duration::from_millis(50));
    assert!(!waiter.is_finished(), "a paused job waits");
    ctl.resume();
    waiter.join().unwrap();
    ctl.pause();
    let waiter = {
        let ctl = ctl.clone();
        std::thread::spawn(move || ctl.wait_while_paused())
    };
    ctl.stop();
    waiter.join().unwrap();
    assert!(ctl.is_paused() && ctl.should_stop());
}

#[test]
fn a_lost_thumbnail_is_made_again_from_its_photo() {
    use facefind::library::thumbs::{FACE_SIDE, PHOTO_SIDE, Thumbs};
    let data = tempfile::tempdir().unwrap();
    let thumbs = Thumbs::new(data.path());
    let limits = facefind::faces::Limits::from_settings(&Default::default());
    let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/obama.jpg");
    let made = thumbs.ensure_photo(7, &photo, limits).unwrap();
    assert_eq!(made, thumbs.photo_path(7));
    let (w, h) = image::image_dimensions(&made).unwrap();
    assert_eq!(w.max(h), PHOTO_SIDE);
    let face = thumbs
        .ensure_face(11, [300.0, 200.0, 150.0, 180.0], &photo, limits)
        .unwrap();
    assert_eq!(
        image::image_dimensions(&face).unwrap(),
        (FACE_SIDE, FACE_SIDE)
    );
    // Present: kept as it is, the photo not read again.
    fs::write(&face, b"kept").unwrap();
    let missing = Path::new("/nonexistent/photo.jpg");
    thumbs.ensure_face(11, [0.0; 4], missing, limits).unwrap();
    assert_eq!(fs::read(&face).unwrap(), b"kept");
    // Missing, with its photo gone too: an error naming the photo.
    let err = thumbs.ensure_photo(8, missing, limits).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/photo.jpg"), "{err}");
}

#[test]
fn a_photo_deleted_between_scan_and_decode_is_recorded_and_the_job_goes_on() {
    use facefind::jobs::indexing::index_pending;
    use facefind::library::Library;
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    fs::create_dir_all(&photos).unwrap();
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    for name in ["obama.jpg", "biden.jpg"] {
        fs::copy(assets.join(name), photos.join(name)).unwrap();
    }
    let ctl = JobControl::default();
    let (mut library, _) = Library::open_writer(&dir.path().join("data"), &ctl).unwrap();
    library.catalog.add_folder(&photos).unwrap();
    assert_eq!(rescan(&mut library.catalog).new.len(), 2);
    fs::remove_file(photos.join("biden.jpg")).unwrap();

    let progress =
        index_pending(&mut library, &mut crate::faces::pipeline(), &ctl, |_| {}).unwrap();
    assert_eq!((progress.done, progress.failed), (2, 1), "{progress:?}");
    let skipped = library.catalog.skipped().unwrap();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    let (path, reason) = &skipped[0];
    assert!(
        path.ends_with("biden.jpg") && reason.contains("biden.jpg"),
        "{reason}"
    );
    assert!(reason.contains("No such file"), "{reason}");
    assert!(
        library.catalog.counts().unwrap().faces >= 1,
        "the other photo was indexed"
    );
    // The next scan sees the file gone: the photo leaves the catalog.
    assert_eq!(rescan(&mut library.catalog).deleted.len(), 1);
    assert!(library.catalog.skipped().unwrap().is_empty());
}
