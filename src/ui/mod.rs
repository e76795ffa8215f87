//! The desktop window (eframe + egui). The window only draws and sends
//! commands; the library, the models and every slow step live on the
//! worker (`jobs::worker`), whose answers are drained once per frame.
pub mod app;
pub mod state;
pub mod views;
pub mod widgets;

use std::path::PathBuf;

pub use app::FacefindApp;

/// Opens the window on the library in `data_dir` (searching with `photo`, if
/// given) and returns when it is closed.
pub fn run(data_dir: PathBuf, photo: Option<PathBuf>) -> Result<(), eframe::Error> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("facefind")
            .with_app_id("facefind")
            .with_inner_size([1200.0, 800.0])
            .with_min_inner_size([640.0, 480.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "facefind",
        options,
        Box::new(move |_| Ok(Box::new(FacefindApp::with_photo(data_dir, photo)))),
    )
}
