//! Search by photo: the query photo with its faces boxed (click one to search
//! with it), a threshold slider and the gallery of the most similar faces; a
//! second tab shows the other people who look like the chosen face.
use egui::{Slider, Ui};

use crate::jobs::worker::{Command, LookalikesOf, ThumbKey};
use crate::ui::app::FacefindApp;
use crate::ui::state::SearchTab;
use crate::ui::views::lookalikes::gallery;
use crate::ui::widgets::grid::{grid, tile};
use crate::ui::widgets::photo::{FaceBox, boxed_photo, hint};

pub fn show(ui: &mut Ui, app: &mut FacefindApp) {
    ui.horizontal(|ui| {
        if ui.button("Open a photo…").clicked() {
            app.pick_photo();
        }
        ui.weak("or drop a photo anywhere on the window (Ctrl+F opens one)");
    });
    ui.separator();
    let Some(query) = app.state.search.query.as_ref() else {
        hint(
            ui,
            "Drop a photo here to find the same person in your library",
        );
        return;
    };
    let Some(texture) = app.query_texture.clone() else {
        return;
    };
    let boxes: Vec<FaceBox> = query
        .faces
        .iter()
        .enumerate()
        .map(|(i, f)| FaceBox {
            bbox: f.bbox,
            label: format!("face {}", i + 1),
            chosen: i == app.state.search.face,
        })
        .collect();
    let (scale, name) = (
        query.scale,
        query
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    );
    let face_count = boxes.len();
    egui::Panel::left("query")
        .default_size(340.0)
        .min_size(300.0)
        .show(ui, |ui| {
            ui.label(format!("{name}: {face_count} face(s)"));
            let max = egui::vec2(ui.available_width(), ui.available_height() - 80.0);
            let responses = boxed_photo(ui, &texture, scale, &boxes, max);
            if let Some(face) = responses.iter().position(|r| r.clicked()) {
                app.worker.send(Command::SearchFace(face));
            }
            if face_count > 1 {
                ui.weak("Click a face to search with it.");
            }
        });
    egui::CentralPanel::default_margins().show(ui, |ui| {
        let tab = &mut app.state.search.tab;
        ui.horizontal(|ui| {
            ui.selectable_value(tab, SearchTab::Matches, "Matches");
            ui.selectable_value(tab, SearchTab::Lookalikes, "Lookalikes");
        });
        match app.state.search.tab {
            SearchTab::Matches => results(ui, app),
            SearchTab::Lookalikes => lookalikes(ui, app),
        }
    });
}

/// Other people who look like the chosen face of the query.
fn lookalikes(ui: &mut Ui, app: &mut FacefindApp) {
    let of = LookalikesOf::Query(app.state.search.face);
    app.ask_lookalikes(of);
    ui.heading("Lookalikes");
    match &app.state.lookalikes.of {
        Some((shown, clones)) if *shown == of => {
            let hits = clones.results.clone();
            ui.weak("Other people who look like this face, most similar first");
            gallery(ui, app, "query lookalikes", &hits);
        }
        _ => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Finding lookalikes…");
            });
        }
    }
}

fn results(ui: &mut Ui, app: &mut FacefindApp) {
    ui.horizontal(|ui| {
        ui.heading("Results");
        ui.add(
            Slider::new(&mut app.state.prefs.match_threshold, 0.0..=1.0)
                .text("threshold")
                .fixed_decimals(2),
        );
    });
    let hits = app.state.visible_hits().to_vec();
    ui.weak(format!(
        "{} face(s) at similarity {:.2} or more (of {} found)",
        hits.len(),
        app.state.prefs.match_threshold,
        app.state.search.hits.len()
    ));
    if hits.is_empty() {
        hint(
            ui,
            "No face in the library this similar: lower the threshold",
        );
        return;
    }
    let side = app.state.prefs.tile_side;
    let keys = app.state.viewer.is_none();
    let mut selected = app.state.search.selected;
    let opened = grid(
        ui,
        "results",
        hits.len(),
        egui::vec2(side, side),
        &mut selected,
        keys,
        |ui, i, lit| {
            let hit = &hits[i];
            let texture = app
                .thumbs
                .get(&app.worker, ThumbKey::Face(hit.face.face_id));
            let caption = format!("{:.2}", hit.similarity);
            let response = tile(ui, texture, side, &caption, lit);
            app.face_menu(&response, hit.face.face_id);
            response.on_hover_text(hit.face.path.display().to_string())
        },
    );
    app.state.search.selected = selected;
    if let Some(i) = opened {
        app.open_photo(Command::OpenPhoto(hits[i].face.path.clone()));
    }
}
