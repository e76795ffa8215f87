//! The window, headless (egui_kittest), on the real worker, models and
//! sample photos: welcome → the sample photos → indexing finishes → a face
//! opens its photo → the people grid → a person → their photos (boxed) → a
//! path between two of them; a photo dropped on the window → its results →
//! its lookalikes; the lookalike pairs; settings. And the worker alone:
//! queries answer while an indexing job runs, lost thumbnails come back.
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cli::root;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use facefind::compute::select::{BackendChoice, request};
use facefind::jobs::worker::{Command, Edit, Event, LookalikesOf, ThumbKey, WorkerHandle};
use facefind::library::thumbs::Thumbs;
use facefind::ui::FacefindApp;
use facefind::ui::state::View;

fn window(data: &Path) -> Harness<'static, FacefindApp> {
    request(Some(BackendChoice::Cpu)).ok();
    Harness::builder()
        .with_size([1200.0, 800.0])
        .build_ui_state(|ui, app| app.frame(ui), FacefindApp::new(data.to_owned()))
}

/// The last part of a photo's path, as the tiles show it.
fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Runs frames until `done` holds; the worker answers in its own time, so
/// this waits (a generous bound only turns a hang into a failure).
fn frames_until(
    harness: &mut Harness<'static, FacefindApp>,
    what: &str,
    done: impl Fn(&FacefindApp) -> bool,
) {
    let start = Instant::now();
    while !done(harness.state()) {
        let errors = &harness.state().state.errors;
        assert!(errors.is_empty(), "waiting for {what}: {errors:?}");
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "no {what} after 300 s"
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.step();
}

/// A file dropped on the window, as the windowing layer hands it over.
#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

#[test]
fn welcome_samples_index_then_a_face_opens_and_a_drop_searches() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = window(dir.path());
    frames_until(&mut harness, "the library", |app| {
        app.state.library.is_some() && app.state.busy.is_none()
    });
    harness.get_by_label("Try the sample photos").click();
    frames_until(&mut harness, "indexing to finish", |app| {
        let s = &app.state;
        s.busy.is_none()
            && !s.indexing.running
            && !s.face_ids.is_empty()
            && s.library.as_ref().unwrap().counts.indexed == 4
    });
    let progress = harness.state().state.indexing.progress.unwrap();
    assert_eq!((progress.done, progress.total, progress.failed), (4, 4, 0));
    assert!(progress.faces >= 4, "{progress:?}");
    assert_eq!(harness.state().state.view, View::Library);
    harness.get_by_label("Skipped files (0)");
    harness.get_by_label(&format!("{} photos · {} faces", 4, progress.faces));

    // A face of the grid: highlight it, Enter opens its photo with its boxes.
    let first = harness.state().state.face_ids[0];
    harness.get_by_label(&format!("face {first}")).click();
    harness.step();
    harness.key_press(egui::Key::Enter);
    frames_until(&mut harness, "the viewer", |app| app.state.viewer.is_some());
    let viewer = harness.state().state.viewer.as_ref().unwrap();
    let ids: Vec<i64> = viewer.faces.iter().map(|f| f.face_id).collect();
    assert!(ids.contains(&first), "{ids:?}");
    harness.get_by_label("Open in the system viewer");
    harness.key_press(egui::Key::Escape);
    harness.step();
    assert!(harness.state().state.viewer.is_none());

    // Open it again: a face box's menu leads to that face's lookalikes.
    harness.key_press(egui::Key::Enter);
    frames_until(&mut harness, "the viewer again", |app| {
        app.state.viewer.is_some()
    });
    let label = {
        let state = &harness.state().state;
        let face = state.viewer.as_ref().unwrap().faces.iter();
        let face = face.clone().find(|f| f.face_id == first).unwrap();
        match face.person_id {
            Some(_) => state.person_label(face.person_id),
            None => format!("face {first}"),
        }
    };
    // The grid behind has a tile of that name too; the modal's box comes last.
    harness
        .get_all_by_label(&label)
        .last()
        .unwrap()
        .click_secondary();
    harness.run_steps(2);
    harness.get_by_label("Lookalikes of this face").click();
    harness.step();
    assert_eq!(harness.state().state.view, View::Lookalikes);
    assert!(
        harness.state().state.viewer.is_none(),
        "the viewer gives way"
    );
    frames_until(&mut harness, "the face's lookalikes", |app| {
        app.state.lookalikes.of.is_some() && app.state.busy.is_none()
    });
    let (of, _) = harness.state().state.lookalikes.of.as_ref().unwrap();
    assert_eq!(*of, LookalikesOf::Face(first));
    harness.get_by_label(&format!("Like face {first}"));

    // People: the three photos of Obama are one person; Enter opens them.
    harness.get_by_label("People").click();
    harness.step();
    let obama = {
        let people = &harness.state().state.people.all;
        assert!(!people.is_empty(), "{people:?}");
        people.iter().max_by_key(|p| p.faces).unwrap().clone()
    };
    assert!(obama.photos >= 2, "{obama:?}");
    harness
        .get_by_label(&format!("person {} · {} photos", obama.id, obama.photos))
        .click();
    harness.step();
    harness.key_press(egui::Key::Enter);
    frames_until(&mut harness, "the person's photos", |app| {
        app.state.people.person.is_some() && app.state.busy.is_none()
    });
    let person = harness.state().state.people.person.as_ref().unwrap();
    assert_eq!(person.id, obama.id);
    let names: Vec<String> = person
        .photos
        .iter()
        .map(|p| p.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| n.starts_with("obama")), "{names:?}");
    for name in ["obama.jpg", "obama2.jpg"] {
        assert!(names.contains(&name.to_string()), "{names:?}");
    }
    // Each is its whole photo with the face boxed: as wide as the photo, not a square crop.
    let faces: Vec<i64> = person.photos.iter().map(|p| p.face_id).collect();
    frames_until(&mut harness, "the person's photo tiles", |app| {
        faces
            .iter()
            .all(|&f| app.thumb_size(ThumbKey::FaceInPhoto(f)).is_some())
    });
    for &face in &faces {
        let [w, h] = harness
            .state()
            .thumb_size(ThumbKey::FaceInPhoto(face))
            .unwrap();
        assert!(w.max(h) > 128 && w != h, "face {face}: a {w}×{h} tile");
    }

    // A path: "Path from here" on one face, "Path to here" on another → the chain.
    for (tile, action) in [
        ("obama.jpg", "Path from here"),
        ("obama2.jpg", "Path to here"),
    ] {
        harness.get_by_label(tile).click_secondary();
        // The menu opens on the frame after the click.
        harness.run_steps(2);
        harness.get_by_label(action).click();
        harness.step();
    }
    frames_until(&mut harness, "a path", |app| app.state.path.found.is_some());
    let (from, to, chain) = harness.state().state.path.found.as_ref().unwrap();
    let chain = chain.as_ref().expect("two photos of one person are linked");
    assert_eq!(chain.steps.first().unwrap().face.face_id, *from);
    assert_eq!(chain.steps.last().unwrap().face.face_id, *to);
    assert!(chain.bottleneck > 0.3, "{}", chain.bottleneck);
    harness.get_by_label(&format!("Path from face {from} to face {to}"));
    // The strip shows each step's similarity to the one before.
    harness.get_by_label("start");
    for step in &chain.steps[1..] {
        let label = format!("{:.2}", step.similarity);
        assert!(harness.get_all_by_label(&label).next().is_some(), "{label}");
    }
    harness.key_press(egui::Key::Escape);
    harness.step();
    assert!(
        harness.state().state.people.person.is_none(),
        "Esc goes back to the people grid"
    );

    // Dropping a photo anywhere searches with its largest face.
    harness
        .input_mut()
        .dropped_files
        .push(Arc::new(Dropped(root().join("assets/obama.jpg"))));
    frames_until(&mut harness, "search results", |app| {
        !app.state.search.hits.is_empty() && app.state.busy.is_none()
    });
    let app = harness.state();
    assert_eq!(app.state.view, View::Search);
    let shown: Vec<String> = app
        .state
        .visible_hits()
        .iter()
        .map(|h| file_name(&h.face.path))
        .collect();
    assert_eq!(shown[0], "obama.jpg", "{shown:?}");
    assert!(shown.contains(&"obama2.jpg".to_string()), "{shown:?}");
    assert!(!shown.contains(&"biden.jpg".to_string()), "{shown:?}");
    let best = app.state.visible_hits()[0].similarity;
    assert!(best > 0.99, "the photo itself is in the library: {best}");
    harness.get_by_label("face 1");
    harness.get_by_label(&format!("{best:.2}"));

    // The Lookalikes tab: other people than Obama, with their similarity.
    harness.get_by_label("Lookalikes").click();
    frames_until(&mut harness, "the query's lookalikes", |app| {
        let of = app.state.lookalikes.of.as_ref().map(|(of, _)| *of);
        of == Some(LookalikesOf::Query(0)) && app.state.busy.is_none()
    });
    let (of, clones) = harness.state().state.lookalikes.of.as_ref().unwrap();
    assert_eq!(*of, LookalikesOf::Query(0));
    let found: Vec<String> = clones
        .results
        .iter()
        .map(|h| file_name(&h.face.path))
        .collect();
    assert!(found.contains(&"biden.jpg".to_string()), "{found:?}");
    assert!(found.iter().all(|n| n != "obama.jpg"), "{found:?}");
    let first = &clones.results[0];
    harness.get_by_label(&format!("{:.2} · no person", first.similarity));

    // The library-wide pairs, asked for when the view first shows.
    harness.get_by_label("Lookalike pairs").click();
    frames_until(&mut harness, "the closest pairs", |app| {
        app.state.lookalikes.pairs.is_some() && app.state.busy.is_none()
    });
    harness.get_by_label("Closest pairs");

    // Settings: a bad index spec is named in the window and cannot be saved; a good one
    // with a fixed nprobe is saved to settings.json and the library reopens on it.
    harness.get_by_label("Settings").click();
    harness.step();
    harness.get_by_label("CPU").click();
    harness
        .get_by_label("automatic: a quarter of the lists")
        .click();
    harness.step();
    let set_spec = |harness: &mut Harness<'static, FacefindApp>, spec: &str| {
        let draft = harness.state_mut().state.draft.as_mut().unwrap();
        draft.config.index.spec = spec.into();
        harness.run_steps(2);
    };
    set_spec(&mut harness, "IVF,PQ8");
    harness.get_by_label_contains("index.spec");
    set_spec(&mut harness, "IVF4,Flat");
    assert!(harness.query_by_label_contains("index.spec").is_none());
    harness.get_by_label("Save settings").click();
    frames_until(&mut harness, "the settings saved", |app| {
        let info = app.state.library.as_ref().unwrap();
        info.config.index.spec == "IVF4,Flat" && app.state.busy.is_none()
    });
    let saved = facefind::config::Config::load(dir.path()).unwrap();
    assert_eq!(saved.index.spec, "IVF4,Flat");
    assert_eq!(saved.index.nprobe, Some(1));
    assert_eq!(saved.compute.backend, BackendChoice::Cpu);
    // Five faces are too few to train 4 lists: the index stays exact and answers.
    let info = harness.state().state.library.as_ref().unwrap();
    assert!(info.index.starts_with("Flat"), "{}", info.index);
}

const SAMPLES: [&str; 4] = [
    "obama.jpg",
    "obama2.jpg",
    "biden.jpg",
    "obama_partial_face.jpg",
];

/// Drains the worker's events until `pick` takes one; a failure ends the test.
fn wait_for<T>(worker: &WorkerHandle, what: &str, mut pick: impl FnMut(Event) -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        for event in worker.drain() {
            if let Event::Failed { task, message } = &event {
                panic!("waiting for {what}: {task}: {message}");
            }
            if let Some(found) = pick(event) {
                return found;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "no {what} after 300 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn queries_answer_while_indexing_runs_and_lost_thumbnails_come_back() {
    request(Some(BackendChoice::Cpu)).ok();
    let (data, first, second) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let assets = root().join("assets");
    for name in SAMPLES {
        std::fs::copy(assets.join(name), first.path().join(name)).unwrap();
    }
    // Forty copies: a job of several seconds, paused long before it ends.
    for i in 0..40 {
        let name = SAMPLES[i % 4];
        std::fs::copy(assets.join(name), second.path().join(format!("{i}-{name}"))).unwrap();
    }
    let worker = WorkerHandle::spawn(data.path().to_owned(), Arc::new(|| {}));
    worker.send(Command::AddFolder(first.path().to_owned()));
    let mut people = Vec::new();
    wait_for(&worker, "the first indexing job", |e| match e {
        Event::People(all) => {
            people = all;
            None
        }
        Event::Job(None) => Some(()),
        _ => None,
    });
    let obama = people.iter().max_by_key(|p| p.faces).unwrap().clone();

    worker.send(Command::AddFolder(second.path().to_owned()));
    wait_for(&worker, "the second job to start", |e| {
        matches!(e, Event::Job(Some(_))).then_some(())
    });
    worker.job().pause();
    let mut ended = false;
    let mut job_end = |e: &Event| ended |= matches!(e, Event::Job(None));

    // A search by photo, a person's photos and a lost thumbnail, all while the job holds the writer.
    worker.send(Command::SearchPhoto(assets.join("obama.jpg")));
    let hits = wait_for(&worker, "search results", |e| {
        job_end(&e);
        match e {
            Event::Results { hits, .. } => Some(hits),
            _ => None,
        }
    });
    assert!(hits[0].similarity > 0.99, "{:?}", hits[0]);
    assert!(
        hits.iter().all(|h| h.face.path.starts_with(first.path())),
        "the reader answers from the library as the job found it"
    );
    worker.send(Command::Person {
        id: obama.id,
        min_sim: 0.5,
    });
    let person = wait_for(&worker, "the person's photos", |e| {
        job_end(&e);
        match e {
            Event::Person(p) => Some(p),
            _ => None,
        }
    });
    assert_eq!(person.photos.len() as u64, obama.faces, "{person:?}");
    let face = person.photos[0].face_id;
    let thumbs = Thumbs::new(data.path());
    std::fs::remove_file(thumbs.face_path(face)).unwrap();
    worker.request_thumb(ThumbKey::Face(face));
    let picture = wait_for(&worker, "the lost thumbnail", |e| {
        job_end(&e);
        match e {
            Event::Thumb(ThumbKey::Face(f), picture) if f == face => Some(picture),
            _ => None,
        }
    });
    let picture = picture.expect("made again from the photo");
    assert_eq!((picture.width, picture.height), (128, 128));
    assert!(thumbs.face_path(face).exists());
    // An edit needs the writer: it waits for the job.
    worker.send(Command::Edit(Edit::Rename {
        person: obama.id,
        name: "Barack".into(),
    }));
    std::thread::sleep(Duration::from_millis(200));
    let early: Vec<Event> = worker.drain().collect();
    assert!(
        early.iter().all(|e| !matches!(e, Event::People(_))),
        "{early:?}"
    );
    early.iter().for_each(&mut job_end);
    assert!(!ended, "the job ran on while paused");

    worker.job().resume();
    let mut indexed = 0;
    let mut renamed = false;
    wait_for(&worker, "the job's end and then the rename", |e| {
        match &e {
            Event::Library(info) => indexed = info.counts.indexed,
            Event::Job(None) => ended = true,
            Event::People(all) if ended => {
                renamed = all.iter().any(|p| p.name.as_deref() == Some("Barack"))
            }
            _ => {}
        }
        renamed.then_some(())
    });
    assert_eq!(indexed, 44);
}
