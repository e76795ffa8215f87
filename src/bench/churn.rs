//! `facefind bench churn`: seeded random adds, removes, merges and
//! compactions on an on-disk IVF index. Each is printed on stdout before it
//! starts, and `ok` after it has returned (that is, once it is durable). The kill test SIGKILLs this
//! process at random points and checks the reopened index against the
//! acknowledged operations. Vectors are a function of their id
//! ([`vector_of`]), so a checker can rebuild the same index from ids alone.
use std::io::Write;
use std::path::PathBuf;

use super::{BenchError, BenchResult};
use crate::compute::rng::Rng;
use crate::index::ivf::IvfIndex;
use crate::index::{JobControl, Metric, VectorIndex, factory, live_ids, ondisk};

/// The spec churned: 4-bit fast-scan codes (bytes shared between slots)
/// and re-ranking copies, so every part of a list is exercised.
pub const SPEC: &str = "IVF8,PQ8x4fs,RFlat";
pub const DIM: usize = 16;
/// Ids of the training vectors, apart from every id churn adds.
const TRAIN_IDS: std::ops::Range<u64> = 1 << 40..(1 << 40) + 2000;

#[derive(Debug, clap::Args)]
pub struct ChurnArgs {
    /// Index directory (created, trained and emptied on first use).
    #[arg(long)]
    pub dir: PathBuf,
    /// Seed of the operation sequence.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Operations to run before exiting.
    #[arg(long, default_value_t = 1000)]
    pub ops: usize,
}

/// The unit vector churn stores under `id`.
pub fn vector_of(id: u64) -> Vec<f32> {
    let mut rng = Rng::new(id.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xc0ff_ee00);
    let v: Vec<f32> = (0..DIM).map(|_| rng.normal()).collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / norm).collect()
}

/// The vectors of `ids`, row-major.
pub fn vectors_of(ids: &[u64]) -> Vec<f32> {
    ids.iter().flat_map(|&id| vector_of(id)).collect()
}

/// Opens the churn index in `dir`, creating it (trained, empty) if there is none.
pub fn open_or_create(dir: &std::path::Path) -> BenchResult<IvfIndex> {
    if dir.join(ondisk::MANIFEST).exists() {
        return Ok(IvfIndex::open_dir(dir, true)?);
    }
    let factory::Spec::Ivf {
        nlist,
        codec,
        refine,
    } = factory::Spec::parse(SPEC, DIM, 0)?
    else {
        unreachable!("SPEC is an IVF spec")
    };
    let mut index = IvfIndex::new(DIM, Metric::InnerProduct, nlist, codec, refine);
    let train: Vec<u64> = TRAIN_IDS.collect();
    index.train(&vectors_of(&train), &JobControl::default())?;
    Box::new(index).into_dir(dir)?;
    Ok(IvfIndex::open_dir(dir, true)?)
}

fn say(line: String) -> BenchResult<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| BenchError::io(std::path::Path::new("stdout"), e))
}

fn list(ids: &[u64]) -> String {
    ids.iter().map(u64::to_string).collect::<Vec<_>>().join(" ")
}

pub fn run(args: &ChurnArgs) -> BenchResult<()> {
    let mut index = open_or_create(&args.dir)?;
    let mut live = live_ids(&index);
    // Each seed draws new ids from its own range (above every live id), so a run with a
    // fresh seed never reuses an id an earlier run removed: the kill test reads a
    // returned id as a lost removal.
    let mut next = ((args.seed + 1) << 32).max(live.iter().max().map_or(1, |m| m + 1));
    let mut rng = Rng::new(args.seed);
    let mut fresh = |n: usize| {
        let ids: Vec<u64> = (next..next + n as u64).collect();
        next += n as u64;
        ids
    };
    for _ in 0..args.ops {
        match rng.below(10) {
            0..=4 => {
                let ids = fresh(1 + rng.below(40));
                say(format!("add {}", list(&ids)))?;
                index.add(&vectors_of(&ids), &ids)?;
                live.extend(&ids);
            }
            5..=7 if !live.is_empty() => {
                rng.shuffle(&mut live);
                let n = (1 + rng.below(30)).min(live.len());
                let gone = live.split_off(live.len() - n);
                say(format!("remove {}", list(&gone)))?;
                index.remove(&gone)?;
            }
            8 => {
                let ids = fresh(1 + rng.below(60));
                let mut part = index.empty_like();
                part.add(&vectors_of(&ids), &ids)?;
                say(format!("merge {}", list(&ids)))?;
                index.merge_from(&part)?;
                live.extend(&ids);
            }
            _ => {
                say("compact".into())?;
                index.compact()?;
            }
        }
        say("ok".into())?;
    }
    Ok(())
}
