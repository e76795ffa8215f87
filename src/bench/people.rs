//! `facefind bench people`: how well and how fast faces become people.
//!
//! - `--library DIR`: a library whose photos sit in one folder per person
//!   (LFW): each clustering method and threshold is run on a scratch copy,
//!   through the same code as `facefind index` (`jobs::people`), and scored
//!   with pairwise and BCubed measures and the every-photo recall and
//!   precision of `facefind person`. A photo's largest face carries the
//!   folder's label; other faces (bystanders) are clustered but not scored.
//! - `--data DIR`: a data set of `facefind bench gen` (1M face-like
//!   vectors): the time to build the people graph through the index, to
//!   cluster it, and to answer a face-to-face path query from the saved graph.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::data::Dataset;
use super::{BenchError, BenchResult};
use crate::compute::rng::Rng;
use crate::index::JobControl;
use crate::index::factory::index_factory;
use crate::jobs::people::{self as people, PeopleParams, PhotoState};
use crate::library::Library;
use crate::library::catalog::Source;
use crate::people::cluster::{ClusterParams, Method, cluster};
use crate::people::graph;
use crate::people::metrics::{ClusterQuality, cluster_quality};
use crate::people::paths::{FacePath, face_path, face_path_reference};

#[derive(Debug, clap::Args)]
pub struct PeopleArgs {
    /// A library data dir whose photos sit in one folder per person: measure quality.
    #[arg(long, conflicts_with = "data", required_unless_present = "data")]
    pub library: Option<PathBuf>,
    /// A data set from `facefind bench gen`: measure clustering and path time.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Index spec for `--data` (default: the library's own `auto` choice).
    #[arg(long, default_value = "auto")]
    pub index: String,
    /// Inverted lists visited per graph query for `--data` (default: the library's choice).
    #[arg(long)]
    pub nprobe: Option<usize>,
    /// Keep the saved people graph of `--data` at this file; when it exists
    /// already, time only the path query on it (skips index, graph and clustering).
    #[arg(long)]
    pub graph: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &PeopleArgs) -> BenchResult<()> {
    match (&args.library, &args.data) {
        (Some(dir), _) => {
            let report = quality(dir)?;
            if args.json {
                print_json(&report)
            } else {
                print_quality(&report);
                Ok(())
            }
        }
        (None, Some(_)) if args.graph.as_deref().is_some_and(Path::exists) => {
            let file = args.graph.as_deref().expect("checked");
            let report = path_timing(file, &read_labels(file)?)?;
            if args.json {
                print_json(&report)
            } else {
                print_path(&report);
                Ok(())
            }
        }
        (None, Some(dir)) => {
            let report = timing(dir, args)?;
            if args.json {
                print_json(&report)
            } else {
                print_timing(&report);
                Ok(())
            }
        }
        (None, None) => Err(BenchError::Param("give --library or --data".into())),
    }
}

fn print_json(value: &impl Serialize) -> BenchResult<()> {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| BenchError::Format(e.to_string()))?;
    println!("{text}");
    Ok(())
}

/// Every-photo recall and precision at one suggestion threshold.
#[derive(Clone, Debug, Serialize)]
pub struct EveryPhoto {
    pub min_sim: f32,
    pub recall: f64,
    pub precision: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct QualityRow {
    pub method: String,
    pub min_sim: f32,
    pub min_core: usize,
    pub min_quality: f32,
    pub people: usize,
    pub quality: ClusterQuality,
    /// At the default suggestion threshold.
    pub every_photo: EveryPhoto,
    pub seconds: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct QualityReport {
    pub faces: usize,
    pub labelled: usize,
    pub identities: usize,
    pub rows: Vec<QualityRow>,
    /// The default parameters, across suggestion thresholds.
    pub threshold_sweep: Vec<EveryPhoto>,
}

/// The candidates compared; the default comes first.
fn grid() -> Vec<PeopleParams> {
    let base = PeopleParams::default();
    let mut out = vec![base];
    let with = |method, min_sim, min_core, min_quality| PeopleParams {
        cluster: ClusterParams {
            method,
            min_sim,
            min_core,
            ..base.cluster
        },
        min_quality,
    };
    for min_sim in [0.45, 0.50, 0.55, 0.60, 0.65] {
        for min_core in [1, 2] {
            out.push(with(
                Method::Components,
                min_sim,
                min_core,
                base.min_quality,
            ));
        }
    }
    for min_sim in [0.40, 0.45, 0.50, 0.55, 0.60] {
        out.push(with(
            Method::ChineseWhispers { iterations: 20 },
            min_sim,
            1,
            base.min_quality,
        ));
    }
    out.push(with(
        base.cluster.method,
        base.cluster.min_sim,
        base.cluster.min_core,
        0.0,
    ));
    let mut seen = Vec::new();
    out.retain(|p| {
        let new = !seen.contains(p);
        seen.push(*p);
        new
    });
    out
}

/// A scratch copy of a library's catalog and index, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn copy_of(dir: &Path) -> BenchResult<Self> {
        let to = std::env::temp_dir().join(format!("facefind-bench-people-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&to);
        copy_tree(dir, &to, &["thumbs", "people", "lock"])?;
        Ok(Self(to))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Best effort: a leftover copy in the temp dir is harmless.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_tree(from: &Path, to: &Path, skip: &[&str]) -> BenchResult<()> {
    std::fs::create_dir_all(to).map_err(|e| BenchError::io(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| BenchError::io(from, e))? {
        let entry = entry.map_err(|e| BenchError::io(from, e))?;
        let name = entry.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if src.is_dir() {
            copy_tree(&src, &dst, &[])?;
        } else {
            std::fs::copy(&src, &dst).map_err(|e| BenchError::io(&src, e))?;
        }
    }
    Ok(())
}

fn people_err(e: impl std::fmt::Display) -> BenchError {
    BenchError::Format(e.to_string())
}

/// The labels of a library whose photos sit in one folder per person: a
/// photo's largest face carries the folder's name.
pub struct Labelled {
    labels: HashMap<i64, String>,
    /// The labelled faces, ascending, and their identity numbers.
    ids: Vec<i64>,
    truth: Vec<u32>,
    identities: usize,
}

impl Labelled {
    pub fn of(library: &Library) -> BenchResult<Self> {
        let facts = library.catalog.face_facts().map_err(people_err)?;
        let all: Vec<i64> = facts.iter().map(|f| f.id).collect();
        let hits = library.catalog.face_hits(&all).map_err(people_err)?;
        let mut largest: HashMap<PathBuf, (f32, i64)> = HashMap::new();
        for hit in &hits {
            let area = hit.bbox[2] * hit.bbox[3];
            let entry = largest
                .entry(hit.path.clone())
                .or_insert((area, hit.face_id));
            if area > entry.0 {
                *entry = (area, hit.face_id);
            }
        }
        let labels: HashMap<i64, String> = largest
            .into_iter()
            .filter_map(|(path, (_, id))| {
                let folder = path.parent()?.file_name()?.to_str()?.to_owned();
                Some((id, folder))
            })
            .collect();
        let mut number: HashMap<&str, u32> = HashMap::new();
        let mut ids: Vec<i64> = labels.keys().copied().collect();
        ids.sort_unstable();
        let truth = ids
            .iter()
            .map(|id| {
                let next = number.len() as u32;
                *number.entry(labels[id].as_str()).or_insert(next)
            })
            .collect();
        let identities = number.len();
        Ok(Self {
            labels,
            ids,
            truth,
            identities,
        })
    }

    pub fn faces(&self) -> usize {
        self.ids.len()
    }
}

/// How the library's current people score against the labels: the
/// clustering measures, and every-photo recall and precision at each threshold.
pub fn score(
    library: &Library,
    labelled: &Labelled,
    thresholds: &[f32],
) -> BenchResult<(ClusterQuality, Vec<EveryPhoto>)> {
    let person: HashMap<i64, i64> = library
        .catalog
        .assignment_rows()
        .map_err(people_err)?
        .into_iter()
        .filter(|r| r.source != Source::Rejected)
        .map(|r| (r.face_id, r.person_id))
        .collect();
    // Person ids are dense enough for u32 here; unassigned faces are None.
    let predicted: Vec<Option<u32>> = labelled
        .ids
        .iter()
        .map(|id| person.get(id).map(|&p| p as u32))
        .collect();
    let quality = cluster_quality(&predicted, &labelled.truth);
    Ok((
        quality,
        every_photo(library, &labelled.labels, &person, thresholds)?,
    ))
}

/// Measures every candidate of [`grid`] on a copy of the library at `dir`.
pub fn quality(dir: &Path) -> BenchResult<QualityReport> {
    let scratch = Scratch::copy_of(dir)?;
    let ctl = JobControl::default();
    let (mut library, _) = Library::open_writer(&scratch.0, &ctl).map_err(people_err)?;
    let labelled = Labelled::of(&library)?;
    let faces = library.catalog.face_mark().map_err(people_err)?.count as usize;
    let default = PeopleParams::default();
    let mut rows = Vec::new();
    let mut threshold_sweep = Vec::new();
    for params in grid() {
        let started = Instant::now();
        let report = people::recluster_with(&mut library, &params, &ctl).map_err(people_err)?;
        let seconds = started.elapsed().as_secs_f64();
        let thresholds: Vec<f32> = if params == default {
            vec![0.35, 0.40, 0.45, 0.50, 0.55, 0.60]
        } else {
            vec![people::SUGGEST_SIM]
        };
        let (quality, sweep) = score(&library, &labelled, &thresholds)?;
        let at_default = sweep
            .iter()
            .find(|e| e.min_sim == people::SUGGEST_SIM)
            .cloned()
            .unwrap_or_else(|| sweep[0].clone());
        if params == default {
            threshold_sweep = sweep;
        }
        let c = params.cluster;
        rows.push(QualityRow {
            method: match c.method {
                Method::Components => "components".into(),
                Method::ChineseWhispers { iterations } => format!("chinese whispers ×{iterations}"),
            },
            min_sim: c.min_sim,
            min_core: c.min_core,
            min_quality: params.min_quality,
            people: report.people,
            quality,
            every_photo: at_default,
            seconds,
        });
    }
    Ok(QualityReport {
        faces,
        labelled: labelled.faces(),
        identities: labelled.identities,
        rows,
        threshold_sweep,
    })
}

/// For each identity with two or more labelled faces, its person (the one
/// holding most of its faces): what `person_photos` returns against the
/// identity's faces, pooled over identities.
fn every_photo(
    library: &Library,
    labels: &HashMap<i64, String>,
    person: &HashMap<i64, i64>,
    thresholds: &[f32],
) -> BenchResult<Vec<EveryPhoto>> {
    let mut by_label: HashMap<&str, Vec<i64>> = HashMap::new();
    for (id, name) in labels {
        by_label.entry(name).or_default().push(*id);
    }
    let lowest = thresholds.iter().copied().fold(f32::INFINITY, f32::min);
    // Per threshold: (found of the identity, returned labelled, identity size).
    let mut pooled = vec![(0usize, 0usize, 0usize); thresholds.len()];
    let mut names: Vec<&&str> = by_label.keys().collect();
    names.sort();
    for name in names {
        let faces = &by_label[*name];
        if faces.len() < 2 {
            continue;
        }
        let mut votes: HashMap<i64, usize> = HashMap::new();
        for f in faces {
            if let Some(&p) = person.get(f) {
                *votes.entry(p).or_default() += 1;
            }
        }
        let best = votes
            .iter()
            .max_by_key(|(p, n)| (**n, std::cmp::Reverse(**p)))
            .map(|(p, _)| *p);
        let answer = match best {
            Some(p) => Some(people::person_photos(library, p, lowest).map_err(people_err)?),
            None => None,
        };
        for (t, slot) in thresholds.iter().zip(&mut pooled) {
            slot.2 += faces.len();
            let Some(answer) = &answer else { continue };
            for photo in &answer.photos {
                let shown = photo.state != PhotoState::Suggested
                    || photo.similarity.is_some_and(|s| s >= *t);
                let Some(label) = labels.get(&photo.face_id).filter(|_| shown) else {
                    continue;
                };
                slot.1 += 1;
                slot.0 += usize::from(label == *name);
            }
        }
    }
    Ok(thresholds
        .iter()
        .zip(pooled)
        .map(|(&min_sim, (found, returned, size))| EveryPhoto {
            min_sim,
            recall: found as f64 / size.max(1) as f64,
            precision: found as f64 / returned.max(1) as f64,
        })
        .collect())
}

fn print_quality(r: &QualityReport) {
    println!(
        "{} faces, {} labelled, {} identities",
        r.faces, r.labelled, r.identities
    );
    println!(
        "| method | min_sim | min_core | min_quality | people | pairwise P | pairwise R | BCubed P | BCubed R | BCubed F | assigned | every-photo R | every-photo P | s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for row in &r.rows {
        let q = &row.quality;
        println!(
            "| {} | {:.2} | {} | {:.2} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.1} |",
            row.method,
            row.min_sim,
            row.min_core,
            row.min_quality,
            row.people,
            q.pairwise_precision,
            q.pairwise_recall,
            q.bcubed_precision,
            q.bcubed_recall,
            q.bcubed_f,
            q.assigned,
            row.every_photo.recall,
            row.every_photo.precision,
            row.seconds
        );
    }
    println!("\nevery photo of a person (default clustering), by suggestion threshold:");
    println!("| min_sim | recall | precision |");
    println!("|---|---|---|");
    for e in &r.threshold_sweep {
        println!(
            "| {:.2} | {:.3} | {:.3} |",
            e.min_sim, e.recall, e.precision
        );
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct TimingReport {
    pub n: usize,
    pub dim: usize,
    pub index: String,
    pub nprobe: usize,
    pub threads: usize,
    pub index_build_s: f64,
    pub graph_s: f64,
    pub cluster_s: f64,
    /// Graph plus clustering: what a re-cluster costs on top of indexing.
    pub clustering_total_s: f64,
    pub people: usize,
    pub assigned: f64,
    /// BCubed F against the data set's identities, where it has them.
    pub bcubed_f: Option<f64>,
    pub path: PathReport,
}

/// Path queries as `facefind path` answers them, on a saved graph.
#[derive(Clone, Debug, Serialize)]
pub struct PathReport {
    pub n: usize,
    /// Face pairs asked: the first and last rows, then seeded random pairs.
    pub pairs: usize,
    /// Reading and checking the saved graph with its adjacency.
    pub load_s: f64,
    pub search_mean_s: f64,
    pub search_max_s: f64,
    /// The simple reference search on the same queries, for comparison.
    pub reference_mean_s: f64,
    pub reference_max_s: f64,
    /// Load plus the slowest search.
    pub total_s: f64,
    /// Steps and bottleneck of the first pair's chain.
    pub steps: Option<usize>,
    pub bottleneck: Option<f32>,
}

/// Times the people graph, the clustering and one path query on a data set.
pub fn timing(dir: &Path, args: &PeopleArgs) -> BenchResult<TimingReport> {
    let set = Dataset::open(dir)?;
    let (n, dim) = (set.meta.n, set.meta.dim);
    let base = set.base.as_slice();
    let ctl = JobControl::default();
    let t = Instant::now();
    let mut index = index_factory(&args.index, dim, set.meta.metric()?, n)?;
    index.train(base, &ctl)?;
    let ids: Vec<u64> = (0..n as u64).collect();
    index.add(base, &ids)?;
    let index_build_s = t.elapsed().as_secs_f64();

    let mut search = people::graph_search_params(index.as_ref());
    if let Some(nprobe) = args.nprobe {
        search.nprobe = nprobe;
    }
    let t = Instant::now();
    let knn = graph::build(base, &ids, people::GRAPH_K, &ctl, |q, k| {
        index.search(q, k, &search)
    })?;
    let graph_s = t.elapsed().as_secs_f64();
    let params = PeopleParams::default();
    let t = Instant::now();
    let keys = people::order_free_keys(base, dim);
    let labels = cluster(&knn, &keys, &vec![true; n], &params.cluster);
    let cluster_s = t.elapsed().as_secs_f64();
    let bcubed_f = set.identities()?.map(|ids| {
        let truth: Vec<u32> = ids.base.iter().map(|&i| i as u32).collect();
        cluster_quality(&labels, &truth).bcubed_f
    });

    let kept = args.graph.clone();
    let file = kept.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "facefind-bench-people-{}.graph",
            std::process::id()
        ))
    });
    graph::save(&file, &[n as u64], &ids, &knn)?;
    drop(knn);
    let path = path_timing(&file, &labels);
    match kept {
        Some(_) => write_labels(&file, &labels)?,
        None => {
            let _ = std::fs::remove_file(&file);
        }
    }
    let path = path?;
    Ok(TimingReport {
        n,
        dim,
        index: index.spec(),
        nprobe: search.nprobe,
        threads: rayon::current_num_threads(),
        index_build_s,
        graph_s,
        cluster_s,
        clustering_total_s: graph_s + cluster_s,
        people: labels.iter().flatten().max().map_or(0, |&m| m as usize + 1),
        assigned: labels.iter().filter(|l| l.is_some()).count() as f64 / n.max(1) as f64,
        bcubed_f,
        path,
    })
}

/// Face pairs timed per path benchmark.
const PATH_PAIRS: usize = 10;

/// Loads the saved graph `file` and answers path queries between faces:
/// the first and last rows (different identities, far apart in the data),
/// then seeded random pairs, with the search and with its simple reference,
/// which must find chains of the same quality.
fn path_timing(file: &Path, labels: &[Option<u32>]) -> BenchResult<PathReport> {
    let t = Instant::now();
    let adjacency = graph::load(file)?.adjacency;
    let load_s = t.elapsed().as_secs_f64();
    let n = adjacency.len();
    if n < 2 || labels.len() != n {
        return Err(BenchError::Format(format!(
            "{}: {n} nodes and {} labels",
            file.display(),
            labels.len()
        )));
    }
    let mut rng = Rng::new(17);
    let mut pairs = vec![(0, n - 1)];
    pairs.extend((1..PATH_PAIRS).map(|_| (rng.below(n), rng.below(n))));
    let shape = |p: &Option<FacePath>| p.as_ref().map(|p| (p.faces.len(), p.bottleneck));
    let (mut search, mut reference, mut first) = (vec![], vec![], None);
    for &(a, b) in &pairs {
        let t = Instant::now();
        let found = face_path(&adjacency, &[a], &[b], labels);
        search.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let want = face_path_reference(&adjacency, &[a], &[b], labels);
        reference.push(t.elapsed().as_secs_f64());
        if shape(&found) != shape(&want) {
            return Err(BenchError::Format(format!(
                "path {a} → {b}: search {:?} disagrees with its reference {:?}",
                shape(&found),
                shape(&want)
            )));
        }
        first.get_or_insert(found);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let first = first.flatten();
    Ok(PathReport {
        n,
        pairs: pairs.len(),
        load_s,
        search_mean_s: mean(&search),
        search_max_s: max(&search),
        reference_mean_s: mean(&reference),
        reference_max_s: max(&reference),
        total_s: load_s + max(&search),
        steps: first.as_ref().map(|p| p.faces.len() - 1),
        bottleneck: first.map(|p| p.bottleneck),
    })
}

/// The clustering's labels beside a kept graph (`u32::MAX`: unassigned), so
/// a later run can time paths on it without clustering again.
fn labels_file(graph: &Path) -> PathBuf {
    graph.with_extension("labels")
}

fn write_labels(graph: &Path, labels: &[Option<u32>]) -> BenchResult<()> {
    let bytes: Vec<u8> = labels
        .iter()
        .flat_map(|l| l.unwrap_or(u32::MAX).to_le_bytes())
        .collect();
    let path = labels_file(graph);
    std::fs::write(&path, bytes).map_err(|source| BenchError::Io { path, source })
}

fn read_labels(graph: &Path) -> BenchResult<Vec<Option<u32>>> {
    let path = labels_file(graph);
    let bytes = std::fs::read(&path).map_err(|source| BenchError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
        .map(|l| (l != u32::MAX).then_some(l))
        .collect())
}

fn print_timing(r: &TimingReport) {
    println!(
        "{} faces × {} ({}, nprobe {}, {} threads); index built in {:.1} s",
        r.n, r.dim, r.index, r.nprobe, r.threads, r.index_build_s
    );
    println!("| stage | seconds |");
    println!("|---|---|");
    println!(
        "| people graph (k = {}) | {:.1} |",
        people::GRAPH_K,
        r.graph_s
    );
    println!("| clustering | {:.1} |", r.cluster_s);
    println!("| **re-cluster total** | **{:.1}** |", r.clustering_total_s);
    let f = r.bcubed_f.map_or("-".into(), |f| format!("{f:.3}"));
    println!(
        "people {}, assigned {:.3}, BCubed F {f}",
        r.people, r.assigned
    );
    print_path(&r.path);
}

fn print_path(r: &PathReport) {
    println!(
        "| path query, {} faces, {} face pairs | seconds |",
        r.n, r.pairs
    );
    println!("|---|---|");
    println!("| load the saved graph | {:.3} |", r.load_s);
    println!(
        "| search: mean / slowest | {:.4} / {:.4} |",
        r.search_mean_s, r.search_max_s
    );
    println!(
        "| (reference search: mean / slowest) | {:.3} / {:.3} |",
        r.reference_mean_s, r.reference_max_s
    );
    println!("| **load + slowest search** | **{:.3}** |", r.total_s);
    let steps = r.steps.map_or("no path".into(), |s| s.to_string());
    let width = r.bottleneck.map_or("-".into(), |b| format!("{b:.4}"));
    println!("first pair (rows 0 → n-1): path steps {steps}, bottleneck {width}");
}
