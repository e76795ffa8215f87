//! Lookalikes: the library-wide closest pairs of different people (pick a
//! pair to see both people), and the other people who look like one face or
//! person, with their similarity.
use egui::Ui;

use crate::jobs::search::Hit;
use crate::jobs::worker::{Command, LookalikesOf, ThumbKey};
use crate::ui::app::FacefindApp;
use crate::ui::state::LookalikesTab;
use crate::ui::widgets::grid::{grid, tile, tiles, tiles_width};
use crate::ui::widgets::photo::hint;

pub fn show(ui: &mut Ui, app: &mut FacefindApp) {
    if !app.state.lookalikes.pairs_asked {
        app.state.lookalikes.pairs_asked = true;
        app.worker.send(Command::Pairs);
    }
    let shown = app.state.lookalikes.of.as_ref().map(|(of, _)| *of);
    let asked = app.state.lookalikes.asked;
    let of_label = match asked.or(shown) {
        Some(LookalikesOf::Person(id)) => Some(app.state.person_label(Some(id))),
        Some(LookalikesOf::Face(id)) => Some(format!("face {id}")),
        // The query photo's lookalikes live in the search view.
        Some(LookalikesOf::Query(_)) | None => None,
    };
    let tab = &mut app.state.lookalikes.tab;
    if of_label.is_none() {
        *tab = LookalikesTab::Pairs;
    }
    ui.horizontal(|ui| {
        ui.heading("Lookalikes");
        ui.selectable_value(tab, LookalikesTab::Pairs, "Closest pairs");
        if let Some(of) = &of_label {
            ui.selectable_value(tab, LookalikesTab::Of, format!("Like {of}"));
        }
    });
    ui.separator();
    match app.state.lookalikes.tab {
        LookalikesTab::Pairs => pairs(ui, app),
        LookalikesTab::Of if asked.is_some() && asked != shown => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Finding lookalikes…");
            });
        }
        LookalikesTab::Of => {
            let hits = app
                .state
                .lookalikes
                .of
                .as_ref()
                .map(|(_, clones)| clones.results.clone())
                .unwrap_or_default();
            ui.weak(format!(
                "Other people who look like {}, most similar first",
                of_label.unwrap_or_default()
            ));
            gallery(ui, app, "lookalikes of", &hits);
        }
    }
}

/// Lookalike faces with their similarity and person; Enter or a double click
/// opens the person (or the photo of a face without one).
pub fn gallery(ui: &mut Ui, app: &mut FacefindApp, id_salt: &str, hits: &[Hit]) {
    if hits.is_empty() {
        hint(ui, "No lookalikes found yet");
        return;
    }
    let side = app.state.prefs.tile_side;
    let keys = app.state.viewer.is_none();
    let captions: Vec<String> = hits
        .iter()
        .map(|h| {
            let who = app.state.person_label(h.face.person_id);
            format!("{:.2} · {who}", h.similarity)
        })
        .collect();
    let mut selected = app.state.lookalikes.selected;
    let opened = grid(
        ui,
        id_salt,
        hits.len(),
        egui::vec2(side, side),
        &mut selected,
        keys,
        |ui, i, lit| {
            let face = hits[i].face.face_id;
            let texture = app.thumbs.get(&app.worker, ThumbKey::Face(face));
            let response = tile(ui, texture, side, &captions[i], lit);
            app.face_menu(&response, face);
            response.on_hover_text(hits[i].face.path.display().to_string())
        },
    );
    app.state.lookalikes.selected = selected;
    if let Some(i) = opened {
        match hits[i].face.person_id {
            Some(person) => app.open_person(person),
            None => app.open_photo(Command::OpenFace(hits[i].face.face_id)),
        }
    }
}

fn pairs(ui: &mut Ui, app: &mut FacefindApp) {
    let Some(pairs) = app.state.lookalikes.pairs.clone() else {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Finding the closest pairs of different people…");
        });
        return;
    };
    ui.horizontal(|ui| {
        ui.weak(format!(
            "The {} closest pairs of different people in the library",
            pairs.len()
        ));
        if ui.small_button("Refresh").clicked() {
            app.worker.send(Command::Pairs);
        }
    });
    if pairs.is_empty() {
        hint(ui, "No two people look alike yet: index more photos");
        return;
    }
    if let Some(pair) = app
        .state
        .lookalikes
        .selected_pair
        .and_then(|i| pairs.get(i))
    {
        let (a, b) = (&pair.a, &pair.b);
        ui.horizontal(|ui| {
            ui.strong(format!("{:.2}", pair.similarity));
            for face in [a, b] {
                if let Some(person) = face.person_id {
                    let name = app.state.person_label(Some(person));
                    if ui.button(format!("Open {name}")).clicked() {
                        app.open_person(person);
                    }
                }
            }
            if ui.button("Path between them").clicked() {
                app.state.path.from = Some(a.face_id);
                app.state.path.to = Some(b.face_id);
                app.state.path.found = None;
                app.worker.send(Command::Path {
                    from: a.face_id,
                    to: b.face_id,
                });
            }
        });
        ui.separator();
    }
    let side = app.state.prefs.tile_side;
    let keys = app.state.viewer.is_none();
    let captions: Vec<String> = pairs
        .iter()
        .map(|p| {
            let (a, b) = (
                app.state.person_label(p.a.person_id),
                app.state.person_label(p.b.person_id),
            );
            format!("{:.2} · {a} ~ {b}", p.similarity)
        })
        .collect();
    let mut selected = app.state.lookalikes.selected_pair;
    let opened = grid(
        ui,
        "lookalike pairs",
        pairs.len(),
        egui::vec2(tiles_width(2, side), side),
        &mut selected,
        keys,
        |ui, i, lit| {
            let (a, b) = (pairs[i].a.face_id, pairs[i].b.face_id);
            let ta = app.thumbs.get(&app.worker, ThumbKey::Face(a)).cloned();
            let tb = app.thumbs.get(&app.worker, ThumbKey::Face(b)).cloned();
            tiles(ui, &[ta.as_ref(), tb.as_ref()], side, &captions[i], lit)
        },
    );
    app.state.lookalikes.selected_pair = selected;
    // Enter opens the first person of the pair; the bar above opens either.
    if let Some(person) = opened.and_then(|i| pairs[i].a.person_id) {
        app.open_person(person);
    }
}
