//! The photo viewer: the photo with every face box, and buttons to open it in
//! the system's viewer or show it in the file manager. Esc closes it.
use std::path::Path;

use egui::{Context, Id, Modal};

use crate::ui::app::FacefindApp;
use crate::ui::state::label;
use crate::ui::widgets::photo::{FaceBox, boxed_photo};

pub fn show(ctx: &Context, app: &mut FacefindApp) {
    if app.state.opening && app.state.viewer.is_none() {
        Modal::new(Id::unique("opening")).show(ctx, |ui| {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Opening the photo…");
            });
        });
        return;
    }
    let (Some(photo), Some(texture)) = (app.state.viewer.as_ref(), app.viewer_texture.clone())
    else {
        return;
    };
    let people = &app.state.people.all;
    let boxes: Vec<FaceBox> = photo
        .faces
        .iter()
        .map(|f| FaceBox {
            bbox: f.bbox,
            label: match f.person_id {
                Some(person) => people
                    .iter()
                    .find(|p| p.id == person)
                    .map_or(format!("person {person}"), label),
                None => format!("face {}", f.face_id),
            },
            chosen: false,
        })
        .collect();
    let face_ids: Vec<i64> = photo.faces.iter().map(|f| f.face_id).collect();
    let path = photo.path.clone();
    let scale = photo.scale;
    let view = app.state.view;
    let screen = ctx.content_rect().size();
    let mut close = false;
    let mut failure = None;
    let response = Modal::new(Id::unique("viewer")).show(ctx, |ui| {
        ui.horizontal(|ui| {
            ui.strong(path.display().to_string());
            ui.weak(format!("{} face(s)", boxes.len()));
        });
        let max = egui::vec2(screen.x * 0.85, screen.y * 0.75);
        // Each box has the face menu: lookalikes, paths.
        for (response, &face) in boxed_photo(ui, &texture, scale, &boxes, max)
            .iter()
            .zip(&face_ids)
        {
            app.face_menu(response, face);
        }
        ui.horizontal(|ui| {
            if ui.button("Open in the system viewer").clicked() {
                failure = open_with_system(&path).err();
            }
            if ui.button("Show in the file manager").clicked() {
                let folder = path.parent().unwrap_or(Path::new("/"));
                failure = open_with_system(folder).err();
            }
            if ui.button("Close").clicked() {
                close = true;
            }
        });
    });
    if let Some(message) = failure {
        app.state.errors.push(("opening with the system", message));
    }
    // A menu choice that moved to another view leaves the photo.
    if close || response.should_close() || app.state.view != view {
        app.close_viewer();
    }
}

/// `xdg-open PATH`, reaped on a thread of its own so the window never waits.
fn open_with_system(path: &Path) -> Result<(), String> {
    let mut child = std::process::Command::new("xdg-open")
        .arg(path)
        .spawn()
        .map_err(|e| format!("xdg-open {}: {e}", path.display()))?;
    std::thread::spawn(move || child.wait());
    Ok(())
}
