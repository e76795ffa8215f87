//! The first screen, while the library is empty: add a folder or try the samples.
use egui::{RichText, Ui};

use crate::jobs::worker::Command;
use crate::ui::app::FacefindApp;

pub fn show(ui: &mut Ui, app: &mut FacefindApp) {
    ui.vertical_centered(|ui| {
        ui.add_space(ui.available_height() * 0.2);
        ui.heading(RichText::new("Welcome to facefind").size(28.0));
        ui.add_space(8.0);
        ui.label("Find every photo of a person, their lookalikes, and paths from face to face.");
        ui.label("Everything stays on this computer.");
        ui.add_space(24.0);
        let writable = app.state.library.as_ref().is_some_and(|l| l.writable);
        ui.add_enabled_ui(
            writable && app.state.busy.is_none() && !app.state.indexing.running,
            |ui| {
                if ui
                    .add_sized([260.0, 36.0], egui::Button::new("Add a folder of photos…"))
                    .clicked()
                {
                    app.pick_folder();
                }
                ui.add_space(8.0);
                if ui
                    .add_sized([260.0, 36.0], egui::Button::new("Try the sample photos"))
                    .clicked()
                {
                    app.worker.send(Command::AddSamples);
                }
            },
        );
        ui.add_space(16.0);
        ui.weak("…or drop a folder anywhere on this window.");
        if let Some(library) = &app.state.library {
            ui.add_space(24.0);
            ui.weak(format!("Library: {}", library.dir.display()));
        }
    });
}
