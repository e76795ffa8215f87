//! People: a virtualised grid of everyone (filter by name, sort, Ctrl+click
//! to pick several, merge, hide); a person's every photo with suggestions
//! to confirm or reject, rename and split; their lookalikes; and the strip
//! of a face-to-face path.
use egui::{Id, Slider, Ui};

use crate::jobs::people::PhotoState;
use crate::jobs::worker::{Command, Edit, LookalikesOf, ThumbKey};
use crate::ui::app::FacefindApp;
use crate::ui::state::{PeopleOrder, label};
use crate::ui::widgets::grid::{grid, tile};
use crate::ui::widgets::photo::hint;

/// The name filter, focused by Ctrl+F.
pub fn filter_id() -> Id {
    Id::unique("people filter")
}

pub fn show(ui: &mut Ui, app: &mut FacefindApp) {
    if app.state.people.person.is_some() {
        person(ui, app);
    } else {
        everyone(ui, app);
    }
}

fn everyone(ui: &mut Ui, app: &mut FacefindApp) {
    let people = &mut app.state.people;
    ui.horizontal(|ui| {
        ui.heading("People");
        ui.add(
            egui::TextEdit::singleline(&mut people.filter)
                .id(filter_id())
                .hint_text("filter by name (Ctrl+F)")
                .desired_width(200.0),
        );
        egui::ComboBox::from_id_salt("people order")
            .selected_text(match people.order {
                PeopleOrder::Faces => "most faces",
                PeopleOrder::Photos => "most photos",
                PeopleOrder::Name => "by name",
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut people.order, PeopleOrder::Faces, "most faces");
                ui.selectable_value(&mut people.order, PeopleOrder::Photos, "most photos");
                ui.selectable_value(&mut people.order, PeopleOrder::Name, "by name");
            });
        ui.checkbox(&mut people.show_hidden, "show hidden");
    });
    let picked = people.picked.clone();
    ui.horizontal(|ui| {
        ui.weak(format!("{} picked (Ctrl+click)", picked.len()));
        if ui
            .add_enabled(picked.len() >= 2, egui::Button::new("Merge picked"))
            .clicked()
        {
            // Into the first picked: it keeps its name.
            app.worker.send(Command::Edit(Edit::Merge {
                from: picked[1..].to_vec(),
                into: picked[0],
            }));
            app.state.people.picked.clear();
        }
        if ui
            .add_enabled(!picked.is_empty(), egui::Button::new("Hide picked"))
            .clicked()
        {
            for &person in &picked {
                app.worker.send(Command::Edit(Edit::Hide {
                    person,
                    hidden: true,
                }));
            }
            app.state.people.picked.clear();
        }
        if ui.button("Undo").clicked() {
            app.worker.send(Command::Edit(Edit::Undo));
        }
    });
    let shown: Vec<(i64, Option<i64>, String, bool)> = app
        .state
        .people
        .shown()
        .into_iter()
        .map(|p| {
            let hidden = if p.hidden { " (hidden)" } else { "" };
            let caption = format!("{} · {} photos{hidden}", label(p), p.photos);
            (p.id, p.cover_face_id, caption, p.hidden)
        })
        .collect();
    if shown.is_empty() {
        hint(ui, "No people yet: index some photos");
        return;
    }
    let side = app.state.prefs.tile_side;
    let keys = app.state.viewer.is_none() && !ui.memory(|m| m.has_focus(filter_id()));
    let mut highlighted = app.state.people.highlighted;
    let mut ctrl_clicked = None;
    let opened = grid(
        ui,
        "people",
        shown.len(),
        egui::vec2(side, side),
        &mut highlighted,
        keys,
        |ui, i, lit| {
            let (id, cover, caption, _) = &shown[i];
            let texture = cover.and_then(|f| app.thumbs.get(&app.worker, ThumbKey::Face(f)));
            let picked = app.state.people.picked.contains(id);
            let response = tile(ui, texture, side, caption, lit || picked);
            if response.clicked() && ui.input(|i| i.modifiers.command) {
                ctrl_clicked = Some(*id);
            }
            response
        },
    );
    app.state.people.highlighted = highlighted;
    if let Some(id) = ctrl_clicked {
        let picked = &mut app.state.people.picked;
        match picked.iter().position(|p| *p == id) {
            Some(at) => {
                picked.remove(at);
            }
            None => picked.push(id),
        }
    } else if let Some(i) = opened {
        app.open_person(shown[i].0);
    }
}

fn person(ui: &mut Ui, app: &mut FacefindApp) {
    let Some(person) = app.state.people.person.as_ref() else {
        return;
    };
    let id = person.id;
    let photos: Vec<(i64, String, PhotoState)> = person
        .photos
        .iter()
        .map(|p| {
            let caption = match (p.state, p.similarity) {
                (PhotoState::Suggested, Some(s)) => format!("suggested {s:.2}"),
                (PhotoState::Confirmed, _) => "confirmed".to_owned(),
                _ => p
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            };
            (p.face_id, caption, p.state)
        })
        .collect();
    let title = person
        .name
        .clone()
        .unwrap_or_else(|| format!("person {id}"));
    ui.horizontal(|ui| {
        if ui.button("Back to people").clicked() {
            app.state.people.person = None;
        }
        ui.heading(&title);
        ui.add(
            egui::TextEdit::singleline(&mut app.state.people.rename)
                .hint_text("name")
                .desired_width(160.0),
        );
        if ui.button("Rename").clicked() {
            let name = app.state.people.rename.clone();
            app.worker
                .send(Command::Edit(Edit::Rename { person: id, name }));
        }
        if ui.button("Lookalikes").clicked() {
            app.ask_lookalikes(LookalikesOf::Person(id));
        }
    });
    ui.horizontal(|ui| {
        let slider = ui.add(
            Slider::new(&mut app.state.prefs.suggest_threshold, 0.2..=0.9)
                .text("suggestion threshold")
                .fixed_decimals(2),
        );
        if slider.drag_stopped() || (slider.changed() && !slider.dragged()) {
            app.open_person(id);
        }
    });
    let picked = app.state.people.picked_faces.clone();
    ui.horizontal(|ui| {
        ui.weak(format!("{} face(s) picked (Ctrl+click)", picked.len()));
        let any = !picked.is_empty();
        let edit = |edit| Command::Edit(edit);
        if ui.add_enabled(any, egui::Button::new("Confirm")).clicked() {
            app.worker.send(edit(Edit::Confirm {
                person: id,
                faces: picked.clone(),
            }));
        }
        if ui.add_enabled(any, egui::Button::new("Reject")).clicked() {
            app.worker.send(edit(Edit::Reject {
                person: id,
                faces: picked.clone(),
            }));
        }
        if ui
            .add_enabled(any, egui::Button::new("Split into a new person"))
            .clicked()
        {
            app.worker.send(edit(Edit::Split {
                faces: picked.clone(),
            }));
        }
    });
    if let Some((LookalikesOf::Person(of), clones)) = &app.state.lookalikes.of
        && *of == id
    {
        let clones: Vec<(i64, String)> = clones
            .results
            .iter()
            .map(|h| (h.face.face_id, format!("{:.2}", h.similarity)))
            .collect();
        egui::Panel::bottom("lookalikes").show(ui, |ui| {
            ui.strong(format!(
                "Lookalikes of {title}: other people, most similar first"
            ));
            egui::ScrollArea::horizontal().show(ui, |ui| {
                ui.horizontal(|ui| {
                    for (face, caption) in &clones {
                        let texture = app.thumbs.get(&app.worker, ThumbKey::Face(*face));
                        let response = tile(ui, texture, 72.0, caption, false);
                        app.face_menu(&response, *face);
                    }
                });
            });
        });
    }
    let side = app.state.prefs.tile_side;
    let keys = app.state.viewer.is_none();
    let mut highlighted = app.state.people.highlighted_face;
    let mut ctrl_clicked = None;
    let opened = grid(
        ui,
        "person photos",
        photos.len(),
        egui::vec2(side, side),
        &mut highlighted,
        keys,
        |ui, i, lit| {
            let (face, caption, _) = &photos[i];
            let texture = app.thumbs.get(&app.worker, ThumbKey::FaceInPhoto(*face));
            let picked = app.state.people.picked_faces.contains(face);
            let response = tile(ui, texture, side, caption, lit || picked);
            if response.clicked() && ui.input(|i| i.modifiers.command) {
                ctrl_clicked = Some(*face);
            }
            app.face_menu(&response, *face);
            response
        },
    );
    app.state.people.highlighted_face = highlighted;
    if let Some(face) = ctrl_clicked {
        let picked = &mut app.state.people.picked_faces;
        match picked.iter().position(|f| *f == face) {
            Some(at) => {
                picked.remove(at);
            }
            None => picked.push(face),
        }
    } else if let Some(i) = opened {
        app.open_photo(Command::OpenFace(photos[i].0));
    }
}

/// The path being built (its ends) and, once found, its chain of faces with
/// each step's similarity.
pub fn path_strip(ui: &mut Ui, app: &mut FacefindApp) {
    let path = &app.state.path;
    let end = |f: Option<i64>| f.map_or("?".to_owned(), |f| format!("face {f}"));
    let title = format!("Path from {} to {}", end(path.from), end(path.to));
    let steps: Option<Vec<(i64, String)>> = match &path.found {
        Some((_, _, Some(found))) => Some(
            found
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let caption = if i == 0 {
                        "start".to_owned()
                    } else {
                        format!("{:.2}", s.similarity)
                    };
                    (s.face.face_id, caption)
                })
                .collect(),
        ),
        _ => None,
    };
    let none_found = matches!(&path.found, Some((_, _, None)));
    ui.horizontal(|ui| {
        ui.strong(title);
        if ui.small_button("Clear").clicked() {
            app.state.path = Default::default();
        }
    });
    if none_found {
        ui.weak("No chain of similar faces links these two.");
    } else if steps.is_none() {
        ui.weak("Right-click a face: \"Path to here\" (or \"Path from here\").");
    }
    if let Some(steps) = steps {
        egui::ScrollArea::horizontal().show(ui, |ui| {
            ui.horizontal(|ui| {
                for (face, caption) in &steps {
                    let texture = app.thumbs.get(&app.worker, ThumbKey::Face(*face));
                    let response = tile(ui, texture, 72.0, caption, false);
                    app.face_menu(&response, *face);
                }
            });
        });
    }
}
