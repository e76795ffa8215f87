//! The `facefind` command. Parsing and dispatch only; the work lives in the library.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "facefind",
    version,
    about = "Find faces in a local photo library, offline",
    long_about = "Find faces in a local photo library, offline. With no command, opens the window."
)]
struct Cli {
    /// Where the library's catalog, index and settings live (default: the platform's data dir).
    #[arg(long, global = true, env = "FACEFIND_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Where the numeric kernels run: auto (a hardware GPU where it is measured to win,
    /// else the CPU), gpu (any adapter, software ones included) or cpu. Default: the
    /// FACEFIND_BACKEND environment variable, else auto.
    #[arg(long, global = true, value_name = "auto|gpu|cpu")]
    backend: Option<facefind::compute::select::BackendChoice>,
    /// With no command: open the window and search with this photo (a file manager's "open with").
    #[arg(long, value_name = "PHOTO")]
    open: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Benchmarks: synthetic face-like data sets and index measurements.
    Bench {
        #[command(subcommand)]
        command: facefind::bench::BenchCommand,
    },
    /// Find the faces in photos: box, 5 landmarks, score, quality (and embeddings, crops).
    Faces {
        #[arg(required = true, value_name = "PHOTO")]
        photos: Vec<PathBuf>,
        /// One JSON object per photo, one per line.
        #[arg(long)]
        json: bool,
        /// Also print each face's 128 embedding numbers.
        #[arg(long)]
        embedding: bool,
        /// Write each face's aligned 112×112 crop as a PNG into this directory.
        #[arg(long, value_name = "DIR")]
        crops: Option<PathBuf>,
    },
    /// Check that everything facefind needs is in place.
    Doctor,
    /// Add folders to the library and index their photos; re-running is incremental.
    Index {
        #[arg(required = true, value_name = "DIR")]
        dirs: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Counts, index kind and size, and the files skipped with the reason.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// The faces in PHOTO, and the library's faces most similar to the chosen one.
    Search {
        photo: PathBuf,
        /// The face to search with (numbered from 0, as `facefind faces` lists them); default: the largest.
        #[arg(long)]
        face: Option<usize>,
        /// How many results at most.
        #[arg(long, default_value_t = 50)]
        k: usize,
        /// Leave out results below this cosine similarity.
        #[arg(long, default_value_t = 0.3)]
        min_sim: f32,
        #[arg(long)]
        json: bool,
    },
    /// The people found in the library, most faces first.
    People {
        /// Also list hidden people.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Every photo of a person (by id or name), with suggestions.
    Person {
        #[arg(value_name = "ID|NAME")]
        person: String,
        /// Suggest unassigned faces at this cosine similarity or more.
        #[arg(long, default_value_t = facefind::jobs::people::SUGGEST_SIM)]
        min_sim: f32,
        #[arg(long)]
        json: bool,
    },
    /// Name a person.
    Name {
        #[arg(value_name = "ID|NAME")]
        person: String,
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Merge people into the first one given.
    Merge {
        #[arg(value_name = "INTO")]
        into: String,
        #[arg(required = true, value_name = "FROM")]
        from: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Move faces to a new person, or to `--into` another one.
    Split {
        #[arg(required = true, value_name = "FACE_ID")]
        faces: Vec<i64>,
        #[arg(long, value_name = "ID|NAME")]
        into: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Confirm faces as their person (or as `--person`).
    Confirm {
        #[arg(required = true, value_name = "FACE_ID")]
        faces: Vec<i64>,
        #[arg(long, value_name = "ID|NAME")]
        person: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Say faces are not their person (or not `--person`).
    Reject {
        #[arg(required = true, value_name = "FACE_ID")]
        faces: Vec<i64>,
        #[arg(long, value_name = "ID|NAME")]
        person: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Hide a person from the people list.
    Hide {
        #[arg(value_name = "ID|NAME")]
        person: String,
        #[arg(long)]
        json: bool,
    },
    /// Show a hidden person again.
    Unhide {
        #[arg(value_name = "ID|NAME")]
        person: String,
        #[arg(long)]
        json: bool,
    },
    /// Undo the last people edit.
    Undo {
        #[arg(long)]
        json: bool,
    },
    /// Lookalikes: the most similar faces of other people.
    Clones {
        /// A photo, or a face id.
        #[arg(value_name = "PHOTO|FACE_ID", required_unless_present_any = ["person", "pairs"])]
        target: Option<String>,
        #[arg(long, value_name = "ID|NAME", conflicts_with = "target")]
        person: Option<String>,
        /// The library's closest pairs of different people.
        #[arg(long, conflicts_with_all = ["target", "person"])]
        pairs: bool,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// A chain of faces from A to B (photo paths, face ids or person:ID|NAME).
    Path {
        a: String,
        b: String,
        #[arg(long)]
        json: bool,
    },
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let data_dir = || facefind::cli::resolve_data_dir(cli.data_dir.as_deref());
    // The flag, else FACEFIND_BACKEND, else the library's settings (`compute.backend`).
    let backend = facefind::config::backend_request(cli.backend, data_dir().ok().as_deref());
    facefind::compute::select::request(backend)?;
    match cli.command {
        None => Ok(facefind::ui::run(data_dir()?, cli.open)?),
        Some(Command::Bench { command }) => Ok(facefind::bench::run(command)?),
        Some(Command::Faces {
            photos,
            json,
            embedding,
            crops,
        }) => facefind::cli::faces::faces(&data_dir()?, &photos, json, embedding, crops.as_deref()),
        Some(Command::Index { dirs, json }) => {
            facefind::cli::library::index(&data_dir()?, &dirs, json)
        }
        Some(Command::Status { json }) => facefind::cli::library::status(&data_dir()?, json),
        Some(Command::Search {
            photo,
            face,
            k,
            min_sim,
            json,
        }) => {
            let args = facefind::cli::search::SearchArgs {
                photo: &photo,
                face,
                k,
                min_sim,
                json,
            };
            facefind::cli::search::search(&data_dir()?, &args)
        }
        Some(Command::Doctor) => facefind::cli::doctor::doctor(&data_dir()?),
        Some(command) => people_command(&data_dir()?, command),
    }
}

/// The people subcommands.
fn people_command(dir: &std::path::Path, command: Command) -> anyhow::Result<()> {
    use facefind::cli::people::{self, ClonesOf, Edit};
    let edit = |e: Edit<'_>, json| people::edit(dir, &e, json);
    match command {
        Command::People { all, json } => people::list(dir, all, json),
        Command::Person {
            person,
            min_sim,
            json,
        } => people::person(dir, &person, min_sim, json),
        Command::Name { person, name, json } => edit(
            Edit::Name {
                person: &person,
                name: &name,
            },
            json,
        ),
        Command::Merge { into, from, json } => edit(
            Edit::Merge {
                into: &into,
                from: &from,
            },
            json,
        ),
        Command::Split { faces, into, json } => edit(
            Edit::Split {
                faces: &faces,
                into: into.as_deref(),
            },
            json,
        ),
        Command::Confirm {
            faces,
            person,
            json,
        } => edit(
            Edit::Confirm {
                faces: &faces,
                person: person.as_deref(),
            },
            json,
        ),
        Command::Reject {
            faces,
            person,
            json,
        } => edit(
            Edit::Reject {
                faces: &faces,
                person: person.as_deref(),
            },
            json,
        ),
        Command::Hide { person, json } => edit(
            Edit::Hide {
                person: &person,
                hidden: true,
            },
            json,
        ),
        Command::Unhide { person, json } => edit(
            Edit::Hide {
                person: &person,
                hidden: false,
            },
            json,
        ),
        Command::Undo { json } => edit(Edit::Undo, json),
        Command::Clones {
            target,
            person,
            pairs,
            limit,
            json,
        } => {
            let of = match (&target, &person) {
                _ if pairs => ClonesOf::Pairs,
                (_, Some(who)) => ClonesOf::Person(who),
                (Some(t), None) => ClonesOf::Target(t),
                (None, None) => {
                    anyhow::bail!("clones: give a PHOTO, a face id, --person or --pairs")
                }
            };
            people::clones(dir, &of, limit, json)
        }
        Command::Path { a, b, json } => people::path(dir, &a, &b, json),
        _ => anyhow::bail!("internal: a library command reached the people dispatch"),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("facefind: {}", describe(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each said once: many of our errors already
/// include their cause's text, which `{:#}` would print again.
fn describe(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain().map(|c| c.to_string()) {
        if !text.contains(&cause) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
    }
    text
}
