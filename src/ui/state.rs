//! The GUI's state: what is saved (preferences, with serde defaults) apart
//! from what lives only while the window is open (the worker's answers).
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::jobs::indexing::Progress;
use crate::jobs::people::{Clones, FacePath, LookalikePairHit, PersonPhotos, PersonSummary};
use crate::jobs::search::Hit;
use crate::jobs::worker::{LibraryInfo, LookalikesOf, PhotoView, QueryPhoto, ScanSummary};

/// Preferences saved in `ui.json` in the data dir; missing fields take their defaults.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Prefs {
    /// Search results below this cosine similarity are hidden.
    pub match_threshold: f32,
    /// Side of a face tile in the grids, in points.
    pub tile_side: f32,
    /// Suggestions for a person at this cosine similarity or more.
    pub suggest_threshold: f32,
}

impl Default for Prefs {
    fn default() -> Self {
        Self {
            // SFace's verification threshold for cosine similarity is about 0.36.
            match_threshold: 0.36,
            tile_side: 96.0,
            suggest_threshold: 0.5,
        }
    }
}

/// The main views, one at a time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum View {
    #[default]
    Library,
    People,
    Search,
    Lookalikes,
    Settings,
}

/// The tabs of the search results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SearchTab {
    /// The library's faces most similar to the query face.
    #[default]
    Matches,
    /// Other people who look like it.
    Lookalikes,
}

/// Where the indexing job stands, as last reported.
#[derive(Clone, Debug, Default)]
pub struct Indexing {
    pub scan: Option<ScanSummary>,
    pub progress: Option<Progress>,
    /// The step the job is at; None once it ended.
    pub step: Option<&'static str>,
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
    pub tab: SearchTab,
}

/// Lookalikes: of one face, person or query face, and the library's closest pairs.
#[derive(Default)]
pub struct Lookalikes {
    pub of: Option<(LookalikesOf, Clones)>,
    /// The lookalikes asked for last (the answer may not be in yet).
    pub asked: Option<LookalikesOf>,
    pub selected: Option<usize>,
    /// None until asked for (on first showing the Lookalikes view).
    pub pairs: Option<Vec<LookalikePairHit>>,
    pub pairs_asked: bool,
    pub selected_pair: Option<usize>,
    pub tab: LookalikesTab,
}

/// The two galleries of the Lookalikes view.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LookalikesTab {
    /// The library-wide closest pairs of different people.
    #[default]
    Pairs,
    /// The lookalikes of one face or person.
    Of,
}

/// How the people grid is ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PeopleOrder {
    #[default]
    Faces,
    Photos,
    Name,
}

/// The people grid and the person open in it.
#[derive(Default)]
pub struct People {
    pub all: Vec<PersonSummary>,
    pub filter: String,
    pub order: PeopleOrder,
    pub show_hidden: bool,
    /// Ids of the people picked (Ctrl+click) for a merge or to hide.
    pub picked: Vec<i64>,
    pub highlighted: Option<usize>,
    pub person: Option<Box<PersonPhotos>>,
    /// Face ids picked among the person's photos (to confirm, reject, split).
    pub picked_faces: Vec<i64>,
    pub highlighted_face: Option<usize>,
    pub rename: String,
}

impl People {
    /// The people shown: filtered by name, hidden ones only when asked, in order.
    pub fn shown(&self) -> Vec<&PersonSummary> {
        let filter = self.filter.to_lowercase();
        let mut shown: Vec<&PersonSummary> = self
            .all
            .iter()
            .filter(|p| self.show_hidden || !p.hidden)
            .filter(|p| filter.is_empty() || label(p).to_lowercase().contains(&filter))
            .collect();
        match self.order {
            PeopleOrder::Faces => {}
            PeopleOrder::Photos => shown.sort_by_key(|p| std::cmp::Reverse(p.photos)),
            PeopleOrder::Name => shown.sort_by_key(|p| (p.name.is_none(), label(p).to_lowercase())),
        }
        shown
    }
}

/// A person's name, else "person N".
pub fn label(person: &PersonSummary) -> String {
    person
        .name
        .clone()
        .unwrap_or_else(|| format!("person {}", person.id))
}

/// A face-to-face path: its ends as picked, and the chain once found.
#[derive(Default)]
pub struct Path {
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// (from, to, the chain; None when nothing links them).
    pub found: Option<(i64, i64, Option<FacePath>)>,
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
    pub people: People,
    pub lookalikes: Lookalikes,
    pub path: Path,
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

    /// The name of a face's person, "person N", or "no person".
    pub fn person_label(&self, person: Option<i64>) -> String {
        match person {
            Some(id) => self
                .people
                .all
                .iter()
                .find(|p| p.id == id)
                .map_or_else(|| format!("person {id}"), label),
            None => "no person".to_owned(),
        }
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

    fn person(id: i64, name: Option<&str>, faces: u64, photos: u64, hidden: bool) -> PersonSummary {
        PersonSummary {
            id,
            name: name.map(str::to_owned),
            faces,
            photos,
            hidden,
            cover_face_id: None,
        }
    }

    #[test]
    fn people_filter_hide_and_order() {
        let mut people = People {
            all: vec![
                person(1, None, 9, 3, false),
                person(2, Some("Zoe"), 5, 5, false),
                person(3, Some("ann"), 2, 2, true),
                person(4, Some("Bob"), 1, 8, false),
            ],
            ..People::default()
        };
        let ids = |p: &People| p.shown().iter().map(|p| p.id).collect::<Vec<_>>();
        assert_eq!(ids(&people), [1, 2, 4]);
        people.show_hidden = true;
        people.order = PeopleOrder::Name;
        assert_eq!(ids(&people), [3, 4, 2, 1]);
        people.order = PeopleOrder::Photos;
        assert_eq!(ids(&people), [4, 2, 1, 3]);
        people.filter = "O".into();
        assert_eq!(ids(&people), [4, 2, 1], "case-insensitive, on labels");
    }

    #[test]
    fn prefs_default_missing_fields() {
        let prefs: Prefs = serde_json::from_str(r#"{"tile_side": 120.0}"#).unwrap();
        assert_eq!(prefs.tile_side, 120.0);
        assert_eq!(prefs.match_threshold, Prefs::default().match_threshold);
    }
}
