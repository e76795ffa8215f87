//! Drives `shaders/assign.wgsl`: the nearest centroid of every row (k-means, IVF).
use super::context::Gpu;
use super::distances::{TILE, variant};
use super::select_topk::grid;
use super::{GpuBackend, GpuError, bytes_of, values_of};
use crate::compute::Metric;

const SOURCE: &str = concat!(
    include_str!("../../../shaders/distance_tile.wgsl"),
    include_str!("../../../shaders/assign.wgsl")
);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    nc: u32,
    dim: u32,
    _pad: u32,
}

impl GpuBackend {
    /// For each row of `data`, the nearest of `centroids` and its distance
    /// ("lower is closer": the negated inner product, or the squared L2 distance).
    pub fn assign(
        &self,
        metric: Metric,
        data: &[f32],
        centroids: &[f32],
        dim: usize,
        labels: &mut [u32],
        dists: &mut [f32],
    ) -> Result<(), GpuError> {
        let (n, nc) = (data.len() / dim, centroids.len() / dim);
        if n == 0 {
            return Ok(());
        }
        labels.fill(u32::MAX);
        dists.fill(f32::INFINITY);
        self.with_buffers(|gpu, bufs| {
            let pipeline = gpu.pipeline(SOURCE, "assign", variant(metric))?;
            let groups = gpu.max_groups as usize;
            let per_binding = (gpu.binding_limit / 4) as usize / dim;
            if per_binding == 0 {
                return Err(GpuError::TooLarge {
                    what: "one vector",
                    limit: gpu.binding_limit,
                });
            }
            let rows = per_binding.min(groups * groups * TILE);
            // Centroids too many for one binding are swept in chunks; the best of each chunk
            // is merged on the host (chunks ascend, so a strict `<` keeps the lower index).
            for c0 in (0..nc).step_by(per_binding) {
                let cn = per_binding.min(nc - c0);
                let cents = bufs
                    .in_b
                    .upload(gpu, bytes_of(&centroids[c0 * dim..(c0 + cn) * dim]))
                    .clone();
                for r0 in (0..n).step_by(rows) {
                    let rn = rows.min(n - r0);
                    let x = bufs
                        .in_a
                        .upload(gpu, bytes_of(&data[r0 * dim..(r0 + rn) * dim]))
                        .clone();
                    let params = Params {
                        n: rn as u32,
                        nc: cn as u32,
                        dim: dim as u32,
                        _pad: 0,
                    };
                    let p = bufs.params.upload(gpu, bytes_of(&[params])).clone();
                    let out_ids = bufs.out_b.get(gpu, rn as u64 * 4).clone();
                    let out_scores = bufs.out_c.get(gpu, rn as u64 * 4).clone();
                    let bind = gpu.bind(
                        &pipeline,
                        &[
                            p.as_entire_binding(),
                            x.as_entire_binding(),
                            cents.as_entire_binding(),
                            out_ids.as_entire_binding(),
                            out_scores.as_entire_binding(),
                        ],
                    );
                    let mut encoder = gpu.encoder();
                    Gpu::dispatch(&mut encoder, &pipeline, &bind, grid(gpu, rn.div_ceil(TILE)));
                    let bytes = rn as u64 * 4;
                    let read = gpu.finish(
                        encoder,
                        &[(&out_ids, bytes), (&out_scores, bytes)],
                        &mut bufs.staging,
                    )?;
                    let (ids, scores) = (values_of::<u32>(&read[0]), values_of::<f32>(&read[1]));
                    for (i, (&id, &s)) in ids.iter().zip(&scores).enumerate() {
                        let d = metric.to_dist(s);
                        if d < dists[r0 + i] {
                            dists[r0 + i] = d;
                            labels[r0 + i] = c0 as u32 + id;
                        }
                    }
                }
            }
            Ok(())
        })
    }
}
