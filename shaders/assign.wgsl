// Nearest-centroid assignment (k-means, IVF): for each vector (`lhs`) the best centroid
// (`rhs`) and its score; ties go to the lower centroid index. Twin of the CPU backend's
// assignment. The tile of distance_tile.wgsl (prepended), fused with an arg-best: a
// workgroup keeps 64 vectors and sweeps all centroids 64 at a time, each thread carrying
// the best of its 4 rows; a last pass through workgroup memory merges a row's 16 threads.
struct Params {
    n: u32,
    nc: u32,
    dim: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read_write> out_ids: array<u32>;
@group(0) @binding(4) var<storage, read_write> out_scores: array<f32>;

var<workgroup> best_ids: array<u32, 1024>; // [TILE rows][16 threads]

@compute @workgroup_size(16, 16)
fn assign(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let x0 = (wid.y * groups.x + wid.x) * TILE;
    var best_key: array<f32, 4>;
    var best_id: array<u32, 4>;
    for (var i = 0u; i < 4u; i++) {
        best_key[i] = bitcast<f32>(0x7f800000u);
        best_id[i] = 0xffffffffu;
    }
    for (var c0 = 0u; c0 < p.nc; c0 += TILE) {
        let acc = tile_product(lid, li, x0, p.n, c0, p.nc, p.dim);
        // Columns ascend with j, so a strict comparison keeps the lowest index of a tie.
        for (var j = 0u; j < 4u; j++) {
            let c = c0 + lid.x + 16u * j;
            if (c < p.nc) {
                for (var i = 0u; i < 4u; i++) {
                    let key = key_of(acc[i * 4u + j]);
                    if (key < best_key[i]) {
                        best_key[i] = key;
                        best_id[i] = c;
                    }
                }
            }
        }
    }
    // Merge the 16 threads that share a row; the staging tile is free now.
    for (var i = 0u; i < 4u; i++) {
        let row = lid.y + 16u * i;
        tile_a[row * 16u + lid.x] = best_key[i];
        best_ids[row * 16u + lid.x] = best_id[i];
    }
    workgroupBarrier();
    if (li < TILE && x0 + li < p.n) {
        var key = tile_a[li * 16u];
        var id = best_ids[li * 16u];
        for (var t = 1u; t < 16u; t++) {
            let k = tile_a[li * 16u + t];
            let c = best_ids[li * 16u + t];
            if (k < key || (k == key && c < id)) {
                key = k;
                id = c;
            }
        }
        out_ids[x0 + li] = id;
        out_scores[x0 + li] = select(-key, key, VARIANT == 1u);
    }
}
