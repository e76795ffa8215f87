//! `facefind bench gen`: face-like synthetic data sets.
//!
//! The model, fitted to real SFace embeddings of LFW (`stats.rs`):
//! each identity has a centre `mean + B·z` and each photo of it is
//! `normalise(R·(centre + s·W·z'))`, where z, z' are standard normal, B and W
//! are the measured between-identity and within-identity standard deviations
//! (both diagonal in the between-identity eigenbasis: the within-identity
//! covariance keeps its variance along each between axis, not its
//! off-diagonal terms), and R is a seeded random rotation, so no axis is
//! special (product quantizers would otherwise gain from an axis-aligned
//! spectrum). s is a per-photo log-normal scale (E[s²] = 1) whose spread the
//! measuring script fits to the real same-identity cosines: real photos of a
//! person vary unevenly (pose, light, blur), and a plain Gaussian gives half
//! the real spread. Photos per identity follow the measured LFW distribution; the
//! rows are shuffled. Queries are new photos of the identities of random
//! base rows, so people with many photos are queried as often as they occur.
//!
//! Every row draws from its own random stream, so the bytes depend on the
//! seed alone, not on the thread count.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::data::{self, Dataset, F32File, Meta};
use super::stats::{CosineSummary, FaceStats};
use super::{BenchError, BenchResult};
use crate::compute::Metric;
use crate::compute::rng::Rng;

/// Independent purposes of random numbers inside one data set.
#[derive(Clone, Copy)]
#[repr(u64)]
pub enum Stream {
    Rotation = 1,
    PhotoCounts = 2,
    Shuffle = 3,
    IdentityCentre = 4,
    BasePhoto = 5,
    QueryIdentity = 6,
    QueryPhoto = 7,
    Pairs = 8,
}

/// The random stream of item `index` (a row, an identity) of `purpose`:
/// every row draws from its own stream, so the output does not depend on
/// how rows are split across threads.
fn rng_for(seed: u64, purpose: Stream, index: u64) -> Rng {
    let key = Rng::new(seed ^ ((purpose as u64) << 56)).next_u64();
    // An odd step that is no small multiple of the seeding's own increment,
    // so neighbouring rows' seeding sequences never overlap.
    Rng::new(key.wrapping_add(index.wrapping_mul(0xD1B5_4A32_D192_ED03)))
}

/// Neighbours per query in the ground truth.
pub const K_GT: usize = 100;

#[derive(Debug, clap::Args)]
pub struct GenArgs {
    /// Base vectors.
    #[arg(long)]
    pub n: usize,
    /// Queries.
    #[arg(long)]
    pub nq: usize,
    /// Dimension (the statistics are measured at 128 and stretched to others).
    #[arg(long, default_value_t = 128)]
    pub dim: usize,
    /// Output directory (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write everything but gt.i32 (compute it later with `facefind bench gt`).
    #[arg(long)]
    pub skip_gt: bool,
}

#[derive(Debug, clap::Args)]
pub struct GtArgs {
    /// Data-set directory (meta.json, base.f32, queries.f32).
    #[arg(long)]
    pub data: PathBuf,
}

/// The sampler: per-axis standard deviations and mean in the between-identity
/// eigenbasis, a rotation out of it, and the photos-per-person distribution.
pub struct FaceModel {
    dim: usize,
    seed: u64,
    /// Rᵀ row-major: row j is the image of basis axis j.
    rotation_t: Vec<f32>,
    mean: Vec<f64>,
    sd_between: Vec<f64>,
    sd_within: Vec<f64>,
    photo_scale_sigma: f64,
    /// (cumulative probability, photo count), ascending.
    count_cdf: Vec<(f64, u32)>,
}

impl FaceModel {
    pub fn new(stats: &FaceStats, dim: usize, seed: u64) -> BenchResult<Self> {
        if dim < 2 {
            return Err(BenchError::Param(format!(
                "--dim {dim}: at least 2 dimensions are needed"
            )));
        }
        let spectra = stats.spectra(dim);
        let pp = &stats.photos_per_person;
        let total: f64 = pp.people.iter().map(|&p| f64::from(p)).sum();
        let mut acc = 0.0;
        let count_cdf = pp
            .sizes
            .iter()
            .zip(&pp.people)
            .map(|(&size, &people)| {
                acc += f64::from(people) / total;
                (acc, size)
            })
            .collect();
        Ok(Self {
            dim,
            seed,
            rotation_t: random_rotation(dim, seed),
            mean: spectra.mean,
            sd_between: spectra.between.iter().map(|v| v.sqrt()).collect(),
            sd_within: spectra.within.iter().map(|v| v.sqrt()).collect(),
            photo_scale_sigma: stats.photo_scale_sigma,
            count_cdf,
        })
    }

    fn photo_count(&self, rng: &mut Rng) -> u32 {
        let u = f64::from(rng.uniform());
        self.count_cdf
            .iter()
            .find(|(c, _)| u < *c)
            .unwrap_or(&self.count_cdf[self.count_cdf.len() - 1])
            .1
    }

    /// The identity of every base row (shuffled) and of every query.
    pub fn layout(&self, n: usize, nq: usize) -> (Vec<i32>, Vec<i32>) {
        let mut rng = rng_for(self.seed, Stream::PhotoCounts, 0);
        let mut base = Vec::with_capacity(n);
        let mut identity = 0i32;
        while base.len() < n {
            let count = self.photo_count(&mut rng) as usize;
            base.extend(std::iter::repeat_n(identity, count.min(n - base.len())));
            identity += 1;
        }
        let mut rng = rng_for(self.seed, Stream::Shuffle, 0);
        for i in (1..n).rev() {
            base.swap(i, rng.below(i + 1));
        }
        let mut rng = rng_for(self.seed, Stream::QueryIdentity, 0);
        let queries = (0..nq).map(|_| base[rng.below(n)]).collect();
        (base, queries)
    }

    /// Writes photo `index` of `identity` (from random stream `stream`) into `out`.
    fn photo(&self, identity: i32, stream: Stream, index: u64, y: &mut [f64], out: &mut [f32]) {
        let mut rc = rng_for(self.seed, Stream::IdentityCentre, identity as u64);
        let mut rp = rng_for(self.seed, stream, index);
        // E[scale²] = 1, so the within-identity trace is kept on average.
        let sigma = self.photo_scale_sigma;
        let scale = (sigma * f64::from(rp.normal()) - sigma * sigma).exp();
        for (j, yj) in y.iter_mut().enumerate() {
            *yj = self.mean[j]
                + self.sd_between[j] * f64::from(rc.normal())
                + scale * self.sd_within[j] * f64::from(rp.normal());
        }
        out.fill(0.0);
        // out = R·y as a sum of rows of Rᵀ: vectorises without a reduction.
        for (&yj, axis) in y.iter().zip(self.rotation_t.chunks_exact(self.dim)) {
            let yj = yj as f32;
            out.iter_mut().zip(axis).for_each(|(o, &a)| *o += yj * a);
        }
        let norm = out
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            .sqrt();
        let inv = (1.0 / norm.max(f64::MIN_POSITIVE)) as f32;
        out.iter_mut().for_each(|v| *v *= inv);
    }

    /// Rows `first..first + ids.len()` of `stream` into `out` (ids.len()×dim), in parallel.
    pub fn photos(&self, ids: &[i32], stream: Stream, first: usize, out: &mut [f32]) {
        out.par_chunks_mut(self.dim)
            .zip(ids.par_iter())
            .enumerate()
            .for_each_init(
                || vec![0.0f64; self.dim],
                |y, (i, (row, &id))| self.photo(id, stream, (first + i) as u64, y, row),
            );
    }
}

/// A seeded Haar-random rotation, transposed (Gram–Schmidt on Gaussian rows).
fn random_rotation(dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = rng_for(seed, Stream::Rotation, dim as u64);
    let mut rows: Vec<Vec<f64>> = Vec::with_capacity(dim);
    while rows.len() < dim {
        let mut v: Vec<f64> = (0..dim).map(|_| f64::from(rng.normal())).collect();
        // Twice, for orthogonality to working precision.
        for _ in 0..2 {
            for r in &rows {
                let d: f64 = v.iter().zip(r).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(r).for_each(|(a, b)| *a -= d * b);
            }
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm > 1e-6 {
            v.iter_mut().for_each(|a| *a /= norm);
            rows.push(v);
        }
    }
    rows.into_iter().flatten().map(|a| a as f32).collect()
}

/// Rows generated per block: bounded memory (a block of 512-d rows is 128 MiB).
const BLOCK_ROWS: usize = 1 << 16;

/// Streams `ids.len()` rows of `stream` to `path`, a block at a time.
fn write_photos(model: &FaceModel, ids: &[i32], stream: Stream, path: &Path) -> BenchResult<()> {
    let mut block = vec![0.0f32; BLOCK_ROWS.min(ids.len()) * model.dim];
    data::write_file(path, |w| {
        for (b, chunk) in ids.chunks(BLOCK_ROWS).enumerate() {
            let out = &mut block[..chunk.len() * model.dim];
            model.photos(chunk, stream, b * BLOCK_ROWS, out);
            data::write_f32s(w, out)?;
        }
        Ok(())
    })
}

/// Writes a whole data set into `args.out`; returns its directory's meta.
pub fn generate(args: &GenArgs) -> BenchResult<Meta> {
    if args.n == 0 || args.nq == 0 {
        return Err(BenchError::Param("--n and --nq must be positive".into()));
    }
    let stats = FaceStats::sface()?;
    let model = FaceModel::new(&stats, args.dim, args.seed)?;
    std::fs::create_dir_all(&args.out).map_err(|e| BenchError::io(&args.out, e))?;
    let (base_ids, query_ids) = model.layout(args.n, args.nq);
    write_photos(
        &model,
        &base_ids,
        Stream::BasePhoto,
        &args.out.join(data::BASE),
    )?;
    write_photos(
        &model,
        &query_ids,
        Stream::QueryPhoto,
        &args.out.join(data::QUERIES),
    )?;
    data::write_file(&args.out.join(data::BASE_IDS), |w| {
        data::write_i32s(w, &base_ids)
    })?;
    data::write_file(&args.out.join(data::QUERY_IDS), |w| {
        data::write_i32s(w, &query_ids)
    })?;
    let meta = Meta {
        n: args.n,
        nq: args.nq,
        dim: args.dim,
        k_gt: K_GT.min(args.n),
        metric: "ip".into(),
    };
    meta.write(&args.out)?;
    if !args.skip_gt {
        write_ground_truth(&args.out)?;
    }
    Ok(meta)
}

/// The exact `k` nearest base rows of each query, best first, as i32 row numbers.
pub fn exact_neighbours(
    metric: Metric,
    queries: &[f32],
    base: &[f32],
    dim: usize,
    k: usize,
) -> Vec<i32> {
    let (_scores, rows) = crate::compute::cpu::knn(metric, queries, base, dim, k);
    // Row numbers of a base of under 2^31 rows (the format's i32).
    rows.into_iter().map(|r| r as i32).collect()
}

/// Computes gt.i32 of the data set in `dir` from its vectors.
pub fn write_ground_truth(dir: &Path) -> BenchResult<()> {
    let set = Dataset::open(dir)?;
    let m = &set.meta;
    let gt = exact_neighbours(
        m.metric()?,
        set.queries.as_slice(),
        set.base.as_slice(),
        m.dim,
        m.k_gt,
    );
    data::write_file(&dir.join(data::GT), |w| data::write_i32s(w, &gt))
}

/// Cosines of sampled same-identity and different-identity pairs, drawn as
/// `benches/measure_face_stats.py` draws them on the real embeddings.
pub fn pair_cosines(
    base: &[f32],
    ids: &[i32],
    dim: usize,
    pairs: usize,
    seed: u64,
) -> (Vec<f32>, Vec<f32>) {
    let n = ids.len();
    let mut by_identity: Vec<usize> = (0..n).collect();
    by_identity.sort_by_key(|&r| ids[r]);
    // Where each row sits in `by_identity`, and its identity's range there.
    let mut range = vec![(0usize, 0usize); n];
    let mut start = 0;
    while start < n {
        let id = ids[by_identity[start]];
        let end = start
            + by_identity[start..]
                .iter()
                .take_while(|&&r| ids[r] == id)
                .count();
        (start..end).for_each(|p| range[by_identity[p]] = (start, end));
        start = end;
    }
    let mut pos = vec![0usize; n];
    by_identity
        .iter()
        .enumerate()
        .for_each(|(p, &r)| pos[r] = p);
    let eligible: Vec<usize> = (0..n).filter(|&r| range[r].1 - range[r].0 > 1).collect();
    let cos = |a: usize, b: usize| -> f32 {
        base[a * dim..(a + 1) * dim]
            .iter()
            .zip(&base[b * dim..(b + 1) * dim])
            .map(|(x, y)| x * y)
            .sum()
    };
    let mut rng = rng_for(seed, Stream::Pairs, 0);
    let mut same = Vec::with_capacity(pairs);
    if !eligible.is_empty() {
        for _ in 0..pairs {
            let a = eligible[rng.below(eligible.len())];
            let (lo, hi) = range[a];
            let count = hi - lo;
            let off = pos[a] - lo + 1 + rng.below(count - 1);
            same.push(cos(a, by_identity[lo + off % count]));
        }
    }
    let mut diff = Vec::with_capacity(pairs);
    // Bounded tries: a set of one identity has no different pairs.
    for _ in 0..pairs * 4 {
        if diff.len() == pairs {
            break;
        }
        let (a, b) = (rng.below(n), rng.below(n));
        if ids[a] != ids[b] {
            diff.push(cos(a, b));
        }
    }
    (same, diff)
}

/// Mean, standard deviation and the quantiles the committed summary lists.
pub fn summarise(values: &[f32], like: &CosineSummary) -> CosineSummary {
    let n = values.len().max(1) as f64;
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = values
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    let mut sorted = values.to_vec();
    sorted.sort_by(f32::total_cmp);
    let quantiles = like
        .quantiles
        .keys()
        .map(|k| {
            let q: f64 = k.parse().unwrap_or(0.5);
            let at = ((sorted.len().saturating_sub(1)) as f64 * q).round() as usize;
            (
                k.clone(),
                sorted.get(at).map_or(f64::NAN, |&v| f64::from(v)),
            )
        })
        .collect();
    CosineSummary {
        mean,
        std: var.sqrt(),
        quantiles,
    }
}

fn print_comparison(what: &str, generated: &CosineSummary, measured: &CosineSummary) {
    let q = |s: &CosineSummary, k: &str| s.quantiles.get(k).copied().unwrap_or(f64::NAN);
    println!(
        "{what:<26} {:>7} {:>7} {:>7} {:>7} {:>7}",
        "mean", "std", "q05", "q50", "q95"
    );
    for (name, s) in [
        ("  generated", generated),
        ("  measured (SFace, LFW)", measured),
    ] {
        println!(
            "{name:<26} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>7.3}",
            s.mean,
            s.std,
            q(s, "0.05"),
            q(s, "0.5"),
            q(s, "0.95")
        );
    }
}

pub fn run(args: &GenArgs) -> BenchResult<()> {
    let meta = generate(args)?;
    println!(
        "wrote {} ({} base, {} queries, dim {}, k_gt {})",
        args.out.display(),
        meta.n,
        meta.nq,
        meta.dim,
        meta.k_gt
    );
    let base = F32File::open(&args.out.join(data::BASE), meta.n, meta.dim)?;
    let ids = data::read_i32s(&args.out.join(data::BASE_IDS), meta.n, 1)?;
    let stats = FaceStats::sface()?;
    let (same, diff) = pair_cosines(base.as_slice(), &ids, meta.dim, 200_000, args.seed);
    let people = ids.iter().max().map_or(0, |&m| m + 1);
    println!(
        "{people} identities, {:.2} photos each on average",
        meta.n as f64 / f64::from(people.max(1))
    );
    print_comparison(
        "same-identity cosine",
        &summarise(&same, &stats.same_identity_cosine),
        &stats.same_identity_cosine,
    );
    let measured = &stats.different_identity_cosine;
    print_comparison(
        "different-identity cosine",
        &summarise(&diff, measured),
        measured,
    );
    Ok(())
}

pub fn run_gt(args: &GtArgs) -> BenchResult<()> {
    write_ground_truth(&args.data)?;
    println!("wrote {}", args.data.join(data::GT).display());
    Ok(())
}
