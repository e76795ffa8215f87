//! Settings: library folders, the compute backend (chosen and in use),
//! detection and match thresholds, indexing and index parameters; checked
//! here, saved (serde) by the worker.
use egui::{DragValue, Grid, Slider, Ui};

use crate::compute::select::BackendChoice;
use crate::ui::app::FacefindApp;

pub fn show(ui: &mut Ui, app: &mut FacefindApp) {
    let Some(library) = app.state.library.clone() else {
        ui.spinner();
        return;
    };
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.heading("Library");
        ui.label(format!("data dir: {}", library.dir.display()));
        for folder in &library.folders {
            ui.label(format!("folder: {}", folder.display()));
        }
        if ui.button("Add a folder…").clicked() {
            app.pick_folder();
        }
        ui.label(format!("index: {}", library.index));
        ui.separator();
        let Some(mut draft) = app.draft().cloned() else {
            return;
        };
        ui.heading("Compute");
        ui.horizontal(|ui| {
            ui.label("backend");
            let backend = &mut draft.config.compute.backend;
            for (choice, label) in [
                (BackendChoice::Auto, "auto"),
                (BackendChoice::Gpu, "GPU"),
                (BackendChoice::Cpu, "CPU"),
            ] {
                ui.radio_value(backend, choice, label);
            }
        });
        ui.label(format!("in use: {}", library.backend));
        ui.weak("A new backend applies when facefind starts; --backend and FACEFIND_BACKEND override it.");
        ui.separator();
        ui.heading("Detection and matching");
        let faces = &mut draft.config.faces;
        Grid::new("thresholds").num_columns(2).show(ui, |ui| {
            ui.label("face detection threshold");
            ui.add(Slider::new(&mut faces.score_threshold, 0.3..=0.99).fixed_decimals(2));
            ui.end_row();
            ui.label("overlap suppression (IoU)");
            ui.add(Slider::new(&mut faces.nms_threshold, 0.1..=0.9).fixed_decimals(2));
            ui.end_row();
            ui.label("match threshold (cosine)");
            ui.add(Slider::new(&mut draft.prefs.match_threshold, 0.0..=1.0).fixed_decimals(2));
            ui.end_row();
        });
        ui.separator();
        ui.heading("Indexing");
        Grid::new("index params").num_columns(2).show(ui, |ui| {
            ui.label("second pass for small faces");
            ui.checkbox(&mut faces.tiled_pass, "");
            ui.end_row();
            ui.label("threads per model (0: one per core)");
            ui.add(DragValue::new(&mut faces.intra_threads).range(0..=64));
            ui.end_row();
            ui.label("faces per recognizer call");
            ui.add(DragValue::new(&mut faces.embed_batch).range(1..=256));
            ui.end_row();
            ui.label("largest photo (megapixels)");
            let mut mp = faces.max_pixels / 1_000_000;
            if ui.add(DragValue::new(&mut mp).range(1..=1000)).changed() {
                faces.max_pixels = mp * 1_000_000;
            }
            ui.end_row();
        });
        ui.separator();
        ui.heading("Index");
        let index = &mut draft.config.index;
        Grid::new("index spec").num_columns(2).show(ui, |ui| {
            ui.label("index kind");
            ui.add(
                egui::TextEdit::singleline(&mut index.spec)
                    .hint_text("auto, Flat or IVF1024,PQ64x4fs,RFlat")
                    .desired_width(260.0),
            );
            ui.end_row();
            for (label, value, automatic, range) in [
                ("lists visited (nprobe)", &mut index.nprobe, "automatic: a quarter of the lists", 1..=65536),
                ("re-ranking (k_factor)", &mut index.k_factor, "automatic: 32", 1..=1024),
            ] {
                ui.label(label);
                ui.horizontal(|ui| {
                    let mut auto = value.is_none();
                    if ui.checkbox(&mut auto, automatic).changed() {
                        *value = (!auto).then_some(*range.start());
                    }
                    if let Some(v) = value {
                        ui.add(DragValue::new(v).range(range));
                    }
                });
                ui.end_row();
            }
        });
        ui.weak("A new index kind is trained in the background; searches go on meanwhile.");
        ui.separator();
        ui.heading("Window");
        ui.add(Slider::new(&mut draft.prefs.tile_side, 48.0..=192.0).text("face tile size"));
        ui.separator();
        let changed = draft.config != library.config || draft.prefs != app.state.prefs;
        let invalid = draft.config.validate().err();
        app.state.draft = Some(draft);
        if let Some(err) = &invalid {
            ui.colored_label(ui.visuals().error_fg_color, err.to_string());
        }
        ui.horizontal(|ui| {
            if ui
                .add_enabled(changed && invalid.is_none(), egui::Button::new("Save settings"))
                .clicked()
            {
                app.save_settings();
            }
            if ui
                .add_enabled(changed, egui::Button::new("Revert"))
                .clicked()
            {
                app.state.draft = None;
            }
        });
    });
}
