//! People over a library: the back end the CLI and the GUI share.
//!
//! - [`update`] clusters the library's faces into people (after indexing),
//!   keeping every name, confirmation and rejection (`people::identity`);
//! - [`list_people`], [`person_photos`]: the people and every photo of one,
//!   with ranked suggestions above an adjustable threshold;
//! - edits ([`name_person`], [`merge_people`], [`split_faces`],
//!   [`confirm_faces`], [`reject_faces`], [`set_hidden`]) each log a snapshot
//!   of what they change, so [`undo`] puts the last one back;
//! - [`clones_of_faces`], [`clones_of_person`], [`clones_of_photo`],
//!   [`lookalike_pairs`]: lookalikes; [`face_path`]: face-to-face chains.
//!
//! The kNN graph the clustering is built from is saved beside the index
//! (`people/knn.graph`, tagged with the catalog's face mark), so pairs and
//! paths need no search over the whole library.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::{CatalogError, IndexError};
use crate::faces::{DIM, FacePipeline};
use crate::index::factory::Spec;
use crate::index::{JobControl, SearchParams, VectorIndex};
use crate::jobs::search::{Hit, SearchError, photo_faces};
use crate::library::Library;
use crate::library::catalog::{
    AssignmentRow, Catalog, CatalogTx, FaceHit, FaceMark, PeopleRun, PersonRow, Source,
};
use crate::library::vectors::StoreError;
use crate::people::cluster::{ClusterParams, Method, cluster};
use crate::people::graph::{self, KnnGraph};
use crate::people::identity::{Assignment, FaceState, reconcile};
use crate::people::lookalikes::{FaceFacts, LookalikeParams, closest_pairs, lookalikes};
use crate::people::paths;

/// Neighbours per face in the people graph.
pub const GRAPH_K: usize = 16;
/// The default threshold for suggestions ("every photo of a person").
pub const SUGGEST_SIM: f32 = 0.5;
/// An unassigned face this close to a query is taken for the same person (clones).
pub const SAME_PERSON_SIM: f32 = 0.5;
/// Candidates searched per query face for suggestions and lookalikes.
const SEARCH_K: usize = 200;
/// At most this many of a person's faces (best quality first) query for suggestions and clones.
const QUERY_FACES: usize = 64;

/// How faces are grouped into people.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PeopleParams {
    pub cluster: ClusterParams,
    /// Faces below this quality stay unassigned (blurred, tiny or doubtful detections).
    pub min_quality: f32,
}

/// The clustering the library uses, chosen by measurement on LFW
/// (`facefind bench people --library`, figures in benches/RESULTS.md).
impl Default for PeopleParams {
    fn default() -> Self {
        Self {
            cluster: ClusterParams {
                method: Method::ChineseWhispers { iterations: 20 },
                min_sim: 0.5,
                min_core: 1,
                min_faces: 2,
            },
            min_quality: 0.3,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PeopleError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Vectors(#[from] StoreError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error("no person {0} in the library (see `facefind people`)")]
    NoSuchPerson(String),
    #[error("{count} people are named {name:?} (ids {ids}); give the id instead")]
    AmbiguousName {
        name: String,
        count: usize,
        ids: String,
    },
    #[error("no face {0} in the library")]
    NoSuchFace(i64),
    #[error("face {0} has no person; say which person with --person")]
    FaceWithoutPerson(i64),
    #[error("{0}: the photo is not in the library and no library face matches it")]
    PhotoNotInLibrary(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the people edit log holds a snapshot that cannot be read: {0}")]
    Snapshot(#[from] serde_json::Error),
    #[error("nothing to undo")]
    NothingToUndo,
}

pub type PeopleResult<T> = Result<T, PeopleError>;

// ---------------------------------------------------------------- clustering

/// What [`update`] did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct UpdateReport {
    /// False when the people were already up to date with the faces.
    pub reclustered: bool,
    pub faces: usize,
    pub assigned: usize,
    pub people: usize,
    pub new_people: usize,
    pub elapsed_s: f64,
}

/// Brings the people up to date with the library's faces: when faces came
/// or went since the last run, a full re-cluster that keeps the user's
/// work. Needs a writer.
pub fn update(library: &mut Library, ctl: &JobControl) -> PeopleResult<UpdateReport> {
    let mark = library.catalog.face_mark()?;
    if library.catalog.last_people_run()?.map(|r| r.mark) == Some(mark) {
        return Ok(UpdateReport {
            faces: mark.count as usize,
            ..UpdateReport::default()
        });
    }
    recluster(library, ctl)
}

/// Clusters every face again (see [`update`]).
pub fn recluster(library: &mut Library, ctl: &JobControl) -> PeopleResult<UpdateReport> {
    recluster_with(library, &PeopleParams::default(), ctl)
}

/// [`recluster`] with other parameters (the benchmark compares them).
pub fn recluster_with(
    library: &mut Library,
    params: &PeopleParams,
    ctl: &JobControl,
) -> PeopleResult<UpdateReport> {
    let started = Instant::now();
    let faces = LibraryFaces::load(&library.catalog)?;
    let graph = faces.graph(library, ctl)?;
    let path = graph_path(library.dir());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| IndexError::io(dir, e))?;
    }
    graph::save(&path, &mark_tag(faces.mark), &faces.ids, &graph)?;
    let eligible: Vec<bool> = faces
        .quality
        .iter()
        .map(|&q| q >= params.min_quality)
        .collect();
    let keys = order_free_keys(&faces.vectors, DIM);
    let groups = cluster(&graph, &keys, &eligible, &params.cluster);

    let rows = library.catalog.assignment_rows()?;
    let prior = faces.prior_states(&rows);
    let mut confirmed_of: HashMap<i64, Vec<usize>> = HashMap::new();
    for (i, state) in prior.iter().enumerate() {
        if let (Some(p), true) = (state.person, state.confirmed) {
            confirmed_of.entry(p).or_default().push(i);
        }
    }
    let vectors = &faces.vectors;
    let nearest = |face: usize, people: &[i64]| {
        let closeness = |p: &i64| {
            confirmed_of[p]
                .iter()
                .map(|&c| dot(row(vectors, face), row(vectors, c)))
                .fold(f32::MIN, f32::max)
        };
        *people
            .iter()
            .max_by(|a, b| closeness(a).total_cmp(&closeness(b)).then(b.cmp(a)))
            .expect("a group with confirmed people names at least one")
    };
    let placed = reconcile(&groups, &prior, nearest);

    let (assigned, new_people) = library.catalog.write(|tx| {
        tx.clear_automatic()?;
        let mut created: HashMap<u32, i64> = HashMap::new();
        let mut assigned = 0;
        for (i, place) in placed.iter().enumerate() {
            let Some(place) = place else { continue };
            assigned += 1;
            let person = match *place {
                Assignment::Existing(p) => p,
                Assignment::New(g) => match created.get(&g) {
                    Some(&p) => p,
                    None => {
                        let p = tx.insert_person(None)?;
                        created.insert(g, p);
                        p
                    }
                },
            };
            if !(prior[i].confirmed && prior[i].person == Some(person)) {
                tx.assign(faces.ids[i] as i64, person, Source::Automatic)?;
            }
        }
        tx.delete_empty_people()?;
        Ok((assigned, created.len()))
    })?;
    let people = library.catalog.person_stats()?.len();
    let elapsed = started.elapsed();
    library.catalog.write(|tx| {
        tx.record_people_run(&PeopleRun {
            mark: faces.mark,
            method: format!("{:?}, min_quality {}", params.cluster, params.min_quality),
            assigned: assigned as u64,
            people: people as u64,
            elapsed_ms: elapsed.as_millis() as u64,
        })
    })?;
    Ok(UpdateReport {
        reclustered: true,
        faces: faces.ids.len(),
        assigned,
        people,
        new_people,
        elapsed_s: elapsed.as_secs_f64(),
    })
}

/// Keys that depend on each face's content, not on when it was imported:
/// the rank of (hash of the embedding, position). Only exact duplicates of
/// one embedding fall back to their position, and they cluster together.
pub fn order_free_keys(vectors: &[f32], dim: usize) -> Vec<u64> {
    let hashes: Vec<u64> = vectors
        .chunks_exact(dim)
        .map(|v| {
            v.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, x| {
                (h ^ u64::from(x.to_bits())).wrapping_mul(0x100_0000_01b3)
            })
        })
        .collect();
    let mut order: Vec<usize> = (0..hashes.len()).collect();
    order.sort_unstable_by_key(|&i| (hashes[i], i));
    let mut keys = vec![0u64; hashes.len()];
    for (rank, &i) in order.iter().enumerate() {
        keys[i] = rank as u64;
    }
    keys
}

/// Every face of the library, by position (ascending face id).
struct LibraryFaces {
    mark: FaceMark,
    ids: Vec<u64>,
    quality: Vec<f32>,
    vectors: Vec<f32>,
}

impl LibraryFaces {
    fn load(catalog: &Catalog) -> PeopleResult<Self> {
        let mark = catalog.face_mark()?;
        let facts = catalog.face_facts()?;
        let mut vectors = Vec::with_capacity(facts.len() * DIM);
        let mut ids = Vec::with_capacity(facts.len());
        catalog.for_each_embedding(0, 8192, |chunk_ids, chunk| {
            ids.extend_from_slice(chunk_ids);
            vectors.extend_from_slice(chunk);
            Ok(())
        })?;
        // Both reads are in id order; the writer lock keeps them the same faces.
        debug_assert!(ids.iter().zip(&facts).all(|(&a, f)| a as i64 == f.id));
        Ok(Self {
            mark,
            ids,
            quality: facts.iter().map(|f| f.quality).collect(),
            vectors,
        })
    }

    fn graph(&self, library: &Library, ctl: &JobControl) -> PeopleResult<KnnGraph> {
        let index = library.vectors.index();
        let params = graph_search_params(index);
        let k = GRAPH_K.min(index.ntotal().saturating_sub(1)).max(1);
        let graph = graph::build(&self.vectors, &self.ids, k, ctl, |q, k| {
            index.search(q, k.min(index.ntotal()), &params)
        })?;
        Ok(graph)
    }

    fn prior_states(&self, rows: &[AssignmentRow]) -> Vec<FaceState> {
        let mut prior = vec![FaceState::default(); self.ids.len()];
        for row in rows {
            let Ok(i) = self.ids.binary_search(&(row.face_id as u64)) else {
                continue;
            };
            match row.source {
                Source::Rejected => prior[i].rejected.push(row.person_id),
                Source::Automatic | Source::Confirmed => {
                    prior[i].person = Some(row.person_id);
                    prior[i].confirmed = row.source == Source::Confirmed;
                }
            }
        }
        prior
    }
}

/// Search knobs for the people graph: every face is a query, so far fewer
/// lists than an interactive search visits (1/128 of them, at least 8).
/// On generated 1M face-like vectors this keeps BCubed F at 0.95 (bench people).
pub fn graph_search_params(index: &dyn VectorIndex) -> SearchParams {
    match Spec::parse(&index.spec(), index.dim(), index.ntotal()) {
        Ok(Spec::Ivf { nlist, .. }) => SearchParams {
            nprobe: (nlist / 128).max(8).min(nlist),
            k_factor: 4,
        },
        _ => SearchParams::default(),
    }
}

fn row(vectors: &[f32], i: usize) -> &[f32] {
    &vectors[i * DIM..(i + 1) * DIM]
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn graph_path(dir: &Path) -> PathBuf {
    dir.join("people").join("knn.graph")
}

fn mark_tag(mark: FaceMark) -> [u64; 2] {
    [mark.count, mark.max_id as u64]
}

/// The people graph: the saved one when it reflects the catalog's faces,
/// else built now (in memory; a writer's `update` saves it).
fn current_graph(library: &Library, ctl: &JobControl) -> PeopleResult<graph::SavedGraph> {
    let mark = mark_tag(library.catalog.face_mark()?);
    let path = graph_path(library.dir());
    if path.exists() {
        let saved = graph::load(&path)?;
        if saved.tag == mark {
            return Ok(saved);
        }
    }
    let faces = LibraryFaces::load(&library.catalog)?;
    let knn = faces.graph(library, ctl)?;
    Ok(graph::SavedGraph {
        tag: mark.to_vec(),
        adjacency: knn.undirected(f32::MIN),
        ids: faces.ids,
        knn,
    })
}

// ---------------------------------------------------------------- reading

/// One person of the people list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PersonSummary {
    pub id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub faces: u64,
    pub photos: u64,
    pub hidden: bool,
    /// The face whose thumbnail stands for the person (confirmed first, then best quality).
    #[serde(skip_serializing)]
    pub cover_face_id: Option<i64>,
}

/// Every person, most faces first (then by id); hidden ones too, flagged.
pub fn list_people(library: &Library) -> PeopleResult<Vec<PersonSummary>> {
    let mut people: Vec<PersonSummary> = library
        .catalog
        .person_stats()?
        .into_iter()
        .map(|s| PersonSummary {
            id: s.person.id,
            name: s.person.name,
            faces: s.faces,
            photos: s.photos,
            hidden: s.person.hidden,
            cover_face_id: s.cover_face_id,
        })
        .collect();
    people.sort_by(|a, b| b.faces.cmp(&a.faces).then(a.id.cmp(&b.id)));
    Ok(people)
}

/// Finds a person by id (digits) or by name.
pub fn find_person(library: &Library, id_or_name: &str) -> PeopleResult<i64> {
    if let Ok(id) = id_or_name.parse::<i64>()
        && library.catalog.person(id)?.is_some()
    {
        return Ok(id);
    }
    let named = library.catalog.people_named(id_or_name)?;
    match named.as_slice() {
        [] => Err(PeopleError::NoSuchPerson(id_or_name.to_owned())),
        [one] => Ok(one.id),
        many => Err(PeopleError::AmbiguousName {
            name: id_or_name.to_owned(),
            count: many.len(),
            ids: many
                .iter()
                .map(|p| p.id.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

fn person_row(library: &Library, id: i64) -> PeopleResult<PersonRow> {
    library
        .catalog
        .person(id)?
        .ok_or_else(|| PeopleError::NoSuchPerson(id.to_string()))
}

/// How a face shows among a person's photos.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PhotoState {
    Confirmed,
    Automatic,
    /// Not assigned to anyone, but close to the person's faces.
    Suggested,
}

/// One face of "every photo of a person".
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PersonPhoto {
    pub path: PathBuf,
    pub face_id: i64,
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    pub state: PhotoState,
    /// For suggestions: the similarity to the person's closest face.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
}

/// Every photo of a person: its faces (confirmed, then automatic), then the
/// suggestions at `min_sim` or more, best first.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PersonPhotos {
    pub id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub photos: Vec<PersonPhoto>,
    /// The suggestion threshold used.
    #[serde(skip_serializing)]
    pub min_sim: f32,
}

/// A person's faces with their sources (confirmed first), and those rejected from it.
struct PersonFaces {
    kept: Vec<(i64, Source)>,
    rejected: Vec<i64>,
}

impl PersonFaces {
    fn ids(&self) -> Vec<i64> {
        self.kept.iter().map(|f| f.0).collect()
    }
}

fn faces_of_person(library: &Library, person: i64) -> PeopleResult<PersonFaces> {
    let rows = library.catalog.assignments_of_person(person)?;
    let (rejected, mut kept): (Vec<_>, Vec<_>) =
        rows.into_iter().partition(|r| r.source == Source::Rejected);
    kept.sort_by_key(|r| (r.source != Source::Confirmed, r.face_id));
    Ok(PersonFaces {
        kept: kept.iter().map(|r| (r.face_id, r.source)).collect(),
        rejected: rejected.iter().map(|r| r.face_id).collect(),
    })
}

/// Searches the library with the embeddings of `queries` and keeps, per
/// face found, its best similarity: `(face id, similarity)`, best first.
fn search_many(library: &Library, queries: &[f32]) -> PeopleResult<Vec<(i64, f32)>> {
    let found = library.vectors.search(queries, SEARCH_K)?;
    let mut best: HashMap<i64, f32> = HashMap::new();
    for (&id, &s) in found.ids.iter().zip(&found.scores) {
        if id != crate::index::NO_ID {
            let entry = best.entry(id as i64).or_insert(s);
            *entry = entry.max(s);
        }
    }
    let mut out: Vec<(i64, f32)> = best.into_iter().collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(out)
}

/// The embeddings of up to [`QUERY_FACES`] of these faces, flat.
fn query_vectors(catalog: &Catalog, faces: &[i64]) -> PeopleResult<Vec<f32>> {
    let mut out = Vec::with_capacity(faces.len().min(QUERY_FACES) * DIM);
    for &face in faces.iter().take(QUERY_FACES) {
        out.extend(
            catalog
                .embedding(face)?
                .ok_or(PeopleError::NoSuchFace(face))?,
        );
    }
    Ok(out)
}

pub fn person_photos(library: &Library, person: i64, min_sim: f32) -> PeopleResult<PersonPhotos> {
    let row = person_row(library, person)?;
    let PersonFaces { kept, rejected } = faces_of_person(library, person)?;
    let ids: Vec<i64> = kept.iter().map(|f| f.0).collect();
    let source: HashMap<i64, Source> = kept.iter().copied().collect();
    let mut photos: Vec<PersonPhoto> = library
        .catalog
        .face_hits(&ids)?
        .into_iter()
        .map(|hit| {
            let state = match source[&hit.face_id] {
                Source::Confirmed => PhotoState::Confirmed,
                _ => PhotoState::Automatic,
            };
            person_photo(hit, state, None)
        })
        .collect();
    let candidates: Vec<(i64, f32)> =
        search_many(library, &query_vectors(&library.catalog, &ids)?)?
            .into_iter()
            .filter(|&(id, s)| s >= min_sim && !source.contains_key(&id) && !rejected.contains(&id))
            .collect();
    let similarity: HashMap<i64, f32> = candidates.iter().copied().collect();
    let candidate_ids: Vec<i64> = candidates.iter().map(|c| c.0).collect();
    photos.extend(
        library
            .catalog
            .face_hits(&candidate_ids)?
            .into_iter()
            .filter(|hit| hit.person_id.is_none())
            .map(|hit| {
                let s = similarity[&hit.face_id];
                person_photo(hit, PhotoState::Suggested, Some(s))
            }),
    );
    Ok(PersonPhotos {
        id: row.id,
        name: row.name,
        photos,
        min_sim,
    })
}

fn person_photo(hit: FaceHit, state: PhotoState, similarity: Option<f32>) -> PersonPhoto {
    PersonPhoto {
        path: hit.path,
        face_id: hit.face_id,
        bbox: hit.bbox,
        state,
        similarity,
    }
}

// ---------------------------------------------------------------- editing

/// What an edit (or its undo) changed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EditReport {
    /// `name`, `merge`, `split`, `confirm`, `reject`, `hide`, `unhide`.
    pub edit: String,
    /// The person the edit was about (the target of a merge or split).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person_id: Option<i64>,
    /// The faces whose assignments changed.
    pub faces: Vec<i64>,
}

/// What undo puts back: the people rows and the assignment rows of the
/// faces an edit touched, as they were, and the people it created.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Snapshot {
    people: Vec<PersonRow>,
    faces: Vec<i64>,
    assignments: Vec<AssignmentRow>,
    created: Vec<i64>,
}

impl Snapshot {
    fn take(catalog: &Catalog, people: &[i64], faces: &[i64]) -> PeopleResult<Self> {
        let assignments = catalog.assignments_of_faces(faces)?;
        let named: BTreeSet<i64> = people
            .iter()
            .copied()
            .chain(assignments.iter().map(|a| a.person_id))
            .collect();
        let mut rows = Vec::new();
        for id in named {
            rows.extend(catalog.person(id)?);
        }
        Ok(Self {
            people: rows,
            faces: faces.to_vec(),
            assignments,
            created: Vec::new(),
        })
    }

    fn restore(&self, tx: &CatalogTx<'_>) -> Result<(), CatalogError> {
        for person in &self.people {
            tx.put_person(person)?;
        }
        for &face in &self.faces {
            tx.clear_face(face)?;
        }
        for row in &self.assignments {
            tx.put_assignment(row)?;
        }
        for &id in &self.created {
            tx.delete_person(id)?;
        }
        Ok(())
    }
}

/// Runs one edit in one transaction, with its undo snapshot logged.
/// `apply` returns the person the edit is about and the people it created.
fn edit(
    library: &mut Library,
    kind: &str,
    people: &[i64],
    faces: &[i64],
    apply: impl FnOnce(&CatalogTx<'_>) -> Result<(Option<i64>, Vec<i64>), CatalogError>,
) -> PeopleResult<EditReport> {
    let mut snapshot = Snapshot::take(&library.catalog, people, faces)?;
    let person_id = library.catalog.write(|tx| {
        let (person, created) = apply(tx)?;
        snapshot.created = created;
        // Plain rows with string keys: serialising cannot fail.
        let before = serde_json::to_string(&snapshot).expect("a snapshot of rows serialises");
        tx.log_edit(kind, &before)?;
        Ok(person)
    })?;
    Ok(EditReport {
        edit: kind.to_owned(),
        person_id,
        faces: faces.to_vec(),
    })
}

/// Names a person (`None` or empty clears the name).
pub fn name_person(
    library: &mut Library,
    person: i64,
    name: Option<&str>,
) -> PeopleResult<EditReport> {
    let mut row = person_row(library, person)?;
    row.name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    edit(library, "name", &[person], &[], |tx| {
        tx.put_person(&row)?;
        Ok((Some(person), vec![]))
    })
}

/// Hides a person from the people list (or shows it again).
pub fn set_hidden(library: &mut Library, person: i64, hidden: bool) -> PeopleResult<EditReport> {
    let mut row = person_row(library, person)?;
    row.hidden = hidden;
    let kind = if hidden { "hide" } else { "unhide" };
    edit(library, kind, &[person], &[], |tx| {
        tx.put_person(&row)?;
        Ok((Some(person), vec![]))
    })
}

/// Merges `from` into `into`. The user has said these faces are one
/// person, so all of them become confirmed: a re-cluster keeps the merge.
/// `into` keeps its name, or takes the first name among `from`.
pub fn merge_people(library: &mut Library, from: &[i64], into: i64) -> PeopleResult<EditReport> {
    let mut target = person_row(library, into)?;
    let mut faces = Vec::new();
    let mut rejected = Vec::new();
    let mut sources = Vec::new();
    for &p in from.iter().chain([&into]) {
        let row = person_row(library, p)?;
        if p != into {
            if target.name.is_none() {
                target.name = row.name;
            }
            sources.push(p);
        }
        let of = faces_of_person(library, p)?;
        faces.extend(of.ids());
        rejected.extend(of.rejected);
    }
    if sources.is_empty() {
        return Err(PeopleError::Invalid(format!(
            "nothing to merge into person {into}"
        )));
    }
    let touched: Vec<i64> = faces.iter().chain(&rejected).copied().collect();
    let people: Vec<i64> = sources.iter().copied().chain([into]).collect();
    edit(library, "merge", &people, &touched, |tx| {
        tx.put_person(&target)?;
        for &face in &faces {
            tx.assign(face, into, Source::Confirmed)?;
        }
        for &face in rejected.iter().filter(|f| !faces.contains(f)) {
            tx.reject(face, into)?;
        }
        for &p in &sources {
            tx.delete_person(p)?;
        }
        Ok((Some(into), vec![]))
    })
}

/// The person a face is assigned to (automatically or confirmed), if any.
fn person_of_face(library: &Library, face: i64) -> PeopleResult<Option<i64>> {
    let rows = library.catalog.assignments_of_faces(&[face])?;
    if rows.is_empty() && library.catalog.embedding(face)?.is_none() {
        return Err(PeopleError::NoSuchFace(face));
    }
    Ok(rows
        .iter()
        .find(|r| r.source != Source::Rejected)
        .map(|r| r.person_id))
}

/// Moves `faces` to `into` (an existing person) or to a new person. Both
/// sides become confirmed, so a re-cluster keeps them apart.
pub fn split_faces(
    library: &mut Library,
    faces: &[i64],
    into: Option<i64>,
) -> PeopleResult<EditReport> {
    if faces.is_empty() {
        return Err(PeopleError::Invalid("split needs at least one face".into()));
    }
    if let Some(p) = into {
        person_row(library, p)?;
    }
    let mut sources = BTreeSet::new();
    for &face in faces {
        sources.extend(person_of_face(library, face)?);
    }
    let mut stay = Vec::new();
    for &p in &sources {
        stay.extend(
            faces_of_person(library, p)?
                .kept
                .iter()
                .filter(|f| !faces.contains(&f.0))
                .map(|f| (f.0, p)),
        );
    }
    let touched: Vec<i64> = faces
        .iter()
        .copied()
        .chain(stay.iter().map(|s| s.0))
        .collect();
    let people: Vec<i64> = sources.iter().copied().chain(into).collect();
    edit(library, "split", &people, &touched, |tx| {
        let (target, created) = match into {
            Some(p) => (p, vec![]),
            None => {
                let p = tx.insert_person(None)?;
                (p, vec![p])
            }
        };
        for &face in faces {
            tx.assign(face, target, Source::Confirmed)?;
        }
        for &(face, p) in stay.iter().filter(|s| s.1 != target) {
            tx.assign(face, p, Source::Confirmed)?;
        }
        Ok((Some(target), created))
    })
}

/// Each face with the person to act on: `person`, else the face's own.
fn faces_with_person(
    library: &Library,
    faces: &[i64],
    person: Option<i64>,
) -> PeopleResult<Vec<(i64, i64)>> {
    if let Some(p) = person {
        person_row(library, p)?;
    }
    faces
        .iter()
        .map(|&face| {
            let own = person_of_face(library, face)?;
            person
                .or(own)
                .map(|p| (face, p))
                .ok_or(PeopleError::FaceWithoutPerson(face))
        })
        .collect()
}

/// Confirms that each face is `person` (default: the face's own person),
/// moving it there if it was elsewhere.
pub fn confirm_faces(
    library: &mut Library,
    faces: &[i64],
    person: Option<i64>,
) -> PeopleResult<EditReport> {
    let pairs = faces_with_person(library, faces, person)?;
    let people: Vec<i64> = pairs.iter().map(|p| p.1).collect();
    edit(library, "confirm", &people, faces, |tx| {
        for &(face, p) in &pairs {
            tx.assign(face, p, Source::Confirmed)?;
        }
        Ok((person.or(people.first().copied()), vec![]))
    })
}

/// Records that each face is not `person` (default: the face's own person);
/// the face leaves that person and never returns to it automatically.
pub fn reject_faces(
    library: &mut Library,
    faces: &[i64],
    person: Option<i64>,
) -> PeopleResult<EditReport> {
    let pairs = faces_with_person(library, faces, person)?;
    let people: Vec<i64> = pairs.iter().map(|p| p.1).collect();
    edit(library, "reject", &people, faces, |tx| {
        for &(face, p) in &pairs {
            tx.reject(face, p)?;
        }
        Ok((person.or(people.first().copied()), vec![]))
    })
}

/// Puts back what the last edit changed ([`PeopleError::NothingToUndo`] when there is none).
pub fn undo(library: &mut Library) -> PeopleResult<EditReport> {
    let entry = library
        .catalog
        .last_edit()?
        .ok_or(PeopleError::NothingToUndo)?;
    let snapshot: Snapshot = serde_json::from_str(&entry.before)?;
    library.catalog.write(|tx| {
        snapshot.restore(tx)?;
        tx.drop_edit(entry.id)
    })?;
    Ok(EditReport {
        edit: format!("undo {}", entry.kind),
        person_id: snapshot.people.first().map(|p| p.id),
        faces: snapshot.faces,
    })
}

// ---------------------------------------------------------------- lookalikes

/// Lookalikes, best first (the `clones` JSON shape).
#[derive(Clone, Debug, Serialize)]
pub struct Clones {
    pub results: Vec<Hit>,
}

/// A query face of a lookalike search.
struct QueryFace {
    embedding: Vec<f32>,
    face_id: Option<i64>,
    person: Option<i64>,
    photo_key: Option<u64>,
}

fn lookalike_params(limit: usize) -> LookalikeParams {
    LookalikeParams {
        same_person_sim: SAME_PERSON_SIM,
        per_person: 1,
        limit,
    }
}

/// The most similar faces of other people, for queries that may or may not be library faces.
fn clones_of(library: &Library, queries: &[QueryFace], limit: usize) -> PeopleResult<Clones> {
    let flat: Vec<f32> = queries
        .iter()
        .flat_map(|q| q.embedding.iter().copied())
        .collect();
    let found = search_many(library, &flat)?;
    let found_ids: Vec<i64> = found.iter().map(|f| f.0).collect();
    let hits = library.catalog.face_hits(&found_ids)?;
    let keys = library.catalog.photo_keys(&found_ids)?;
    // Local positions: the queries first, then the candidates.
    let mut person_number: HashMap<i64, u32> = HashMap::new();
    let mut number = |p: Option<i64>| {
        p.map(|p| {
            let next = person_number.len() as u32;
            *person_number.entry(p).or_insert(next)
        })
    };
    let mut person: Vec<Option<u32>> = queries.iter().map(|q| number(q.person)).collect();
    // A query without a photo key (a photo from outside) matches no library photo.
    let mut photo: Vec<u64> = (0..queries.len())
        .map(|i| queries[i].photo_key.unwrap_or(u64::MAX - i as u64))
        .collect();
    let by_id: HashMap<i64, &FaceHit> = hits.iter().map(|h| (h.face_id, h)).collect();
    // Candidates take the positions after the queries, in the order found.
    let mut candidates = Vec::new();
    let mut local_hit = Vec::new();
    for (&(id, s), key) in found.iter().zip(&keys) {
        let Some(hit) = by_id.get(&id) else { continue };
        if queries.iter().any(|q| q.face_id == Some(id)) {
            continue;
        }
        candidates.push((person.len(), s));
        person.push(number(hit.person_id));
        photo.push(key.unwrap_or(0));
        local_hit.push((*hit).clone());
    }
    let facts = FaceFacts {
        person: &person,
        photo: &photo,
    };
    let query_positions: Vec<usize> = (0..queries.len()).collect();
    let results = lookalikes(
        &query_positions,
        &candidates,
        &facts,
        &lookalike_params(limit),
    )
    .into_iter()
    .map(|l| Hit {
        face: local_hit[l.face - queries.len()].clone(),
        similarity: l.similarity,
    })
    .collect();
    Ok(Clones { results })
}

fn library_query(library: &Library, face: i64) -> PeopleResult<QueryFace> {
    let embedding = library
        .catalog
        .embedding(face)?
        .ok_or(PeopleError::NoSuchFace(face))?;
    Ok(QueryFace {
        embedding,
        face_id: Some(face),
        person: person_of_face(library, face)?,
        photo_key: library.catalog.photo_keys(&[face])?[0],
    })
}

/// Lookalikes of library faces (one face, or several of one person).
pub fn clones_of_faces(library: &Library, faces: &[i64], limit: usize) -> PeopleResult<Clones> {
    let queries = faces
        .iter()
        .take(QUERY_FACES)
        .map(|&f| library_query(library, f))
        .collect::<PeopleResult<Vec<_>>>()?;
    clones_of(library, &queries, limit)
}

/// Lookalikes of a person: the closest faces of other people to any of its faces.
pub fn clones_of_person(library: &Library, person: i64, limit: usize) -> PeopleResult<Clones> {
    person_row(library, person)?;
    clones_of_faces(library, &faces_of_person(library, person)?.ids(), limit)
}

/// The library face a photo's face is: the photo (or a copy) is in the
/// library and one of its faces matches, else the closest library face at
/// [`SAME_PERSON_SIM`] or more.
pub fn library_face_of_photo(
    library: &Library,
    pipeline: &mut FacePipeline,
    path: &Path,
    face: Option<usize>,
) -> PeopleResult<i64> {
    let (faces, chosen) = photo_faces(pipeline, path, face)?;
    let embedding = &faces[chosen].embedding;
    let hash = crate::library::scan::hash_file(path)
        .map_err(|why| PeopleError::Invalid(format!("{}: {why}", path.display())))?;
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let own = library.catalog.faces_of_photo_file(&canonical, hash)?;
    let mut best: Option<(i64, f32)> = None;
    for id in own {
        if let Some(v) = library.catalog.embedding(id)? {
            let s = dot(&v, embedding);
            if best.is_none_or(|b| s > b.1) {
                best = Some((id, s));
            }
        }
    }
    if best.is_none() {
        let found = library.vectors.search(embedding, 1)?;
        best = found
            .ids
            .first()
            .zip(found.scores.first())
            .filter(|(id, s)| **id != crate::index::NO_ID && **s >= SAME_PERSON_SIM)
            .map(|(id, s)| (*id as i64, *s));
    }
    best.map(|b| b.0)
        .ok_or_else(|| PeopleError::PhotoNotInLibrary(path.display().to_string()))
}

/// Lookalikes of the face in a photo: of its library face when the photo
/// is in the library, else of the photo's face itself.
pub fn clones_of_photo(
    library: &Library,
    pipeline: &mut FacePipeline,
    path: &Path,
    face: Option<usize>,
    limit: usize,
) -> PeopleResult<Clones> {
    let (faces, chosen) = photo_faces(pipeline, path, face)?;
    let hash = crate::library::scan::hash_file(path)
        .map_err(|why| PeopleError::Invalid(format!("{}: {why}", path.display())))?;
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    if !library
        .catalog
        .faces_of_photo_file(&canonical, hash)?
        .is_empty()
    {
        let id = library_face_of_photo(library, pipeline, path, face)?;
        return clones_of_faces(library, &[id], limit);
    }
    let embedding = faces[chosen].embedding.to_vec();
    // Whose face it is: the person of the closest library face, when close enough.
    let best = library.vectors.search(&embedding, 1)?;
    let person = match (best.ids.first(), best.scores.first()) {
        (Some(&id), Some(&s)) if id != crate::index::NO_ID && s >= SAME_PERSON_SIM => {
            person_of_face(library, id as i64)?
        }
        _ => None,
    };
    let query = QueryFace {
        embedding,
        face_id: None,
        person,
        photo_key: None,
    };
    clones_of(library, &[query], limit)
}

/// Two different people who look alike.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LookalikePairHit {
    pub similarity: f32,
    pub a: FaceHit,
    pub b: FaceHit,
}

/// The library's `limit` closest pairs of different people.
pub fn lookalike_pairs(
    library: &Library,
    limit: usize,
    ctl: &JobControl,
) -> PeopleResult<Vec<LookalikePairHit>> {
    let graph::SavedGraph { ids, knn, .. } = current_graph(library, ctl)?;
    let (person, photo) = graph_facts(library, &ids)?;
    let facts = FaceFacts {
        person: &person,
        photo: &photo,
    };
    let pairs = closest_pairs(&knn, &facts, limit);
    let mut out = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let hits = library
            .catalog
            .face_hits(&[ids[pair.faces.0] as i64, ids[pair.faces.1] as i64])?;
        let [a, b] = <[FaceHit; 2]>::try_from(hits).map_err(|_| {
            PeopleError::Invalid("a face of a lookalike pair left the catalog".into())
        })?;
        out.push(LookalikePairHit {
            similarity: pair.similarity,
            a,
            b,
        });
    }
    Ok(out)
}

/// The person (as a dense number) and the photo key of each graph node.
fn graph_facts(library: &Library, ids: &[u64]) -> PeopleResult<(Vec<Option<u32>>, Vec<u64>)> {
    let mut person = vec![None; ids.len()];
    for row in library.catalog.assignment_rows()? {
        if row.source != Source::Rejected
            && let Ok(i) = ids.binary_search(&(row.face_id as u64))
        {
            person[i] = Some(row.person_id as u32);
        }
    }
    let keys: HashMap<i64, u64> = library
        .catalog
        .face_facts()?
        .into_iter()
        .map(|f| (f.id, f.photo_key))
        .collect();
    let photo = ids
        .iter()
        .map(|&id| keys.get(&(id as i64)).copied().unwrap_or(0))
        .collect();
    Ok((person, photo))
}

// ---------------------------------------------------------------- paths

/// One end of a face-to-face path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Face(i64),
    /// Any face of the person.
    Person(i64),
}

/// A chain of faces (the `path` JSON shape); each step's similarity is to
/// the step before it (1 for the first).
#[derive(Clone, Debug, Serialize)]
pub struct FacePath {
    pub steps: Vec<Hit>,
    pub bottleneck: f32,
}

/// The chain from `a` to `b` whose weakest step is strongest, then with the
/// fewest steps, through other people where it can; `None` when no chain
/// of the people graph links them.
pub fn face_path(
    library: &Library,
    a: Endpoint,
    b: Endpoint,
    ctl: &JobControl,
) -> PeopleResult<Option<FacePath>> {
    let graph::SavedGraph { ids, adjacency, .. } = current_graph(library, ctl)?;
    let (person, _) = graph_facts(library, &ids)?;
    let ends = |end: Endpoint| -> PeopleResult<Vec<usize>> {
        let faces = match end {
            Endpoint::Face(f) => vec![f],
            Endpoint::Person(p) => {
                person_row(library, p)?;
                faces_of_person(library, p)?.ids()
            }
        };
        faces
            .iter()
            .map(|&f| {
                ids.binary_search(&(f as u64))
                    .map_err(|_| PeopleError::NoSuchFace(f))
            })
            .collect()
    };
    let (from, to) = (ends(a)?, ends(b)?);
    let Some(path) = paths::face_path(&adjacency, &from, &to, &person) else {
        return Ok(None);
    };
    let face_ids: Vec<i64> = path.faces.iter().map(|&i| ids[i] as i64).collect();
    let hits = library.catalog.face_hits(&face_ids)?;
    let steps = hits
        .into_iter()
        .enumerate()
        .map(|(i, face)| Hit {
            face,
            similarity: if i == 0 { 1.0 } else { path.sims[i - 1] },
        })
        .collect();
    Ok(Some(FacePath {
        steps,
        bottleneck: path.bottleneck,
    }))
}
