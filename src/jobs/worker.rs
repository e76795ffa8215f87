//! The GUI's worker. One thread owns the library and the face pipeline and
//! does everything slow: it takes [`Command`]s over a channel and answers
//! with [`Event`]s. Indexing runs on a thread of its own with the library's
//! writer, while the worker answers searches and people queries from a
//! reader of the same data dir; commands that change the library wait for
//! the writer to come back. Another thread reads cached thumbnails, newest
//! request first, and makes lost ones again. The window drains the events
//! once per frame and never waits on any of them; the indexing job is
//! stopped or paused through its [`JobHandle`].
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::config::Config;
use crate::faces::decode::{self, Limits};
use crate::faces::detect::resize;
use crate::faces::{Face, FacePipeline, Photo};
use crate::index::JobControl;
use crate::jobs::indexing::{Progress, index_pending};
use crate::jobs::people::{
    self, Clones, Endpoint, FacePath, LookalikePairHit, PersonPhotos, PersonSummary,
};
use crate::jobs::search::{Hit, SearchError, largest_face, similar_faces};
use crate::library::catalog::{Catalog, Counts, FaceHit, PhotoStatus};
use crate::library::scan::{ScanProblem, scan};
use crate::library::thumbs::Thumbs;
use crate::library::{Library, OpenError};

/// Called by the worker threads whenever an event is waiting (the GUI asks for a repaint).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// Results kept per search; the GUI's threshold slider filters them.
pub const MAX_RESULTS: usize = 500;
/// Lookalikes kept per request.
const LOOKALIKES: usize = 60;
/// Closest pairs of the library shown.
const PAIRS: usize = 200;
/// Photos are shown at most this long on their long side.
const VIEW_SIDE: u32 = 1600;
/// Thumbnail requests kept waiting; older ones are dropped (they scrolled away).
const MAX_QUEUED_THUMBS: usize = 256;
/// The GUI's own preferences, beside `settings.json`.
const UI_PREFS_FILE: &str = "ui.json";
/// The sample photos bundled in `assets/`.
const SAMPLE_PHOTOS: [&str; 4] = [
    "obama.jpg",
    "obama2.jpg",
    "biden.jpg",
    "obama_partial_face.jpg",
];

/// What the GUI asks of the worker.
#[derive(Debug)]
pub enum Command {
    /// Add a folder to the library, then scan and index it.
    AddFolder(PathBuf),
    /// Copy the sample photos into the data dir, then add them as a folder.
    AddSamples,
    /// Rescan every folder and index what changed.
    Rescan,
    /// Find the faces of a photo and search with the largest.
    SearchPhoto(PathBuf),
    /// Search with one face of the photo searched last.
    SearchFace(usize),
    /// Load a photo with every face the library knows on it.
    OpenPhoto(PathBuf),
    /// Load the photo of a library face.
    OpenFace(i64),
    /// Every photo of a person, with suggestions at `min_sim` or more.
    Person { id: i64, min_sim: f32 },
    /// A people edit; the people list (and the person shown) are sent again after it.
    Edit(Edit),
    /// Lookalikes: other people's faces closest to a person, a face or the query.
    Lookalikes(LookalikesOf),
    /// The library-wide closest pairs of different people.
    Pairs,
    /// The chain of faces from one face to another.
    Path { from: i64, to: i64 },
    /// Save the settings (`settings.json`) and the GUI's preferences (`ui.json`).
    SaveSettings {
        config: Box<Config>,
        ui: serde_json::Value,
    },
}

/// Whose lookalikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookalikesOf {
    Person(i64),
    /// A library face.
    Face(i64),
    /// A face (by position) of the photo searched last.
    Query(usize),
}

/// The people edits the window offers.
#[derive(Debug)]
pub enum Edit {
    Rename {
        person: i64,
        name: String,
    },
    Merge {
        from: Vec<i64>,
        into: i64,
    },
    Hide {
        person: i64,
        hidden: bool,
    },
    Confirm {
        person: i64,
        faces: Vec<i64>,
    },
    Reject {
        person: i64,
        faces: Vec<i64>,
    },
    /// Moves the faces to a new person.
    Split {
        faces: Vec<i64>,
    },
    Undo,
}

/// What the worker tells the GUI.
#[derive(Debug)]
pub enum Event {
    /// The library as it now stands (after opening, indexing, saving settings).
    Library(Box<LibraryInfo>),
    /// Every face id of the library, oldest first.
    Faces(Arc<Vec<i64>>),
    /// The named task the worker is busy with; None when idle.
    Busy(Option<&'static str>),
    /// The step the background indexing job is at; None once it ended.
    Job(Option<&'static str>),
    Scanned(ScanSummary),
    Indexing(Progress),
    /// The indexing job ended (finished or cancelled) with this progress.
    Indexed(Progress),
    /// The faces of the photo to search with (boxes in photo pixels).
    Query(Box<QueryPhoto>),
    /// Library faces most similar to the query face, best first.
    Results {
        face: usize,
        hits: Vec<Hit>,
    },
    Photo(Box<PhotoView>),
    /// Every person, most faces first (hidden ones flagged).
    People(Vec<PersonSummary>),
    Person(Box<PersonPhotos>),
    Lookalikes {
        of: LookalikesOf,
        clones: Clones,
    },
    /// The closest pairs of different people, closest first.
    Pairs(Vec<LookalikePairHit>),
    /// None: no chain of the people graph links the two faces.
    Path {
        from: i64,
        to: i64,
        path: Option<FacePath>,
    },
    /// A thumbnail read from the cache; None when there is none.
    Thumb(ThumbKey, Option<Rgb>),
    Failed {
        task: &'static str,
        message: String,
    },
}

/// What the GUI shows about the library.
#[derive(Clone, Debug)]
pub struct LibraryInfo {
    pub dir: PathBuf,
    /// False when another program holds the library's writer lock: nothing can be added.
    pub writable: bool,
    pub counts: Counts,
    pub folders: Vec<PathBuf>,
    pub skipped: Vec<(PathBuf, String)>,
    /// Index kind, vectors, bytes on disk.
    pub index: String,
    pub config: Config,
    /// The compute backend in use and why.
    pub backend: String,
    /// The GUI's saved preferences, for it to read.
    pub ui: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default)]
pub struct ScanSummary {
    pub new: usize,
    pub changed: usize,
    pub moved: usize,
    pub deleted: usize,
    pub problems: Vec<ScanProblem>,
}

/// An 8-bit RGB picture.
#[derive(Clone, Debug)]
pub struct Rgb {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl From<Photo> for Rgb {
    fn from(photo: Photo) -> Self {
        Self {
            width: photo.width,
            height: photo.height,
            pixels: photo.rgb,
        }
    }
}

impl Rgb {
    /// `photo` shrunk to at most `side` on its long side; returns it with the factor
    /// from photo to picture pixels.
    fn fit(photo: &Photo, side: u32) -> (Self, f32) {
        let long = photo.width.max(photo.height);
        let scale = (side as f32 / long as f32).min(1.0);
        let small = if scale < 1.0 {
            let dim = |v: u32| ((v as f32 * scale).round() as u32).max(1);
            resize(photo, dim(photo.width), dim(photo.height))
        } else {
            photo.clone()
        };
        (Self::from(small), scale)
    }
}

/// A photo to search with and its faces.
#[derive(Debug)]
pub struct QueryPhoto {
    pub path: PathBuf,
    pub picture: Rgb,
    /// From photo pixels to picture pixels.
    pub scale: f32,
    pub faces: Vec<Face>,
    /// The face searched with first: the largest.
    pub chosen: usize,
}

/// A library photo and its faces.
#[derive(Debug)]
pub struct PhotoView {
    pub path: PathBuf,
    pub picture: Rgb,
    pub scale: f32,
    pub faces: Vec<FaceHit>,
}

/// Which cached thumbnail.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum ThumbKey {
    Face(i64),
    Photo(i64),
    /// The photo of a face (by the face's id) with the face boxed.
    FaceInPhoto(i64),
}

/// Why the worker could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Catalog(#[from] crate::error::CatalogError),
    #[error(transparent)]
    Indexing(#[from] crate::jobs::indexing::IndexingError),
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error(transparent)]
    Faces(#[from] crate::faces::FaceError),
    #[error(transparent)]
    People(#[from] people::PeopleError),
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("the library is open read-only: another facefind holds it")]
    ReadOnly,
    #[error("no photo searched yet")]
    NoQuery,
    #[error("face {0} is no longer in the library")]
    NoSuchFace(i64),
}

fn file_error(path: &Path, reason: impl ToString) -> WorkerError {
    WorkerError::File {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

/// Pause, resume and cancel the job in flight. Each job gets a fresh control
/// (a stop request is final), so the handle always reaches the current one.
#[derive(Clone, Default)]
pub struct JobHandle(Arc<Mutex<JobControl>>);

impl JobHandle {
    fn current(&self) -> MutexGuard<'_, JobControl> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn fresh(&self) -> JobControl {
        let ctl = JobControl::default();
        *self.current() = ctl.clone();
        ctl
    }
    pub fn pause(&self) {
        self.current().pause();
    }
    pub fn resume(&self) {
        self.current().resume();
    }
    pub fn cancel(&self) {
        self.current().stop();
    }
    pub fn is_paused(&self) -> bool {
        self.current().is_paused()
    }
}

/// What reaches the worker thread: the GUI's commands and its own indexing job's end.
enum Message {
    User(Command),
    Indexed(Box<Finished>),
    Quit,
}

/// An indexing job's end: the writer and the models come back with the outcome.
struct Finished {
    library: Library,
    pipeline: Option<FacePipeline>,
    result: Result<(), WorkerError>,
}

/// Sends commands to the worker from any thread (the file dialogs).
#[derive(Clone)]
pub struct CommandSender(Sender<Message>);

impl CommandSender {
    pub fn send(&self, command: Command) {
        // A send fails only once the worker has ended, and then there is nobody to tell.
        self.0.send(Message::User(command)).ok();
    }
}

/// The GUI's side of the worker.
pub struct WorkerHandle {
    commands: CommandSender,
    events: Receiver<Event>,
    job: JobHandle,
    queries: JobHandle,
    thumbs: Arc<ThumbQueue>,
}

impl WorkerHandle {
    /// Starts the worker on the library in `dir`; it opens the library on its own
    /// thread, so this returns at once.
    pub fn spawn(dir: PathBuf, wake: Waker) -> Self {
        let (commands, inbox) = mpsc::channel();
        let (outbox, events) = mpsc::channel();
        let (job, queries) = (JobHandle::default(), JobHandle::default());
        let thumbs = Arc::new(ThumbQueue::default());
        let post = Post {
            events: outbox,
            wake,
        };
        let loader = ThumbLoader {
            cache: Thumbs::new(&dir),
            dir: dir.clone(),
            queue: thumbs.clone(),
            post: post.clone(),
            source: None,
        };
        std::thread::Builder::new()
            .name("facefind-thumbs".into())
            .spawn(move || loader.run())
            .expect("spawning the thumbnail thread");
        let worker = Worker {
            dir,
            library: None,
            pipeline: None,
            photo_ids: None,
            query_path: None,
            query: Vec::new(),
            person: None,
            job: job.clone(),
            queries: queries.clone(),
            post,
            own: commands.clone(),
            indexing: false,
            waiting: Vec::new(),
        };
        std::thread::Builder::new()
            .name("facefind-worker".into())
            .spawn(move || worker.run(inbox))
            .expect("spawning the worker thread");
        Self {
            commands: CommandSender(commands),
            events,
            job,
            queries,
            thumbs,
        }
    }

    pub fn send(&self, command: Command) {
        self.commands.send(command);
    }

    /// A sender for threads of the GUI's own (file dialogs).
    pub fn sender(&self) -> CommandSender {
        self.commands.clone()
    }

    /// The events waiting, without blocking.
    pub fn drain(&self) -> impl Iterator<Item = Event> + '_ {
        self.events.try_iter()
    }

    /// Pause, resume and cancel the indexing job.
    pub fn job(&self) -> &JobHandle {
        &self.job
    }

    /// Asks for a thumbnail; returns the request dropped to make room, if any,
    /// which will get no answer.
    pub fn request_thumb(&self, key: ThumbKey) -> Option<ThumbKey> {
        self.thumbs.push(key)
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        // The jobs in flight stop at their next batch; the worker ends after its current task.
        self.job.cancel();
        self.queries.cancel();
        self.commands.0.send(Message::Quit).ok();
        self.thumbs.close();
    }
}

#[derive(Clone)]
struct Post {
    events: Sender<Event>,
    wake: Waker,
}

impl Post {
    fn send(&self, event: Event) {
        if self.events.send(event).is_ok() {
            (self.wake)();
        }
    }
}

struct Worker {
    dir: PathBuf,
    library: Option<Library>,
    /// Loaded on first use: the models take a while and the window must open at once.
    pipeline: Option<FacePipeline>,
    /// Photo ids by path, for the photo viewer; rebuilt after the library changes.
    photo_ids: Option<HashMap<PathBuf, i64>>,
    /// The photo searched last and its faces.
    query_path: Option<PathBuf>,
    query: Vec<Face>,
    /// The person shown, sent again after each edit.
    person: Option<(i64, f32)>,
    /// The indexing job's control, and that of the query in flight (paths, pairs).
    job: JobHandle,
    queries: JobHandle,
    post: Post,
    /// For the indexing thread to hand the writer back.
    own: Sender<Message>,
    /// True while the indexing thread holds the writer (`library` is then a reader).
    indexing: bool,
    /// Commands that change the library, kept until the writer is back.
    waiting: Vec<Command>,
}

impl Worker {
    fn run(mut self, inbox: Receiver<Message>) {
        self.task("opening the library", Self::open);
        for message in inbox {
            match message {
                Message::User(command) if self.indexing && changes_library(&command) => {
                    self.waiting.push(command)
                }
                Message::User(command) => self.command(command),
                Message::Indexed(finished) => self.indexed(*finished),
                Message::Quit => break,
            }
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::AddFolder(dir) => self.task("adding a folder", |w| w.add_folder(&dir)),
            Command::AddSamples => self.task("adding the sample photos", Self::add_samples),
            Command::Rescan => self.task("scanning folders", Self::index),
            Command::SearchPhoto(path) => {
                self.task("searching by photo", |w| w.search_photo(&path))
            }
            Command::SearchFace(face) => self.task("searching by face", |w| w.search_face(face)),
            Command::OpenPhoto(path) => self.task("opening a photo", |w| w.open_photo(&path)),
            Command::OpenFace(id) => self.task("opening a photo", |w| w.open_face(id)),
            Command::Person { id, min_sim } => {
                self.task("finding a person's photos", |w| w.person(id, min_sim))
            }
            Command::Edit(edit) => self.task("editing people", |w| w.edit(edit)),
            Command::Lookalikes(of) => self.task("finding lookalikes", |w| w.lookalikes(of)),
            Command::Pairs => self.task("finding lookalike pairs", Self::pairs),
            Command::Path { from, to } => self.task("finding a path", |w| w.path(from, to)),
            Command::SaveSettings { config, ui } => {
                self.task("saving settings", |w| w.save_settings(*config, &ui))
            }
        }
    }

    /// Runs one named task, telling the GUI when it starts, ends and fails.
    fn task(&mut self, name: &'static str, f: impl FnOnce(&mut Self) -> Result<(), WorkerError>) {
        self.post.send(Event::Busy(Some(name)));
        if let Err(err) = f(self) {
            self.post.send(Event::Failed {
                task: name,
                message: err.to_string(),
            });
        }
        self.post.send(Event::Busy(None));
    }

    fn open(&mut self) -> Result<(), WorkerError> {
        let ctl = JobControl::default();
        let library = match Library::open_writer(&self.dir, &ctl) {
            Ok((library, _)) => library,
            Err(OpenError::Lock(_)) => Library::open_reader(&self.dir, &ctl)?.0,
            Err(err) => return Err(err.into()),
        };
        self.library = Some(library);
        self.report()
    }

    fn library(&mut self) -> Result<&mut Library, WorkerError> {
        // Open failed earlier (the error was shown): try again, the cause may be fixed.
        if self.library.is_none() {
            self.open()?;
        }
        Ok(self.library.as_mut().expect("opened above"))
    }

    fn writer(&mut self) -> Result<&mut Library, WorkerError> {
        let library = self.library()?;
        if library.is_writer() {
            Ok(library)
        } else {
            Err(WorkerError::ReadOnly)
        }
    }

    fn pipeline(&mut self) -> Result<&mut FacePipeline, WorkerError> {
        if self.pipeline.is_none() {
            self.post.send(Event::Busy(Some("loading the face models")));
            let config = self.library()?.config.clone();
            self.pipeline = Some(FacePipeline::new(&config)?);
        }
        Ok(self.pipeline.as_mut().expect("loaded above"))
    }

    /// Sends the library's state and its face ids.
    fn report(&mut self) -> Result<(), WorkerError> {
        let library = self.library()?;
        let catalog = &library.catalog;
        let index = library.vectors.index();
        let ui = std::fs::read(library.dir().join(UI_PREFS_FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        let info = LibraryInfo {
            dir: library.dir().to_owned(),
            writable: library.is_writer(),
            counts: catalog.counts()?,
            folders: catalog.folders()?.into_iter().map(|(_, p)| p).collect(),
            skipped: catalog.skipped()?,
            index: format!(
                "{} with {} vectors, {} bytes on disk",
                index.spec(),
                index.ntotal(),
                index.bytes_on_disk()
            ),
            config: library.config.clone(),
            backend: crate::compute::select::global().note.clone(),
            ui,
        };
        let mut ids = Vec::with_capacity(info.counts.faces as usize);
        catalog.for_each_embedding(0, 4096, |chunk, _| {
            ids.extend(chunk.iter().map(|&id| id as i64));
            Ok(())
        })?;
        let everyone = people::list_people(library)?;
        self.post.send(Event::Library(Box::new(info)));
        self.post.send(Event::Faces(Arc::new(ids)));
        self.post.send(Event::People(everyone));
        Ok(())
    }

    fn person(&mut self, id: i64, min_sim: f32) -> Result<(), WorkerError> {
        let photos = people::person_photos(self.library()?, id, min_sim)?;
        self.person = Some((id, min_sim));
        self.post.send(Event::Person(Box::new(photos)));
        Ok(())
    }

    fn edit(&mut self, edit: Edit) -> Result<(), WorkerError> {
        let library = self.writer()?;
        let report = match edit {
            Edit::Rename { person, name } => people::name_person(library, person, Some(&name)),
            Edit::Merge { from, into } => people::merge_people(library, &from, into),
            Edit::Hide { person, hidden } => people::set_hidden(library, person, hidden),
            Edit::Confirm { person, faces } => people::confirm_faces(library, &faces, Some(person)),
            Edit::Reject { person, faces } => people::reject_faces(library, &faces, Some(person)),
            Edit::Split { faces } => people::split_faces(library, &faces, None),
            Edit::Undo => people::undo(library),
        }?;
        let everyone = people::list_people(self.library()?)?;
        self.post.send(Event::People(everyone));
        // A merge or split may have moved the person shown: follow the edit.
        let shown = match (report.edit.as_str(), report.person_id, self.person) {
            ("merge", Some(id), Some((_, min_sim))) => Some((id, min_sim)),
            (_, _, shown) => shown,
        };
        if let Some((id, min_sim)) = shown {
            self.person(id, min_sim)?;
        }
        Ok(())
    }

    fn lookalikes(&mut self, of: LookalikesOf) -> Result<(), WorkerError> {
        let clones = match of {
            LookalikesOf::Person(id) => people::clones_of_person(self.library()?, id, LOOKALIKES)?,
            LookalikesOf::Face(id) => people::clones_of_faces(self.library()?, &[id], LOOKALIKES)?,
            LookalikesOf::Query(face) => {
                let path = self.query_path.clone().ok_or(WorkerError::NoQuery)?;
                self.library()?;
                self.pipeline()?;
                let (library, pipeline) = (
                    self.library.as_ref().expect("opened above"),
                    self.pipeline.as_mut().expect("loaded above"),
                );
                people::clones_of_photo(library, pipeline, &path, Some(face), LOOKALIKES)?
            }
        };
        self.post.send(Event::Lookalikes { of, clones });
        Ok(())
    }

    fn pairs(&mut self) -> Result<(), WorkerError> {
        let ctl = self.queries.fresh();
        let pairs = people::lookalike_pairs(self.library()?, PAIRS, &ctl)?;
        self.post.send(Event::Pairs(pairs));
        Ok(())
    }

    fn path(&mut self, from: i64, to: i64) -> Result<(), WorkerError> {
        let ctl = self.queries.fresh();
        let path = people::face_path(
            self.library()?,
            Endpoint::Face(from),
            Endpoint::Face(to),
            &ctl,
        )?;
        self.post.send(Event::Path { from, to, path });
        Ok(())
    }

    fn add_folder(&mut self, dir: &Path) -> Result<(), WorkerError> {
        let dir = dir.canonicalize().map_err(|e| file_error(dir, e))?;
        if !dir.is_dir() {
            return Err(file_error(&dir, "not a folder"));
        }
        self.writer()?.catalog.add_folder(&dir)?;
        // The window leaves the welcome screen as soon as the library has a folder.
        self.report()?;
        self.index()
    }

    fn add_samples(&mut self) -> Result<(), WorkerError> {
        let source = samples_dir().ok_or_else(|| {
            file_error(Path::new("assets"), "the sample photos are not installed")
        })?;
        let target = self.dir.join("samples");
        std::fs::create_dir_all(&target).map_err(|e| file_error(&target, e))?;
        for name in SAMPLE_PHOTOS {
            let to = target.join(name);
            if !to.exists() {
                std::fs::copy(source.join(name), &to).map_err(|e| file_error(&to, e))?;
            }
        }
        self.add_folder(&target)
    }

    /// Starts scanning every folder and indexing the pending photos on a
    /// thread of its own with the writer; a reader answers meanwhile.
    fn index(&mut self) -> Result<(), WorkerError> {
        self.writer()?;
        let (reader, _) = Library::open_reader(&self.dir, &JobControl::default())?;
        let writer = self.library.replace(reader).expect("opened by writer()");
        let pipeline = self.pipeline.take();
        let (ctl, post, own) = (self.job.fresh(), self.post.clone(), self.own.clone());
        self.indexing = true;
        self.post.send(Event::Job(Some("scanning folders")));
        std::thread::Builder::new()
            .name("facefind-indexing".into())
            .spawn(move || {
                let mut job = Finished {
                    library: writer,
                    pipeline,
                    result: Ok(()),
                };
                job.result = index_job(&mut job.library, &mut job.pipeline, &ctl, &post);
                // Gone only when the window closed; the writer is then dropped here.
                own.send(Message::Indexed(Box::new(job))).ok();
            })
            .map_err(|e| file_error(&self.dir, e))?;
        Ok(())
    }

    /// The indexing job ended: the writer takes over from the reader, then the
    /// commands that waited for it run.
    fn indexed(&mut self, job: Finished) {
        self.indexing = false;
        self.library = Some(job.library);
        if self.pipeline.is_none() {
            self.pipeline = job.pipeline;
        }
        self.photo_ids = None;
        if let Err(err) = job.result {
            self.post.send(Event::Failed {
                task: "indexing photos",
                message: err.to_string(),
            });
        }
        self.task("updating the library", Self::report);
        self.post.send(Event::Job(None));
        for command in std::mem::take(&mut self.waiting) {
            if self.indexing && changes_library(&command) {
                self.waiting.push(command);
            } else {
                self.command(command);
            }
        }
    }

    fn search_photo(&mut self, path: &Path) -> Result<(), WorkerError> {
        let limits = Limits::from_settings(&self.library()?.config.faces);
        let photo = decode::decode_file(path, limits)?;
        let faces = self.pipeline()?.process(&photo)?;
        if faces.is_empty() {
            return Err(SearchError::NoFace(path.display().to_string()).into());
        }
        let chosen = largest_face(&faces);
        let (picture, scale) = Rgb::fit(&photo, VIEW_SIDE);
        self.query = faces.clone();
        self.query_path = Some(path.to_owned());
        self.post.send(Event::Query(Box::new(QueryPhoto {
            path: path.to_owned(),
            picture,
            scale,
            faces,
            chosen,
        })));
        self.search_face(chosen)
    }

    fn search_face(&mut self, face: usize) -> Result<(), WorkerError> {
        let embedding = self.query.get(face).ok_or(WorkerError::NoQuery)?.embedding;
        let hits = similar_faces(self.library()?, &embedding, MAX_RESULTS, 0.0)?;
        self.post.send(Event::Results { face, hits });
        Ok(())
    }

    fn open_photo(&mut self, path: &Path) -> Result<(), WorkerError> {
        self.library()?;
        let library = self.library.as_ref().expect("opened above");
        let limits = Limits::from_settings(&library.config.faces);
        if self.photo_ids.is_none() {
            let indexed = library.catalog.photos_with_status(PhotoStatus::Indexed)?;
            self.photo_ids = Some(indexed.into_iter().map(|p| (p.path, p.id)).collect());
        }
        let photo_id = self.photo_ids.as_ref().and_then(|ids| ids.get(path));
        let faces = match photo_id {
            Some(&id) => library
                .catalog
                .face_hits(&library.catalog.face_ids_of_photo(id)?)?,
            None => Vec::new(),
        };
        let (picture, scale) = Rgb::fit(&decode::decode_file(path, limits)?, VIEW_SIDE);
        self.post.send(Event::Photo(Box::new(PhotoView {
            path: path.to_owned(),
            picture,
            scale,
            faces,
        })));
        Ok(())
    }

    fn open_face(&mut self, face_id: i64) -> Result<(), WorkerError> {
        let hit = self.library()?.catalog.face_hits(&[face_id])?.pop();
        let hit = hit.ok_or(WorkerError::NoSuchFace(face_id))?;
        self.open_photo(&hit.path)
    }

    fn save_settings(&mut self, config: Config, ui: &serde_json::Value) -> Result<(), WorkerError> {
        config.validate().map_err(OpenError::from)?;
        let dir = self.dir.clone();
        write_json(&Config::path_in(&dir), &config)?;
        write_json(&dir.join(UI_PREFS_FILE), ui)?;
        let reopen = self.library()?.config.index != config.index;
        self.library()?.config = config;
        // The pipeline reads its thresholds when it is made.
        self.pipeline = None;
        if reopen {
            // The vector store takes its index kind and search knobs when it opens.
            self.library = None;
            self.photo_ids = None;
            self.open()?;
        }
        self.report()
    }
}

/// Whether a command needs the library's writer.
fn changes_library(command: &Command) -> bool {
    matches!(
        command,
        Command::AddFolder(_)
            | Command::AddSamples
            | Command::Rescan
            | Command::Edit(_)
            | Command::SaveSettings { .. }
    )
}

/// The indexing job, on its own thread: scans every folder, indexes the
/// pending photos and updates the people, reporting each step.
fn index_job(
    library: &mut Library,
    pipeline: &mut Option<FacePipeline>,
    ctl: &JobControl,
    post: &Post,
) -> Result<(), WorkerError> {
    let report = scan(&mut library.catalog, ctl)?;
    if !report.removed_faces.is_empty() {
        library.refresh_vectors(ctl)?;
    }
    post.send(Event::Scanned(ScanSummary {
        new: report.new.len(),
        changed: report.changed.len(),
        moved: report.moved.len(),
        deleted: report.deleted.len(),
        problems: report.problems,
    }));
    let pending = library.catalog.counts()?;
    if pending.photos > pending.indexed + pending.errors {
        if pipeline.is_none() {
            post.send(Event::Job(Some("loading the face models")));
            *pipeline = Some(FacePipeline::new(&library.config)?);
        }
        post.send(Event::Job(Some("indexing photos")));
        let pipeline = pipeline.as_mut().expect("loaded above");
        let progress = index_pending(library, pipeline, ctl, |p| {
            post.send(Event::Indexing(*p));
        })?;
        post.send(Event::Indexed(progress));
    }
    // A cancelled run leaves the people as they were; the next run updates them.
    if !ctl.should_stop() {
        post.send(Event::Job(Some("finding people")));
        people::update(library, ctl)?;
    }
    Ok(())
}

/// Writes `value` as JSON to a temporary file, then renames it over `path`.
fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), WorkerError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| file_error(path, e))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes).map_err(|e| file_error(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| file_error(path, e))
}

/// `assets/` next to the executable, else in the source tree it was built from.
fn samples_dir() -> Option<PathBuf> {
    let beside_exe = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("assets")));
    beside_exe
        .into_iter()
        .chain([Path::new(env!("CARGO_MANIFEST_DIR")).join("assets")])
        .find(|dir| dir.join(SAMPLE_PHOTOS[0]).is_file())
}

/// Thumbnail requests, newest first, at most [`MAX_QUEUED_THUMBS`].
#[derive(Default)]
struct ThumbQueue {
    state: Mutex<QueueState>,
    ready: Condvar,
}

#[derive(Default)]
struct QueueState {
    keys: VecDeque<ThumbKey>,
    queued: HashSet<ThumbKey>,
    closed: bool,
}

impl ThumbQueue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, key: ThumbKey) -> Option<ThumbKey> {
        let mut state = self.lock();
        if !state.queued.insert(key) {
            return None;
        }
        state.keys.push_front(key);
        let dropped = (state.keys.len() > MAX_QUEUED_THUMBS)
            .then(|| state.keys.pop_back())
            .flatten();
        if let Some(old) = dropped {
            state.queued.remove(&old);
        }
        self.ready.notify_one();
        dropped
    }

    /// The newest request; None once closed.
    fn pop(&self) -> Option<ThumbKey> {
        let mut state = self.lock();
        loop {
            if state.closed {
                return None;
            }
            if let Some(key) = state.keys.pop_front() {
                state.queued.remove(&key);
                return Some(key);
            }
            state = self.ready.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }
}

struct ThumbLoader {
    cache: Thumbs,
    dir: PathBuf,
    queue: Arc<ThumbQueue>,
    post: Post,
    /// Opened when a thumbnail is first missing from the cache: the worker
    /// creates the library, and most requests never need it.
    source: Option<ThumbSource>,
}

/// What remaking a thumbnail takes: where each face and photo is.
struct ThumbSource {
    catalog: Catalog,
    limits: Limits,
    /// Photo ids by path, rebuilt when a photo is not found in it.
    photo_ids: HashMap<PathBuf, i64>,
}

impl ThumbSource {
    fn face(&self, face_id: i64) -> Result<FaceHit, WorkerError> {
        self.catalog
            .face_hits(&[face_id])?
            .pop()
            .ok_or(WorkerError::NoSuchFace(face_id))
    }

    fn photo_id(&mut self, path: &Path) -> Result<i64, WorkerError> {
        if !self.photo_ids.contains_key(path) {
            let indexed = self.catalog.photos_with_status(PhotoStatus::Indexed)?;
            self.photo_ids = indexed.into_iter().map(|p| (p.path, p.id)).collect();
        }
        self.photo_ids
            .get(path)
            .copied()
            .ok_or_else(|| file_error(path, "the photo is no longer in the library"))
    }
}

impl ThumbLoader {
    fn run(mut self) {
        while let Some(key) = self.queue.pop() {
            // A thumbnail that cannot be had (its photo is gone) shows as a placeholder.
            let picture = self.picture(key).ok();
            self.post.send(Event::Thumb(key, picture));
        }
    }

    fn source(&mut self) -> Result<(&Thumbs, &mut ThumbSource), WorkerError> {
        if self.source.is_none() {
            let config = Config::load(&self.dir).map_err(OpenError::from)?;
            self.source = Some(ThumbSource {
                catalog: Catalog::open(&self.dir.join("catalog.sqlite"))?,
                limits: Limits::from_settings(&config.faces),
                photo_ids: HashMap::new(),
            });
        }
        let source = self.source.as_mut().expect("opened above");
        Ok((&self.cache, source))
    }

    /// The thumbnail from the cache, made again from its photo when the cache lacks it.
    fn picture(&mut self, key: ThumbKey) -> Result<Rgb, WorkerError> {
        let cached = match key {
            ThumbKey::Face(id) => {
                let target = self.cache.face_path(id);
                if !target.exists() {
                    let (cache, source) = self.source()?;
                    let hit = source.face(id)?;
                    cache.ensure_face(id, hit.bbox, &hit.path, source.limits)?;
                }
                target
            }
            ThumbKey::Photo(id) => {
                let target = self.cache.photo_path(id);
                if !target.exists() {
                    let (cache, source) = self.source()?;
                    let record = source.catalog.photo(id)?;
                    let record = record
                        .ok_or_else(|| file_error(&target, "no such photo in the library"))?;
                    cache.ensure_photo(id, &record.path, source.limits)?;
                }
                target
            }
            ThumbKey::FaceInPhoto(id) => {
                let (cache, source) = self.source()?;
                let hit = source.face(id)?;
                let photo_id = source.photo_id(&hit.path)?;
                let photo = cache.boxed_photo(photo_id, &hit.path, hit.bbox, source.limits)?;
                return Ok(Rgb::from(photo));
            }
        };
        let rgb = image::open(&cached)
            .map_err(|e| file_error(&cached, e))?
            .into_rgb8();
        Ok(Rgb {
            width: rgb.width(),
            height: rgb.height(),
            pixels: rgb.into_raw(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumb_queue_serves_newest_first_and_drops_the_oldest() {
        let queue = ThumbQueue::default();
        assert_eq!(queue.push(ThumbKey::Face(1)), None);
        assert_eq!(
            queue.push(ThumbKey::Face(1)),
            None,
            "a repeat is not queued twice"
        );
        for id in 2..=MAX_QUEUED_THUMBS as i64 {
            assert_eq!(queue.push(ThumbKey::Face(id)), None);
        }
        assert_eq!(queue.push(ThumbKey::Photo(7)), Some(ThumbKey::Face(1)));
        assert_eq!(queue.pop(), Some(ThumbKey::Photo(7)));
        assert_eq!(queue.pop(), Some(ThumbKey::Face(MAX_QUEUED_THUMBS as i64)));
        queue.close();
        assert_eq!(queue.pop(), None);
    }

    #[test]
    fn job_handle_reaches_the_newest_job() {
        let handle = JobHandle::default();
        let first = handle.fresh();
        handle.cancel();
        assert!(first.should_stop());
        let second = handle.fresh();
        assert!(!second.should_stop(), "a new job starts unstopped");
        handle.pause();
        assert!(second.is_paused() && handle.is_paused());
        handle.resume();
        assert!(!second.is_paused());
    }
}
