// Batched distances: out[q * n + j] = metric(queries[q], base[j]), queries in `lhs`, base
// in `rhs` (see distance_tile.wgsl, prepended). Twin of the CPU backend's distances.
struct Params {
    nq: u32,
    n: u32,
    dim: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(16, 16)
fn distances(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let q0 = wid.y * TILE;
    let b0 = wid.x * TILE;
    let acc = tile_product(lid, li, q0, p.nq, b0, p.n, p.dim);
    for (var i = 0u; i < 4u; i++) {
        let q = q0 + lid.y + 16u * i;
        for (var j = 0u; j < 4u; j++) {
            let c = b0 + lid.x + 16u * j;
            if (q < p.nq && c < p.n) {
                out[q * p.n + c] = acc[i * 4u + j];
            }
        }
    }
}
