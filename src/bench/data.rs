//! The benchmark data-set format (shared with the FAISS comparison script):
//!
//! | file | contents |
//! | --- | --- |
//! | `meta.json` | `{"n", "nq", "dim", "k_gt", "metric": "ip" \| "l2"}` |
//! | `base.f32` | n×dim little-endian f32, row-major, no header |
//! | `queries.f32` | nq×dim, the same layout |
//! | `gt.i32` | nq×k_gt exact neighbours as row numbers of `base.f32`, best first |
//! | `base_ids.i32`, `query_ids.i32` | optional: the identity of each row |
//!
//! Headerless on purpose: FAISS, numpy and hnswlib read these with one call.
//! Every file is checked against `meta.json` before use.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use serde::{Deserialize, Serialize};

use super::{BenchError, BenchResult};
use crate::compute::Metric;

pub const META: &str = "meta.json";
pub const BASE: &str = "base.f32";
pub const QUERIES: &str = "queries.f32";
pub const GT: &str = "gt.i32";
pub const BASE_IDS: &str = "base_ids.i32";
pub const QUERY_IDS: &str = "query_ids.i32";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub n: usize,
    pub nq: usize,
    pub dim: usize,
    pub k_gt: usize,
    /// "ip" (inner product) or "l2".
    pub metric: String,
}

impl Meta {
    pub fn metric(&self) -> BenchResult<Metric> {
        match self.metric.as_str() {
            "ip" => Ok(Metric::InnerProduct),
            "l2" => Ok(Metric::L2),
            other => Err(BenchError::Format(format!(
                "{META}: metric {other:?}, expected \"ip\" or \"l2\""
            ))),
        }
    }

    pub fn read(dir: &Path) -> BenchResult<Self> {
        let path = dir.join(META);
        let text = std::fs::read_to_string(&path).map_err(|e| BenchError::io(&path, e))?;
        let meta: Self = serde_json::from_str(&text)
            .map_err(|e| BenchError::Format(format!("{}: {e}", path.display())))?;
        if meta.n == 0 || meta.nq == 0 || meta.dim == 0 || meta.k_gt == 0 {
            return Err(BenchError::Format(format!(
                "{}: n, nq, dim and k_gt must be positive",
                path.display()
            )));
        }
        meta.metric()?;
        Ok(meta)
    }

    pub fn write(&self, dir: &Path) -> BenchResult<()> {
        let text = serde_json::to_string(self).expect("Meta serialises");
        write_file(&dir.join(META), |w| w.write_all(text.as_bytes()))
    }
}

/// Writes `path` crash-safely: a temporary file beside it, fsync, rename.
pub fn write_file(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> BenchResult<()> {
    let tmp = path.with_extension("tmp");
    let io = |e| BenchError::io(path, e);
    let file = File::create(&tmp).map_err(io)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    fill(&mut w).map_err(io)?;
    let file = w.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Appends little-endian values.
pub fn write_f32s(w: &mut impl Write, v: &[f32]) -> std::io::Result<()> {
    v.iter().try_for_each(|x| w.write_all(&x.to_le_bytes()))
}

pub fn write_i32s(w: &mut impl Write, v: &[i32]) -> std::io::Result<()> {
    v.iter().try_for_each(|x| w.write_all(&x.to_le_bytes()))
}

/// Appends the little-endian f32s of `bytes` to `out`.
pub fn extend_f32s(out: &mut Vec<f32>, bytes: &[u8]) {
    out.extend(
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
    );
}

/// Checks that `path` holds exactly `rows`×`cols` 4-byte values.
fn check_size(path: &Path, rows: usize, cols: usize) -> BenchResult<()> {
    let expected = (rows * cols * 4) as u64;
    let got = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let why =
                format!("meta.json expects {rows}×{cols} 4-byte values = {expected} bytes there");
            return Err(BenchError::Missing {
                path: path.to_owned(),
                why,
            });
        }
        Err(e) => return Err(BenchError::io(path, e)),
    };
    if got != expected {
        return Err(BenchError::Size {
            path: path.to_owned(),
            rows,
            cols,
            expected,
            got,
        });
    }
    Ok(())
}

/// A read-only f32 matrix file, memory-mapped.
pub struct F32File {
    map: Mmap,
    pub rows: usize,
    pub cols: usize,
}

impl F32File {
    /// Maps `path`, which must hold `rows`×`cols` values.
    pub fn open(path: &Path, rows: usize, cols: usize) -> BenchResult<Self> {
        if cfg!(target_endian = "big") {
            return Err(BenchError::Format(
                "the data files are little-endian; this host is not".into(),
            ));
        }
        check_size(path, rows, cols)?;
        let file = File::open(path).map_err(|e| BenchError::io(path, e))?;
        // SAFETY: the file is opened read-only and the benchmark owns its data
        // directory; its size was just checked against meta.json.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| BenchError::io(path, e))?;
        Ok(Self { map, rows, cols })
    }

    pub fn as_slice(&self) -> &[f32] {
        // SAFETY: the map is page-aligned (so 4-aligned) and holds exactly
        // rows*cols*4 bytes (checked on open); every bit pattern is an f32, and
        // the host is little-endian like the file.
        unsafe {
            std::slice::from_raw_parts(self.map.as_ptr().cast::<f32>(), self.rows * self.cols)
        }
    }
}

/// Reads a whole i32 matrix file of `rows`×`cols` values.
pub fn read_i32s(path: &Path, rows: usize, cols: usize) -> BenchResult<Vec<i32>> {
    check_size(path, rows, cols)?;
    let bytes = std::fs::read(path).map_err(|e| BenchError::io(path, e))?;
    Ok(bytes
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// The files of one data set, checked against its meta.json.
pub struct Dataset {
    pub dir: PathBuf,
    pub meta: Meta,
    pub base: F32File,
    pub queries: F32File,
}

/// The identity of each base row and each query, where the set has them.
pub struct Identities {
    pub base: Vec<i32>,
    pub queries: Vec<i32>,
}

impl Dataset {
    pub fn open(dir: &Path) -> BenchResult<Self> {
        let meta = Meta::read(dir)?;
        let base = F32File::open(&dir.join(BASE), meta.n, meta.dim)?;
        let queries = F32File::open(&dir.join(QUERIES), meta.nq, meta.dim)?;
        Ok(Self {
            dir: dir.to_owned(),
            meta,
            base,
            queries,
        })
    }

    pub fn ground_truth(&self) -> BenchResult<Vec<i32>> {
        let gt = read_i32s(&self.dir.join(GT), self.meta.nq, self.meta.k_gt)?;
        if let Some(bad) = gt.iter().position(|&r| r < 0 || r as usize >= self.meta.n) {
            return Err(BenchError::Format(format!(
                "{}: entry {bad} is row {}, outside base.f32's {} rows",
                self.dir.join(GT).display(),
                gt[bad],
                self.meta.n
            )));
        }
        Ok(gt)
    }

    /// Both id files, or None where neither exists; one without the other is an error.
    pub fn identities(&self) -> BenchResult<Option<Identities>> {
        let (b, q) = (self.dir.join(BASE_IDS), self.dir.join(QUERY_IDS));
        match (b.exists(), q.exists()) {
            (false, false) => Ok(None),
            (true, true) => Ok(Some(Identities {
                base: read_i32s(&b, self.meta.n, 1)?,
                queries: read_i32s(&q, self.meta.nq, 1)?,
            })),
            (has_base, _) => {
                let missing = if has_base { q } else { b };
                Err(BenchError::Missing {
                    path: missing,
                    why: "the other identity file exists".into(),
                })
            }
        }
    }
}
