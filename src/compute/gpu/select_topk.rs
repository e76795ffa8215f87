//! Drives `shaders/select_topk.wgsl`: the best `k` of every row of a score matrix that
//! is already on the device (`knn`) or uploaded for the purpose (`select_topk`).
use super::context::Gpu;
use super::{Buffers, GpuBackend, GpuError, bytes_of, values_of};

const SOURCE: &str = include_str!("../../../shaders/select_topk.wgsl");

/// The largest `k` the kernel keeps: its buffer holds 1024 entries and each round
/// appends up to 256 candidates after the best `k`.
pub const MAX_K: usize = 512;

/// Which rows to select from and how.
#[derive(Clone, Copy)]
pub(super) struct Rows {
    pub rows: usize,
    /// Columns of a row (rows lie `n` apart).
    pub n: usize,
    pub k: usize,
    pub larger_is_better: bool,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    n: u32,
    stride: u32,
    k: u32,
}

pub(super) fn check_k(k: usize) -> Result<(), GpuError> {
    if k > MAX_K {
        return Err(GpuError::Unsupported(format!(
            "top-{k} selection (the GPU keeps at most {MAX_K})"
        )));
    }
    Ok(())
}

/// A 2-D grid of at least `n` workgroups within the per-dimension limit.
pub(super) fn grid(gpu: &Gpu, n: usize) -> (u32, u32) {
    let x = n.clamp(1, gpu.max_groups as usize);
    (x as u32, n.div_ceil(x) as u32)
}

/// Appends the selection to `encoder`, submits it and returns per row the best
/// `(score, column)` pairs, best first (fewer than `k` when the row is shorter).
pub(super) fn run(
    gpu: &Gpu,
    bufs: &mut Buffers,
    mut encoder: wgpu::CommandEncoder,
    scores: &wgpu::Buffer,
    sel: Rows,
) -> Result<Vec<Vec<(f32, u32)>>, GpuError> {
    let pipeline = gpu.pipeline(SOURCE, "select_topk", u32::from(!sel.larger_is_better))?;
    let params = Params {
        rows: sel.rows as u32,
        n: sel.n as u32,
        stride: sel.n as u32,
        k: sel.k as u32,
    };
    let bytes = (sel.rows * sel.k * 4) as u64;
    let out_scores = bufs.out_b.get(gpu, bytes).clone();
    let out_ids = bufs.out_c.get(gpu, bytes).clone();
    let p = bufs.params2.upload(gpu, bytes_of(&[params]));
    let bind = gpu.bind(
        &pipeline,
        &[
            p.as_entire_binding(),
            scores.as_entire_binding(),
            out_scores.as_entire_binding(),
            out_ids.as_entire_binding(),
        ],
    );
    Gpu::dispatch(&mut encoder, &pipeline, &bind, grid(gpu, sel.rows));
    let read = gpu.finish(
        encoder,
        &[(&out_scores, bytes), (&out_ids, bytes)],
        &mut bufs.staging,
    )?;
    let (s, ids): (Vec<f32>, Vec<u32>) = (values_of(&read[0]), values_of(&read[1]));
    Ok(s.chunks_exact(sel.k.max(1))
        .zip(ids.chunks_exact(sel.k.max(1)))
        .take(sel.rows)
        .map(|(s, ids)| {
            s.iter()
                .zip(ids)
                .filter(|(_, id)| **id != u32::MAX)
                .map(|(&s, &id)| (s, id))
                .collect()
        })
        .collect())
}

impl GpuBackend {
    /// The `k` smallest of each row of `dists` (`ncols` wide): `(distance, column)` ascending.
    pub fn select_topk(
        &self,
        dists: &[f32],
        ncols: usize,
        k: usize,
    ) -> Result<Vec<Vec<(f32, u32)>>, GpuError> {
        check_k(k)?;
        let nrows = dists.len().checked_div(ncols).unwrap_or(0);
        if k == 0 || nrows == 0 {
            return Ok(vec![Vec::new(); nrows]);
        }
        self.with_buffers(|gpu, bufs| {
            let elems = (gpu.binding_limit / 4) as usize;
            if ncols > elems {
                return Err(GpuError::TooLarge {
                    what: "one row of distances",
                    limit: gpu.binding_limit,
                });
            }
            let per_chunk = (elems / ncols).min(gpu.max_groups as usize * gpu.max_groups as usize);
            let mut out = Vec::with_capacity(nrows);
            for chunk in dists.chunks(per_chunk * ncols) {
                let scores = bufs.in_a.upload(gpu, bytes_of(chunk)).clone();
                let sel = Rows {
                    rows: chunk.len() / ncols,
                    n: ncols,
                    k,
                    larger_is_better: false,
                };
                out.extend(run(gpu, bufs, gpu.encoder(), &scores, sel)?);
            }
            Ok(out)
        })
    }
}
