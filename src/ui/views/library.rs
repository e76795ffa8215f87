//! The library: folders, the indexing job (progress, pause, resume, cancel),
//! the files skipped and why, and a grid of every face found.
use egui::{ProgressBar, Ui};

use crate::jobs::worker::{Command, ThumbKey};
use crate::ui::app::FacefindApp;
use crate::ui::widgets::grid::{grid, tile};

pub fn show(ui: &mut Ui, app: &mut FacefindApp) {
    egui::Panel::left("library side")
        .default_size(320.0)
        .min_size(260.0)
        .show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| side(ui, app));
        });
    egui::CentralPanel::default_margins().show(ui, |ui| faces(ui, app));
}

fn side(ui: &mut Ui, app: &mut FacefindApp) {
    let Some(library) = app.state.library.as_ref() else {
        ui.spinner();
        return;
    };
    ui.heading("Folders");
    for folder in &library.folders {
        ui.label(folder.display().to_string());
    }
    let idle = app.state.busy.is_none() && !app.state.indexing.running;
    let writable = library.writable;
    ui.horizontal(|ui| {
        ui.add_enabled_ui(writable && idle, |ui| {
            if ui.button("Add a folder…").clicked() {
                app.pick_folder();
            }
            if ui.button("Rescan").clicked() {
                app.worker.send(Command::Rescan);
            }
        });
    });
    ui.separator();
    indexing(ui, app);
    ui.separator();
    skipped(ui, app);
}

fn indexing(ui: &mut Ui, app: &mut FacefindApp) {
    ui.heading("Indexing");
    let job = &app.state.indexing;
    if let Some(scan) = &job.scan {
        ui.label(format!(
            "last scan: {} new, {} changed, {} moved, {} deleted",
            scan.new, scan.changed, scan.moved, scan.deleted
        ));
    }
    let Some(p) = job.progress else {
        let note = match (job.running, job.scan.is_some()) {
            (true, _) => job.step.unwrap_or("starting"),
            (false, true) => "nothing new to index",
            (false, false) => "no indexing run yet in this window",
        };
        ui.weak(note);
        return;
    };
    let fraction = p.done as f32 / p.total.max(1) as f32;
    ui.add(ProgressBar::new(fraction).text(format!("{} / {} photos", p.done, p.total)));
    let eta = match p.eta_s() {
        Some(s) if job.running => format!("ETA {}", duration(s)),
        _ => format!("took {}", duration(p.elapsed_s)),
    };
    ui.label(format!("{:.1} photos/s · {eta}", p.rate()));
    ui.label(format!("{} faces found · {} skipped", p.faces, p.failed));
    if let Some(step) = job.step {
        ui.weak(format!("now: {step}; searches answer meanwhile"));
    }
    if job.running {
        let control = app.worker.job();
        ui.horizontal(|ui| {
            if control.is_paused() {
                if ui.button("Resume").clicked() {
                    control.resume();
                }
                ui.weak("paused");
            } else if ui.button("Pause").clicked() {
                control.pause();
            }
            if ui.button("Cancel").clicked() {
                control.cancel();
            }
        });
    }
}

/// `2.5 s`, `42 s`, `1 min 30 s`, `2 h 5 min`.
fn duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match s {
        0..10 => format!("{seconds:.1} s"),
        10..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

fn skipped(ui: &mut Ui, app: &FacefindApp) {
    let Some(library) = app.state.library.as_ref() else {
        return;
    };
    let problems = app
        .state
        .indexing
        .scan
        .as_ref()
        .map(|s| s.problems.as_slice())
        .unwrap_or_default();
    let count = library.skipped.len() + problems.len();
    egui::CollapsingHeader::new(format!("Skipped files ({count})"))
        .id_salt("skipped")
        .show(ui, |ui| {
            if count == 0 {
                ui.weak("none");
            }
            let rows = library
                .skipped
                .iter()
                .map(|(p, r)| (p, r))
                .chain(problems.iter().map(|p| (&p.path, &p.reason)));
            for (path, reason) in rows {
                ui.label(path.display().to_string());
                ui.weak(format!("    {reason}"));
            }
        });
}

fn faces(ui: &mut Ui, app: &mut FacefindApp) {
    let ids = app.state.face_ids.clone();
    ui.horizontal(|ui| {
        ui.heading("Faces");
        ui.weak(format!("{} in the library", ids.len()));
    });
    if ids.is_empty() {
        ui.weak("No faces yet: add a folder of photos.");
        return;
    }
    let side = app.state.prefs.tile_side;
    let keys = app.state.viewer.is_none();
    let mut selected = app.state.selected_face;
    let opened = grid(
        ui,
        "all faces",
        ids.len(),
        egui::vec2(side, side),
        &mut selected,
        keys,
        |ui, i, highlighted| {
            let texture = app.thumbs.get(&app.worker, ThumbKey::Face(ids[i]));
            let response = tile(ui, texture, side, &format!("face {}", ids[i]), highlighted);
            app.face_menu(&response, ids[i]);
            response
        },
    );
    app.state.selected_face = selected;
    if let Some(i) = opened {
        app.open_photo(Command::OpenFace(ids[i]));
    }
}
