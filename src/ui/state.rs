//! The GUI's state: what is saved (preferences, with serde defaults) apart
//! from what lives only while the window is open (the worker's answers).
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::jobs::indexing::Progress;
use crate::jobs::search::Hit;
use crate::jobs::worker::{LibraryInfo, PhotoView, QueryPhoto, ScanSummary};

/// Preferences saved in `ui.json` in the data dir; missing fields take their defaults.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Prefs {
    /// Search results below this cosine similarity are hidden.
    pub match_threshold: f32,
    /// Side of a face tile in the grids, in points.
    pub tile_side: f32,
}

impl Default for Prefs {
    fn default() -> Self {
        Self {
            // SFace's verification threshold for cosine similarity is about 0.36.
            match_threshold: 0.36,
            tile_side: 96.0,
        }
    }
}

/// The main views, one at a time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum View {
    #[default]
    Library,
    Search,
    Settings,
}

/// Where the indexing job stands, as last reported.
#[derive(Clone, Debug, Default)]
pub struct Indexing {
    pub scan: Option<ScanSummary>,
    pub progress: Option<Progress>,
    /// False once the job reported its end.
    pub running: bool,
}

/// Search by photo: the query and its results.
#[derive(Default)]
pub struct Search {
    pub query: Option<Box<QueryPhoto>>,
    /// The face of the query the results are for.
    pub face: usize,
    pub hits: Vec<Hit>,
    /// The highlighted result (keyboard).
    pub selected: Option<usize>,
}

/// Everything the window shows.
#[derive(Default)]
pub struct State {
    pub view: View,
    pub prefs: Prefs,
    /// None until the worker has opened the library.
    pub library: Option<Box<LibraryInfo>>,
    pub face_ids: Arc<Vec<i64>>,
    /// The highlighted face of the library grid (keyboard).
    pub selected_face: Option<usize>,
    pub indexing: Indexing,
    pub search: Search,
    /// The photo viewer, over the current view while open.
    pub viewer: Option<Box<PhotoView>>,
    /// A photo is being loaded into the viewer.
    pub opening: bool,
    /// The worker's current task.
    pub busy: Option<&'static str>,
    /// Failures not yet dismissed: (task, message).
    pub errors: Vec<(&'static str, String)>,
    /// Settings being edited, until saved.
    pub draft: Option<Draft>,
}

/// The settings form's values.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    pub config: crate::config::Config,
    pub prefs: Prefs,
}

impl State {
    /// True when the library has no folder yet: the welcome screen shows.
    pub fn is_empty_library(&self) -> bool {
        self.library
            .as_ref()
            .is_some_and(|l| l.folders.is_empty() && l.counts.photos == 0)
            && !self.indexing.running
    }

    /// The results at or above the match threshold (they are sorted best first).
    pub fn visible_hits(&self) -> &[Hit] {
        let hits = &self.search.hits;
        let n = hits.partition_point(|h| h.similarity >= self.prefs.match_threshold);
        &hits[..n]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefs_default_missing_fields() {
        let prefs: Prefs = serde_json::from_str(r#"{"tile_side": 120.0}"#).unwrap();
        assert_eq!(prefs.tile_side, 120.0);
        assert_eq!(prefs.match_threshold, Prefs::default().match_threshold);
    }
}
