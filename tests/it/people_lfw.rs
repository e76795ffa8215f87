//! People on real labelled faces: a seeded subset of LFW is indexed with
//! `facefind index` (which clusters it), then scored with the measures of
//! `facefind bench people`. Skipped, with the reason, where `../shared` is absent.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use facefind::bench::people::{Labelled, score};
use facefind::compute::rng::Rng;
use facefind::index::JobControl;
use facefind::jobs::people::SUGGEST_SIM;
use facefind::library::Library;

fn lfw() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/faces/lfw");
    if dir.join("labels.csv").exists() {
        Some(dir)
    } else {
        println!("skipped: {} is absent", dir.display());
        None
    }
}

/// `people` people with 4–12 photos and `singles` people with one, by a fixed seed.
fn subset(lfw: &Path, people: usize, singles: usize) -> BTreeMap<String, Vec<String>> {
    let labels = std::fs::read_to_string(lfw.join("labels.csv")).unwrap();
    let mut by_person: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in labels.lines().skip(1) {
        let (path, person) = line.split_once(',').unwrap();
        by_person
            .entry(person.to_owned())
            .or_default()
            .push(path.to_owned());
    }
    let mut many: Vec<&String> = by_person
        .iter()
        .filter(|(_, p)| (4..=12).contains(&p.len()))
        .map(|(n, _)| n)
        .collect();
    let mut one: Vec<&String> = by_person
        .iter()
        .filter(|(_, p)| p.len() == 1)
        .map(|(n, _)| n)
        .collect();
    let mut rng = Rng::new(7);
    rng.shuffle(&mut many);
    rng.shuffle(&mut one);
    many.truncate(people);
    one.truncate(singles);
    many.into_iter()
        .chain(one)
        .map(|n| (n.clone(), by_person[n].clone()))
        .collect()
}

#[test]
fn lfw_people_meet_their_floors() {
    let Some(lfw) = lfw() else { return };
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    for (person, files) in subset(&lfw, 40, 40) {
        std::fs::create_dir_all(photos.join(&person)).unwrap();
        for file in files {
            let name = Path::new(&file).file_name().unwrap();
            std::fs::copy(lfw.join(&file), photos.join(&person).join(name)).unwrap();
        }
    }
    let data = dir.path().join("data");
    let out = Command::new(env!("CARGO_BIN_EXE_facefind"))
        .arg("--data-dir")
        .arg(&data)
        .arg("index")
        .arg(&photos)
        .env("FACEFIND_BACKEND", "cpu")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (library, _) = Library::open_reader(&data, &JobControl::default()).unwrap();
    let labelled = Labelled::of(&library).unwrap();
    let (q, every) = score(&library, &labelled, &[SUGGEST_SIM]).unwrap();
    println!(
        "LFW subset, {} labelled faces: {q:?}; every photo: {every:?}",
        labelled.faces()
    );
    assert!(q.bcubed_f >= 0.9, "{q:?}");
    assert!(
        q.pairwise_precision >= 0.95 && q.pairwise_recall >= 0.85,
        "{q:?}"
    );
    assert!(
        every[0].recall >= 0.95 && every[0].precision >= 0.98,
        "{every:?}"
    );
}
