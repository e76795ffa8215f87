//! The people commands: `people`, `person`, `name`, `merge`, `split`,
//! `confirm`, `reject`, `hide`, `unhide`, `undo`, `clones`, `path`. Each
//! prints a readable table or, with `--json`, one JSON document; the work
//! is in `jobs::people`, which the GUI calls too.
use std::path::{Path, PathBuf};

use crate::faces::FacePipeline;
use crate::index::JobControl;
use crate::jobs::people::{self as people, EditReport, Endpoint, PhotoState};
use crate::jobs::search::Hit;
use crate::library::Library;

fn open(data_dir: &Path, writer: bool) -> anyhow::Result<Library> {
    anyhow::ensure!(
        data_dir.join("catalog.sqlite").exists(),
        "{}: no library here yet; start one with `facefind index DIR`",
        data_dir.display()
    );
    let ctl = JobControl::default();
    let (library, _) = if writer {
        Library::open_writer(data_dir, &ctl)?
    } else {
        Library::open_reader(data_dir, &ctl)?
    };
    Ok(library)
}

fn display_name(name: &Option<String>) -> &str {
    name.as_deref().unwrap_or("(unnamed)")
}

/// `facefind people`: every person, most faces first.
pub fn list(data_dir: &Path, all: bool, json: bool) -> anyhow::Result<()> {
    let library = open(data_dir, false)?;
    let everyone = people::list_people(&library)?;
    let hidden = everyone.iter().filter(|p| p.hidden).count();
    let list: Vec<_> = everyone.into_iter().filter(|p| all || !p.hidden).collect();
    if json {
        return super::print_json(&list);
    }
    println!("{:>8}  {:>6}  {:>6}  name", "person", "faces", "photos");
    for p in &list {
        let hidden = if p.hidden { "  (hidden)" } else { "" };
        println!(
            "{:>8}  {:>6}  {:>6}  {}{hidden}",
            p.id,
            p.faces,
            p.photos,
            display_name(&p.name)
        );
    }
    if !all && hidden > 0 {
        println!("({hidden} hidden; `facefind people --all` lists them too)");
    } else if list.is_empty() {
        println!("no people yet: `facefind index DIR` finds and groups the faces");
    }
    Ok(())
}

/// `facefind person ID|NAME`: every photo of a person, with suggestions.
pub fn person(data_dir: &Path, who: &str, min_sim: f32, json: bool) -> anyhow::Result<()> {
    let library = open(data_dir, false)?;
    let id = people::find_person(&library, who)?;
    let answer = people::person_photos(&library, id, min_sim)?;
    if json {
        return super::print_json(&answer);
    }
    println!(
        "person {}: {} ({} photos, suggestions at similarity {} or more)",
        answer.id,
        display_name(&answer.name),
        answer.photos.len(),
        answer.min_sim
    );
    println!(
        "{:>10}  {:>8}  {:>10}  photo",
        "state", "face", "similarity"
    );
    for p in &answer.photos {
        let state = match p.state {
            PhotoState::Confirmed => "confirmed",
            PhotoState::Automatic => "automatic",
            PhotoState::Suggested => "suggested",
        };
        let sim = p.similarity.map_or(String::new(), |s| format!("{s:.3}"));
        println!(
            "{state:>10}  {:>8}  {sim:>10}  {}",
            p.face_id,
            p.path.display()
        );
    }
    Ok(())
}

/// An edit, as the CLI asks for it.
pub enum Edit<'a> {
    Name {
        person: &'a str,
        name: &'a str,
    },
    Merge {
        into: &'a str,
        from: &'a [String],
    },
    Split {
        faces: &'a [i64],
        into: Option<&'a str>,
    },
    Confirm {
        faces: &'a [i64],
        person: Option<&'a str>,
    },
    Reject {
        faces: &'a [i64],
        person: Option<&'a str>,
    },
    Hide {
        person: &'a str,
        hidden: bool,
    },
    Undo,
}

/// `facefind name|merge|split|confirm|reject|hide|unhide|undo`.
pub fn edit(data_dir: &Path, edit: &Edit<'_>, json: bool) -> anyhow::Result<()> {
    let mut library = open(data_dir, true)?;
    let find = |library: &Library, who: Option<&str>| -> anyhow::Result<Option<i64>> {
        Ok(match who {
            Some(who) => Some(people::find_person(library, who)?),
            None => None,
        })
    };
    let report: EditReport = match edit {
        Edit::Name { person, name } => {
            let id = people::find_person(&library, person)?;
            people::name_person(&mut library, id, Some(name))?
        }
        Edit::Merge { into, from } => {
            let into = people::find_person(&library, into)?;
            let from = from
                .iter()
                .map(|p| people::find_person(&library, p))
                .collect::<Result<Vec<_>, _>>()?;
            people::merge_people(&mut library, &from, into)?
        }
        Edit::Split { faces, into } => {
            let into = find(&library, *into)?;
            people::split_faces(&mut library, faces, into)?
        }
        Edit::Confirm { faces, person } => {
            let person = find(&library, *person)?;
            people::confirm_faces(&mut library, faces, person)?
        }
        Edit::Reject { faces, person } => {
            let person = find(&library, *person)?;
            people::reject_faces(&mut library, faces, person)?
        }
        Edit::Hide { person, hidden } => {
            let id = people::find_person(&library, person)?;
            people::set_hidden(&mut library, id, *hidden)?
        }
        Edit::Undo => people::undo(&mut library)?,
    };
    if json {
        return super::print_json(&report);
    }
    let about = report
        .person_id
        .map_or(String::new(), |p| format!(" (person {p})"));
    let hint = if matches!(edit, Edit::Undo) {
        ""
    } else {
        "; `facefind undo` puts it back"
    };
    println!(
        "{}{about}: {} face(s) changed{hint}",
        report.edit,
        report.faces.len()
    );
    Ok(())
}

/// A photo path, a face id, or `person:ID|NAME`, as `clones` and `path` take them.
enum Target {
    Photo(PathBuf),
    Face(i64),
    Person(String),
}

fn parse_target(text: &str) -> Target {
    if let Some(who) = text.strip_prefix("person:") {
        return Target::Person(who.to_owned());
    }
    match text.parse::<i64>() {
        Ok(id) if !Path::new(text).exists() => Target::Face(id),
        _ => Target::Photo(PathBuf::from(text)),
    }
}

fn endpoint(
    library: &Library,
    pipeline: &mut Option<FacePipeline>,
    text: &str,
) -> anyhow::Result<Endpoint> {
    Ok(match parse_target(text) {
        Target::Face(id) => Endpoint::Face(id),
        Target::Person(who) => Endpoint::Person(people::find_person(library, &who)?),
        Target::Photo(path) => {
            let pipeline = match pipeline {
                Some(p) => p,
                None => pipeline.insert(FacePipeline::new(&library.config)?),
            };
            Endpoint::Face(people::library_face_of_photo(
                library, pipeline, &path, None,
            )?)
        }
    })
}

fn print_hits(hits: &[Hit]) {
    println!(
        "{:>10}  {:>8}  {:>8}  photo",
        "similarity", "face", "person"
    );
    for hit in hits {
        let person = hit.face.person_id.map_or("-".to_owned(), |p| p.to_string());
        println!(
            "{:>10.3}  {:>8}  {person:>8}  {}",
            hit.similarity,
            hit.face.face_id,
            hit.face.path.display()
        );
    }
}

/// What `clones` is asked about.
pub enum ClonesOf<'a> {
    /// A photo path or a face id.
    Target(&'a str),
    Person(&'a str),
    /// The library's closest pairs of different people.
    Pairs,
}

/// `facefind clones PHOTO|FACE_ID|--person ID|--pairs`.
pub fn clones(data_dir: &Path, of: &ClonesOf<'_>, limit: usize, json: bool) -> anyhow::Result<()> {
    let library = open(data_dir, false)?;
    let clones = match of {
        ClonesOf::Pairs => {
            let pairs = people::lookalike_pairs(&library, limit, &JobControl::default())?;
            if json {
                return super::print_json(&serde_json::json!({ "pairs": pairs }));
            }
            println!(
                "{:>10}  {:>8}  {:>8}  photos",
                "similarity", "person", "person"
            );
            for p in &pairs {
                let person = |h: &crate::library::catalog::FaceHit| {
                    h.person_id.map_or("-".to_owned(), |p| p.to_string())
                };
                println!(
                    "{:>10.3}  {:>8}  {:>8}  {}  ~  {}",
                    p.similarity,
                    person(&p.a),
                    person(&p.b),
                    p.a.path.display(),
                    p.b.path.display()
                );
            }
            return Ok(());
        }
        ClonesOf::Person(who) => {
            let id = people::find_person(&library, who)?;
            people::clones_of_person(&library, id, limit)?
        }
        ClonesOf::Target(text) => match parse_target(text) {
            Target::Face(id) => people::clones_of_faces(&library, &[id], limit)?,
            Target::Person(who) => {
                let id = people::find_person(&library, &who)?;
                people::clones_of_person(&library, id, limit)?
            }
            Target::Photo(path) => {
                let mut pipeline = FacePipeline::new(&library.config)?;
                people::clones_of_photo(&library, &mut pipeline, &path, None, limit)?
            }
        },
    };
    if json {
        return super::print_json(&clones);
    }
    print_hits(&clones.results);
    if clones.results.is_empty() {
        println!("no lookalike found among other people");
    }
    Ok(())
}

/// `facefind path A B`.
pub fn path(data_dir: &Path, a: &str, b: &str, json: bool) -> anyhow::Result<()> {
    let library = open(data_dir, false)?;
    let mut pipeline = None;
    let (from, to) = (
        endpoint(&library, &mut pipeline, a)?,
        endpoint(&library, &mut pipeline, b)?,
    );
    let found = people::face_path(&library, from, to, &JobControl::default())?;
    if json {
        return match found {
            Some(path) => super::print_json(&path),
            None => super::print_json(&serde_json::json!({ "steps": [], "bottleneck": null })),
        };
    }
    match found {
        Some(path) => {
            println!(
                "{} step(s); the weakest has similarity {:.3}",
                path.steps.len().saturating_sub(1),
                path.bottleneck
            );
            print_hits(&path.steps);
        }
        None => println!("no chain of faces links {a} and {b} in the people graph"),
    }
    Ok(())
}
