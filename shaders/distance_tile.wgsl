// The tile shared by distances.wgsl and assign_nearest.wgsl (prepended to both): a 64x64
// block of metric(lhs[a0 + r], rhs[b0 + c]) computed by a 16x16 workgroup as a tiled
// matrix product. Each thread owns a 4x4 block (rows ty + 16i, columns tx + 16j, strided
// so reads of workgroup memory do not collide); 64x16 slices of both sides are staged in
// workgroup memory. VARIANT 0: inner product; 1: squared L2, summed as (a - b)^2 so small
// distances keep their precision (no |a|^2 + |b|^2 - 2ab cancellation).
override VARIANT: u32 = 0u;

@group(0) @binding(1) var<storage, read> lhs: array<f32>;
@group(0) @binding(2) var<storage, read> rhs: array<f32>;

const TILE: u32 = 64u;
const KT: u32 = 16u;

var<workgroup> tile_a: array<f32, 1024>; // [KT][TILE]
var<workgroup> tile_b: array<f32, 1024>; // [KT][TILE]

// Keys ascend whatever the metric: the best score has the smallest key.
fn key_of(score: f32) -> f32 {
    return select(-score, score, VARIANT == 1u);
}

fn tile_product(lid: vec3<u32>, li: u32, a0: u32, na: u32, b0: u32, nb: u32, dim: u32) -> array<f32, 16> {
    var acc: array<f32, 16>;
    for (var i = 0u; i < 16u; i++) {
        acc[i] = 0.0;
    }
    for (var k0 = 0u; k0 < dim; k0 += KT) {
        // 256 threads stage 1024 values of each side; neighbouring threads read neighbouring
        // components of one row. Outside the matrices the tiles hold 0, which adds nothing.
        for (var t = 0u; t < 4u; t++) {
            let e = li + t * 256u;
            let row = e / KT;
            let kk = e % KT;
            let k = k0 + kk;
            var av = 0.0;
            var bv = 0.0;
            if (k < dim) {
                if (a0 + row < na) {
                    av = lhs[(a0 + row) * dim + k];
                }
                if (b0 + row < nb) {
                    bv = rhs[(b0 + row) * dim + k];
                }
            }
            tile_a[kk * TILE + row] = av;
            tile_b[kk * TILE + row] = bv;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < KT; kk++) {
            var a: array<f32, 4>;
            var b: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) {
                a[i] = tile_a[kk * TILE + lid.y + 16u * i];
                b[i] = tile_b[kk * TILE + lid.x + 16u * i];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    if (VARIANT == 0u) {
                        acc[i * 4u + j] = fma(a[i], b[j], acc[i * 4u + j]);
                    } else {
                        let d = a[i] - b[j];
                        acc[i * 4u + j] = fma(d, d, acc[i * 4u + j]);
                    }
                }
            }
        }
        workgroupBarrier();
    }
    return acc;
}
