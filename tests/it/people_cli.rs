//! The people commands end to end, through the real binary, on the bundled
//! photos: three of one man and one of another.
use std::path::PathBuf;

use serde_json::Value;

use crate::cli::{facefind, json, root, run};

struct Sample {
    _dir: tempfile::TempDir,
    photos: PathBuf,
    data: PathBuf,
}

impl Sample {
    fn path(&self, name: &str) -> String {
        self.photos.join(name).to_str().unwrap().to_owned()
    }
}

fn sample() -> Sample {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    for name in [
        "obama.jpg",
        "obama2.jpg",
        "obama_partial_face.jpg",
        "biden.jpg",
    ] {
        std::fs::copy(root().join("assets").join(name), photos.join(name)).unwrap();
    }
    let data = dir.path().join("data");
    run(&data, &["index", photos.to_str().unwrap()]);
    Sample {
        _dir: dir,
        photos,
        data,
    }
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

fn face_of(s: &Sample, photo: &str) -> i64 {
    let person = json(&s.data, &["person", "1"]);
    let wanted = s.path(photo);
    person["photos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"] == wanted.as_str())
        .unwrap_or_else(|| panic!("{photo} among {person}"))["face_id"]
        .as_i64()
        .unwrap()
}

#[test]
fn index_then_people_names_edits_and_undo() {
    let s = sample();
    let people = json(&s.data, &["people"]);
    let list = people.as_array().unwrap();
    assert_eq!(
        list.len(),
        1,
        "three photos of one man make one person: {people}"
    );
    assert_eq!(keys(&list[0]), ["faces", "hidden", "id", "photos"]);
    assert_eq!(
        (list[0]["faces"].as_u64(), list[0]["photos"].as_u64()),
        (Some(3), Some(3))
    );
    let id = list[0]["id"].as_i64().unwrap().to_string();

    run(&s.data, &["name", &id, "Barack"]);
    let person = json(&s.data, &["person", "Barack"]);
    assert_eq!(keys(&person), ["id", "name", "photos"]);
    assert_eq!(person["name"], "Barack");
    let photos = person["photos"].as_array().unwrap();
    assert_eq!(photos.len(), 3);
    assert_eq!(keys(&photos[0]), ["box", "face_id", "path", "state"]);
    assert!(photos.iter().all(|p| p["state"] == "automatic"));

    let partial = face_of(&s, "obama_partial_face.jpg").to_string();
    let main = face_of(&s, "obama.jpg").to_string();
    run(&s.data, &["confirm", &main]);
    run(&s.data, &["reject", &partial]);
    let person = json(&s.data, &["person", "Barack", "--min-sim", "0.99"]);
    let states: Vec<(i64, &str)> = person["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["face_id"].as_i64().unwrap(), p["state"].as_str().unwrap()))
        .collect();
    assert!(
        states.contains(&(main.parse().unwrap(), "confirmed")),
        "{states:?}"
    );
    assert!(
        !states.iter().any(|s| s.0.to_string() == partial),
        "{states:?}"
    );

    // A re-run that re-clusters (new photos) keeps the name, the confirmation and the
    // rejection, and a new face of the man joins him.
    for (from, to) in [
        ("biden.jpg", "biden_again.jpg"),
        ("obama2.jpg", "obama2_again.jpg"),
    ] {
        std::fs::copy(root().join("assets").join(from), s.photos.join(to)).unwrap();
    }
    run(&s.data, &["index", s.photos.to_str().unwrap()]);
    let person = json(&s.data, &["person", "Barack", "--min-sim", "0.99"]);
    let after: Vec<(i64, &str)> = person["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["face_id"].as_i64().unwrap(), p["state"].as_str().unwrap()))
        .collect();
    let joined = face_of(&s, "obama2_again.jpg");
    let kept: Vec<(i64, &str)> = after.iter().copied().filter(|a| a.0 != joined).collect();
    assert_eq!(kept, states, "the re-cluster kept the user's work");
    assert!(after.contains(&(joined, "automatic")), "{after:?}");

    // Undo takes back the rejection; a second undo the confirmation.
    run(&s.data, &["undo"]);
    let person = json(&s.data, &["person", "Barack"]);
    assert_eq!(person["photos"].as_array().unwrap().len(), 4);
    run(&s.data, &["undo"]);
    let person = json(&s.data, &["person", "Barack"]);
    assert!(
        person["photos"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["state"] == "automatic")
    );

    // Split a face off, merge it back; hide and unhide.
    let before = json(&s.data, &["people"]).as_array().unwrap().len();
    let split = json(&s.data, &["split", &partial]);
    let new_person = split["person_id"].as_i64().unwrap();
    assert_ne!(new_person.to_string(), id);
    assert_eq!(
        json(&s.data, &["people"]).as_array().unwrap().len(),
        before + 1
    );
    run(&s.data, &["merge", "Barack", &new_person.to_string()]);
    let people = json(&s.data, &["people"]);
    let barack: Vec<&Value> = people
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == "Barack")
        .collect();
    assert_eq!(barack.len(), 1);
    assert_eq!(barack[0]["faces"], 4);
    run(&s.data, &["hide", "Barack"]);
    assert!(
        json(&s.data, &["people"])
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["name"] != "Barack")
    );
    let all = json(&s.data, &["people", "--all"]);
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "Barack" && p["hidden"] == true)
    );
    run(&s.data, &["unhide", "Barack"]);

    // Clear errors, no panics.
    for (args, why) in [
        (vec!["person", "Nobody"], "no person Nobody"),
        (vec!["confirm", "999999"], "no face 999999"),
    ] {
        let out = facefind(&s.data, &args).output().expect("running facefind");
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{args:?}: {err}");
    }
}

#[test]
fn clones_and_paths() {
    let s = sample();
    let biden = s.path("biden.jpg");
    // Biden's lookalikes are the other man, one face, never Biden's own photo.
    let clones = json(&s.data, &["clones", &biden]);
    let results = clones["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{clones}");
    assert_eq!(
        keys(&results[0]),
        ["box", "face_id", "path", "person_id", "similarity"]
    );
    assert_ne!(results[0]["path"], biden.as_str());
    // The man's lookalikes never include his own faces.
    let clones = json(&s.data, &["clones", "--person", "1"]);
    let paths: Vec<&str> = clones["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, [biden.as_str()]);

    let there = json(&s.data, &["path", &s.path("obama.jpg"), &biden]);
    assert_eq!(keys(&there), ["bottleneck", "steps"]);
    let steps = there["steps"].as_array().unwrap();
    assert_eq!(steps.first().unwrap()["path"], s.path("obama.jpg").as_str());
    assert_eq!(steps.last().unwrap()["path"], biden.as_str());
    let sims: Vec<f64> = steps
        .iter()
        .map(|s| s["similarity"].as_f64().unwrap())
        .collect();
    let weakest = sims[1..].iter().copied().fold(f64::INFINITY, f64::min);
    assert!((there["bottleneck"].as_f64().unwrap() - weakest).abs() < 1e-6);
    // B to A is the same chain reversed; face ids work as well as photos.
    let a = steps.first().unwrap()["face_id"].to_string();
    let b = steps.last().unwrap()["face_id"].to_string();
    let back = json(&s.data, &["path", &b, &a]);
    let ids = |v: &Value| -> Vec<i64> {
        v["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["face_id"].as_i64().unwrap())
            .collect()
    };
    let mut reversed = ids(&there);
    reversed.reverse();
    assert_eq!(ids(&back), reversed);
    assert_eq!(back["bottleneck"], there["bottleneck"]);
}
