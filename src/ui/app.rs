//! The application: drains the worker's events, draws the top bar and the
//! current view, and turns drops and keys into commands.
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use egui::{Key, Modifiers, TextureHandle, Ui};

use crate::jobs::worker::{Command, Event, LookalikesOf, ThumbKey, WorkerHandle};
use crate::ui::state::{Draft, LookalikesTab, SearchTab, State, View};
use crate::ui::views;
use crate::ui::widgets::thumbs::{ThumbCache, texture};

pub struct FacefindApp {
    pub state: State,
    pub(crate) worker: WorkerHandle,
    pub(crate) thumbs: ThumbCache,
    /// Textures of the query photo and of the photo in the viewer.
    pub(crate) query_texture: Option<TextureHandle>,
    pub(crate) viewer_texture: Option<TextureHandle>,
    /// Set on the first frame, so the worker can ask for repaints.
    ctx: Arc<OnceLock<egui::Context>>,
}

impl FacefindApp {
    /// Starts the worker on `data_dir`; the library opens there, after the first frame.
    pub fn new(data_dir: PathBuf) -> Self {
        Self::with_photo(data_dir, None)
    }

    /// Like [`Self::new`], then searches with `photo` (a file manager's "open with").
    pub fn with_photo(data_dir: PathBuf, photo: Option<PathBuf>) -> Self {
        let ctx: Arc<OnceLock<egui::Context>> = Arc::default();
        let wake = {
            let ctx = ctx.clone();
            Arc::new(move || {
                if let Some(ctx) = ctx.get() {
                    ctx.request_repaint();
                }
            })
        };
        let mut app = Self {
            state: State::default(),
            worker: WorkerHandle::spawn(data_dir, wake),
            thumbs: ThumbCache::default(),
            query_texture: None,
            viewer_texture: None,
            ctx,
        };
        if let Some(photo) = photo {
            app.search_photo(photo);
        }
        app
    }

    /// One frame of the whole window.
    pub fn frame(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        self.ctx.get_or_init(|| ctx.clone());
        for event in self.worker.drain().collect::<Vec<_>>() {
            self.on_event(&ctx, event);
        }
        self.on_input(&ctx);
        egui::Panel::top("top bar").show(ui, |ui| self.top_bar(ui));
        if !self.state.errors.is_empty() {
            egui::Panel::bottom("errors").show(ui, |ui| self.errors(ui));
        }
        if self.state.path.from.is_some() || self.state.path.found.is_some() {
            egui::Panel::bottom("path").show(ui, |ui| views::people::path_strip(ui, self));
        }
        egui::CentralPanel::default_margins().show(ui, |ui| {
            if self.state.is_empty_library() {
                views::welcome::show(ui, self);
            } else {
                match self.state.view {
                    View::Library => views::library::show(ui, self),
                    View::People => views::people::show(ui, self),
                    View::Search => views::search::show(ui, self),
                    View::Lookalikes => views::lookalikes::show(ui, self),
                    View::Settings => views::settings::show(ui, self),
                }
            }
        });
        views::viewer::show(&ctx, self);
        if self.state.busy.is_some() || self.state.indexing.running {
            // The spinner moves; the worker's events also wake us.
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
        self.thumbs.end_frame();
    }

    /// Thumbnail textures in memory.
    pub fn thumbs_loaded(&self) -> usize {
        self.thumbs.loaded()
    }

    /// The size of a thumbnail's texture, once loaded.
    pub fn thumb_size(&self, key: ThumbKey) -> Option<[usize; 2]> {
        self.thumbs.peek(key).map(|t| t.size())
    }

    fn on_event(&mut self, ctx: &egui::Context, event: Event) {
        let state = &mut self.state;
        match event {
            Event::Library(info) => {
                if let Some(prefs) = info.ui.clone() {
                    state.prefs = serde_json::from_value(prefs).unwrap_or_default();
                }
                state.library = Some(info);
            }
            Event::Faces(ids) => {
                state.face_ids = ids;
                // New thumbnails may exist now.
                self.thumbs.clear_missing();
            }
            Event::Busy(task) => state.busy = task,
            Event::Job(step) => {
                state.indexing.running = step.is_some();
                state.indexing.step = step;
            }
            Event::Scanned(scan) => {
                state.indexing.running = true;
                state.indexing.scan = Some(scan);
                state.indexing.progress = None;
            }
            Event::Indexing(progress) => {
                state.indexing.running = true;
                state.indexing.progress = Some(progress);
            }
            Event::Indexed(progress) => state.indexing.progress = Some(progress),
            Event::Query(query) => {
                self.query_texture = Some(texture(ctx, "query", &query.picture));
                state.search.face = query.chosen;
                state.search.query = Some(query);
                state.search.hits.clear();
                state.search.selected = None;
                state.search.tab = SearchTab::Matches;
                // Lookalikes of the last photo's faces are not this one's.
                let lookalikes = &mut state.lookalikes;
                if matches!(lookalikes.of, Some((LookalikesOf::Query(_), _))) {
                    lookalikes.of = None;
                }
                if matches!(lookalikes.asked, Some(LookalikesOf::Query(_))) {
                    lookalikes.asked = None;
                }
            }
            Event::Results { face, hits } => {
                state.search.face = face;
                state.search.hits = hits;
                state.search.selected = None;
            }
            Event::Photo(photo) => {
                // A photo asked for and then closed (Esc) is not shown.
                if state.opening {
                    self.viewer_texture = Some(texture(ctx, "viewer", &photo.picture));
                    state.viewer = Some(photo);
                    state.opening = false;
                }
            }
            Event::People(everyone) => {
                let people = &mut state.people;
                people
                    .picked
                    .retain(|id| everyone.iter().any(|p| p.id == *id));
                people.all = everyone;
            }
            Event::Person(person) => {
                let people = &mut state.people;
                if people.person.as_ref().is_none_or(|p| p.id != person.id) {
                    people.rename = person.name.clone().unwrap_or_default();
                    people.highlighted_face = None;
                }
                people.picked_faces.clear();
                people.person = Some(person);
            }
            Event::Lookalikes { of, clones } => {
                if state.lookalikes.asked == Some(of) {
                    state.lookalikes.asked = None;
                }
                state.lookalikes.of = Some((of, clones));
                state.lookalikes.selected = None;
            }
            Event::Pairs(pairs) => {
                state.lookalikes.pairs = Some(pairs);
                state.lookalikes.selected_pair = None;
            }
            Event::Path { from, to, path } => state.path.found = Some((from, to, path)),
            Event::Thumb(key, picture) => self.thumbs.insert(ctx, key, picture),
            Event::Failed { task, message } => {
                state.opening = false;
                state.errors.push((task, message));
            }
        }
    }

    /// Dropped files and the window-wide keys.
    fn on_input(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_owned())
                .collect()
        });
        for path in dropped {
            if path.is_dir() {
                self.worker.send(Command::AddFolder(path));
                self.state.view = View::Library;
            } else {
                self.search_photo(path);
            }
        }
        if ctx.input_mut(|i| i.consume_key(Modifiers::COMMAND, Key::F)) {
            if self.state.view == View::People {
                // Find a person by name.
                ctx.memory_mut(|m| m.request_focus(views::people::filter_id()));
            } else {
                self.state.view = View::Search;
                self.pick_photo();
            }
        }
        if ctx.input_mut(|i| i.consume_key(Modifiers::NONE, Key::Escape)) {
            if self.state.viewer.is_some() || self.state.opening {
                self.close_viewer();
            } else if self.state.view == View::People && self.state.people.person.is_some() {
                self.state.people.person = None;
            } else if self.state.view == View::Lookalikes
                && self.state.lookalikes.tab == LookalikesTab::Of
            {
                self.state.lookalikes.tab = LookalikesTab::Pairs;
            } else if self.state.view == View::Search
                && self.state.search.tab == SearchTab::Lookalikes
            {
                self.state.search.tab = SearchTab::Matches;
            } else {
                self.state.errors.clear();
            }
        }
    }

    pub(crate) fn search_photo(&mut self, path: PathBuf) {
        self.state.view = View::Search;
        self.worker.send(Command::SearchPhoto(path));
    }

    /// Opens the viewer on a photo, or on the photo of a face.
    pub(crate) fn open_photo(&mut self, command: Command) {
        self.state.opening = true;
        self.worker.send(command);
    }

    /// A face tile's context menu: open its photo, its lookalikes, start or end a path there.
    pub(crate) fn face_menu(&mut self, response: &egui::Response, face_id: i64) {
        response.context_menu(|ui| {
            if ui.button("Open the photo").clicked() {
                self.open_photo(Command::OpenFace(face_id));
            }
            if ui.button("Lookalikes of this face").clicked() {
                self.state.view = View::Lookalikes;
                self.state.lookalikes.tab = LookalikesTab::Of;
                self.ask_lookalikes(LookalikesOf::Face(face_id));
            }
            if ui.button("Path from here").clicked() {
                self.state.path.from = Some(face_id);
                self.state.path.found = None;
                self.find_path();
            }
            if ui.button("Path to here").clicked() {
                self.state.path.to = Some(face_id);
                self.state.path.found = None;
                self.find_path();
            }
        });
    }

    /// Asks for lookalikes unless they are shown or on their way.
    pub(crate) fn ask_lookalikes(&mut self, of: LookalikesOf) {
        let shown = self.state.lookalikes.of.as_ref().map(|(o, _)| *o);
        if shown != Some(of) && self.state.lookalikes.asked != Some(of) {
            self.state.lookalikes.asked = Some(of);
            self.worker.send(Command::Lookalikes(of));
        }
    }

    /// Every photo of a person, in the People view.
    pub(crate) fn open_person(&mut self, id: i64) {
        self.state.view = View::People;
        self.worker.send(Command::Person {
            id,
            min_sim: self.state.prefs.suggest_threshold,
        });
    }

    fn find_path(&mut self) {
        if let (Some(from), Some(to)) = (self.state.path.from, self.state.path.to) {
            self.worker.send(Command::Path { from, to });
        }
    }

    pub(crate) fn close_viewer(&mut self) {
        self.state.viewer = None;
        self.state.opening = false;
        self.viewer_texture = None;
    }

    /// The folder dialog, on a thread of its own: the portal's dialog blocks until closed.
    pub(crate) fn pick_folder(&self) {
        let commands = self.worker.sender();
        spawn_dialog(move || {
            if let Some(dir) = rfd::FileDialog::new()
                .set_title("Add a folder of photos")
                .pick_folder()
            {
                commands.send(Command::AddFolder(dir));
            }
        });
    }

    pub(crate) fn pick_photo(&self) {
        let commands = self.worker.sender();
        spawn_dialog(move || {
            if let Some(photo) = rfd::FileDialog::new()
                .set_title("Search with a photo")
                .add_filter(
                    "photos",
                    &[
                        "jpg", "jpeg", "png", "webp", "tif", "tiff", "gif", "bmp", "JPG", "JPEG",
                        "PNG",
                    ],
                )
                .pick_file()
            {
                commands.send(Command::SearchPhoto(photo));
            }
        });
    }

    fn top_bar(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            ui.heading("facefind");
            ui.separator();
            let empty = self.state.is_empty_library();
            ui.add_enabled_ui(!empty, |ui| {
                for (view, label) in [
                    (View::Library, "Library"),
                    (View::People, "People"),
                    (View::Search, "Search by photo"),
                    (View::Lookalikes, "Lookalike pairs"),
                    (View::Settings, "Settings"),
                ] {
                    if ui
                        .selectable_label(self.state.view == view && !empty, label)
                        .clicked()
                    {
                        self.state.view = view;
                    }
                }
            });
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if let Some(task) = self.state.busy.or(self.state.indexing.step) {
                    ui.label(task);
                    ui.spinner();
                } else if let Some(library) = &self.state.library {
                    let c = &library.counts;
                    ui.label(format!("{} photos · {} faces", c.indexed, c.faces));
                    if !library.writable {
                        ui.colored_label(ui.visuals().warn_fg_color, "read-only");
                    }
                }
            });
        });
    }

    fn errors(&mut self, ui: &mut Ui) {
        let mut dismiss = None;
        for (i, (task, message)) in self.state.errors.iter().enumerate() {
            ui.horizontal(|ui| {
                if ui.small_button("Dismiss").clicked() {
                    dismiss = Some(i);
                }
                ui.colored_label(ui.visuals().error_fg_color, format!("{task}: {message}"));
            });
        }
        if let Some(i) = dismiss {
            self.state.errors.remove(i);
        }
    }

    /// Opens the settings form on the current values.
    pub(crate) fn draft(&mut self) -> Option<&mut Draft> {
        if self.state.draft.is_none() {
            let config = self.state.library.as_ref()?.config.clone();
            self.state.draft = Some(Draft {
                config,
                prefs: self.state.prefs.clone(),
            });
        }
        self.state.draft.as_mut()
    }

    pub(crate) fn save_settings(&mut self) {
        let Some(draft) = self.state.draft.take() else {
            return;
        };
        self.state.prefs = draft.prefs.clone();
        let ui = serde_json::to_value(&draft.prefs).expect("preferences are plain numbers");
        self.worker.send(Command::SaveSettings {
            config: Box::new(draft.config),
            ui,
        });
    }
}

fn spawn_dialog(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .name("facefind-dialog".into())
        .spawn(f)
        .expect("spawning the dialog thread");
}

impl eframe::App for FacefindApp {
    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        self.frame(ui);
    }
}
